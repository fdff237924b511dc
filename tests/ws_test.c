/* ws_test.c — src/ws.c: URL rules (wss only; ws:// only to loopback with insecure_loopback),
 * refused connects on loopback leading to RECONNECTING or, with no_reconnect, CLOSED, a missing
 * CA file, close semantics, and, against a minimal WebSocket peer on a loopback socket run by a
 * thread of this test, the handshake path, the send queue's order, reassembly of fragments and
 * the dropping of binary and oversize messages. Nothing here leaves 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "loop.h"
#include "ws.h"

/* ---- recording callbacks ----------------------------------------------------------------- */

#define MAX_EV 64

typedef struct obs {
	lt_ws_state states[MAX_EV];
	char reasons[MAX_EV][128];
	int nstates;
	char *msgs[MAX_EV];
	size_t msg_len[MAX_EV];
	int nmsgs;
} obs;

static void on_state(void *ud, lt_ws_state st, const char *reason)
{
	obs *o = ud;
	if (o->nstates < MAX_EV) {
		o->states[o->nstates] = st;
		snprintf(o->reasons[o->nstates], sizeof o->reasons[0], "%s", reason ? reason : "");
	}
	o->nstates++;
}

static void on_message(void *ud, const char *msg, size_t len)
{
	obs *o = ud;
	if (o->nmsgs < MAX_EV) {
		o->msgs[o->nmsgs] = malloc(len + 1);
		assert_non_null(o->msgs[o->nmsgs]);
		memcpy(o->msgs[o->nmsgs], msg, len);
		o->msgs[o->nmsgs][len] = '\0';
		o->msg_len[o->nmsgs] = len;
	}
	o->nmsgs++;
}

static void obs_free(obs *o)
{
	for (int i = 0; i < o->nmsgs && i < MAX_EV; i++)
		free(o->msgs[i]);
}

static const lt_ws_cbs cbs = {on_state, on_message};

static int count_state(const obs *o, lt_ws_state st)
{
	int n = 0;
	for (int i = 0; i < o->nstates && i < MAX_EV; i++)
		n += o->states[i] == st;
	return n;
}

static lt_loop *loop_new(void)
{
	lt_loop *loop;
	lt_err err = {0};
	if (lt_loop_new(&loop, &err))
		fail_msg("lt_loop_new: %s", err.msg);
	return loop;
}

/* ---- driving the loop ------------------------------------------------------------------- */

typedef struct ticker {
	lws_sorted_usec_list_t sul;
	lt_loop *loop;
} ticker;

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	ticker *t = lws_container_of(sul, ticker, sul);
	lws_sul_schedule(lt_loop_context(t->loop), 0, &t->sul, tick_cb, 5 * 1000);
}

typedef bool (*cond_fn)(void *ctx);

/* Service the loop until cond(ctx) holds or ms pass (cond NULL: the whole time); a 5 ms tick
 * bounds every wait. Returns whether cond held. */
static bool drive(lt_loop *loop, cond_fn cond, void *ctx, int64_t ms)
{
	ticker t;
	memset(&t, 0, sizeof t);
	t.loop = loop;
	lws_sul_schedule(lt_loop_context(loop), 0, &t.sul, tick_cb, 5 * 1000);
	int64_t deadline = lt_now_us() + ms * 1000;
	bool held = false;
	while (!(held = cond && cond(ctx)) && lt_now_us() < deadline)
		assert_int_equal(lt_loop_service(loop), 0);
	lws_sul_cancel(&t.sul);
	return held;
}

static bool saw_reconnecting(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) > 0; }
static bool saw_closed(void *ctx) { return count_state(ctx, LT_WS_CLOSED) > 0; }
static bool saw_two_retries(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) >= 3; }

/* ---- URL rules --------------------------------------------------------------------------- */

