/* firehose_server.c — the benchmark's local venue: a minimal Deribit-shaped wss server that
 * answers every JSON-RPC request at once and, after public/subscribe, streams ticker
 * notifications as fast as the socket takes them.
 *
 *     firehose_server CERT KEY PORT COUNT TICKER_JSON
 *
 * Listens on 127.0.0.1 only (PORT 0 = any free port) and prints "PORT n" on stdout once
 * listening. TICKER_JSON is a fixture file holding one ticker notification
 * (tests/fixtures/ws_ticker.json); its params.data object, re-serialised compactly, is the data
 * of every notification sent. Per connection:
 *   - public/subscribe -> {"jsonrpc":"2.0","id":ID,"result":[CHANNELS]}, then COUNT
 *     notifications {"jsonrpc":"2.0","method":"subscription","params":{"channel":FIRST,
 *     "data":TICKER}} and a last one whose data is {"end":true};
 *   - any other method -> {"jsonrpc":"2.0","id":ID,"result":{"version":"1.2.26"}} at once.
 * Requests are parsed with yajl_tree. Writes happen only on SERVER_WRITEABLE, and a writeable
 * callback writes until lws_send_pipe_choked (bounded per callback so receiving stays fair),
 * then asks for writeable again. Runs until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define FH_MAX_RX (64 * 1024)      /* largest request accepted */
#define FH_MAX_ID 64               /* longest id text echoed back */
#define FH_BURST 256               /* notifications per writeable callback at most */
#define FH_ID_NONE ""

/* A growable byte buffer with LWS_PRE bytes of headroom before the text. */
typedef struct fh_buf {
	unsigned char *p;
	size_t len, cap;               /* len counts text only; storage is LWS_PRE + cap */
} fh_buf;

typedef struct fh_reply {          /* a queued reply, sent before any notification */
	struct fh_reply *next;
	fh_buf b;
} fh_reply;

typedef struct fh_server {
	char *ticker;                  /* the compact data object */
	size_t ticker_len;
	unsigned long count;           /* notifications per subscribe */
	struct lws_context *ctx;
} fh_server;

typedef struct fh_conn {           /* lives in the connection's lws user memory */
	fh_server *srv;
	char *rx;
	size_t rx_len;
	bool rx_too_big;
	fh_reply *q_head, *q_tail;
	fh_buf note, end;              /* the notification and the end marker, built per subscribe */
	unsigned long left;            /* notifications still to send; end follows when 0 */
	bool streaming, end_pending;
} fh_conn;

static volatile sig_atomic_t fh_stop;

/* ---- buffers ----------------------------------------------------------------------------- */

static int fh_buf_add(fh_buf *b, const void *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *p = realloc(b->p, LWS_PRE + cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + LWS_PRE + b->len, s, n);
	b->len += n;
	return 0;
}

static int fh_buf_str(fh_buf *b, const char *s) { return fh_buf_add(b, s, strlen(s)); }

static void fh_buf_free(fh_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- the ticker fixture ------------------------------------------------------------------ */

/* Write a yajl_tree value with yajl_gen; numbers keep their original text. */
static int fh_gen_value(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];
			yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			if (fh_gen_value(g, v->u.object.values[i]))
				return -1;
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			if (fh_gen_value(g, v->u.array.values[i]))
				return -1;
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_NULL(v)) {
		yajl_gen_null(g);
	} else {
		return -1;
	}
	return 0;
}

/* Read path, take params.data of the notification in it, store it compact in srv->ticker. */
static int fh_load_ticker(fh_server *srv, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "firehose: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char errbuf[256];
	yajl_val root = yajl_tree_parse(text, errbuf, sizeof errbuf);
	const char *data_path[] = {"params", "data", NULL};
	yajl_val data = root ? yajl_tree_get(root, data_path, yajl_t_object) : NULL;
	if (!data) {
		fprintf(stderr, "firehose: %s has no params.data object (%s)\n", path,
			root ? "" : errbuf);
		yajl_tree_free(root);
		return -1;
	}
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	size_t out_len;
	int rc = -1;
	if (g && fh_gen_value(g, data) == 0 && yajl_gen_get_buf(g, &out, &out_len) == yajl_gen_status_ok) {
		srv->ticker = malloc(out_len + 1);
		if (srv->ticker) {
			memcpy(srv->ticker, out, out_len);
			srv->ticker[out_len] = '\0';
			srv->ticker_len = out_len;
			rc = 0;
		}
	}
	if (g)
		yajl_gen_free(g);
	yajl_tree_free(root);
	return rc;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* The id's JSON text (a number keeps its text; a string is re-quoted as is: ids from the
 * clients are plain integers), or FH_ID_NONE for a notification without id. */
