/* firehose_server.c — the benchmark's local venue: a minimal Deribit-shaped wss server that
 * answers every JSON-RPC request at once and, after a subscribe, either streams ticker
 * notifications faster than any client takes them or runs the reaction loop.
 *
 *     firehose_server CERT KEY PORT COUNT TICKER_JSON [REACTIONS]
 *
 * Listens on 127.0.0.1 only (PORT 0 = any free port) and prints "PORT n" on stdout once
 * listening. TICKER_JSON is a fixture file holding one ticker notification
 * (tests/fixtures/ws_ticker.json); its params.data object, re-serialised compactly, is the data
 * of every notification sent. Per connection:
 *   - public/subscribe or private/subscribe -> {"jsonrpc":"2.0","id":ID,"result":[CHANNELS]},
 *     then on the first channel:
 *       - a channel ending in ".raw" (the firehose): COUNT notifications {"jsonrpc":"2.0",
 *         "method":"subscription","params":{"channel":FIRST,"data":TICKER}}, then the end
 *         marker, a notification whose data is {"end":true}. The notifications are framed once
 *         per subscribe into a blob of FH_BLOB WebSocket frames held in memory, written with
 *         lws_write(LWS_WRITE_RAW) ~70 KB at a time (OpenSSL cuts them into full 16 KB TLS
 *         records), so the server is not what limits a client (one lws_write per message, as
 *         before, capped a bare libwebsockets client at ~90k msgs/s);
 *       - any other channel (the reaction loop): one notification, then nothing until the
 *         client's private/buy arrives; its reaction time is from just before the ticker's
 *         write to the moment the order's last fragment is read (before it is parsed); the buy
 *         is answered and the next ticker sent. After FH_WARMUP untimed and REACTIONS (20,000)
 *         timed reactions it prints "RESULT reaction reactions=.. warmup=.. react_p50_us=..
 *         react_p99_us=.." on stdout and sends the end marker. The first order's text goes to
 *         stderr.
 *   - public/auth -> an auth result (a token valid for a year); private/buy -> an order result
 *     shaped as Deribit's; any other method -> {"version":"1.2.26"}; all at once.
 * Requests are parsed with yajl_tree. Writes happen only on SERVER_WRITEABLE (replies first);
 * a callback writes at most FH_WRITES blobs, until lws_send_pipe_choked, then asks for
 * writeable again. Runs until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define FH_MAX_RX (64 * 1024) /* largest request accepted */
#define FH_MAX_ID 64          /* longest id text echoed back */
#define FH_BLOB 96            /* pre-framed notifications per write (~70 KB) */
#define FH_WRITES 8           /* blob writes per writeable callback at most */
#define FH_WARMUP 500         /* reactions before the timed ones */
/* What public/auth and private/buy answer: an auth result and an order result shaped as
 * Deribit's (tests/fixtures/ws_order_buy_response.json). */
#define FH_AUTH_RESULT                                                                             \
	"{\"access_token\":\"bench-access\",\"expires_in\":31536000,"                              \
	"\"refresh_token\":\"bench-refresh\",\"scope\":\"connection mainaccount\","                \
	"\"token_type\":\"bearer\"}"
#define FH_BUY_RESULT                                                                              \
	"{\"order\":{\"label\":\"bench\",\"price\":97000.5,\"user_id\":1,"                         \
	"\"amount\":10,\"direction\":\"buy\",\"time_in_force\":\"good_til_cancelled\","            \
	"\"instrument_name\":\"BTC-PERPETUAL\",\"web\":false,\"api\":true,"                        \
	"\"order_id\":\"bench-1\",\"creation_timestamp\":1767978363493,\"replaced\":false,"        \
	"\"filled_amount\":0,\"last_update_timestamp\":1767978363493,\"post_only\":true,"          \
	"\"reduce_only\":false,\"average_price\":0,\"mmp\":false,\"contracts\":1,"                 \
	"\"reject_post_only\":false,\"order_state\":\"open\",\"order_type\":\"limit\","            \
	"\"is_liquidation\":false,\"risk_reducing\":false},\"trades\":[]}"
#define FH_ID_NONE ""

/* A growable byte buffer with LWS_PRE bytes of headroom before the text. */
typedef struct fh_buf {
	unsigned char *p;
	size_t len, cap; /* len counts text only; storage is LWS_PRE + cap */
} fh_buf;

typedef struct fh_reply { /* a queued reply, sent before any notification */
	struct fh_reply *next;
	fh_buf b;
} fh_reply;

typedef struct fh_server {
	char *ticker; /* the compact data object */
	size_t ticker_len;
	unsigned long count; /* notifications per firehose subscribe */
	long reactions;      /* timed reactions per reaction subscribe */
	struct lws_context *ctx;
} fh_server;