static void expect_einval(lt_loop *loop, const char *url, bool insecure_loopback)
{
	obs o = {0};
	lt_ws_opts opts = {.url = url, .insecure_loopback = insecure_loopback};
	lt_ws *ws = (lt_ws *)&o;  /* must be reset to NULL */
	lt_err err = {0};
	int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
	if (rc != LT_EINVAL)
		fail_msg("%s: got %d, want LT_EINVAL", url ? url : "(null)", rc);
	assert_null(ws);
	assert_int_equal(err.code, LT_EINVAL);
	assert_true(strncmp(err.msg, "url:", 4) == 0);
	assert_int_equal(o.nstates, 0);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
}

static void test_url_rules(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	expect_einval(loop, "http://x", false);
	expect_einval(loop, "https://127.0.0.1/ws", true);
	expect_einval(loop, "ws://example.com/x", false);
	expect_einval(loop, "ws://example.com/x", true);     /* plain ws refused off loopback */
	expect_einval(loop, "ws://10.0.0.1:80/x", true);
	expect_einval(loop, "ws://127.0.0.1:9/x", false);    /* loopback needs the flag */
	expect_einval(loop, "ws://localhost:9/x", false);
	expect_einval(loop, "wss://", false);                /* no host */
	expect_einval(loop, "", false);
	expect_einval(loop, NULL, false);
	char longurl[1100];
	memset(longurl, 'a', sizeof longurl - 1);
	memcpy(longurl, "wss://", 6);
	longurl[sizeof longurl - 1] = '\0';
	expect_einval(loop, longurl, false);

	/* the refusal names the rule */
	lt_ws_opts opts = {.url = "ws://example.com/x"};
	lt_ws *ws = NULL;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, NULL, &ws, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "plain ws:// is refused"));
	opts.url = "http://x";
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, NULL, &ws, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "'http://'"));
	lt_loop_free(loop);
}

static void test_ws_to_loopback_with_insecure_loopback(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	static const char *const urls[] = {"ws://127.0.0.1:9/x", "ws://localhost:9/x",
					   "ws://127.1.2.3:9/"};
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		obs o = {0};
		lt_ws_opts opts = {.url = urls[i], .insecure_loopback = true};
		lt_ws *ws = NULL;
		lt_err err = {0};
		int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
		if (rc)
			fail_msg("%s: %d %s", urls[i], rc, err.msg);
		assert_non_null(ws);
		assert_int_equal(*lt_loop_conn_count(loop), 1);
		lt_ws_state st = lt_ws_get_state(ws);
		assert_true(st == LT_WS_CONNECTING || st == LT_WS_RECONNECTING);
		lt_ws_close(ws);
		/* nothing reaches the owner after close */
		int before = o.nstates;
		drive(loop, NULL, NULL, 50);
		assert_int_equal(o.nstates, before);
		assert_int_equal(*lt_loop_conn_count(loop), 0);
	}
	lt_loop_free(loop);
}

/* ---- refused connects -------------------------------------------------------------------- */

static void test_refused_connect_reconnects(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws", .backoff_min_ms = 10,
			   .backoff_max_ms = 40};
	lt_ws *ws = NULL;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, &o, &ws, &err), 0);
	assert_non_null(ws);
	assert_true(drive(loop, saw_reconnecting, &o, 3000));
	assert_true(o.nstates >= 1);
	assert_int_equal(count_state(&o, LT_WS_OPEN), 0);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 0);
	assert_true(lt_ws_get_stats(ws)->reconnects >= 1);
	/* the backoff runs out and it tries again, and again */
	assert_true(drive(loop, saw_two_retries, &o, 3000));
	assert_true(count_state(&o, LT_WS_CONNECTING) >= 2);
	assert_true(lt_ws_get_stats(ws)->reconnects >= 3);
	/* states alternate: never two RECONNECTINGs in a row */
	for (int i = 1; i < o.nstates && i < MAX_EV; i++)
		assert_false(o.states[i] == LT_WS_RECONNECTING &&
			     o.states[i - 1] == LT_WS_RECONNECTING);
	assert_int_equal(lt_ws_get_stats(ws)->msgs_in, 0);
	lt_ws_close(ws);
	int before = o.nstates;
	drive(loop, NULL, NULL, 100);  /* the retry timer was cancelled with it */
	assert_int_equal(o.nstates, before);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

