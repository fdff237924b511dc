/* ws.c — one client WebSocket connection on the loop; see ws.h for the contract. The pure
 * rules (URL, backoff delay, wording of failures) are in ws_rules.c, the opening handshake's
 * request and check in ws_upgrade.c.
 *
 * The receive path (issue 12; README "Performance" says why): libwebsockets runs the event
 * loop, the timers and TCP (its raw-socket client role, method "RAW"); TLS is OpenSSL's over
 * memory BIOs (ws_tls.c: lws 4.1.6 cannot start TLS on a RAW client, see ws_tls.h); the
 * HTTP/1.1 Upgrade is written and checked by ws_upgrade.c; every frame after it is parsed
 * and built by wslay (libwslay 1.1.1), in bulk, instead of lws' byte-at-a-time client parser
 * (lws_ws_client_rx_sm, 39 % of the firehose before). Receiving uses wslay's frame layer
 * (wslay_frame_recv: headers, lengths, the 125-byte and fin rules of control frames) and
 * rx_frames() here does the message level: fragments in order, ping answered with a pong,
 * the close handshake, and one word-wise UTF-8 check of each whole text message (utf8.c).
 * wslay's event layer would do the same, but it checks UTF-8 byte by byte with no way to turn
 * it off: 16-20 % of the firehose (README "Performance"). Data frames reach frame_chunk()
 * piece by piece and are reassembled up to max_message (one piece = no copy).
 *
 * Sending is wslay's event layer (the same context queues pongs and close frames): the
 * queue's head is handed to wslay (read_msg copies it into wslay's frame buffer),
 * the masked frames are gathered in ws->tx and go out in one lws_write (through TLS for wss)
 * per writeable callback. ws->tx is cleansed after a sensitive message; wslay's own 4 KiB
 * buffer keeps the last text it framed until the next message overwrites it (no hook to
 * cleanse it), as OpenSSL's record buffers may.
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
#include <wslay/wslay.h>

#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "ws_rules.h"
#include "ws_mask.h"
#include "ws_tls.h"

typedef struct outmsg {
	struct outmsg *next;
	char *data; /* LWS_PRE headroom + text */
	size_t pre, len, cap;
	bool sensitive; /* cleanse before free (auth requests) */
} outmsg;

#define HS_MAX 8192     /* largest upgrade answer head taken */
#define HS_TIMEOUT_S 20 /* the upgrade must be answered within this (lws' own default) */
#define TX_CAP 65536    /* frame bytes gathered for one lws_write */

