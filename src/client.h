/* client.h — one venue client in C: its connection (ws.c), JSON-RPC (rpc.c), its own rate
 * limiter (ratelimit.c) and the request lifecycle (DESIGN.md "The request lifecycle").
 *
 * Every request, the strategy's and the runtime's own (auth, refresh, set_heartbeat,
 * enable_cancel_on_disconnect, subscription restore), moves
 *
 *     VALIDATED -> WAIT_AUTH -> WAIT_LIMIT -> SENT -> DONE
 *
 * WAIT_AUTH waits until the client is ready for it: the connection is open and, for a request
 * that needs authentication (a private method on a private client), the session is
 * authenticated. WAIT_LIMIT is a FIFO per rate-limit pool: the head goes when its pool has the
 * credits. On entering WAIT_LIMIT a request records the connection epoch and the auth epoch;
 * just before it is written both are checked again, and a request whose epoch went stale goes
 * back to WAIT_AUTH. Ids are assigned at that moment, so ids are sequential on the wire. When
 * the connection drops, SENT requests end with LT_DONE_LOST (they are NEVER re-sent) and
 * waiting ones go back to WAIT_AUTH. A request bound to a connection (LT_REQ_BOUND: auth,
 * restores) ends with LT_DONE_REFUSED instead when its connection goes away before it is sent.
 *
 * One deadline per request, set at submission and never extended: waiting for authentication
 * or for the limiter spends the same budget as waiting for the answer.
 *
 * Every request accepted by lt_cl_submit (return 0) ends exactly once through its done
 * callback, never from inside lt_cl_submit itself; lt_cl_submit returning < 0 means the
 * request was refused at once and done is never called (libuv's convention). After
 * lt_req_withdraw the callback is not called at all.
 *
 * Layering: client.c knows nothing about authentication. A private client (private.c) installs
 * hooks (ready for a gated request? connection opened / dropped, an answer arrived) at
 * creation; callbacks cross upward only through those function pointers and lt_cl_events.
 *
 * Example:
 *     lt_cl_opts o = {.ws = {.url = url, .ca_file = ca}, .timeout_ms = 10000};
 *     lt_cl *cl; if (lt_cl_new(L, loop, &o, &events, me, &cl, &err)) ...;
 *     lt_buf text; lt_buf_init(&text, LWS_PRE);
 *     lt_method_encode(L, idx, &lt_m_ticker, 0, &text, &err);      // id 0: set at send time
 *     lt_req_spec s = lt_req_spec_of(&lt_m_ticker, "public/ticker");
 *     lt_cl_submit(cl, &s, &text, 5000, done, ud, 0, &req, &err);    // done runs once, later
 * Errors (lt_cl_submit): LT_ESTATE (closed), LT_EINVAL (request over the venue's 32 kB),
 * LT_EFULL (too many requests waiting), and under rate_limit = "error" LT_EFULL with
 * err.msg naming the wait (lt_cl_refusal tells the retry_after).
 * Rate limits: every request is charged to its pool before it is written (ratelimit.h).
 */
#ifndef LT_CLIENT_H
#define LT_CLIENT_H

#include <lua.h>
#include <stdbool.h>

#include "codec.h"
#include "ratelimit.h"
#include "rpc.h"
#include "ws.h"

typedef struct lt_cl lt_cl;
typedef struct lt_req lt_req;

/* The largest request the venue takes (deribit-api.md §1). */
#define LT_MAX_REQUEST 32768
/* Requests that may wait at once per client (WAIT_AUTH + WAIT_LIMIT). */
#define LT_MAX_WAITING 100000

typedef enum {
	LT_REQ_VALIDATED = 0,
	LT_REQ_WAIT_AUTH,
	LT_REQ_WAIT_LIMIT,
	LT_REQ_SENT,
	LT_REQ_DONE
} lt_req_state;

const char *lt_req_state_name(lt_req_state s);

/* How a request ended, as its done callback sees it. RESULT and ERROR: the venue's answer is
 * on top of L (the callee pops it). The others push nothing. */
typedef struct lt_req_end {
	lt_done how;        /* RESULT, ERROR, TIMEOUT, LOST, or LT_DONE_REFUSED */
	bool sent;          /* the request was written to a connection */
	int64_t code;       /* REFUSED: an LT_CODE_* (errors.h) */
	const char *msg;    /* REFUSED / TIMEOUT / LOST: what happened, in words */
	double retry_after; /* REFUSED by the local limiter: seconds */
	lua_State *L;
} lt_req_end;

