/* ws.c — one client WebSocket connection on the loop; see ws.h for the contract. The pure
 * rules (URL, backoff delay, wording of failures) are in ws_rules.c.
 *
 * Every libwebsockets callback below acts only for the current transport (ws->wsi). Owner
 * callbacks run last in each path and through notify(), which tells whether the owner closed
 * ws from inside the callback; the free waits while ws->busy says ws is on the call stack.
 */
#include "ws.h"

#include <libwebsockets.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "ws_rules.h"

typedef struct outmsg {
	struct outmsg *next;
	char *data;        /* LWS_PRE headroom + text */
	size_t pre, len, cap;
	bool sensitive;    /* cleanse before free (auth requests) */
} outmsg;

struct lt_ws {
	lt_loop *loop;
	struct lws_vhost *vh;
	lt_ws_url u;
	struct lws *wsi;            /* current transport, until its WSI_DESTROY */
	lt_ws_cbs cbs;
	void *ud;
	lt_ws_state state;
	bool detached;              /* lt_ws_close called: free when wsi is gone */
	int busy;                   /* ws is on the call stack (owner callback, connect): no free */
	outmsg *qhead, *qtail;
	size_t qbytes, max_queue;
	char *rx;                   /* reassembly; may hold tokens: cleansed before free/move */
	size_t rxlen, rxcap, max_message;
	bool rx_skip;
	int dead_after_ms;
	int64_t last_rx_us;         /* any frame; the dead timer compares with it lazily */
	int attempt, bo_base, bo_cap, stable_ms;
	int hold_ms;                /* lt_ws_hold_off: least delay of the next retry ... */
	int64_t hold_until_us;      /* ... if the drop comes before this time */
	bool no_reconnect;
	uint64_t rng;
	int64_t attempt_us;         /* when the current attempt started */
	lt_ws_fail fail;
	char drop_reason[160];      /* set before a drop we cause or the venue announces */
	lws_sorted_usec_list_t sul_retry, sul_dead, sul_stable;
	lt_ws_stats stats;
	const struct lt_mx *mx;     /* metrics (lt_ws_opts.metrics) */
};

const char *lt_ws_state_name(lt_ws_state s)
{
	static const char *const names[] = {"connecting", "open", "reconnecting", "closed"};
	return (unsigned)s < 4 ? names[s] : "?";
}

static void outmsg_free(outmsg *m)
{
	if (m->sensitive)
		OPENSSL_cleanse(m->data, m->cap);
	free(m->data);
	free(m);
}

static void queue_clear(lt_ws *ws)
{
	for (outmsg *m = ws->qhead, *n; m; m = n) {
		n = m->next;
		outmsg_free(m);
	}
	ws->qhead = ws->qtail = NULL;
	ws->qbytes = 0;
}

static void ws_destroy(lt_ws *ws)
{
	lws_sul_cancel(&ws->sul_retry);
	lws_sul_cancel(&ws->sul_dead);
	lws_sul_cancel(&ws->sul_stable);
	queue_clear(ws);
	(*lt_loop_conn_count(ws->loop))--;
	if (ws->rx)
		OPENSSL_cleanse(ws->rx, ws->rxcap);
	free(ws->rx);
	free(ws);
}

/* After an owner callback: false if the owner closed ws in it (ws may then be freed). */
static bool settle(lt_ws *ws)
{
	if (!ws->detached)
		return true;
	if (!ws->busy && !ws->wsi)
		ws_destroy(ws);
	return false;
}

static bool notify(lt_ws *ws, lt_ws_state st, const char *reason)
{
	ws->state = st;
	if (ws->detached || !ws->cbs.on_state)
		return !ws->detached;
	ws->busy++;
	ws->cbs.on_state(ws->ud, st, reason);
	ws->busy--;
	return settle(ws);
}

/* ---- connecting and reconnecting -------------------------------------------------------- */

static void retry_cb(lws_sorted_usec_list_t *sul);

