/* ws_peer.h — the machinery of the src/ws.c tests (ws_test.c, ws_frames_test.c): callbacks
 * that record what an lt_ws reports, a bounded loop driver, and a minimal WebSocket peer on a
 * loopback socket, run by a thread of the test (plain, or TLS with the built-in venue's
 * certificate), that answers the upgrade, reads the client's messages and plays a script of
 * frames. Nothing here leaves 127.0.0.1.
 *
 * Example:
 *     static const frame frames[] = {{1, false, "hel"}, {0, true, "lo"}, {1, true, "end"}};
 *     lt_loop *loop = loop_new();
 *     peer p;
 *     obs o = {0};
 *     lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 3);  // until "end" arrived
 *     assert_string_equal(o.msgs[0], "hello");
 *     finish(loop, &p, ws);                                    // client closed, peer joined
 *     obs_free(&o);
 *     lt_loop_free(loop);
 * Failures are cmocka failures; include <cmocka.h> (and its usual headers) before this header.
 */
#ifndef LT_TEST_WS_PEER_H
#define LT_TEST_WS_PEER_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "ws.h"

#ifndef LT_CERT_DIR
#define LT_CERT_DIR "build/sim"
#endif

/* ---- recording callbacks ----------------------------------------------------------------- */

#define MAX_EV 64

typedef struct obs {
	lt_ws_state states[MAX_EV];
	char reasons[MAX_EV][200];
	int attempts[MAX_EV], backoffs[MAX_EV]; /* lt_ws_attempt, last_backoff_ms at the event */
	lt_ws_fail fails[MAX_EV];
	int64_t at_us[MAX_EV];
	int nstates;
	char *msgs[MAX_EV];
	size_t msg_len[MAX_EV];
	int nmsgs;
	lt_ws *ws;          /* set by the test once lt_ws_new returned */
	bool ready_on_open; /* call lt_ws_set_ready at every OPEN */
	int close_on;       /* 1 + state: call lt_ws_close at the first event of that state */
} obs;

/* lt_ws_cbs.on_state for an obs (ud): records the state, its reason, the time and, once o->ws
 * is set, the attempt, last backoff and last failure; calls lt_ws_set_ready at OPEN if
 * ready_on_open, and lt_ws_close (clearing o->ws) at the first event of state close_on - 1. */
void on_state(void *ud, lt_ws_state st, const char *reason);

/* lt_ws_cbs.on_message for an obs (ud): keeps a NUL-terminated copy of the first MAX_EV
 * messages (and their lengths); nmsgs counts them all. */
void on_message(void *ud, const char *msg, size_t len);

/* {on_state, on_message}: the callbacks every test connection is made with. */
extern const lt_ws_cbs cbs;

/* Free the messages an obs kept. */
void obs_free(obs *o);

/* How many of the recorded events are state st. */
int count_state(const obs *o, lt_ws_state st);

/* Index of the first event of state st at or after from, or -1. */
int find_state(const obs *o, lt_ws_state st, int from);

/* A new loop (fails the test if it cannot be made), with libwebsockets' log silenced. */
lt_loop *loop_new(void);

/* lt_ws_new(loop, opts, &cbs, o): fails the test on an error; sets o->ws. */
lt_ws *ws_new(lt_loop *loop, const lt_ws_opts *opts, obs *o);

/* lt_ws_send of a copy of text (after LWS_PRE); fails the test unless it returns want_rc, and
 * checks the buffer was taken (0) or left to the caller untouched (an error). */
void send_text(lt_ws *ws, const char *text, int want_rc);

/* ---- driving the loop ------------------------------------------------------------------- */

typedef bool (*cond_fn)(void *ctx);

/* Service the loop until cond(ctx) holds or ms pass (cond NULL: the whole time); a 5 ms tick
 * bounds every wait. Returns whether cond held. */
bool drive(lt_loop *loop, cond_fn cond, void *ctx, int64_t ms);

/* Conditions for drive on an obs (ctx): a RECONNECTING, a CLOSED, an OPEN event was recorded;
 * at least three, six RECONNECTING events were. */