typedef void (*lt_req_done_fn)(void *ud, lt_req *r, const lt_req_end *e);

enum {
	LT_REQ_GATED = 1,     /* needs an authenticated session (ready_gated hook) */
	LT_REQ_BOUND = 2,     /* belongs to the connection it was made on: refused if it drops */
	LT_REQ_SENSITIVE = 4, /* the text holds a credential: cleansed */
	LT_REQ_FIRST = 8      /* jumps ahead of waiting requests of its pool (auth) */
};

/* What a request is, apart from its text. */
typedef struct lt_req_spec {
	const char *method;      /* JSON-RPC name; copied */
	const lt_schema *schema; /* result schema, NULL = ANY */
	lt_pool pool;
	int cost;
	unsigned flags; /* LT_REQ_* */
	/* Optional: write the whole request with this id at send time (auth: fresh timestamp
	 * and nonce). When NULL the text given to lt_cl_submit is used, its id set at send. */
	int (*build)(void *ud, uint64_t tag, int64_t id, lt_buf *out);
	void *build_ud;
} lt_req_spec;

/* The spec of a method with a codec (m may be NULL: the generic call, 500 non-ME credits). */
lt_req_spec lt_req_spec_of(const lt_method *m, const char *method);

/* What the owner of a client hears about (all optional). */
typedef struct lt_cl_events {
	/* Connection state changed (connecting, open, reconnecting, closed); reason may be NULL. */
	void (*on_state)(void *ud, const char *state, const char *reason);
	/* A subscription notification: data on top of L (callee pops it). */
	void (*on_notify)(void *ud, const char *channel, lua_State *L);
} lt_cl_events;

/* The private layer's hooks (private.c); a public client has none. */
typedef struct lt_cl_hooks {
	bool (*ready_gated)(void *ud); /* may a GATED request go now? */
	uint64_t (*auth_epoch)(void *ud);
	/* Nonzero (a venue code, with *msg) while gated requests must fail at once (auth failed). */
	int64_t (*refusal)(void *ud, const char **msg);
	void (*on_open)(void *ud); /* a connection opened (authenticate) */
	void (*on_drop)(void *ud); /* it dropped (forget the session) */
	/* A GATED request's answer, before its owner sees it (13009: the session is gone). */
	void (*on_answer)(void *ud, lt_req *r, const lt_req_end *e);
	void *ud;
} lt_cl_hooks;

/* The connection under a client: ws.c's (lt_ws_transport) unless a test gives a fake one.
 * open must report through cbs like lt_ws_new (on_state OPEN / RECONNECTING / CLOSED,
 * on_message); every other function may be NULL. */
typedef struct lt_transport {
	int (*open)(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, void **out,
		    lt_err *err);
	int (*send)(void *t, lt_buf *msg); /* takes msg's memory; 0, LT_EFULL, LT_ESTATE */
	void (*close)(void *t);
	void (*hold_off)(void *t, int ms); /* lt_ws_hold_off */
	void (*set_ready)(void *t);        /* lt_ws_set_ready */
} lt_transport;

extern const lt_transport lt_ws_transport;

typedef struct lt_cl_opts {
	lt_ws_opts ws;
	const lt_transport *transport; /* NULL = lt_ws_transport */
	int64_t (*now_us)(void);       /* the limiter's clock; NULL = lt_now_us (tests: a fake) */
	bool policy_error;             /* rate_limit = "error": refuse instead of waiting */
	bool rl_off;                   /* rate_limit = "off": loopback benchmarks only */
	int heartbeat_s;               /* public/set_heartbeat after every connect; 0 = off */
	bool answer_test_request;
} lt_cl_opts;

typedef struct lt_cl_stats {
	unsigned long long submitted, sent, refused, timeouts, lost, requeued, venue_rate_limited,
		unrouted;
	int waiting, max_waiting; /* WAIT_AUTH + WAIT_LIMIT now, and the high-water mark */
} lt_cl_stats;

/* Create a client and start connecting. L: any thread of the runtime's Lua state (the rpc
 * decodes on its own thread made from it). Errors: those of lt_ws_new and lt_rpc_new. */
