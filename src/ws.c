/* ws.c — one client WebSocket connection on the loop; see ws.h for the contract. */
#include "ws.h"

#include <libwebsockets.h>
#include <openssl/crypto.h>

#include "log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct outmsg {
	struct outmsg *next;
	char *data;        /* LWS_PRE headroom + text */
	size_t pre, len, cap;
	bool sensitive;    /* cleanse before free (auth requests) */
} outmsg;

struct lt_ws {
	lt_loop *loop;
	struct lws_vhost *vh;
	char *url;                  /* the caller's URL, for logs */
	char host[256], path[512];
	int port;
	bool tls;
	struct lws *wsi;            /* current transport, until its WSI_DESTROY */
	lt_ws_cbs cbs;
	void *ud;
	lt_ws_state state;
	bool detached;              /* lt_ws_close called: free when wsi is gone */
	outmsg *qhead, *qtail;
	char *rx;
	size_t rxlen, rxcap, max_message;
	bool rx_skip;
	int attempt, bo_min, bo_max;
	int hold_ms;                /* lt_ws_hold_off: least delay of the next reconnect ... */
	int64_t hold_until_us;      /* ... if the drop comes before this time */
	bool no_reconnect;
	uint64_t rng;
	lws_sorted_usec_list_t sul_retry;
	lt_ws_stats stats;
};

const char *lt_ws_state_name(lt_ws_state s)
{
	static const char *const names[] = {"connecting", "open", "reconnecting", "closed"};
	return (unsigned)s < 4 ? names[s] : "?";
}

static void set_state(lt_ws *ws, lt_ws_state st, const char *reason)
{
	ws->state = st;
	if (!ws->detached && ws->cbs.on_state)
		ws->cbs.on_state(ws->ud, st, reason);
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
}

void lt_ws_drop_queue(lt_ws *ws) { queue_clear(ws); }

static void ws_destroy(lt_ws *ws)
{
	lws_sul_cancel(&ws->sul_retry);
	queue_clear(ws);
	(*lt_loop_conn_count(ws->loop))--;
	free(ws->rx);
	free(ws->url);
	free(ws);
}

static bool is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}

bool lt_ws_url_is_loopback(const char *url)
{
	char tmp[1024];
	const char *prot, *ads, *path;
	int port;
	if (!url || strlen(url) >= sizeof tmp)
		return false;
	strcpy(tmp, url);
	return !lws_parse_uri(tmp, &prot, &ads, &port, &path) && is_loopback(ads);
}

/* Split url into scheme/host/port/path and apply the wss-only rule. */
static int parse_url(lt_ws *ws, const char *url, bool insecure_loopback, lt_err *err)
{
	char tmp[1024];
	const char *prot, *ads, *path;
	int port;
	if (!url || strlen(url) >= sizeof tmp)
		return lt_err_set(err, LT_EINVAL, "url: missing or longer than 1023 bytes");
	strcpy(tmp, url);
	if (lws_parse_uri(tmp, &prot, &ads, &port, &path) || !*ads)
		return lt_err_set(err, LT_EINVAL, "url: cannot parse '%s'", url);
	if (strcmp(prot, "wss") == 0)
		ws->tls = true;
	else if (strcmp(prot, "ws") == 0) {
		if (!insecure_loopback || !is_loopback(ads))
			return lt_err_set(err, LT_EINVAL,
				"url: plain ws:// is refused (use wss://; ws:// only to a loopback "
				"address with insecure_loopback = true)");
		ws->tls = false;
	} else
		return lt_err_set(err, LT_EINVAL, "url: scheme must be wss://, got '%s://'", prot);
	if (strlen(ads) >= sizeof ws->host || strlen(path) + 2 > sizeof ws->path)
		return lt_err_set(err, LT_EINVAL, "url: host or path too long");
	strcpy(ws->host, ads);
	snprintf(ws->path, sizeof ws->path, "%s%s", path[0] == '/' ? "" : "/", path);
	ws->port = port;
	return 0;
}

static void schedule_retry(lt_ws *ws);