struct lt_ws {
	lt_loop *loop;
	struct lws_vhost *vh;
	lt_ws_url u;
	struct lws *wsi; /* current transport, until its WSI_DESTROY */
	lt_ws_cbs cbs;
	void *ud;
	lt_ws_state state;
	bool detached; /* lt_ws_close called: free when wsi is gone */
	int busy;      /* ws is on the call stack (owner callback, connect): no free */
	outmsg *qhead, *qtail;
	size_t qbytes, max_queue;
	char *rx; /* reassembly; may hold tokens: cleansed before free/move */
	size_t rxlen, rxcap, max_message;
	bool rx_skip;
	int dead_after_ms;
	int64_t last_rx_us; /* any frame; the dead timer compares with it lazily */
	int attempt, bo_base, bo_cap, stable_ms;
	int hold_ms;           /* lt_ws_hold_off: least delay of the next retry ... */
	int64_t hold_until_us; /* ... if the drop comes before this time */
	bool no_reconnect;
	uint64_t rng;
	int64_t attempt_us; /* when the current attempt started */
	lt_ws_fail fail;
	char drop_reason[160]; /* set before a drop we cause or the venue announces */
	lws_sorted_usec_list_t sul_retry, sul_dead, sul_stable;
	lt_ws_stats stats;
	const struct lt_mx *mx; /* metrics (lt_ws_opts.metrics) */
	SSL_CTX *tls_ctx;       /* wss: verification setup, for every transport */
	/* the current transport's TLS and WebSocket layers (reset by transport_reset) */
	lt_ws_tls *tls;              /* wss: from RAW_CONNECTED */
	bool tls_up;                 /* ... its handshake completed, the peer verified */
	unsigned char *ct;           /* wss: LWS_PRE + TX_CAP, ciphertext for lws_write */
	wslay_event_context_ptr wsl; /* after the 101: sending (queue, control frames, close) */
	wslay_frame_context_ptr wfr; /* ... receiving: frames parsed by wslay, read by rx_frames */
	char key[LT_WS_KEY_LEN + 1]; /* Sec-WebSocket-Key sent */
	bool hs_sent;                /* the upgrade request is written */
	char *hs;                    /* the answer head while it arrives (HS_MAX) */
	size_t hslen;
	const unsigned char *in; /* RAW_RX bytes wslay has not read yet */
	size_t inlen;
	bool in_frame;        /* a frame's header was read, payload bytes are still to come */
	uint8_t frame_opcode; /* ... its opcode */
	bool frame_first;     /* ... it starts a message (not a continuation) */
	bool frame_fin;
	uint64_t frame_left; /* ... payload bytes still to come */
	bool msg_open;       /* a fragmented data message is under way */
	uint8_t ctrl[125];   /* a control frame's payload while it arrives */
	size_t ctrllen;
	bool rx_stopped; /* a close frame came or we failed the venue: nothing more is read */
	bool close_rcvd; /* ... the venue's close frame came */
	outmsg *txmsg;   /* qhead while wslay reads it (read_msg) */
	size_t txoff;
	unsigned char *tx; /* LWS_PRE + TX_CAP: frames gathered for lws_write */
	size_t txlen;
	bool tx_sensitive; /* tx held a sensitive message: cleanse after the write */
	lt_ws_masks masks; /* the frames' masking keys */
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
	ws->txmsg = NULL; /* read_msg ends a message cut off here */
}

static void transport_reset(lt_ws *ws);

