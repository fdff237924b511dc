/* internal.h — what the files of the simulated venue share: the venue, per-connection state
 * (kept in the lws `user` memory of each connection), one request being answered, and the
 * functions each file offers to the others. Not part of the public API (that is sim.h). */
#ifndef LT_SIM_INTERNAL_H
#define LT_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <yajl/yajl_tree.h>

#include "../codec.h"
#include "accounts.h"
#include "market.h"
#include "sim.h"

#define LT_SIM_MAX_MSG (32 * 1024)         /* deribit-api.md §1: larger requests get -32600 */
#define LT_SIM_EVLOG_MAX 4096              /* events kept in memory (eventlog.c) */
#define LT_SIM_MAX_QUEUE (8 * 1024 * 1024) /* unsent bytes before a slow reader is dropped */
#define LT_SIM_MAX_SUBS 2000               /* channels per connection */

typedef struct lt_sim_conn lt_sim_conn;
typedef struct lt_sim_evlog lt_sim_evlog; /* eventlog.c */

/* One outgoing text frame: text at b.data + LWS_PRE. */
typedef struct lt_sim_msg {
	struct lt_sim_msg *next;
	lt_buf b;
	/* a user.orders notification (eventlog.c logs it when written or discarded) */
	struct {
		bool on;
		int state;
		int64_t ts;
		char order_id[32];
	} uo;
} lt_sim_msg;

/* A response held back by the "delay" fault. */
typedef struct lt_sim_delayed {
	lws_sorted_usec_list_t sul; /* first: container_of */
	struct lt_sim_delayed *next;
	lt_sim_conn *conn;
	lt_sim_msg *msg;
} lt_sim_delayed;

typedef enum {
	LT_SIM_CH_TICKER,
	LT_SIM_CH_BOOK,
	LT_SIM_CH_BOOK_GROUPED,
	LT_SIM_CH_TRADES,
	LT_SIM_CH_TRADES_KIND,
	LT_SIM_CH_INDEX,
	LT_SIM_CH_QUOTE
} lt_sim_ch_type;
enum { LT_SIM_IV_100MS = 0, LT_SIM_IV_AGG2 = 1 }; /* same numbers as LT_SIM_ACC_* */

typedef struct lt_sim_sub {
	char name[128];
	lt_sim_ch_type type;
	int interval;           /* LT_SIM_IV_* */
	size_t ins;             /* instrument index in the market (not for INDEX/TRADES_KIND) */
	int index;              /* LT_SIM_IDX_* for INDEX */
	int kind_mask;          /* TRADES_KIND: bit per lt_sim_kind */
	int ccy;                /* TRADES_KIND: LT_SIM_IDX_* or -1 = any */
	int64_t group;          /* BOOK_GROUPED: ticks per bucket, 0 = none */
	size_t depth;           /* BOOK_GROUPED */
	bool need_snapshot;     /* BOOK: next publish sends a snapshot */
	int64_t last_change_id; /* BOOK / BOOK_GROUPED: last sent */
	int64_t *last_seq;      /* TRADES*: per-instrument last trade_seq sent (market size) */
	double last_bid, last_ask, last_bid_amt, last_ask_amt; /* QUOTE */
} lt_sim_sub;