static void connect_now(lt_ws *ws)
{
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = lt_loop_context(ws->loop);
	ci.vhost = ws->vh;
	ci.address = ws->host;
	ci.port = ws->port;
	ci.path = ws->path;
	ci.host = ws->host;
	ci.origin = ws->host;
	ci.ssl_connection = ws->tls ? LCCSCF_USE_SSL : 0;
	ci.protocol = NULL;
	ci.local_protocol_name = "lt-client";
	ci.userdata = ws;
	ci.pwsi = &ws->wsi;
	ws->rx_skip = false;
	ws->rxlen = 0;
	if (ws->state != LT_WS_CONNECTING)
		set_state(ws, LT_WS_CONNECTING, NULL);
	if (!lws_client_connect_via_info(&ci) && ws->state == LT_WS_CONNECTING) {
		ws->wsi = NULL;
		schedule_retry(ws);
	}
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	lt_ws *ws = lws_container_of(sul, lt_ws, sul_retry);
	connect_now(ws);
}

/* The transport is gone: fail what was queued and come back after a jittered backoff. */
static void on_drop(lt_ws *ws, const char *reason)
{
	if (ws->detached || ws->state == LT_WS_RECONNECTING || ws->state == LT_WS_CLOSED)
		return;
	queue_clear(ws);
	if (ws->no_reconnect) {
		set_state(ws, LT_WS_CLOSED, reason);
		return;
	}
	set_state(ws, LT_WS_RECONNECTING, reason);
	schedule_retry(ws);
}

static void schedule_retry(lt_ws *ws)
{
	if (ws->state != LT_WS_RECONNECTING)
		set_state(ws, LT_WS_RECONNECTING, "connect failed");
	int64_t d = ws->bo_min;
	for (int i = 0; i < ws->attempt && d < ws->bo_max; i++)
		d *= 2;
	if (d > ws->bo_max)
		d = ws->bo_max;
	ws->rng ^= ws->rng << 13; ws->rng ^= ws->rng >> 7; ws->rng ^= ws->rng << 17;
	d = d / 2 + (int64_t)(ws->rng % (uint64_t)(d / 2 + 1)); /* jitter: [d/2, d] */
	if (lt_now_us() < ws->hold_until_us && d < ws->hold_ms)
		d = ws->hold_ms + (int64_t)(ws->rng % 1000);
	ws->attempt++;
	ws->stats.reconnects++;
	lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_retry, retry_cb,
			 (lws_usec_t)d * 1000);
}

static void rx_append(lt_ws *ws, const char *in, size_t len)
{
	if (ws->rx_skip)
		return;
	if (len > ws->max_message - ws->rxlen) {
		ws->rx_skip = true;
		ws->stats.dropped_oversize++;
		lt_log(LT_LOG_WARN, "dropped a message over %zu bytes from %s", ws->max_message,
			  ws->host);
		return;
	}
	if (ws->rxlen + len > ws->rxcap) {
		size_t cap = ws->rxcap ? ws->rxcap : 4096;
		while (cap < ws->rxlen + len)
			cap *= 2;
		char *p = realloc(ws->rx, cap);
		if (!p) {
			ws->rx_skip = true;
			return;
		}
		ws->rx = p;
		ws->rxcap = cap;
	}
	memcpy(ws->rx + ws->rxlen, in, len);
	ws->rxlen += len;
}