static void ws_destroy(lt_ws *ws)
{
	transport_reset(ws);
	lws_sul_cancel(&ws->sul_retry);
	lws_sul_cancel(&ws->sul_dead);
	lws_sul_cancel(&ws->sul_stable);
	queue_clear(ws);
	(*lt_loop_conn_count(ws->loop))--;
	if (ws->rx)
		OPENSSL_cleanse(ws->rx, ws->rxcap);
	free(ws->rx);
	free(ws->tx);
	free(ws->ct);
	SSL_CTX_free(ws->tls_ctx);
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
	ws->fail =
		lt_ws_describe_fail(in, len, verify, lws_http_client_http_response(wsi),
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
		snprintf(reason, sizeof reason,
			 "connect failed (libwebsockets could not start "
			 "the connection)");
	on_drop(ws, reason);
}

static void connect_now(lt_ws *ws)
{
	ws->rx_skip = false;
	ws->rxlen = 0;
	ws->drop_reason[0] = '\0';
	transport_reset(ws);
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
	ci.host = ws->u.host; /* SNI and the certificate's name */
	ci.method = "RAW";    /* TCP only: TLS (ws_tls.c), the upgrade and the frames are ours */
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

/* ---- receiving: frames from wslay --------------------------------------------------------- */

/* Stop reading and answer with a close frame: code for what the venue did wrong (1002 a
 * protocol error, 1007 text that is not UTF-8), or the echo of the venue's own close. */
static void rx_stop(lt_ws *ws, uint16_t code)
{
	ws->rx_stopped = true;
	wslay_event_queue_close(ws->wsl, code, NULL, 0); /* no second one: wslay keeps the first */
}

/* A text message of the venue is whole: it is checked to be UTF-8 (RFC 6455 §8.1) once,
 * word-wise, before the owner sees it. */
static void deliver(lt_ws *ws, const char *msg, size_t len)
{
	if (!lt_utf8_ok((const unsigned char *)msg, len)) {
		rx_stop(ws, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA);
		return;
	}
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

/* One piece of a data message: first = it starts the message, final = it ends it. */
static void on_receive(lt_ws *ws, const char *in, size_t len, bool first, bool final)
{
	if (!ws->rx_skip && len > ws->max_message - ws->rxlen)
		drop_oversize(ws);
	else if (!ws->rx_skip && first && final)
		deliver(ws, in, len); /* whole message in one piece: no copy */
	else if (!ws->rx_skip && !rx_reserve(ws, ws->rxlen + len))
		ws->rx_skip = true;
	else if (!ws->rx_skip) {
		if (len) /* empty frames leave a never-grown ws->rx NULL */
			memcpy(ws->rx + ws->rxlen, in, len);
		ws->rxlen += len;
		if (final)
			deliver(ws, ws->rx ? ws->rx : "", ws->rxlen);
	}
	if (final)
		ws->rxlen = 0;
}

/* A whole control frame (wslay's frame layer has checked fin and the 125-byte limit): a ping
 * is answered with its payload, a pong is only read; the venue's close frame (RFC 6455
 * §5.5.1: status, then a UTF-8 reason) names the drop and is answered with its status. */
static void on_control(lt_ws *ws)
{
	const uint8_t *p = ws->ctrl;
	size_t n = ws->ctrllen;
	if (ws->frame_opcode == WSLAY_PING) {
		struct wslay_event_msg pong = {WSLAY_PONG, p, n};
		wslay_event_queue_msg(ws->wsl, &pong);
		return;
	}
	if (ws->frame_opcode != WSLAY_CONNECTION_CLOSE)
		return;
	uint16_t code = (uint16_t)(n >= 2 ? p[0] << 8 | p[1] : 0);
	if (n == 1 || (n >= 2 && !lt_ws_close_code_ok(code))) {
		rx_stop(ws, WSLAY_CODE_PROTOCOL_ERROR);
		return;
	}
	if (n > 2 && !lt_utf8_ok(p + 2, n - 2)) {
		rx_stop(ws, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA);
		return;
	}
	lt_ws_close_reason(n >= 2 ? p : NULL, n, ws->drop_reason, sizeof ws->drop_reason);
	ws->close_rcvd = true;
	rx_stop(ws, code);
}

/* The header of a new frame is acceptable: no RSV bit (no extension was negotiated), not
 * masked (servers never mask, RFC 6455 §5.1), a known opcode, and data frames in order (a
 * continuation only inside a fragmented message, a new message only outside one). */
static bool frame_ok(const lt_ws *ws, const struct wslay_frame_iocb *f)
{
	if (f->rsv || f->mask)
		return false;
	switch (f->opcode) {
	case WSLAY_CONTINUATION_FRAME:
		return ws->msg_open;
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		return !ws->msg_open;
	case WSLAY_CONNECTION_CLOSE:
	case WSLAY_PING:
	case WSLAY_PONG:
		return true;
	default:
		return false;
	}
}

static void frame_start(lt_ws *ws, const struct wslay_frame_iocb *f)
{
	ws->frame_opcode = f->opcode;
	ws->frame_left = f->payload_length;
	ws->frame_fin = f->fin;
	ws->frame_first = f->opcode != WSLAY_CONTINUATION_FRAME;
	ws->in_frame = true;
	ws->ctrllen = 0;
	if (wslay_is_ctrl_frame(f->opcode))
		return;
	ws->msg_open = !f->fin;
	if (!f->payload_length) /* only data frames count as life (ws.h); frame_chunk stamps */
		ws->last_rx_us = lt_now_us(); /* the others */
	if (ws->frame_first) {
		ws->rxlen = 0;
		ws->rx_skip = f->opcode == WSLAY_BINARY_FRAME;
		if (ws->rx_skip) {
			ws->stats.dropped_binary++;
			lt_mx_inc(ws->mx, LT_M_MSG_DROPPED, "binary", 1);
		}
	}
	if (!ws->rx_skip && f->payload_length > ws->max_message - ws->rxlen)
		drop_oversize(ws); /* known from the header: nothing of it is copied */
	if (f->payload_length == 0 && !ws->detached && ws->state == LT_WS_OPEN)
		on_receive(ws, "", 0, ws->frame_first, ws->frame_fin);
}

static void frame_chunk(lt_ws *ws, const struct wslay_frame_iocb *f)
{
	ws->frame_left -= f->data_length;
	ws->in_frame = ws->frame_left > 0;
	if (wslay_is_ctrl_frame(ws->frame_opcode)) {
		if (f->data_length) { /* <= 125 in all */
			memcpy(ws->ctrl + ws->ctrllen, f->data, f->data_length);
			ws->ctrllen += f->data_length;
		}
		if (!ws->in_frame)
			on_control(ws);
		return;
	}
	if (!f->data_length)
		return;
	ws->last_rx_us = lt_now_us();
	bool first = ws->frame_first;
	ws->frame_first = false;
	bool final = ws->frame_fin && ws->frame_left == 0;
	if (!ws->detached && ws->state == LT_WS_OPEN)
		on_receive(ws, (const char *)f->data, f->data_length, first, final);
}

/* Every frame in what RAW_RX handed over, parsed by wslay's frame layer; the message level
 * (order of fragments, control frames, the close handshake, UTF-8) is done here. */
static void rx_frames(lt_ws *ws)
{
	while (!ws->rx_stopped && ws->wfr) {
		struct wslay_frame_iocb f;
		memset(&f, 0, sizeof f);
		ssize_t r = wslay_frame_recv(ws->wfr, &f);
		if (r == WSLAY_ERR_WANT_READ)
			return;
		if (r < 0 || (!ws->in_frame && !frame_ok(ws, &f))) {
			rx_stop(ws, WSLAY_CODE_PROTOCOL_ERROR);
			return;
		}
		if (!ws->in_frame)
			frame_start(ws, &f);
		frame_chunk(ws, &f);
	}
}

/* wslay's frame layer reads what RAW_RX handed over (ws->in); none left: WANT_READ. */
static ssize_t wfr_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
	(void)flags;
	lt_ws *ws = ud;
	if (!ws->inlen)
		return WSLAY_ERR_WANT_READ;
	size_t n = len < ws->inlen ? len : ws->inlen;
	memcpy(buf, ws->in, n);
	ws->in += n;
	ws->inlen -= n;
	return (ssize_t)n;
}

/* ---- writing: our queue through wslay into one lws_write per writeable callback ---------- */

/* wslay's frame bytes (header, masked payload) are gathered in ws->tx. */
static ssize_t wsl_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			void *ud)
{
	(void)flags;
	lt_ws *ws = ud;
	size_t room = TX_CAP - ws->txlen;
	if (!room) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < room ? len : room;
	memcpy(ws->tx + LWS_PRE + ws->txlen, data, n);
	ws->txlen += n;
	return (ssize_t)n;
}

static int wsl_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ctx;
	lt_ws *ws = ud;
	return lt_ws_masks_take(&ws->masks, buf, len);
}