static void test_refused_connect_without_reconnect_closes(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws", .backoff_min_ms = 10,
			   .no_reconnect = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, &o, &ws, &err), 0);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	assert_int_equal(count_state(&o, LT_WS_RECONNECTING), 0);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1);
	assert_int_equal(lt_ws_get_stats(ws)->reconnects, 0);
	/* it stays closed */
	drive(loop, NULL, NULL, 100);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1);
	assert_int_equal(count_state(&o, LT_WS_CONNECTING), 0);
	/* closed: sending is refused and the buffer stays with the caller */
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	assert_int_equal(lt_ws_send(ws, &b), LT_ESTATE);
	assert_non_null(b.data);
	assert_int_equal(b.len, 2);
	lt_buf_free(&b);
	lt_ws_close(ws);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

static void test_missing_ca_file(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws",
			   .ca_file = "/nonexistent/luatrade-test/ca.pem",
			   .backoff_min_ms = 10, .no_reconnect = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
	if (rc) {
		assert_int_equal(rc, LT_ETLS);
		assert_null(ws);
		assert_non_null(strstr(err.msg, "/nonexistent/luatrade-test/ca.pem"));
		assert_int_equal(*lt_loop_conn_count(loop), 0);
	} else {
		/* accepted: the failure comes later, as a state, not a crash */
		assert_true(drive(loop, saw_closed, &o, 3000));
		assert_int_equal(count_state(&o, LT_WS_OPEN), 0);
		lt_ws_close(ws);
	}
	lt_loop_free(loop);
}

static void test_send_after_close_while_connecting(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "ws://127.0.0.1:9/x", .insecure_loopback = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, &o, &ws, &err), 0);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{\"queued\":1}", 12);
	/* queued while not open: the memory is taken */
	assert_int_equal(lt_ws_send(ws, &b), 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* a buffer without LWS_PRE headroom is refused */
	lt_buf small;
	lt_buf_init(&small, 0);
	lt_buf_add(&small, "{}", 2);
	assert_int_equal(lt_ws_send(ws, &small), LT_ENOMEM);
	lt_buf_free(&small);
	if (lt_ws_get_state(ws) == LT_WS_CONNECTING) {
		/* the transport is still alive, so the handle is too until the loop runs */
		lt_ws_close(ws);
		lt_buf_add(&b, "{}", 2);
		assert_int_equal(lt_ws_send(ws, &b), LT_ESTATE);
		assert_non_null(b.data);
	} else {
		lt_ws_close(ws);
	}
	lt_buf_free(&b);
	drive(loop, NULL, NULL, 50);
	assert_int_equal(o.nstates, 0);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

/* Bug: lt_ws_send is documented (ws.h) to return LT_ESTATE after lt_ws_close, but lt_ws_close
 * frees the handle at once when no transport is alive (ws.c lt_ws_close: `if (!ws->wsi)
 * ws_destroy(ws)`), e.g. while waiting out a reconnect backoff; the following lt_ws_send reads
 * freed memory (heap-use-after-free under ASan). */
static void test_send_after_close_while_reconnecting(void **state)
{
	/* the contract: after a final close (no_reconnect) sends are refused with LT_ESTATE;
	 * after lt_ws_close the handle is gone and must not be used at all */
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws", .no_reconnect = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, &o, &ws, &err), 0);
	int64_t deadline = lt_now_us() + 3000000;
	while (lt_ws_get_state(ws) != LT_WS_CLOSED && lt_now_us() < deadline)
		lt_loop_service(loop);
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	assert_int_equal(lt_ws_send(ws, &b), LT_ESTATE);
	lt_buf_free(&b);
	lt_ws_close(ws);
	lt_loop_free(loop);
}

/* Bug (contract): ws.h says a bad CA file is returned at once as LT_ETLS, but libwebsockets 4.1
 * only logs "Unable to load SSL Client certs file" and still creates the vhost, so
 * lt_loop_client_vhost succeeds and lt_ws_new returns 0; the failure shows up later as a drop. */
static void test_missing_ca_file_is_an_error_at_once(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws",
			   .ca_file = "/nonexistent/luatrade-test/ca.pem", .no_reconnect = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
	if (ws)
		lt_ws_close(ws);
	assert_int_equal(rc, LT_ETLS);
	lt_loop_free(loop);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(lt_ws_state_name(LT_WS_CONNECTING), "connecting");
	assert_string_equal(lt_ws_state_name(LT_WS_OPEN), "open");
	assert_string_equal(lt_ws_state_name(LT_WS_RECONNECTING), "reconnecting");
	assert_string_equal(lt_ws_state_name(LT_WS_CLOSED), "closed");
	assert_string_equal(lt_ws_state_name((lt_ws_state)7), "?");
	lt_ws_close(NULL);
}

/* ---- a minimal WebSocket peer on a loopback socket (its own thread) ----------------------- */

typedef struct frame {
	int opcode;            /* 1 text, 2 binary, 0 continuation */
	bool fin;
	const char *data;
} frame;

#define MAX_IN 8

typedef struct peer {
	int lfd, port;
	const frame *frames;   /* sent after the client's want_in messages arrived */
	size_t nframes;
	int want_in;
	char request_line[600];
	char in[MAX_IN][128];
	int nin;
	bool handshake_ok;
	atomic_bool done;
	pthread_t th;
} peer;

static bool read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t got = recv(fd, p, n, 0);
		if (got <= 0)
			return false;
		p += got;
		n -= (size_t)got;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
		if (put <= 0)
			return false;
		p += put;
		n -= (size_t)put;
	}
	return true;
}