static void schedule_retry(lt_ws *ws)
{
	int d = lt_ws_backoff_ms(ws->attempt, ws->bo_base, ws->bo_cap, &ws->rng);
	if (lt_now_us() < ws->hold_until_us && d < ws->hold_ms)
		d = ws->hold_ms + (int)(ws->rng % 1000);
	if (ws->attempt < INT_MAX)
		ws->attempt++;
	ws->stats.reconnects++;
	ws->stats.last_backoff_ms = d;
	lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_retry, retry_cb,
			 (lws_usec_t)d * 1000);
}

/* The transport is gone or never came: discard the queue, stop the timers, then either stay
 * closed (no_reconnect) or schedule the next attempt; the owner hears of it last. A reason the
 * drop announced itself (dead timer, the venue's close frame) wins over the caller's. Returns
 * false if the owner closed ws meanwhile (then ws must not be touched). */
static bool on_drop(lt_ws *ws, const char *reason)
{
	if (ws->detached || (ws->state != LT_WS_CONNECTING && ws->state != LT_WS_OPEN))
		return true;
	lws_sul_cancel(&ws->sul_dead);
	lws_sul_cancel(&ws->sul_stable);
	queue_clear(ws);
	if (ws->drop_reason[0])
		reason = ws->drop_reason;
	if (ws->no_reconnect)
		return notify(ws, LT_WS_CLOSED, reason);
	schedule_retry(ws);
	return notify(ws, LT_WS_RECONNECTING, reason);
}

/* libwebsockets gave up on the attempt before the handshake (CLIENT_CONNECTION_ERROR). */
static void on_connect_error(lt_ws *ws, struct lws *wsi, const char *in, size_t len)
{
	long verify = -1;
#if defined(LWS_WITH_TLS) && !defined(LWS_WITH_MBEDTLS)
	SSL *ssl = lws_get_ssl(wsi);
	if (ssl)
		verify = SSL_get_verify_result(ssl);
#endif
	char reason[200];
	ws->fail = lt_ws_describe_fail(in, len, verify, lws_http_client_http_response(wsi),
				       (lt_now_us() - ws->attempt_us) / 1000, reason, sizeof reason);
	on_drop(ws, reason);
}

/* lws_client_connect_via_info failed at once and, by design (client_suppress_CONNECTION_ERROR
 * in lws 4.1 connect.c), said nothing: the usual cause is a name that does not resolve, which
 * one more lookup tells apart from the rest. */
static void on_connect_refused_at_once(lt_ws *ws)
{
	if (ws->state != LT_WS_CONNECTING) /* a WSI_DESTROY inside the call reported it */
		return;
	char reason[200];
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int g = getaddrinfo(ws->u.host, NULL, &hints, &res);
	if (res)
		freeaddrinfo(res);
	ws->fail = g ? LT_WS_FAIL_DNS : LT_WS_FAIL_OTHER;
	if (g)
		snprintf(reason, sizeof reason, "host not found (%.100s: %s)", ws->u.host,
			 gai_strerror(g));
	else
		snprintf(reason, sizeof reason, "connect failed (libwebsockets could not start "
			 "the connection)");
	on_drop(ws, reason);
}

static void connect_now(lt_ws *ws)
{
	ws->rx_skip = false;
	ws->rxlen = 0;
	ws->drop_reason[0] = '\0';
	ws->attempt_us = lt_now_us();
	if (ws->state != LT_WS_CONNECTING && !notify(ws, LT_WS_CONNECTING, NULL))
		return;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = lt_loop_context(ws->loop);
	ci.vhost = ws->vh;
	ci.address = ws->u.host;
	ci.port = ws->u.port;
	ci.path = ws->u.path;
	ci.host = ws->u.host;
	ci.origin = ws->u.host;
	ci.ssl_connection = ws->u.tls ? LCCSCF_USE_SSL : 0;
	ci.local_protocol_name = "lt-client";
	ci.userdata = ws;
	ci.pwsi = &ws->wsi;
	ws->busy++;
	bool started = lws_client_connect_via_info(&ci) != NULL;
	ws->busy--;
	if (!started)
		ws->wsi = NULL; /* lws may leave *pwsi pointing at the wsi it freed */
	if (settle(ws) && !started)
		on_connect_refused_at_once(ws);
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	connect_now(lws_container_of(sul, lt_ws, sul_retry));
}