/* wslay reads the text of the message at the head of our queue (ws->txmsg); at its end the
 * message leaves the queue (its memory cleansed if sensitive). */
static ssize_t read_msg(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			const union wslay_event_msg_source *src, int *eof, void *ud)
{
	(void)ctx;
	(void)src;
	lt_ws *ws = ud;
	outmsg *m = ws->txmsg;
	if (!m) {
		*eof = 1;
		return 0;
	}
	size_t n = m->len - ws->txoff < len ? m->len - ws->txoff : len;
	memcpy(buf, m->data + m->pre + ws->txoff, n);
	ws->txoff += n;
	ws->tx_sensitive |= m->sensitive;
	if (ws->txoff == m->len) {
		*eof = 1;
		ws->qhead = m->next;
		if (!ws->qhead)
			ws->qtail = NULL;
		ws->qbytes -= m->len;
		ws->txmsg = NULL;
		ws->stats.msgs_out++;
		outmsg_free(m);
	}
	return (ssize_t)n;
}

/* Hand the next queued message to wslay unless it still reads one: 1 if one was handed over, 0
 * if none (nothing queued, or wslay takes no more after a close frame), <0 on failure. */
static int feed_next(lt_ws *ws)
{
	if (ws->txmsg || !ws->qhead || ws->detached)
		return 0;
	ws->txmsg = ws->qhead;
	ws->txoff = 0;
	struct wslay_event_fragmented_msg fm;
	memset(&fm, 0, sizeof fm);
	fm.opcode = WSLAY_TEXT_FRAME;
	fm.source.data = ws->txmsg;
	fm.read_callback = read_msg;
	int rc = wslay_event_queue_fragmented_msg(ws->wsl, &fm);
	if (rc)
		ws->txmsg = NULL;
	return rc == WSLAY_ERR_NO_MORE_MSG ? 0 : rc ? rc : 1;
}