/* Read one client frame (masked); returns its opcode or -1. */
static int read_frame(int fd, char *out, size_t cap, size_t *len)
{
	unsigned char h[2], mask[4], ext[8];
	if (!read_full(fd, h, 2))
		return -1;
	uint64_t n = h[1] & 0x7f;
	if (n == 126) {
		if (!read_full(fd, ext, 2))
			return -1;
		n = (uint64_t)ext[0] << 8 | ext[1];
	} else if (n == 127) {
		return -1;
	}
	if (!(h[1] & 0x80) || !read_full(fd, mask, 4))
		return -1;
	char buf[4096];
	if (n > sizeof buf || !read_full(fd, buf, (size_t)n))
		return -1;
	size_t keep = n < cap - 1 ? (size_t)n : cap - 1;
	for (size_t i = 0; i < keep; i++)
		out[i] = (char)(buf[i] ^ mask[i % 4]);
	out[keep] = '\0';
	*len = keep;
	return h[0] & 0x0f;
}

static bool write_frame(int fd, const frame *f)
{
	size_t n = strlen(f->data);
	unsigned char h[4];
	size_t hl = 2;
	h[0] = (unsigned char)((f->fin ? 0x80 : 0) | f->opcode);
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	}
	return write_full(fd, h, hl) && write_full(fd, f->data, n);
}