static void fh_id_text(yajl_val root, char *out, size_t cap)
{
	const char *id_path[] = {"id", NULL};
	yajl_val id = yajl_tree_get(root, id_path, yajl_t_any);
	snprintf(out, cap, "%s", FH_ID_NONE);
	if (id && YAJL_IS_NUMBER(id))
		snprintf(out, cap, "%s", id->u.number.r);
	else if (id && YAJL_IS_STRING(id) && strlen(id->u.string) + 3 <= cap &&
		 !strpbrk(id->u.string, "\"\\"))
		snprintf(out, cap, "\"%s\"", id->u.string);
}

static void fh_queue(fh_conn *c, struct lws *wsi, fh_reply *r)
{
	if (c->q_tail)
		c->q_tail->next = r;
	else
		c->q_head = r;
	c->q_tail = r;
	lws_callback_on_writable(wsi);
}

/* Build the notification and end marker for channel and start streaming after the reply. */
static int fh_start_stream(fh_conn *c, const char *channel)
{
	fh_buf_free(&c->note);
	fh_buf_free(&c->end);
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\","
				   "\"params\":{\"channel\":\"";
	int rc = fh_buf_str(&c->note, head) | fh_buf_str(&c->note, channel) |
		 fh_buf_str(&c->note, "\",\"data\":") |
		 fh_buf_add(&c->note, c->srv->ticker, c->srv->ticker_len) |
		 fh_buf_str(&c->note, "}}");
	rc |= fh_buf_str(&c->end, head) | fh_buf_str(&c->end, channel) |
	      fh_buf_str(&c->end, "\",\"data\":{\"end\":true}}}");
	if (rc)
		return -1;
	c->left = c->srv->count;
	c->streaming = true;
	c->end_pending = true;
	return 0;
}

/* Append the subscribe result (the requested channels) to r and start streaming on the first
 * channel. Channels containing '"' or '\\' are left out rather than escaped. */
static int fh_reply_subscribe(fh_conn *c, fh_reply *r, yajl_val root)
{
	const char *chan_path[] = {"params", "channels", NULL};
	yajl_val chans = yajl_tree_get(root, chan_path, yajl_t_array);
	const char *first = NULL;
	int rc = fh_buf_str(&r->b, "[");
	for (size_t i = 0; chans && i < chans->u.array.len; i++) {
		yajl_val ch = chans->u.array.values[i];
		if (!YAJL_IS_STRING(ch) || strpbrk(ch->u.string, "\"\\"))
			continue;
		rc |= fh_buf_str(&r->b, first ? ",\"" : "\"") | fh_buf_str(&r->b, ch->u.string) |
		      fh_buf_str(&r->b, "\"");
		if (!first)
			first = ch->u.string;
	}
	rc |= fh_buf_str(&r->b, "]}");
	if (first && !rc)
		rc = fh_start_stream(c, first);
	return rc;
}

/* Answer one complete request (NUL-terminated text): queue the reply. Malformed requests and
 * requests without id are ignored. -1 (out of memory) closes the connection. */
static int fh_dispatch(fh_conn *c, struct lws *wsi, const char *text)
{
	char errbuf[128], id[FH_MAX_ID];
	yajl_val root = yajl_tree_parse(text, errbuf, sizeof errbuf);
	if (root && YAJL_IS_OBJECT(root))
		fh_id_text(root, id, sizeof id);
	if (!root || !YAJL_IS_OBJECT(root) || !id[0]) {
		yajl_tree_free(root);
		return 0;
	}
	const char *method_path[] = {"method", NULL};
	yajl_val m = yajl_tree_get(root, method_path, yajl_t_string);
	fh_reply *r = calloc(1, sizeof *r);
	int rc = !r ? -1 : fh_buf_str(&r->b, "{\"jsonrpc\":\"2.0\",\"id\":") |
			    fh_buf_str(&r->b, id) | fh_buf_str(&r->b, ",\"result\":");
	if (!rc && m && strcmp(m->u.string, "public/subscribe") == 0)
		rc = fh_reply_subscribe(c, r, root);
	else if (!rc)
		rc = fh_buf_str(&r->b, "{\"version\":\"1.2.26\"}}");
	yajl_tree_free(root);
	if (rc) {
		if (r)
			fh_buf_free(&r->b);
		free(r);
		return -1;
	}
	fh_queue(c, wsi, r);
	return 0;
}