struct lt_sim_conn {
	lt_sim *sim; /* NULL once detached by lt_sim_free */
	struct lws *wsi;
	lt_sim_conn *prev, *next; /* sim->conns */
	unsigned id;
	/* rx reassembly */
	char *rx;
	size_t rx_len, rx_cap;
	bool rx_too_big;
	int64_t rx_us; /* usIn of the message being received */
	/* tx queue */
	lt_sim_msg *q_head, *q_tail;
	size_t q_bytes;
	bool close_now; /* close at the next writeable callback */
	/* heartbeat (heartbeat.c) */
	lws_sorted_usec_list_t hb_sul;
	int64_t hb_interval_ms;
	bool hb_pending; /* test_request sent, no public/test since */
	int min_heartbeat_s;
	int hb_ms_per_s; /* how long one interval-second lasts (tests: sim/configure) */
	/* faults (faults.c) */
	int stall; /* requests left to ignore */
	bool err_armed;
	int64_t err_code;
	char err_msg[128];
	int64_t delay_ms; /* < 0: none */
	lt_sim_delayed *delayed;
	bool blackhole;                /* send nothing, discard what arrives (faults.c) */
	bool frozen;                   /* blackhole mode "freeze": not even reading (rx flow off) */
	lws_sorted_usec_list_t bh_sul; /* ends a timed blackhole */
	int close_code;                /* close_now with a close frame: code (0 = no frame) */
	char close_reason[124];        /* and reason (RFC 6455: at most 123 bytes) */
	/* subscriptions (channels.c) */
	lt_sim_sub *subs;
	size_t nsubs, subs_cap;
	/* auth (auth.c) */
	lt_sim_account *acc;     /* authenticated as (NULL = never); see lt_sim_auth_resolve */
	char token[64];          /* the access token that authenticated this connection */
	int64_t token_expires_s; /* lifetime of tokens issued here; 0 = opts.token_expires_s */
	bool cod;                /* cancel on disconnect, connection scope */
	bool cod_set;            /* cod was set explicitly here (else the account default) */
	bool logged_out;         /* private/logout: close without cancel on disconnect */
	/* limits (limits.c) */
	lt_sim_limits limits;   /* per-connection buckets while unauthenticated (per IP) */
	bool limits_ready;      /* limits initialised (at the first request) */
	bool rl_fault;          /* sim/fault rate_limit: the next request gets 10028 */
	int close_on_10028;     /* unauthenticated: 0 = opts.close_on_10028, 1 close, 2 not */
	bool close_after_flush; /* 10028 sent: close once the queue is written (server.c) */
	/* more faults (faults_more.c) */
	int64_t drop_after;   /* > 0: drop the connection at the drop_after-th next request */
	char drop_method[32]; /* ... counting only requests of this method ("" = any) */
	bool drop_process;    /* ... after processing it (its answer is lost) */
	bool drop_pending;    /* dispatch closes the connection after this request */
	int book_gaps;        /* book notifications left to send with a wrong prev_change_id */
	size_t q_extra;       /* sim/fault oversize: queue allowance for its one frame */
};

struct lt_sim {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	lt_sim_opts opts;
	int port;
	lt_sim_market *mkt;
	lt_sim_conn *conns;
	unsigned next_conn_id;
	lws_sorted_usec_list_t tick_sul;
	uint64_t ticks;
	int agg2_every; /* ticks per agg2 publish */
	/* accounts (accounts.c) */
	lt_sim_account *accounts; /* the demo account first */
	lt_sim_token *tokens;     /* issued token pairs, newest first */
	int64_t next_user_id;
	/* faults (faults.c): sim/fault flap closes the next flap_left new connections */
	int64_t flap_left;
	uint64_t flapped;
	int flap_code; /* close code for them, 0 = no close frame */
	char flap_reason[124];
	/* inspection (stats.c): unauthenticated traffic */
	void *stats_anon;
	lt_sim_evlog *evlog; /* eventlog.c */
};

/* One request being answered (dispatch.c builds it, handlers read params and reply). */
typedef struct lt_sim_req {
	lt_sim_conn *conn;
	lt_sim *sim;
	const char *method;
	yajl_val id;     /* integer or string node, NULL = null */
	yajl_val params; /* object or NULL */
	int64_t us_in;
	int64_t delay_ms; /* >= 0: hold the response this long (fault) */
	lt_sim_msg *msg;  /* the response being written */
	bool done;
	lt_sim_conn *reply_conn; /* non-NULL: the answer goes there, not to conn (sim/fault conn) */
} lt_sim_req;