/* Send the ciphertext TLS has waiting; -1 if the transport failed. */
static int ct_flush(lt_ws *ws, struct lws *wsi)
{
	size_t n;
	while (ws->tls && (n = lt_ws_tls_take(ws->tls, ws->ct + LWS_PRE, TX_CAP)))
		if (lws_write(wsi, ws->ct + LWS_PRE, n, LWS_WRITE_RAW) < 0)
			return -1;
	return 0;
}

/* Send n bytes at p (which has LWS_PRE headroom): through TLS for wss, as they are for ws://.
 * lws buffers what the socket does not take at once. -1 if the transport failed. */
static int put(lt_ws *ws, struct lws *wsi, unsigned char *p, size_t n)
{
	if (!ws->tls)
		return lws_write(wsi, p, n, LWS_WRITE_RAW) < 0 ? -1 : 0;
	return lt_ws_tls_write(ws->tls, p, n) ? -1 : ct_flush(ws, wsi);
}

/* Write the gathered frames; -1 if the transport failed. */
static int tx_flush(lt_ws *ws, struct lws *wsi)
{
	if (!ws->txlen)
		return 0;
	int rc = put(ws, wsi, ws->tx + LWS_PRE, ws->txlen);
	if (ws->tx_sensitive)
		OPENSSL_cleanse(ws->tx + LWS_PRE, ws->txlen);
	ws->tx_sensitive = false;
	ws->txlen = 0;
	return rc;
}

/* Once a close frame went out: after the venue's close (its answer sent), or one we sent for
 * what the venue did wrong (then the reason says so), the transport is done. */
static bool close_done(lt_ws *ws)
{
	if (!wslay_event_get_close_sent(ws->wsl))
		return false;
	if (!ws->close_rcvd && !ws->drop_reason[0] && !ws->detached)
		lt_ws_fail_reason(wslay_event_get_status_code_sent(ws->wsl), ws->drop_reason,
				  sizeof ws->drop_reason);
	return true;
}