int lt_cl_new(lua_State *L, lt_loop *loop, const lt_cl_opts *o, const lt_cl_events *ev, void *ud,
	      lt_cl **out, lt_err *err);

/* Install the private layer (once, right after lt_cl_new). */
void lt_cl_set_hooks(lt_cl *cl, const lt_cl_hooks *h);

/* Close: every waiting request ends REFUSED (not sent), every sent one LOST, the connection
 * closes; no event reaches the owner afterwards. Frees cl. Accepts NULL. */
void lt_cl_free(lt_cl *cl);

/* Submit a request. text: the encoded request (lt_method_encode with id 0), taken (left
 * empty) on success and on failure; ignored (may be NULL) when spec->build is set.
 * timeout_ms > 0: the whole deadline. tag: the owner's word, read back with lt_req_tag. *out (may be NULL) receives the request handle, valid
 * until its done callback returns or lt_req_withdraw. */
int lt_cl_submit(lt_cl *cl, const lt_req_spec *spec, lt_buf *text, int64_t timeout_ms,
		 lt_req_done_fn done, void *ud, uint64_t tag, lt_req **out, lt_err *err);

/* A runtime's own request from literal JSON params (NULL = none), e.g.
 *     lt_cl_background(cl, "public/set_heartbeat", "{\"interval\":10}", LT_REQ_BOUND, 10000,
 *                      NULL, NULL);
 * done NULL = lt_cl_log_outcome (the answer only matters to the log). Returns lt_cl_submit's
 * result (a refusal is logged). */
int lt_cl_background(lt_cl *cl, const char *method, const char *params, unsigned flags,
		     int64_t timeout_ms, lt_req_done_fn done, void *ud);
/* A done callback that logs what did not succeed and pops the answer; ud is the lt_cl. */
void lt_cl_log_outcome(void *ud, lt_req *r, const lt_req_end *e);

/* Why the last lt_cl_submit refused: an LT_CODE_* or venue code (auth failed), and for the
 * limiter the retry_after in seconds. */
int64_t lt_cl_refusal(const lt_cl *cl, double *retry_after);

/* Withdraw a request whose owner went away: not yet sent = removed, never sent; already sent =
 * stays tracked until its answer, which is then dropped. done is never called. */
void lt_req_withdraw(lt_req *r);

lt_req_state lt_req_get_state(const lt_req *r);
const char *lt_req_method(const lt_req *r);
int64_t lt_req_id(const lt_req *r);          /* 0 until sent */
uint64_t lt_req_auth_epoch(const lt_req *r); /* the auth epoch it was sent under */
uint64_t lt_req_tag(const lt_req *r);

/* The private layer says the session's readiness changed: re-run the gate. */
void lt_cl_kick(lt_cl *cl);

/* The client's clock (lt_now_us unless a test gave a fake one), in microseconds. */
int64_t lt_cl_now_us(const lt_cl *cl);

/* Connection epoch: increments at every open. */
uint64_t lt_cl_epoch(const lt_cl *cl);
bool lt_cl_is_open(const lt_cl *cl);
/* The connection is ready (public: open; private: authenticated): backoff may reset after the
 * stable period (lt_ws_set_ready). */
void lt_cl_set_ready(lt_cl *cl);

/* The ws connection (NULL when a test's transport is in use). */
lt_ws *lt_cl_ws(lt_cl *cl);
/* Why the connection is not open: the last drop's or failed attempt's reason; "" while open
 * or before the first attempt ended. */
const char *lt_cl_down_reason(const lt_cl *cl);
lt_loop *lt_cl_loop(lt_cl *cl);
lt_rpc *lt_cl_rpc(lt_cl *cl);
lt_rl *lt_cl_rl(lt_cl *cl);
const char *lt_cl_url(const lt_cl *cl);
const lt_cl_stats *lt_cl_get_stats(const lt_cl *cl);
/* The metrics scope the client counts into (o.ws.metrics; NULL = none). */
const struct lt_mx *lt_cl_metrics(const lt_cl *cl);

/* The venue answered 10028 to a request of pool: drain it locally, and if the venue then
 * ends the session, reconnect only after its bucket refilled (deribit-api.md §9). */
void lt_cl_venue_rate_limited(lt_cl *cl, lt_pool pool);

#endif