/* ---- liveness ---------------------------------------------------------------------------- */

/* Fires dead_after_ms after the last frame at the earliest: frames only stamp last_rx_us, and
 * a timer that fires early re-arms itself for the remainder. */
static void dead_cb(lws_sorted_usec_list_t *sul)
{
	lt_ws *ws = lws_container_of(sul, lt_ws, sul_dead);
	if (ws->state != LT_WS_OPEN || !ws->wsi)
		return;
	int64_t idle = lt_now_us() - ws->last_rx_us, limit = (int64_t)ws->dead_after_ms * 1000;
	if (idle < limit) {
		lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_dead, dead_cb,
				 (lws_usec_t)(limit - idle));
		return;
	}
	ws->stats.dead++;
	snprintf(ws->drop_reason, sizeof ws->drop_reason,
		 "dead: no data from the venue for %lld ms", (long long)(idle / 1000));
	lt_log(LT_LOG_WARN, "%s: %s; dropping the connection", ws->u.host, ws->drop_reason);
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void stable_cb(lws_sorted_usec_list_t *sul)
{
	lt_ws *ws = lws_container_of(sul, lt_ws, sul_stable);
	if (ws->state == LT_WS_OPEN) /* cancelled at every drop: still the same transport */
		ws->attempt = 0;
}

/* ---- receiving and writing --------------------------------------------------------------- */

static void deliver(lt_ws *ws, const char *msg, size_t len)
{
	ws->stats.msgs_in++;
	ws->stats.bytes_in += len;
	ws->busy++;
	ws->cbs.on_message(ws->ud, msg, len);
	ws->busy--;
}

static void drop_oversize(lt_ws *ws)
{
	ws->rx_skip = true;
	ws->stats.dropped_oversize++;
	lt_mx_inc(ws->mx, LT_M_MSG_DROPPED, "oversize", 1);
	lt_log(LT_LOG_WARN, "dropped a message over %zu bytes from %s", ws->max_message,
	       ws->u.host);
}

/* Grow ws->rx to hold need bytes; the old block is cleansed, never left behind by realloc. */
static bool rx_reserve(lt_ws *ws, size_t need)
{
	if (need <= ws->rxcap)
		return true;
	size_t cap = ws->rxcap ? ws->rxcap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = malloc(cap);
	if (!p) {
		lt_log(LT_LOG_WARN, "out of memory: dropped a %zu-byte message from %s", need,
		       ws->u.host);
		return false;
	}
	if (ws->rx) {
		memcpy(p, ws->rx, ws->rxlen);
		OPENSSL_cleanse(ws->rx, ws->rxcap);
		free(ws->rx);
	}
	ws->rx = p;
	ws->rxcap = cap;
	return true;
}

static void on_receive(lt_ws *ws, struct lws *wsi, const char *in, size_t len)
{
	bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
	if (first) {
		ws->rxlen = 0;
		ws->rx_skip = lws_frame_is_binary(wsi);
		if (ws->rx_skip) {
			ws->stats.dropped_binary++;
			lt_mx_inc(ws->mx, LT_M_MSG_DROPPED, "binary", 1);
		}
	}
	if (!ws->rx_skip && len > ws->max_message - ws->rxlen)
		drop_oversize(ws);
	else if (!ws->rx_skip && first && final)
		deliver(ws, in, len); /* whole message in one piece: no copy */
	else if (!ws->rx_skip && !rx_reserve(ws, ws->rxlen + len))
		ws->rx_skip = true;
	else if (!ws->rx_skip) {
		memcpy(ws->rx + ws->rxlen, in, len);
		ws->rxlen += len;
		if (final)
			deliver(ws, ws->rx, ws->rxlen);
	}
	if (final)
		ws->rxlen = 0;
}