static int on_ws_writeable(lt_ws *ws, struct lws *wsi)
{
	if (ws->detached && wslay_event_get_write_enabled(ws->wsl) &&
	    !wslay_event_get_close_sent(ws->wsl))
		wslay_event_queue_close(ws->wsl, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
	for (;;) { /* as many queued messages as ws->tx holds */
		int fed = feed_next(ws);
		if (fed < 0 || wslay_event_send(ws->wsl) < 0)
			return -1;
		if (!fed || ws->txmsg || ws->txlen == TX_CAP || !ws->qhead)
			break;
	}
	if (tx_flush(ws, wsi) < 0 || close_done(ws) || ws->detached)
		return -1; /* lws sends what it still buffers before it closes */
	if (wslay_event_want_write(ws->wsl) || (ws->qhead && !ws->detached))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- the opening handshake ---------------------------------------------------------------- */

static const struct wslay_event_callbacks wsl_cbs = {NULL, wsl_send, wsl_genmask, NULL,
						     NULL, NULL,     NULL};
static const struct wslay_frame_callbacks wfr_cbs = {NULL, wfr_recv, NULL};

/* Forget the transport's WebSocket layer (at every drop and before each attempt). */
static void transport_reset(lt_ws *ws)
{
	if (ws->wsl)
		wslay_event_context_free(ws->wsl);
	ws->wsl = NULL;
	if (ws->wfr)
		wslay_frame_context_free(ws->wfr);
	ws->wfr = NULL;
	ws->in_frame = ws->msg_open = ws->rx_stopped = ws->close_rcvd = false;
	lt_ws_tls_free(ws->tls);
	ws->tls = NULL;
	ws->tls_up = false;
	free(ws->hs);
	ws->hs = NULL;
	ws->hslen = 0;
	ws->hs_sent = false;
	ws->in = NULL;
	ws->inlen = 0;
	ws->txmsg = NULL;
	if (ws->tx && ws->tx_sensitive)
		OPENSSL_cleanse(ws->tx + LWS_PRE, ws->txlen);
	ws->txlen = 0;
	ws->tx_sensitive = false;
}

static int write_upgrade(lt_ws *ws, struct lws *wsi)
{
	char req[2048];
	size_t n = lt_ws_make_key(ws->key)
			   ? 0
			   : lt_ws_upgrade_request(&ws->u, ws->key, req, sizeof req);
	if (!n || n > TX_CAP)
		return -1;
	memcpy(ws->tx + LWS_PRE, req, n);
	ws->hs_sent = true;
	return put(ws, wsi, ws->tx + LWS_PRE, n);
}

static void on_established(lt_ws *ws, struct lws *wsi)
{
	ws->fail = LT_WS_FAIL_NONE;
	ws->last_rx_us = lt_now_us();
	if (ws->dead_after_ms)
		lws_sul_schedule(lt_loop_context(ws->loop), 0, &ws->sul_dead, dead_cb,
				 (lws_usec_t)ws->dead_after_ms * 1000);
	if (ws->qhead)
		lws_callback_on_writable(wsi);
	notify(ws, LT_WS_OPEN, NULL);
}

/* The upgrade failed: say why and close the transport (-1). */
static int upgrade_failed(lt_ws *ws, unsigned http, const char *why)
{
	ws->fail = LT_WS_FAIL_HANDSHAKE;
	lt_ws_upgrade_reason(http, why, ws->drop_reason, sizeof ws->drop_reason);
	return -1;
}

/* Bytes before the 101 was seen: gather the head and check it, then start wslay; *rest and
 * *restlen tell what came after the head (frames for wslay). Returns -1 to close the
 * transport, else 0. */
static int on_upgrade_rx(lt_ws *ws, struct lws *wsi, const char *in, size_t len, const char **rest,
			 size_t *restlen)
{
	*restlen = 0;
	if (!ws->hs && !(ws->hs = malloc(HS_MAX)))
		return upgrade_failed(ws, 0, "out of memory");
	size_t old = ws->hslen, take = len < HS_MAX - old ? len : HS_MAX - old;
	memcpy(ws->hs + old, in, take);
	ws->hslen += take;
	size_t from = old > 3 ? old - 3 : 0, end = lt_ws_head_end(ws->hs + from, ws->hslen - from);
	if (!end)
		return ws->hslen < HS_MAX ? 0 : upgrade_failed(ws, 0, "answer head over 8 KiB");
	end += from;
	unsigned http;
	char why[160];
	if (lt_ws_upgrade_check(ws->hs, end, ws->key, &http, why, sizeof why))
		return upgrade_failed(ws, http, why);
	free(ws->hs);
	ws->hs = NULL;
	ws->hslen = 0;
	if (wslay_event_context_client_init(&ws->wsl, &wsl_cbs, ws)) {
		ws->wsl = NULL;
		return upgrade_failed(ws, 101, "out of memory");
	}
	if (wslay_frame_context_init(&ws->wfr, &wfr_cbs, ws)) {
		ws->wfr = NULL;
		return upgrade_failed(ws, 101, "out of memory");
	}
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (ws->detached) {
		lws_callback_on_writable(wsi); /* sends a close frame and closes */
		return 0;
	}
	*rest = in + (end - old);
	*restlen = len - (end - old);
	on_established(ws, wsi);
	return 0;
}

/* Plaintext from the venue: the upgrade's answer, then frames, fed to wslay in bulk. -1 closes
 * the transport. */
static int on_plain_rx(lt_ws *ws, struct lws *wsi, const char *in, size_t len)
{
	if (!ws->wsl) {
		if (!ws->hs_sent)
			return 0;
		int rc = on_upgrade_rx(ws, wsi, in, len, &in, &len);
		if (rc || !len)
			return rc;
	}
	/* the owner may have closed or dropped it in on_state(OPEN) */
	if (wsi != ws->wsi || !ws->wsl || ws->rx_stopped)
		return 0;
	ws->in = (const unsigned char *)in;
	ws->inlen = len;
	ws->busy++;
	rx_frames(ws);
	ws->busy--;
	ws->in = NULL;
	ws->inlen = 0;
	if (wsi != ws->wsi || !ws->wsl) /* the owner closed or dropped it in a callback */
		return 0;
	if (ws->rx_stopped)                      /* a close frame came, or we fail the venue */
		return on_ws_writeable(ws, wsi); /* send the close now, then close */
	if (wslay_event_want_write(ws->wsl))
		lws_callback_on_writable(wsi);
	return 0;
}

/* The TLS handshake failed: say why in the words of lt_ws_describe_fail and close (-1). */
static int tls_failed(lt_ws *ws, long verify, const char *why)
{
	char text[200];
	int n = snprintf(text, sizeof text, "tls handshake: %s", why);
	ws->fail = lt_ws_describe_fail(text, n > 0 ? (size_t)n : 0, verify ? verify : -1, 0,
				       (lt_now_us() - ws->attempt_us) / 1000, ws->drop_reason,
				       sizeof ws->drop_reason);
	return -1;
}

/* RAW_RX: for wss, ciphertext: advance the handshake, then decrypt what there is and hand it
 * on; for ws://, plaintext. -1 closes the transport. */
static int on_raw_rx(lt_ws *ws, struct lws *wsi, const char *in, size_t len)
{
	if (!ws->tls)
		return on_plain_rx(ws, wsi, in, len);
	if (lt_ws_tls_feed(ws->tls, in, len))
		return -1;
	if (!ws->tls_up) {
		long verify;
		char why[160];
		int rc = lt_ws_tls_handshake(ws->tls, &verify, why, sizeof why);
		if (rc < 0)
			return tls_failed(ws, verify, why);
		if (lt_ws_tls_pending(ws->tls))
			lws_callback_on_writable(wsi);
		if (rc == 0)
			return 0;
		ws->tls_up = true; /* now the upgrade goes out */
		lws_callback_on_writable(wsi);
	}
	char plain[16384]; /* one TLS record's worth */
	int n, used = 0, rc = 0;
	while (!rc && wsi == ws->wsi && ws->tls &&
	       (n = lt_ws_tls_read(ws->tls, plain, sizeof plain))) {
		used = n > used ? n : used;
		rc = n < 0 || on_plain_rx(ws, wsi, plain, (size_t)n) < 0 ? -1 : 0;
	}
	OPENSSL_cleanse(plain, (size_t)used); /* it may have held a token */
	return rc;
}

/* RAW_CONNECTED: TCP is up; for wss start TLS, then (at writeable) the upgrade. One deadline
 * covers the TLS handshake and the upgrade's answer. */
static int on_connected(lt_ws *ws, struct lws *wsi)
{
	if (ws->detached)
		return -1;
	lws_set_timeout(wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, HS_TIMEOUT_S);
	if (ws->tls_ctx) {
		long verify;
		char why[160];
		if (!(ws->tls = lt_ws_tls_new(ws->tls_ctx, ws->u.host)))
			return tls_failed(ws, 0, "cannot start a TLS session for this host");
		if (lt_ws_tls_handshake(ws->tls, &verify, why, sizeof why) < 0)
			return tls_failed(ws, verify, why);
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_writeable(lt_ws *ws, struct lws *wsi)
{
	if (ct_flush(ws, wsi) < 0)
		return -1;
	if (ws->wsl)
		return on_ws_writeable(ws, wsi);
	if (ws->detached)
		return -1;
	if (ws->hs_sent || (ws->tls && !ws->tls_up))
		return 0;
	return write_upgrade(ws, wsi);
}

/* RAW_CLOSE: the transport is gone; say why if it had not opened yet. */
static void on_closed(lt_ws *ws)
{
	char reason[200] = "connection closed";
	if (ws->state == LT_WS_CONNECTING && !ws->drop_reason[0]) {
		int64_t ms = (lt_now_us() - ws->attempt_us) / 1000;
		if (ms >= HS_TIMEOUT_S * 1000 - 500) {
			ws->fail = LT_WS_FAIL_TIMEOUT;
			snprintf(reason, sizeof reason,
				 "timed out: no answer %s from the venue after "
				 "%lld ms",
				 ws->hs_sent ? "to the upgrade" : "in the TLS handshake",
				 (long long)ms);
		} else if (ws->tls && !ws->tls_up) {
			ws->fail = LT_WS_FAIL_TLS;
			snprintf(reason, sizeof reason,
				 "TLS handshake failed (the venue closed the "
				 "connection)");
		} else if (ws->hs_sent) {
			ws->fail = LT_WS_FAIL_HANDSHAKE;
			lt_ws_upgrade_reason(0, "Peer hung up", reason, sizeof reason);
		} else {
			ws->fail = LT_WS_FAIL_OTHER;
			snprintf(reason, sizeof reason, "connection closed before it opened");
		}
	}
	transport_reset(ws);
	on_drop(ws, reason);
}

/* Does user hold our lt_ws for this reason? lws also calls protocol 0 of the context with
 * other things as user, e.g. an X509_STORE_CTX for PERFORM_SERVER_CERT_VERIFICATION. */
static bool carries_ws(enum lws_callback_reasons reason)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_RAW_RX:
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_RAW_CLOSE:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
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
	case LWS_CALLBACK_RAW_CONNECTED:
		return on_connected(ws, wsi);
	case LWS_CALLBACK_RAW_RX:
		return on_raw_rx(ws, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return on_writeable(ws, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connect_error(ws, wsi, in, len);
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		on_closed(ws);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (ws->wsi != wsi)
			break;
		ws->wsi = NULL;
		transport_reset(ws);
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

static const struct lws_protocols protocols[] = {{"lt-client", ws_callback, 0, 32768, 0, NULL, 0},
						 {NULL, NULL, 0, 0, 0, NULL, 0}};

const struct lws_protocols *lt_ws_protocols(void) { return protocols; }

/* ---- the owner's calls ------------------------------------------------------------------- */

static int check_opts(const lt_ws_opts *o, lt_err *err)
{
	if (o->dead_after_ms < 0 || o->backoff_base_ms < 0 || o->backoff_cap_ms < 0 ||
	    o->stable_ms < 0)
		return lt_err_set(err, LT_EINVAL,
				  "ws: dead_after_ms, backoff_base_ms, "
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
	if (!ws || !(ws->tx = malloc(LWS_PRE + TX_CAP))) {
		free(ws);
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	}
	rc = lt_ws_url_parse(o->url, o->insecure_loopback, &ws->u, err);
	if (!rc && !(ws->vh = lt_loop_client_vhost(loop, ws->u.tls ? o->ca_file : NULL, err)))
		rc = err && err->code ? err->code : LT_ETLS;
	if (!rc && ws->u.tls &&
	    (!(ws->ct = malloc(LWS_PRE + TX_CAP)) ||
	     !(ws->tls_ctx = lt_ws_tls_ctx_new(o->ca_file, err))))
		rc = ws->ct ? (err && err->code ? err->code : LT_ETLS)
			    : lt_err_set(err, LT_ENOMEM, "out of memory");
	if (rc) {
		SSL_CTX_free(ws->tls_ctx);
		free(ws->ct);
		free(ws->tx);
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

/* The queue held nothing before this message and no lws callback is running (a task's send,
 * between two services of the loop): write it now, as the writable callback would, instead
 * of one poll later. What the socket does not take at once lws keeps and sends first, so the
 * order holds. A transport that fails here is closed by the loop (its close is the drop every
 * sent request learns of), never from inside this call. */
static void send_now(lt_ws *ws)
{
	if (on_ws_writeable(ws, ws->wsi) < 0)
		lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
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
	if (ws->state == LT_WS_OPEN && ws->wsi) {
		if (ws->qhead == m && !lt_loop_in_service(ws->loop) &&
		    !lws_partial_buffered(ws->wsi))
			send_now(ws);
		else
			lws_callback_on_writable(ws->wsi);
	}
	return 0;
}

void lt_ws_set_ready(lt_ws *ws)
{
	if (ws->state == LT_WS_OPEN && !ws->detached && lws_dll2_is_detached(&ws->sul_stable.list))
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