static void *peer_main(void *arg)
{
	peer *p = arg;
	struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
	if (poll(&pfd, 1, 3000) != 1)
		goto out;
	int fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		goto out;
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char req[4096];
	size_t n = 0;
	while (n < sizeof req - 1 && !memmem(req, n, "\r\n\r\n", 4)) {
		ssize_t got = recv(fd, req + n, 1, 0);  /* byte by byte: nothing past the head */
		if (got <= 0)
			goto close;
		n += (size_t)got;
	}
	req[n] = '\0';
	char *eol = strstr(req, "\r\n");
	if (!eol)
		goto close;
	snprintf(p->request_line, sizeof p->request_line, "%.*s", (int)(eol - req), req);
	char *key = strcasestr(req, "\r\nSec-WebSocket-Key:");
	if (!key)
		goto close;
	key += strlen("\r\nSec-WebSocket-Key:");
	while (*key == ' ')
		key++;
	char kg[128];
	int kl = snprintf(kg, sizeof kg, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
			  (int)strcspn(key, "\r\n "), key);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(kg, (size_t)kl, md, &mdlen, EVP_sha1(), NULL))
		goto close;
	unsigned char acc[64];
	EVP_EncodeBlock(acc, md, (int)mdlen);
	char resp[256];
	int rl = snprintf(resp, sizeof resp,
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
	if (!write_full(fd, resp, (size_t)rl))
		goto close;
	p->handshake_ok = true;
	while (p->nin < p->want_in && p->nin < MAX_IN) {
		size_t len;
		int op = read_frame(fd, p->in[p->nin], sizeof p->in[0], &len);
		if (op != 1)
			goto close;
		p->nin++;
	}
	for (size_t i = 0; i < p->nframes; i++)
		if (!write_frame(fd, &p->frames[i]))
			goto close;
	/* wait for the client's close frame (or EOF), then answer it */
	for (;;) {
		char buf[128];
		size_t len;
		int op = read_frame(fd, buf, sizeof buf, &len);
		if (op < 0)
			break;
		if (op == 8) {
			static const unsigned char close_frame[] = {0x88, 0x02, 0x03, 0xe8};
			write_full(fd, close_frame, sizeof close_frame);
			break;
		}
	}
close:
	close(fd);
out:
	atomic_store(&p->done, true);
	return NULL;
}

static void peer_start(peer *p, const frame *frames, size_t nframes, int want_in)
{
	memset(p, 0, sizeof *p);
	p->frames = frames;
	p->nframes = nframes;
	p->want_in = want_in;
	atomic_init(&p->done, false);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(p->lfd, 1), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
	p->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void peer_join(peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
}

static bool peer_done(void *ctx) { return atomic_load(&((peer *)ctx)->done); }

typedef struct until_msg {
	obs *o;
	const char *text;
} until_msg;

static bool saw_message(void *ctx)
{
	until_msg *u = ctx;
	for (int i = 0; i < u->o->nmsgs && i < MAX_EV; i++)
		if (strcmp(u->o->msgs[i], u->text) == 0)
			return true;
	return count_state(u->o, LT_WS_CLOSED) > 0;
}

/* Connect to a peer that plays frames, with two messages queued before the connection opens;
 * run until the message "end" arrives. The caller checks obs and stats, then calls finish. */
static lt_ws *run_peer(lt_loop *loop, peer *p, obs *o, const char *path, size_t max_message,
		       const frame *frames, size_t nframes)
{
	peer_start(p, frames, nframes, 2);
	char url[128];
	snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", p->port, path);
	lt_ws_opts opts = {.url = url, .insecure_loopback = true, .max_message = max_message,
			   .no_reconnect = true};
	lt_ws *ws = NULL;
	lt_err err = {0};
	if (lt_ws_new(loop, &opts, &cbs, o, &ws, &err))
		fail_msg("lt_ws_new %s: %s", url, err.msg);
	static const char *const out[] = {"{\"first\":1}", "{\"second\":2}"};
	for (size_t i = 0; i < 2; i++) {
		lt_buf b;
		lt_buf_init(&b, LWS_PRE);
		lt_buf_add(&b, out[i], strlen(out[i]));
		assert_int_equal(lt_ws_send(ws, &b), 0);
		lt_buf_free(&b);
	}
	until_msg u = {o, "end"};
	drive(loop, saw_message, &u, 3000);
	return ws;
}

static void finish(lt_loop *loop, peer *p, lt_ws *ws)
{
	lt_ws_close(ws);
	drive(loop, peer_done, p, 3000);
	peer_join(p);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
}

static void test_queue_order_and_reassembly(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "hel"}, {0, false, "lo, "}, {0, true, "world"},  /* fragmented text */
		{2, true, "\x01\x02\x03"},                                   /* binary: dropped */
		{1, true, "{\"one\":\"piece\"}"},
		{2, false, "bi"}, {0, true, "nary"},                        /* fragmented binary */
		{1, false, "0123456789"}, {0, true, "0123456789"},          /* 20 > 16: dropped */
		{1, false, "abcd"}, {0, false, "efgh"}, {0, true, "ijklmnop"}, /* 16: exactly fits */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws/api/v2", 16, frames,
			     sizeof frames / sizeof frames[0]);
	assert_true(p.handshake_ok);
	assert_string_equal(p.request_line, "GET /ws/api/v2 HTTP/1.1");
	/* queued before open, sent in order once open */
	assert_int_equal(p.nin, 2);
	assert_string_equal(p.in[0], "{\"first\":1}");
	assert_string_equal(p.in[1], "{\"second\":2}");
	assert_int_equal(o.nstates, 1);
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	/* what arrived */
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "hello, world");
	assert_int_equal(o.msg_len[0], 12);
	assert_string_equal(o.msgs[1], "{\"one\":\"piece\"}");
	assert_string_equal(o.msgs[2], "abcdefghijklmnop");
	assert_string_equal(o.msgs[3], "end");
	const lt_ws_stats *s = lt_ws_get_stats(ws);
	assert_int_equal(s->msgs_in, 4);
	assert_int_equal(s->bytes_in, 12 + 15 + 16 + 3);
	assert_int_equal(s->msgs_out, 2);
	assert_int_equal(s->dropped_binary, 2);
	assert_int_equal(s->dropped_oversize, 1);
	assert_int_equal(s->reconnects, 0);
	finish(loop, &p, ws);
	assert_int_equal(o.nstates, 1);  /* nothing after close */
	obs_free(&o);
	lt_loop_free(loop);
}