static int on_writeable(lt_ws *ws, struct lws *wsi)
{
	if (ws->detached) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	outmsg *m = ws->qhead;
	if (!m)
		return 0;
	ws->qhead = m->next;
	if (!ws->qhead)
		ws->qtail = NULL;
	ws->qbytes -= m->len;
	int n = lws_write(wsi, (unsigned char *)m->data + m->pre, m->len, LWS_WRITE_TEXT);
	outmsg_free(m);
	if (n < 0)
		return -1;
	ws->stats.msgs_out++;
	if (ws->qhead)
		lws_callback_on_writable(wsi);
	return 0;
}

static void on_established(lt_ws *ws, struct lws *wsi)
{
	if (ws->detached) {
		lws_callback_on_writable(wsi); /* closes it */
		return;
	}
	ws->fail = LT_WS_FAIL_NONE;
	ws->last_rx_us = lt_now_us();
	if (ws->dead_after_ms)
		lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_dead, dead_cb,
				 (lws_usec_t)ws->dead_after_ms * 1000);
	if (ws->qhead)
		lws_callback_on_writable(wsi);
	notify(ws, LT_WS_OPEN, NULL);
}

/* Does user hold our lt_ws for this reason? lws also calls protocol 0 of the context with
 * other things as user, e.g. an X509_STORE_CTX for PERFORM_SERVER_CERT_VERIFICATION. */