static void on_receive(lt_ws *ws, struct lws *wsi, const char *in, size_t len)
{
	bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
	if (first) {
		ws->rxlen = 0;
		ws->rx_skip = lws_frame_is_binary(wsi);
		if (ws->rx_skip)
			ws->stats.dropped_binary++;
	}
	if (first && final && !ws->rx_skip && len > ws->max_message) {
		ws->stats.dropped_oversize++;
		lt_log(LT_LOG_WARN, "dropped a message over %zu bytes from %s", ws->max_message,
		       ws->host);
		return;
	}
	if (first && final && !ws->rx_skip) { /* whole message in one piece: no copy */
		ws->stats.msgs_in++;
		ws->stats.bytes_in += len;
		ws->cbs.on_message(ws->ud, in, len);
		return;
	}
	rx_append(ws, in, len);
	if (final && !ws->rx_skip) {
		ws->stats.msgs_in++;
		ws->stats.bytes_in += ws->rxlen;
		ws->cbs.on_message(ws->ud, ws->rx, ws->rxlen);
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
	int n = lws_write(wsi, (unsigned char *)m->data + m->pre, m->len, LWS_WRITE_TEXT);
	outmsg_free(m);
	if (n < 0)
		return -1;
	ws->stats.msgs_out++;
	if (ws->qhead)
		lws_callback_on_writable(wsi);
	return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	lt_ws *ws = user;
	if (!ws)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws->attempt = 0;
		if (ws->detached) {
			lws_callback_on_writable(wsi);
			break;
		}
		set_state(ws, LT_WS_OPEN, NULL);
		if (ws->qhead)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!ws->detached)
			on_receive(ws, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(ws, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_drop(ws, in && len ? (const char *)in : "connection error");
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		on_drop(ws, "connection closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (ws->wsi == wsi)
			ws->wsi = NULL;
		if (ws->state == LT_WS_CONNECTING || ws->state == LT_WS_OPEN)
			on_drop(ws, "connection closed");
		if (ws->detached && !ws->wsi)
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

int lt_ws_new(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, lt_ws **out,
	      lt_err *err)
{
	*out = NULL;
	lt_ws *ws = calloc(1, sizeof *ws);
	if (!ws)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	int rc = parse_url(ws, o->url, o->insecure_loopback, err);
	if (rc) {
		free(ws);
		return rc;
	}
	ws->vh = lt_loop_client_vhost(loop, ws->tls ? o->ca_file : NULL, err);
	if (!ws->vh || !(ws->url = strdup(o->url))) {
		free(ws);
		return err && err->code ? err->code : lt_err_set(err, LT_ENOMEM, "out of memory");
	}
	ws->loop = loop;
	ws->cbs = *cbs;
	ws->ud = ud;
	ws->max_message = o->max_message ? o->max_message : 8u << 20;
	ws->bo_min = o->backoff_min_ms > 0 ? o->backoff_min_ms : 250;
	ws->bo_max = o->backoff_max_ms > 0 ? o->backoff_max_ms : 10000;
	ws->no_reconnect = o->no_reconnect;
	ws->rng = (uint64_t)lt_now_us() ^ (uint64_t)(uintptr_t)ws ^ 0x9e3779b97f4a7c15ull;
	ws->state = LT_WS_CONNECTING;
	(*lt_loop_conn_count(loop))++;
	*out = ws;
	connect_now(ws);
	return 0;
}

int lt_ws_send(lt_ws *ws, lt_buf *msg)
{
	if (ws->detached || ws->state == LT_WS_CLOSED)
		return LT_ESTATE;
	if (msg->oom || msg->pre < LWS_PRE)
		return LT_ENOMEM;
	outmsg *m = malloc(sizeof *m);
	if (!m)
		return LT_ENOMEM;
	m->next = NULL;
	m->data = msg->data;
	m->pre = msg->pre;
	m->len = msg->len;
	m->cap = msg->cap;
	m->sensitive = msg->sensitive;
	msg->data = NULL;
	msg->len = msg->cap = 0;
	if (ws->qtail)
		ws->qtail->next = m;
	else
		ws->qhead = m;
	ws->qtail = m;
	if (ws->state == LT_WS_OPEN && ws->wsi)
		lws_callback_on_writable(ws->wsi);
	return 0;
}

lt_ws_state lt_ws_get_state(const lt_ws *ws) { return ws->state; }
const lt_ws_stats *lt_ws_get_stats(const lt_ws *ws) { return &ws->stats; }

void lt_ws_close(lt_ws *ws)
{
	if (!ws || ws->detached)
		return;
	ws->state = LT_WS_CLOSED;
	ws->detached = true;
	lws_sul_cancel(&ws->sul_retry);
	queue_clear(ws);
	if (!ws->wsi) {
		ws_destroy(ws);
		return;
	}
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, 2); /* in case the handshake stalls */
	lws_callback_on_writable(ws->wsi);
}

void lt_ws_hold_off(lt_ws *ws, int ms)
{
	ws->hold_ms = ms;
	ws->hold_until_us = lt_now_us() + 10000000;
}

void lt_ws_drop(lt_ws *ws)
{
	if (ws && ws->wsi && !ws->detached)
		lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}