/* Bug: ws.h promises messages larger than max_message are dropped and counted, but on_receive
 * (ws.c, the `first && final && !ws->rx_skip` fast path) delivers a message that arrives in one
 * frame without comparing its length with max_message; only fragmented messages are checked
 * (rx_append). */
static void test_single_frame_oversize_is_dropped(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, true, "0123456789012345678901234567890123456789"},  /* 40 > 16 */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 16, frames, 2);
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "end");
	assert_int_equal(lt_ws_get_stats(ws)->dropped_oversize, 1);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* Bug: a URL without a path ("ws://host:port" or "wss://host/") gives the request path "//":
 * lws_parse_uri returns path "/" when there is none, and parse_url (ws.c) formats "/%s"
 * around it. */
static void test_url_without_path_requests_slash(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "", 0, frames, 1);
	assert_true(p.handshake_ok);
	assert_string_equal(p.request_line, "GET / HTTP/1.1");
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static void test_peer_closing_is_a_drop(void **state)
{
	(void)state;
	/* the peer answers the handshake, reads the queued messages, sends a close frame */
	static const frame frames[] = {{1, true, "bye"}, {8, true, "\x03\xe8"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "bye");
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1);  /* no_reconnect */
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	assert_int_equal(lt_ws_send(ws, &b), LT_ESTATE);
	lt_buf_free(&b);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_ws_to_loopback_with_insecure_loopback),
		cmocka_unit_test(test_refused_connect_reconnects),
		cmocka_unit_test(test_refused_connect_without_reconnect_closes),
		cmocka_unit_test(test_missing_ca_file),
		cmocka_unit_test(test_missing_ca_file_is_an_error_at_once),
		cmocka_unit_test(test_send_after_close_while_connecting),
		cmocka_unit_test(test_send_after_close_while_reconnecting),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_queue_order_and_reassembly),
		cmocka_unit_test(test_single_frame_oversize_is_dropped),
		cmocka_unit_test(test_url_without_path_requests_slash),
		cmocka_unit_test(test_peer_closing_is_a_drop),
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