bool saw_reconnecting(void *ctx);
bool saw_closed(void *ctx);
bool saw_open(void *ctx);
bool saw_three_retries(void *ctx);
bool saw_six_retries(void *ctx);

/* ---- a minimal WebSocket peer on a loopback socket (its own thread) ----------------------- */

typedef struct frame {
	int opcode; /* 1 text, 2 binary, 0 continuation, 8 close, 9 ping (| MASKED) */
	bool fin;
	const char *data;
} frame;

/* opcode | MASKED: the frame has the mask bit set and data's first 4 bytes are the key (no
 * server may send such a frame). */
#define MASKED 0x100
/* opcode | RSV1: the frame has the RSV1 bit set (no extension was negotiated). */
#define RSV1 0x200

#define MAX_IN 8

typedef struct peer {
	int lfd, port;
	/* the script, for every connection */
	const frame *frames; /* sent after the client's want_in messages arrived */
	size_t nframes;
	int want_in;
	int conns;      /* connections to serve (0 = 1) */
	int flap_first; /* the first flap_first connections close right after the 101 */
	int hold_ms;    /* after the frames: close after this long (0 = wait for the client) */
	int chatter_ms, chatter_n; /* after the frames: "hb" every chatter_ms, chatter_n times */
	bool chatter_ping;         /* ... as WebSocket pings instead of text messages */
	bool trickle;              /* the frames one byte per TCP segment (ws://) */
	const unsigned char *raw;  /* after the frames: these bytes as they are */
	size_t rawlen;
	const char *http_answer; /* answer the upgrade with this status line instead of 101 */
	const char *accept;      /* answer the 101 with this Sec-WebSocket-Accept (a wrong one) */
	SSL_CTX *tls;            /* serve wss with the built-in venue's certificate */
	const char *host;        /* listen on (and connect to) this loopback address; 127.0.0.1 */
	/* what happened */
	char request_line[600];
	char in[MAX_IN][128];
	unsigned char in_key[MAX_IN][4]; /* ... the masking key of each one's (last) frame */
	int nin;
	bool handshake_ok;
	atomic_int close_in; /* the status code of the client's close frame (0: none yet) */
	atomic_int pongs;    /* pongs from the client after the script */
	char pong[128];      /* the last one's payload */
	atomic_int accepted;
	atomic_int got; /* nin, for a test that reads it without driving the loop */
	_Atomic int64_t last_sent_us;
	atomic_bool stop, done;
	pthread_t th;
} peer;

/* Listen on a free port of p->host (127.0.0.1 if NULL), set p->port, and start the peer's
 * thread: for each of p->conns connections (0: one) accept, answer the upgrade (TLS first if
 * p->tls), read want_in client messages, play the script, then wait for the client's close
 * (answered with 1000) or hold_ms. Gives up after 5 s without a connection, or on p->stop. */
void peer_start(peer *p);

/* Conditions for drive on a peer (ctx): its thread has ended; the client's close frame came;
 * a pong came. */
bool peer_done(void *ctx);
bool peer_got_close(void *ctx);
bool peer_got_pong(void *ctx);

/* Close the client, stop the peer and wait for both; checks the loop has no connection left. */
void finish(lt_loop *loop, peer *p, lt_ws *ws);

/* A TLS server context with the built-in venue's certificate and key (LT_CERT_DIR; make
 * certs); fails the test if they cannot be loaded. The caller frees it. */
SSL_CTX *venue_tls(void);

/* Condition for drive: the message text arrived at o, or o saw CLOSED. */
typedef struct until_msg {
	obs *o;
	const char *text;
} until_msg;
bool saw_message(void *ctx);

/* ws_new to the peer: ws:// (insecure_loopback) or wss:// (if p->tls), its host and port, then
 * path; the other options as given. */
lt_ws *connect_peer(lt_loop *loop, peer *p, obs *o, const char *path, lt_ws_opts opts);

/* Connect to a peer that plays frames, with two messages queued before the connection opens;
 * run until the message "end" arrives. The caller checks obs and stats, then calls finish. */
lt_ws *run_peer(lt_loop *loop, peer *p, obs *o, const char *path, size_t max_message,
		const frame *frames, size_t nframes);

#endif