typedef enum { FH_IDLE, FH_FIREHOSE, FH_REACT } fh_mode;

typedef struct fh_conn { /* lives in the connection's lws user memory */
	fh_server *srv;
	char *rx;
	size_t rx_len;
	bool rx_too_big;
	fh_reply *q_head, *q_tail;
	fh_buf note, end; /* one notification and the end marker, built per subscribe */
	fh_buf blob;      /* FH_BLOB pre-framed notifications, back to back */
	size_t frame_len; /* bytes of one pre-framed notification in blob */
	fh_mode mode;
	unsigned long left; /* firehose: notifications still to send */
	bool end_pending;   /* the end marker follows */
	/* reaction mode */
	long react_done; /* orders read (warm-up included) */
	bool ticker_due, waiting_order;
	int64_t ticker_us; /* when the ticker awaiting an order was written */
	int64_t *react_us; /* timed reactions (after the warm-up) */
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
	if (g && fh_gen_value(g, data) == 0 &&
	    yajl_gen_get_buf(g, &out, &out_len) == yajl_gen_status_ok) {
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

static int64_t fh_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Append one server-to-client text frame (FIN, unmasked) holding b's text to out. */
static int fh_frame(fh_buf *out, const fh_buf *b)
{
	unsigned char h[10];
	size_t n = 0;
	h[n++] = 0x81;
	if (b->len < 126) {
		h[n++] = (unsigned char)b->len;
	} else if (b->len <= 0xffff) {
		h[n++] = 126;
		h[n++] = (unsigned char)(b->len >> 8);
		h[n++] = (unsigned char)b->len;
	} else {
		h[n++] = 127;
		for (int i = 7; i >= 0; i--)
			h[n++] = (unsigned char)((uint64_t)b->len >> (8 * i));
	}
	return fh_buf_add(out, h, n) | fh_buf_add(out, b->p + LWS_PRE, b->len);
}

/* Build the notification, its pre-framed blob and the end marker for channel. A channel
 * ending in ".raw" starts the firehose, any other the reaction loop (after the reply). */
static int fh_start_stream(fh_conn *c, const char *channel)
{
	fh_buf_free(&c->note);
	fh_buf_free(&c->end);
	fh_buf_free(&c->blob);
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\","
				   "\"params\":{\"channel\":\"";
	int rc = fh_buf_str(&c->note, head) | fh_buf_str(&c->note, channel) |
		 fh_buf_str(&c->note, "\",\"data\":") |
		 fh_buf_add(&c->note, c->srv->ticker, c->srv->ticker_len) |
		 fh_buf_str(&c->note, "}}");
	rc |= fh_buf_str(&c->end, head) | fh_buf_str(&c->end, channel) |
	      fh_buf_str(&c->end, "\",\"data\":{\"end\":true}}}");
	for (int i = 0; i < FH_BLOB && !rc; i++)
		rc |= fh_frame(&c->blob, &c->note);
	if (rc)
		return -1;
	c->frame_len = c->blob.len / FH_BLOB;
	size_t len = strlen(channel);
	if (len >= 4 && strcmp(channel + len - 4, ".raw") == 0) {
		c->mode = FH_FIREHOSE;
		c->left = c->srv->count;
	} else {
		c->mode = FH_REACT;
		c->react_done = 0;
		c->ticker_due = true;
		c->waiting_order = false;
		free(c->react_us);
		c->react_us = calloc((size_t)c->srv->reactions + 1, sizeof *c->react_us);
		if (!c->react_us)
			return -1;
	}
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

static int fh_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The reactions are done: print their quantiles (nearest rank) on stdout. */
static void fh_report_reactions(fh_conn *c)
{
	long n = c->srv->reactions;
	qsort(c->react_us, (size_t)n, sizeof *c->react_us, fh_cmp);
	long i50 = (long)(0.50 * (double)n + 0.999999) - 1,
	     i99 = (long)(0.99 * (double)n + 0.999999) - 1;
	printf("RESULT reaction reactions=%ld warmup=%d react_p50_us=%lld react_p99_us=%lld\n", n,
	       FH_WARMUP, (long long)c->react_us[i50 < 0 ? 0 : i50],
	       (long long)c->react_us[i99 < 0 ? 0 : i99]);
	fflush(stdout);
}

/* An order arrived (at t_us) while a reaction ticker waited for it: time it, and either send
 * the next ticker or end the loop. */
static void fh_order_read(fh_conn *c, int64_t t_us)
{
	c->waiting_order = false;
	long i = c->react_done++ - FH_WARMUP;
	if (i >= 0)
		c->react_us[i] = t_us - c->ticker_us;
	if (i + 1 < c->srv->reactions) {
		c->ticker_due = true;
	} else {
		fh_report_reactions(c);
		c->mode = FH_IDLE;
	}
}

/* Answer one complete request (NUL-terminated text, read at t_us): queue the reply. Malformed
 * requests and requests without id are ignored. -1 (out of memory) closes the connection. */
static int fh_dispatch(fh_conn *c, struct lws *wsi, const char *text, int64_t t_us)
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
	yajl_val mv = yajl_tree_get(root, method_path, yajl_t_string);
	const char *m = mv ? mv->u.string : "";
	fh_reply *r = calloc(1, sizeof *r);
	int rc = !r ? -1
		    : fh_buf_str(&r->b, "{\"jsonrpc\":\"2.0\",\"id\":") | fh_buf_str(&r->b, id) |
				 fh_buf_str(&r->b, ",\"result\":");
	if (!rc && (strcmp(m, "public/subscribe") == 0 || strcmp(m, "private/subscribe") == 0))
		rc = fh_reply_subscribe(c, r, root);
	else if (!rc && strcmp(m, "public/auth") == 0)
		rc = fh_buf_str(&r->b, FH_AUTH_RESULT "}");
	else if (!rc && strcmp(m, "private/buy") == 0)
		rc = fh_buf_str(&r->b, FH_BUY_RESULT "}");
	else if (!rc)
		rc = fh_buf_str(&r->b, "{\"version\":\"1.2.26\"}}");
	if (!rc && c->mode == FH_REACT && c->waiting_order && strcmp(m, "private/buy") == 0) {
		if (c->react_done == 0) {
			fprintf(stderr, "firehose: first order: %s\n", text);
			fflush(stderr);
		}
		fh_order_read(c, t_us);
	}
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
	int64_t t_us = fh_now_us();
	int rc = 0;
	if (!c->rx_too_big) {
		c->rx[c->rx_len] = '\0';
		rc = fh_dispatch(c, wsi, c->rx, t_us);
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

/* Write len bytes of already framed stream as they are (lws keeps what the socket does not
 * take yet and reports the pipe choked until it is out). */
static int fh_write_raw(struct lws *wsi, fh_buf *b, size_t len)
{
	int n = lws_write(wsi, b->p + LWS_PRE, len, LWS_WRITE_RAW);
	return n < 0 || (size_t)n < len ? -1 : 0;
}

/* Replies first, then the stream: in firehose mode up to FH_WRITES blobs of FH_BLOB pre-framed
 * notifications while the pipe takes them; in reaction mode the one ticker that is due. */
static int fh_writeable(fh_conn *c, struct lws *wsi)
{
	int writes = 0;
	while (c->q_head && writes < FH_WRITES * 16 && !lws_send_pipe_choked(wsi)) {
		fh_reply *r = c->q_head;
		c->q_head = r->next;
		if (!c->q_head)
			c->q_tail = NULL;
		int rc = fh_write(wsi, &r->b);
		fh_buf_free(&r->b);
		free(r);
		if (rc)
			return -1;
		writes++;
	}
	if (!c->q_head && c->mode == FH_FIREHOSE) {
		while (c->left > 0 && writes < FH_WRITES && !lws_send_pipe_choked(wsi)) {
			unsigned long frames = c->left < FH_BLOB ? c->left : FH_BLOB;
			if (fh_write_raw(wsi, &c->blob, frames * c->frame_len))
				return -1;
			c->left -= frames;
			writes++;
		}
		if (c->left == 0)
			c->mode = FH_IDLE;
	} else if (!c->q_head && c->mode == FH_REACT && c->ticker_due &&
		   !lws_send_pipe_choked(wsi)) {
		c->ticker_us = fh_now_us();
		if (fh_write(wsi, &c->note))
			return -1;
		c->ticker_due = false;
		c->waiting_order = true;
	}
	if (!c->q_head && c->mode == FH_IDLE && c->end_pending && !lws_send_pipe_choked(wsi)) {
		if (fh_write(wsi, &c->end))
			return -1;
		c->end_pending = false;
	}
	if (c->q_head || c->mode == FH_FIREHOSE || (c->mode == FH_REACT && c->ticker_due) ||
	    (c->mode == FH_IDLE && c->end_pending))
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
	fh_buf_free(&c->blob);
	free(c->rx);
	c->rx = NULL;
	free(c->react_us);
	c->react_us = NULL;
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
	{NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- main -------------------------------------------------------------------------------- */

static void fh_on_signal(int sig)
{
	(void)sig;
	fh_stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: %s CERT KEY PORT COUNT TICKER_JSON [REACTIONS]\n", argv[0]);
		return 2;
	}
	fh_server srv;
	memset(&srv, 0, sizeof srv);
	char *end;
	long port = strtol(argv[3], &end, 10);
	srv.count = strtoul(argv[4], NULL, 10);
	srv.reactions = argc == 7 ? atol(argv[6]) : 20000;
	if (srv.reactions < 1)
		srv.reactions = 1;
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