static bool carries_ws(enum lws_callback_reasons reason)
{
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		return true;
	default:
		return false;
	}
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	lt_ws *ws = user;
	if (!carries_ws(reason) || !ws || (wsi != ws->wsi && reason != LWS_CALLBACK_WSI_DESTROY))
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(ws, wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		ws->last_rx_us = lt_now_us();
		if (!ws->detached && ws->state == LT_WS_OPEN)
			on_receive(ws, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		ws->last_rx_us = lt_now_us();
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(ws, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: /* RFC 6455 §5.5.1: status, then reason */
		lt_ws_close_reason(in, len, ws->drop_reason, sizeof ws->drop_reason);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connect_error(ws, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		on_drop(ws, "connection closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (ws->wsi != wsi)
			break;
		ws->wsi = NULL;
		if (ws->state == LT_WS_CONNECTING)
			ws->fail = LT_WS_FAIL_OTHER;
		if (on_drop(ws, ws->state == LT_WS_CONNECTING ? "connection closed before it opened"
							      : "connection closed") &&
		    ws->detached && !ws->busy)
			ws_destroy(ws);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"lt-client", ws_callback, 0, 32768, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

const struct lws_protocols *lt_ws_protocols(void) { return protocols; }

/* ---- the owner's calls ------------------------------------------------------------------- */

static int check_opts(const lt_ws_opts *o, lt_err *err)
{
	if (o->dead_after_ms < 0 || o->backoff_base_ms < 0 || o->backoff_cap_ms < 0 ||
	    o->stable_ms < 0)
		return lt_err_set(err, LT_EINVAL, "ws: dead_after_ms, backoff_base_ms, "
				  "backoff_cap_ms and stable_ms must be >= 0 (0 = default)");
	return 0;
}

int lt_ws_new(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, lt_ws **out,
	      lt_err *err)
{
	*out = NULL;
	int rc = check_opts(o, err);
	if (rc)
		return rc;
	lt_ws *ws = calloc(1, sizeof *ws);
	if (!ws)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	rc = lt_ws_url_parse(o->url, o->insecure_loopback, &ws->u, err);
	if (!rc && !(ws->vh = lt_loop_client_vhost(loop, ws->u.tls ? o->ca_file : NULL, err)))
		rc = err && err->code ? err->code : LT_ETLS;
	if (rc) {
		free(ws);
		return rc;
	}
	ws->loop = loop;
	ws->cbs = *cbs;
	ws->ud = ud;
	ws->max_message = o->max_message ? o->max_message : 8u << 20;
	ws->max_queue = o->max_queue_bytes ? o->max_queue_bytes : 4u << 20;
	ws->dead_after_ms = o->dead_after_ms;
	ws->bo_base = o->backoff_base_ms ? o->backoff_base_ms : 250;
	ws->bo_cap = o->backoff_cap_ms ? o->backoff_cap_ms : 30000;
	ws->stable_ms = o->stable_ms ? o->stable_ms : 10000;
	ws->no_reconnect = o->no_reconnect;
	ws->mx = o->metrics;
	ws->rng = (uint64_t)lt_now_us() ^ (uint64_t)(uintptr_t)ws ^ 0x9e3779b97f4a7c15ull;
	ws->state = LT_WS_CONNECTING;
	(*lt_loop_conn_count(loop))++;
	*out = ws;
	/* the first attempt starts when the loop runs: nothing is called back from in here */
	lws_sul_schedule(lt_loop_context(loop), 0, &ws->sul_retry, retry_cb, 0);
	return 0;
}

int lt_ws_send(lt_ws *ws, lt_buf *msg)
{
	if (ws->detached || ws->state == LT_WS_CLOSED)
		return LT_ESTATE;
	if (msg->oom || msg->pre < LWS_PRE)
		return LT_ENOMEM;
	if (msg->len > ws->max_queue - ws->qbytes)
		return LT_EFULL;
	outmsg *m = malloc(sizeof *m);
	if (!m)
		return LT_ENOMEM;
	*m = (outmsg){NULL, msg->data, msg->pre, msg->len, msg->cap, msg->sensitive};
	msg->data = NULL;
	msg->len = msg->cap = 0;
	if (ws->qtail)
		ws->qtail->next = m;
	else
		ws->qhead = m;
	ws->qtail = m;
	ws->qbytes += m->len;
	if (ws->state == LT_WS_OPEN && ws->wsi)
		lws_callback_on_writable(ws->wsi);
	return 0;
}

void lt_ws_set_ready(lt_ws *ws)
{
	if (ws->state == LT_WS_OPEN && !ws->detached &&
	    lws_dll2_is_detached(&ws->sul_stable.list))
		lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_stable, stable_cb,
				 (lws_usec_t)ws->stable_ms * 1000);
}

int lt_ws_attempt(const lt_ws *ws) { return ws->attempt; }
lt_ws_fail lt_ws_last_fail(const lt_ws *ws) { return ws->fail; }
lt_ws_state lt_ws_get_state(const lt_ws *ws) { return ws->state; }
const lt_ws_stats *lt_ws_get_stats(const lt_ws *ws) { return &ws->stats; }
size_t lt_ws_queued_bytes(const lt_ws *ws) { return ws->qbytes; }

void lt_ws_close(lt_ws *ws)
{
	if (!ws || ws->detached)
		return;
	ws->state = LT_WS_CLOSED;
	ws->detached = true;
	lws_sul_cancel(&ws->sul_retry);
	lws_sul_cancel(&ws->sul_dead);
	lws_sul_cancel(&ws->sul_stable);
	queue_clear(ws);
	if (!ws->wsi) {
		if (!ws->busy)
			ws_destroy(ws);
		return;
	}
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, 2); /* in case the handshake stalls */
	lws_callback_on_writable(ws->wsi);
}

bool lt_ws_url_is_loopback(const char *url)
{
	lt_ws_url u;
	return lt_ws_url_parse(url, true, &u, NULL) == 0 && lt_ws_host_is_loopback(u.host);
}

void lt_ws_hold_off(lt_ws *ws, int ms)
{
	ws->hold_ms = ms < 0 ? 0 : ms > 3600000 ? 3600000 : ms;
	ws->hold_until_us = lt_now_us() + 10000000;
}

void lt_ws_drop(lt_ws *ws)
{
	if (!ws || !ws->wsi || ws->detached)
		return;
	if (!ws->drop_reason[0])
		snprintf(ws->drop_reason, sizeof ws->drop_reason, "dropped by the client");
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}