/* Append a received fragment; dispatch once the message is complete. */
static int fh_rx(fh_conn *c, struct lws *wsi, const char *in, size_t len)
{
	if (!c->rx_too_big && c->rx_len + len > FH_MAX_RX)
		c->rx_too_big = true;
	if (!c->rx_too_big) {
		if (!c->rx && !(c->rx = malloc(FH_MAX_RX + 1)))
			return -1;
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	int rc = 0;
	if (!c->rx_too_big) {
		c->rx[c->rx_len] = '\0';
		rc = fh_dispatch(c, wsi, c->rx);
	}
	c->rx_len = 0;
	c->rx_too_big = false;
	return rc;
}

/* ---- writing ----------------------------------------------------------------------------- */

static int fh_write(struct lws *wsi, fh_buf *b)
{
	int n = lws_write(wsi, b->p + LWS_PRE, b->len, LWS_WRITE_TEXT);
	return n < 0 || (size_t)n < b->len ? -1 : 0;
}

/* Replies first, then up to FH_BURST notifications while the pipe takes them. */
static int fh_writeable(fh_conn *c, struct lws *wsi)
{
	int sent = 0;
	while (c->q_head && sent < FH_BURST && !lws_send_pipe_choked(wsi)) {
		fh_reply *r = c->q_head;
		c->q_head = r->next;
		if (!c->q_head)
			c->q_tail = NULL;
		int rc = fh_write(wsi, &r->b);
		fh_buf_free(&r->b);
		free(r);
		if (rc)
			return -1;
		sent++;
	}
	while (!c->q_head && c->streaming && sent < FH_BURST && !lws_send_pipe_choked(wsi)) {
		if (c->left > 0) {
			if (fh_write(wsi, &c->note))
				return -1;
			c->left--;
		} else {
			if (fh_write(wsi, &c->end))
				return -1;
			c->streaming = c->end_pending = false;
		}
		sent++;
	}
	if (c->q_head || c->streaming)
		lws_callback_on_writable(wsi);
	return 0;
}

static void fh_release(fh_conn *c)
{
	while (c->q_head) {
		fh_reply *r = c->q_head;
		c->q_head = r->next;
		fh_buf_free(&r->b);
		free(r);
	}
	c->q_tail = NULL;
	fh_buf_free(&c->note);
	fh_buf_free(&c->end);
	free(c->rx);
	c->rx = NULL;
	c->srv = NULL;
}

static int fh_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	fh_conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof *c);
		c->srv = lws_vhost_user(lws_get_vhost(wsi));
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return c && c->srv ? fh_rx(c, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c && c->srv ? fh_writeable(c, wsi) : -1;
	case LWS_CALLBACK_CLOSED:
		if (c && c->srv)
			fh_release(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fh_protocols[] = {
	{"firehose", fh_callback, sizeof(fh_conn), 32768, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

/* ---- main -------------------------------------------------------------------------------- */

static void fh_on_signal(int sig)
{
	(void)sig;
	fh_stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s CERT KEY PORT COUNT TICKER_JSON\n", argv[0]);
		return 2;
	}
	fh_server srv;
	memset(&srv, 0, sizeof srv);
	char *end;
	long port = strtol(argv[3], &end, 10);
	srv.count = strtoul(argv[4], NULL, 10);
	if (*end || port < 0 || port > 65535 || fh_load_ticker(&srv, argv[5]))
		return 2;
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = (int)port;
	info.iface = "127.0.0.1";
	info.protocols = fh_protocols;
	info.ssl_cert_filepath = argv[1];
	info.ssl_private_key_filepath = argv[2];
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.user = &srv;
	srv.ctx = lws_create_context(&info);
	struct lws_vhost *vh = srv.ctx ? lws_create_vhost(srv.ctx, &info) : NULL;
	if (!vh) {
		fprintf(stderr, "firehose: cannot listen on 127.0.0.1:%ld\n", port);
		lws_context_destroy(srv.ctx);
		free(srv.ticker);
		return 1;
	}
	signal(SIGINT, fh_on_signal);
	signal(SIGTERM, fh_on_signal);
	printf("PORT %d\nTICKER_BYTES %zu\n", lws_get_vhost_listen_port(vh), srv.ticker_len);
	fflush(stdout);
	while (!fh_stop && lws_service(srv.ctx, 0) >= 0)
		;
	lws_context_destroy(srv.ctx);
	free(srv.ticker);
	return 0;
}
