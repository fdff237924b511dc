/* fake_transport.h — a fake connection and a fake clock for unit tests of client.c and
 * private.c (lt_cl_opts.transport and lt_cl_opts.now_us), plus a bounded loop driver.
 *
 * The fake transport records the lt_ws_cbs its open was given, so the test plays the network:
 * lt_fake_open / lt_fake_drop call on_state(OPEN / RECONNECTING), lt_fake_deliver calls
 * on_message with a venue message. Every text the client writes (after LWS_PRE) is copied to
 * the fake wire, in order; a send may be made to fail (send_rc for the next fail_sends sends).
 * No network, no libwebsockets connection.
 *
 * Example:
 *     lt_fake_tp tp; lt_fake_tp_init(&tp);
 *     lt_fake_tp_arm(&tp);                     // the next lt_cl_new's open binds to tp
 *     lt_cl_opts o = {.transport = &lt_fake_transport, .now_us = lt_fake_now_us};
 *     lt_cl_new(L, loop, &o, NULL, NULL, &cl, &err);
 *     lt_fake_open(&tp);                       // the client sees the connection open
 *     lt_fake_deliverf(&tp, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{}}", 1);
 *     assert_int_equal(lt_fake_count(&tp, "public/ticker"), 1);
 *     lt_fake_tp_free(&tp);
 * The fake clock is lt_fake_clock_us, in microseconds, moved only by the test.
 * Include <cmocka.h> (and its usual headers) before this header.
 */
#ifndef LT_TEST_FAKE_TRANSPORT_H
#define LT_TEST_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

typedef struct lt_fake_tp {
	lt_ws_cbs cbs; /* what open was given */
	void *ud;
	bool bound; /* open was called */
	int open_calls, close_calls, set_ready_calls, hold_off_calls, last_hold_off_ms;
	char **wire; /* every text sent, in order (NUL-terminated copies) */
	int nwire, capwire;
	int send_calls;
	int send_rc; /* returned by the next fail_sends sends (0 = accept) */
	int fail_sends;
	/* Optional: sees each accepted text as it is written (inside the client: record, do not
	 * assert). */
	void (*on_send)(void *ud, const char *text);
	void *on_send_ud;
} lt_fake_tp;

extern const lt_transport lt_fake_transport;

void lt_fake_tp_init(lt_fake_tp *t);
/* The next open (lt_cl_new) binds to t. */
void lt_fake_tp_arm(lt_fake_tp *t);
void lt_fake_tp_free(lt_fake_tp *t);

/* Play the network: the connection opened, dropped (RECONNECTING), a message arrived. */
void lt_fake_open(lt_fake_tp *t);
void lt_fake_drop(lt_fake_tp *t, const char *reason);
void lt_fake_deliver(lt_fake_tp *t, const char *json);
void lt_fake_deliverf(lt_fake_tp *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text i on the wire (0-based); fails the test if there is none. */
const char *lt_fake_sent(const lt_fake_tp *t, int i);
/* The id of text i ("id":N right after "jsonrpc"), -1 if it has none. */
int64_t lt_fake_id(const lt_fake_tp *t, int i);
/* Texts on the wire, from index `from` on, that contain needle. */
int lt_fake_count_from(const lt_fake_tp *t, int from, const char *needle);
#define lt_fake_count(t, needle) lt_fake_count_from((t), 0, (needle))
/* Index of the first text at or after from that contains needle, -1 if none. */
int lt_fake_find(const lt_fake_tp *t, int from, const char *needle);

/* The fake clock (µs), for lt_cl_opts.now_us. */
extern int64_t lt_fake_clock_us;
int64_t lt_fake_now_us(void);

/* Service loop until done(arg) is true or ms milliseconds of real time passed (done may be
 * NULL: run for the whole time). A 2 ms ticker keeps lt_loop_service from blocking. Returns
 * the milliseconds that passed. */
int64_t lt_test_run(lt_loop *loop, int64_t ms, bool (*done)(void *arg), void *arg);

/* What every lifecycle test starts from: a Lua state with the standard libraries, a real
 * loop, the fake transport and client options that use it and the fake clock (set to
 * clock0_us). env_close releases them (the client must be freed first). */
void lt_fake_env_open(lua_State **L, lt_loop **loop, lt_fake_tp *tp, lt_cl_opts *o,
		      int64_t clock0_us);
void lt_fake_env_close(lua_State *L, lt_loop *loop, lt_fake_tp *tp);

#endif