/* ---- time and logging (server.c) ---- */
int64_t lt_sim_now_us(void);
int64_t lt_sim_now_ms(void);
void lt_sim_log(const lt_sim *sim, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lt_sim_log_text(const lt_sim *sim, int level, const char *what, unsigned conn,
		     const char *text, size_t len);

/* ---- connection lifecycle (server.c) ---- */
/* A new connection: c is the lws user memory of wsi (LWS_CALLBACK_ESTABLISHED), zeroed and
 * linked into sim. wsi may be NULL: a connection without a socket (tests/sim_dispatch_test.c,
 * fuzz/sim_dispatch_fuzz.c), fed through lt_sim_dispatch, whose answers stay queued in
 * c->q_head and whose closes only mark it closing (close_now). */
void lt_sim_conn_open(lt_sim *sim, struct lws *wsi, lt_sim_conn *c);
/* The connection ended (LWS_CALLBACK_CLOSED): cancel on disconnect and connection tokens
 * (auth.c), then everything c owns is freed and c unlinked (c->sim becomes NULL). Idempotent. */
void lt_sim_conn_closed(lt_sim_conn *c);

/* ---- connection output (server.c) ---- */
lt_sim_msg *lt_sim_msg_new(void);
void lt_sim_msg_free(lt_sim_msg *m);
/* Queue a complete message (takes ownership); drops a reader whose backlog is too large. */
void lt_sim_conn_send(lt_sim_conn *c, lt_sim_msg *m);
/* Send raw bytes as one text frame (malformed-frame fault). */
void lt_sim_conn_send_raw(lt_sim_conn *c, const char *s, size_t n);
void lt_sim_conn_close(lt_sim_conn *c);
/* Close with a WebSocket close frame carrying code (1000..4999) and reason (<= 123 bytes,
 * NULL = none); what is still queued is dropped. */
void lt_sim_conn_close_code(lt_sim_conn *c, int code, const char *reason);
/* Drop every queued, unsent message (blackhole). */
void lt_sim_conn_drop_queue(lt_sim_conn *c);
/* Is the connection open and not closing (inspection lists only these)? */
bool lt_sim_conn_live(const lt_sim_conn *c);

/* ---- replies (reply.c) ---- */
/* Begin a result: returns the buffer positioned where the result value goes. */
lt_buf *lt_sim_reply_begin(lt_sim_req *rq);
/* Finish the envelope (usIn/usOut/usDiff/testnet) and queue or delay it. */
void lt_sim_reply_end(lt_sim_req *rq);
void lt_sim_reply_ok(lt_sim_req *rq); /* result "ok" */
void lt_sim_reply_error(lt_sim_req *rq, int64_t code, const char *message);
/* -32602 Invalid params with data {"param":..,"reason":..}. Returns -1 for handlers. */
int lt_sim_reply_invalid(lt_sim_req *rq, const char *param, const char *reason);
/* -32600 "Invalid Request" with data {"reason":..}. */
void lt_sim_reply_bad_request(lt_sim_req *rq, const char *reason);
/* A notification: begin writes {"jsonrpc":"2.0","method":"subscription","params":{"channel":
 * ..,"data": and returns the buffer for the data; end closes and queues it. */
lt_sim_msg *lt_sim_notify_begin(const char *channel);
void lt_sim_notify_end(lt_sim_conn *c, lt_sim_msg *m);
/* Hand a finished delayed response over to the queue (faults.c timer). */
void lt_sim_reply_deliver(lt_sim_conn *c, lt_sim_msg *m);

/* ---- request parameters (params.c); each returns 1 present, 0 absent (optional),
 *      -1 invalid (the -32602 reply is already sent) ---- */
int lt_sim_param_str(lt_sim_req *rq, const char *name, bool required, const char **out);
int lt_sim_param_enum(lt_sim_req *rq, const char *name, bool required, const char *const *allowed,
		      const char **out);
int lt_sim_param_num(lt_sim_req *rq, const char *name, bool required, double *out);
int lt_sim_param_int(lt_sim_req *rq, const char *name, bool required, int64_t *out);
int lt_sim_param_bool(lt_sim_req *rq, const char *name, bool required, bool *out);
int lt_sim_param_strarr(lt_sim_req *rq, const char *name, bool required, size_t max, yajl_val *out);
/* The instrument named by param `name`, or NULL after replying (-32602 / 13020). */
lt_sim_ins *lt_sim_param_instrument(lt_sim_req *rq, const char *name);

/* ---- dispatch (dispatch.c) ---- */
yajl_val lt_sim_json_get(yajl_val obj, const char *key); /* member of an object or NULL */
typedef void (*lt_sim_handler)(lt_sim_req *rq);
typedef struct lt_sim_method {
	const char *name;
	lt_sim_handler fn;
} lt_sim_method;
extern const lt_sim_method lt_sim_public_methods[]; /* public_methods.c, NULL-terminated */
extern const lt_sim_method lt_sim_fault_methods[];  /* faults.c, NULL-terminated */
/* trading (private_methods.c; the engine's other entry points are in trading.h) */
extern const lt_sim_method lt_sim_private_methods[]; /* NULL-terminated */
/* Handle one complete incoming text message (text NUL-terminated at text[len]). */
void lt_sim_dispatch(lt_sim_conn *c, const char *text, size_t len, int64_t us_in);
/* Answer a message that was too big (-32600, id null). */
void lt_sim_dispatch_too_big(lt_sim_conn *c, int64_t us_in);

/* ---- faults (faults.c): called by dispatch before routing; returns true if it consumed the
 *      request (stall, forced error) and sets rq->delay_ms for "delay". ---- */
bool lt_sim_faults_apply(lt_sim_req *rq);
void lt_sim_faults_clear(lt_sim_conn *c); /* cancel delayed responses */
/* Queue m on c after ms milliseconds (takes ownership). */
void lt_sim_faults_hold(lt_sim_conn *c, lt_sim_msg *m, int64_t ms);
/* A new connection was accepted: true if sim/fault flap closes it at once. */
bool lt_sim_faults_flap(lt_sim_conn *c);
/* The account a fault acts on: params.account, else the connection's own; NULL after
 * replying -32602 (unknown account, or none given on an unauthenticated connection). */
lt_sim_account *lt_sim_fault_account(lt_sim_req *rq);

/* ---- heartbeat (heartbeat.c) ---- */
void lt_sim_hb_set(lt_sim_conn *c, int64_t interval_ms);
void lt_sim_hb_disable(lt_sim_conn *c);
void lt_sim_hb_answered(lt_sim_conn *c); /* a public/test arrived */

/* ---- subscribe/unsubscribe replies (public_methods.c); user_channels for private/ ---- */
void lt_sim_subscribe_reply(lt_sim_req *rq, bool sub, bool user_channels);

/* ---- channels (channels.c) ---- */
/* Subscribe one channel name: 1 subscribed (new or already), 0 invalid/not allowed, <0 error. */
int lt_sim_chan_subscribe(lt_sim_conn *c, const char *name);
bool lt_sim_chan_unsubscribe(lt_sim_conn *c, const char *name);
void lt_sim_chan_unsubscribe_all(lt_sim_conn *c);
/* After a market step: publish to every connection; agg2 true when agg2 channels are due. */
void lt_sim_chan_publish(lt_sim *sim, bool agg2);

/* ---- accounts (accounts.c) ---- */
/* Create the demo account (client_id LT_SIM_DEMO_CLIENT_ID, secret derived from opts.seed) and
 * the accounts of opts.accounts ("id:secret[,id:secret...]"). LT_EINVAL with a message for a
 * malformed list or a duplicate id, LT_ENOMEM. On failure everything made is freed. */
int lt_sim_accounts_init(lt_sim *sim, lt_err *err);
/* Free every account and token. Idempotent. */
void lt_sim_accounts_free(lt_sim *sim);
lt_sim_account *lt_sim_account_find(lt_sim *sim, const char *client_id);
/* Issue a token pair for acc: scope is the granted scope text; session (NULL = connection
 * scope, bound to conn_id) names a session:NAME whose older tokens it replaces (16 sessions
 * per account, the oldest evicted). NULL on ENOMEM. Expired tokens are purged here. */
lt_sim_token *lt_sim_token_issue(lt_sim *sim, lt_sim_account *acc, const char *scope,
				 const char *session, unsigned conn_id, int64_t expires_s,
				 int64_t now_ms);
/* The token whose access (refresh = false) or refresh token is text, if it is usable now on
 * connection conn_id (not expired, and a connection-scope token only on its connection). */
lt_sim_token *lt_sim_token_find(lt_sim *sim, const char *text, bool refresh, unsigned conn_id,
				int64_t now_ms);
void lt_sim_token_revoke(lt_sim *sim, lt_sim_token *t); /* frees t */
/* Revoke every token (access and refresh, any scope) of acc. */
void lt_sim_tokens_revoke_account(lt_sim *sim, const lt_sim_account *acc);
/* Revoke every connection-scope token of conn_id (the connection closed). */
void lt_sim_tokens_drop_conn(lt_sim *sim, unsigned conn_id);

/* ---- auth (auth.c) ---- */
/* Lowercase hex HMAC-SHA256 of msg[0..len) with key: out gets 64 chars and a NUL. */
void lt_sim_auth_hmac_hex(const char *key, const char *msg, size_t len, char out[65]);
/* The client_signature of deribit-api.md §3: HMAC(secret, ts "\n" nonce "\n" data).
 * LT_EINVAL when the string to sign would exceed 4 kB. */
int lt_sim_auth_sign(const char *secret, int64_t ts_ms, const char *nonce, const char *data,
		     char out[65]);
/* A signature timestamp is accepted within +-60 s of the venue clock. */
bool lt_sim_auth_ts_ok(int64_t ts_ms, int64_t now_ms);
/* Record a nonce for acc; false if it was used before (among the last 64 of the account). */
bool lt_sim_auth_nonce_use(lt_sim_account *acc, const char *nonce);
/* Called by dispatch before routing: the account the request acts for (params.access_token if
 * it is valid here, else the connection's own token if still valid), or NULL. */
lt_sim_account *lt_sim_auth_resolve(lt_sim_req *rq);
/* Is the connection authenticated with a token that has not expired? */
bool lt_sim_auth_valid(lt_sim_conn *c);
/* Connection closing (server.c): cancel on disconnect unless logged out; drop its tokens. */
void lt_sim_auth_conn_closed(lt_sim_conn *c);
/* sim/fault revoke_tokens: every token of acc is revoked and each of its connections is left
 * unauthenticated (private requests get 13009 until it authenticates again). */
void lt_sim_auth_revoke(lt_sim *sim, lt_sim_account *acc);
/* sim/configure keys token_expires_s, tier, close_on_10028 (faults.c calls it first);
 * returns -1 after replying with an error, 0 otherwise. */
int lt_sim_auth_configure(lt_sim_req *rq);
extern const lt_sim_method lt_sim_auth_methods[]; /* auth.c, NULL-terminated */
/* The other engineer's hook (orders.c): cancel the orders of a connection that dropped with
 * cancel on disconnect enabled. auth.c has a weak no-op default. */
void lt_sim_engine_cancel_on_disconnect(lt_sim_conn *c);

/* ---- limits (limits.c) ---- */
/* The bucket a method draws on (LT_SIM_POOL_*), or -1 for "sim/" control methods. */
int lt_sim_limits_pool(const char *method);
void lt_sim_limits_init(lt_sim_limits *l, int tier, int64_t now_us);
/* Change the matching-engine tier (1..4); LT_EINVAL otherwise. Keeps the current level. */
int lt_sim_limits_set_tier(lt_sim_limits *l, int tier, int64_t now_us);
/* Take one request's credits from pool at now_us (l->grace_us early is allowed, on credit);
 * false (nothing taken) if not enough. */
bool lt_sim_limits_take(lt_sim_limits *l, int pool, int64_t now_us);
/* Allocate / free an account's buckets (a->limits). */
int lt_sim_limits_attach(lt_sim_account *a, int64_t now_us);
void lt_sim_limits_detach(lt_sim_account *a);
/* Called by dispatch before routing: charge the request to acc (NULL: the connection). Returns
 * true if it answered 10028 (and closed the connection when configured to). */
bool lt_sim_limits_check(lt_sim_req *rq, lt_sim_account *acc);
/* The `limits` object of get_account_summary (deribit-api.md §7 "Actual limits") for a's tier. */
void lt_sim_limits_write(const lt_sim_account *a, lt_buf *b);

/* ---- inspection (stats.c; the sim/stats control) ---- */
/* A message arrived on c (root: its parse tree, NULL when it was not JSON or too big): count
 * it for the account it acts for, before anything can refuse it. */
void lt_sim_stats_arrived(lt_sim_conn *c, yajl_val root);
/* Count a successful public/auth (refresh: a refresh_token grant) for acc on c. */
void lt_sim_stats_auth(lt_sim_conn *c, lt_sim_account *acc, bool refresh);
/* c starts acting for acc (first authentication as acc on this connection). */
void lt_sim_stats_adopted(lt_sim_conn *c, lt_sim_account *acc);
/* A 10028 was sent on c for acc (NULL: the connection's account, if any). */
void lt_sim_stats_rate_limited(lt_sim_conn *c, lt_sim_account *acc);
/* Free one account's (or the venue's unauthenticated) counters; accepts NULL. */
void lt_sim_stats_free(void *stats);
extern const lt_sim_method lt_sim_stats_methods[]; /* stats.c, NULL-terminated */

/* ---- the event log (eventlog.c; sim/events); every lt_sim_ev_* is a no-op without a log ---- */
/* Make the log (and open opts.event_log for appending); LT_ENOMEM / LT_EIO with a message. */
int lt_sim_evlog_open(lt_sim *sim, lt_err *err);
void lt_sim_evlog_close(lt_sim *sim); /* idempotent */
void lt_sim_ev_start(lt_sim *sim);
void lt_sim_ev_conn(lt_sim_conn *c, const char *ev); /* "open" or "close" */
void lt_sim_ev_auth(lt_sim_conn *c, const lt_sim_account *acc, bool refresh);
void lt_sim_ev_sub(lt_sim_conn *c, const char *channel, bool sub);
/* The user.orders notification m left for c's socket (dropped: a fault or the connection's end
 * discarded it unsent). No-op unless m->uo.on. */
void lt_sim_ev_uo_msg(lt_sim_conn *c, const lt_sim_msg *m, bool dropped);
/* An order request arrived (private/buy, sell, edit, cancel; others are ignored). */
void lt_sim_ev_request(const lt_sim_req *rq);
extern const lt_sim_method lt_sim_evlog_methods[]; /* NULL-terminated */

/* ---- more faults (faults_more.c): actions sim/fault looks up after its own ---- */
extern const lt_sim_method lt_sim_fault_more[]; /* {action, handler}, NULL-terminated */
/* Called by lt_sim_faults_apply for every non-"sim/" request: true if it consumed it (the
 * connection was dropped at a drop_after). */
bool lt_sim_faults_drop_check(lt_sim_req *rq);

#endif
