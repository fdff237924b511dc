/* ws_peer.c — see ws_peer.h: recording callbacks, a loop driver and a minimal WebSocket peer
 * on a loopback socket for the src/ws.c tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ws_peer.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "fake_transport.h"

/* ---- recording callbacks ----------------------------------------------------------------- */

void on_state(void *ud, lt_ws_state st, const char *reason)
{
	obs *o = ud;
	int i = o->nstates++;
	if (i < MAX_EV) {
		o->states[i] = st;
		snprintf(o->reasons[i], sizeof o->reasons[0], "%s", reason ? reason : "");
		o->at_us[i] = lt_now_us();
		if (o->ws) {
			o->attempts[i] = lt_ws_attempt(o->ws);
			o->backoffs[i] = lt_ws_get_stats(o->ws)->last_backoff_ms;
			o->fails[i] = lt_ws_last_fail(o->ws);
		}
	}
	if (o->ws && st == LT_WS_OPEN && o->ready_on_open)
		lt_ws_set_ready(o->ws);
	if (o->ws && o->close_on == 1 + (int)st) {
		lt_ws_close(o->ws);
		o->ws = NULL;
	}
}

void on_message(void *ud, const char *msg, size_t len)
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

void obs_free(obs *o)
{
	for (int i = 0; i < o->nmsgs && i < MAX_EV; i++)
		free(o->msgs[i]);
}

const lt_ws_cbs cbs = {on_state, on_message};

int count_state(const obs *o, lt_ws_state st)
{
	int n = 0;
	for (int i = 0; i < o->nstates && i < MAX_EV; i++)
		n += o->states[i] == st;
	return n;
}

/* Index of the first event of state st at or after from, or -1. */
int find_state(const obs *o, lt_ws_state st, int from)
{
	for (int i = from; i < o->nstates && i < MAX_EV; i++)
		if (o->states[i] == st)
			return i;
	return -1;
}

lt_loop *loop_new(void)
{
	lt_loop *loop;
	lt_err err = {0};
	if (lt_loop_new(&loop, &err))
		fail_msg("lt_loop_new: %s", err.msg);
	lws_set_log_level(0, NULL); /* the failures provoked here are expected */
	return loop;
}

lt_ws *ws_new(lt_loop *loop, const lt_ws_opts *opts, obs *o)
{
	lt_ws *ws = NULL;
	lt_err err = {0};
	if (lt_ws_new(loop, opts, &cbs, o, &ws, &err))
		fail_msg("lt_ws_new %s: %s", opts->url, err.msg);
	assert_non_null(ws);
	o->ws = ws;
	return ws;
}

void send_text(lt_ws *ws, const char *text, int want_rc)
{
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, text, strlen(text));
	int rc = lt_ws_send(ws, &b);
	if (rc != want_rc)
		fail_msg("lt_ws_send(%s): %d, want %d", text, rc, want_rc);
	if (rc) { /* refused: the buffer stays with the caller, untouched */
		assert_non_null(b.data);
		assert_int_equal(b.len, strlen(text));
	} else {
		assert_null(b.data);
	}
	lt_buf_free(&b);
}

/* ---- driving the loop ------------------------------------------------------------------- */

/* Service the loop until cond(ctx) holds or ms pass (cond NULL: the whole time), through
 * lt_test_run (fake_transport.h: a short tick bounds every wait). Returns whether cond held. */
bool drive(lt_loop *loop, cond_fn cond, void *ctx, int64_t ms)
{
	lt_test_run(loop, ms, cond, ctx);
	return cond && cond(ctx);
}

bool saw_reconnecting(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) > 0; }
bool saw_closed(void *ctx) { return count_state(ctx, LT_WS_CLOSED) > 0; }
bool saw_open(void *ctx) { return count_state(ctx, LT_WS_OPEN) > 0; }
bool saw_three_retries(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) >= 3; }
bool saw_six_retries(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) >= 6; }

/* ---- a minimal WebSocket peer on a loopback socket (its own thread) ----------------------- */

typedef struct conn {
	int fd;
	SSL *ssl;
	bool trickle; /* plain TCP: every byte in a write and a segment of its own */
} conn;

static ssize_t conn_recv(conn *c, void *buf, size_t n)
{
	if (c->ssl) {
		int got = SSL_read(c->ssl, buf, (int)n);
		return got > 0 ? got : -1;
	}
	return recv(c->fd, buf, n, 0);
}

static bool read_full(conn *c, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t got = conn_recv(c, p, n);
		if (got <= 0)
			return false;
		p += got;
		n -= (size_t)got;
	}
	return true;
}

static bool write_full(conn *c, const void *buf, size_t n)
{
	if (c->ssl)
		return n == 0 || SSL_write(c->ssl, buf, (int)n) == (int)n;
	const char *p = buf;
	while (n) {
		if (c->trickle)
			usleep(300); /* with TCP_NODELAY: the client reads one byte at a time */
		ssize_t put = send(c->fd, p, c->trickle ? 1 : n, MSG_NOSIGNAL);
		if (put <= 0)
			return false;
		p += put;
		n -= (size_t)put;
	}
	return true;
}

/* Read one client frame (masked); returns its opcode or -1. Its masking key goes to key if
 * not NULL. */
static int read_frame(conn *c, char *out, size_t cap, size_t *len, unsigned char key[4])
{
	unsigned char h[2], mask[4], ext[8];
	if (!read_full(c, h, 2))
		return -1;
	uint64_t n = h[1] & 0x7f;
	if (n == 126) {
		if (!read_full(c, ext, 2))
			return -1;
		n = (uint64_t)ext[0] << 8 | ext[1];
	} else if (n == 127) {
		return -1;
	}
	if (!(h[1] & 0x80) || !read_full(c, mask, 4))
		return -1;
	char buf[4096];
	if (n > sizeof buf || !read_full(c, buf, (size_t)n))
		return -1;
	size_t keep = n < cap - 1 ? (size_t)n : cap - 1;
	for (size_t i = 0; i < keep; i++)
		out[i] = (char)(buf[i] ^ mask[i % 4]);
	out[keep] = '\0';
	*len = keep;
	if (key)
		memcpy(key, mask, 4);
	return h[0] & 0x0f;
}

static bool write_frame(conn *c, const frame *f)
{
	size_t n = strlen(f->data);
	unsigned char h[4];
	size_t hl = 2;
	h[0] = (unsigned char)((f->fin ? 0x80 : 0) | (f->opcode & RSV1 ? 0x40 : 0) |
			       (f->opcode & 0x0f));
	if (f->opcode & MASKED) {
		h[1] = (unsigned char)(0x80 | (n - 4)); /* short frames only */
	} else if (n < 126) {
		h[1] = (unsigned char)n;
	} else {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	}
	return write_full(c, h, hl) && write_full(c, f->data, n);
}

/* Read the request head byte by byte (nothing past it) and answer it: 101, or http_answer. */
static bool peer_handshake(peer *p, conn *c)
{
	char req[4096];
	size_t n = 0;
	while (n < sizeof req - 1 && !memmem(req, n, "\r\n\r\n", 4)) {
		if (conn_recv(c, req + n, 1) != 1)
			return false;
		n++;
	}
	req[n] = '\0';
	char *eol = strstr(req, "\r\n");
	char *key = strcasestr(req, "\r\nSec-WebSocket-Key:");
	if (!eol || !key)
		return false;
	snprintf(p->request_line, sizeof p->request_line, "%.*s", (int)(eol - req), req);
	if (p->http_answer) {
		char resp[256];
		int rl = snprintf(resp, sizeof resp, "%s\r\nContent-Length: 0\r\n\r\n",
				  p->http_answer);
		write_full(c, resp, (size_t)rl);
		return false;
	}
	key += strlen("\r\nSec-WebSocket-Key:");
	while (*key == ' ')
		key++;
	char kg[128];
	int kl = snprintf(kg, sizeof kg, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
			  (int)strcspn(key, "\r\n "), key);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(kg, (size_t)kl, md, &mdlen, EVP_sha1(), NULL))
		return false;
	unsigned char acc[64];
	EVP_EncodeBlock(acc, md, (int)mdlen);
	char resp[256];
	int rl = snprintf(resp, sizeof resp,
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			  p->accept ? p->accept : (const char *)acc);
	return write_full(c, resp, (size_t)rl);
}

/* Wait for the client's close frame (answer it) or EOF, at most ms (0: until then). */
static void peer_wait_close(peer *p, conn *c, int ms)
{
	int64_t end = lt_now_us() + (int64_t)ms * 1000;
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (atomic_load(&p->stop) || (ms && lt_now_us() >= end))
			return;
		if (!c->ssl || !SSL_pending(c->ssl))
			if (poll(&pfd, 1, 20) == 0)
				continue;
		char buf[128];
		size_t len;
		int op = read_frame(c, buf, sizeof buf, &len, NULL);
		if (op < 0)
			return;
		if (op == 10) {
			memcpy(p->pong, buf, len + 1);
			atomic_fetch_add(&p->pongs, 1);
		}
		if (op == 8) {
			atomic_store(&p->close_in,
				     len >= 2 ? (unsigned char)buf[0] << 8 | (unsigned char)buf[1]
					      : 1005);
			static const unsigned char close_frame[] = {0x88, 0x02, 0x03, 0xe8};
			write_full(c, close_frame, sizeof close_frame);
			return;
		}
	}
}

static void peer_serve(peer *p, conn *c, int k)
{
	if (!peer_handshake(p, c))
		return;
	p->handshake_ok = true;
	if (k < p->flap_first)
		return; /* a venue that accepts and drops at once */
	while (p->nin < p->want_in && p->nin < MAX_IN) {
		size_t len;
		if (read_frame(c, p->in[p->nin], sizeof p->in[0], &len, p->in_key[p->nin]) != 1)
			return;
		p->nin++;
		atomic_store(&p->got, p->nin);
	}
	if (p->trickle && !c->ssl) {
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		c->trickle = true;
	}
	for (size_t i = 0; i < p->nframes; i++)
		if (!write_frame(c, &p->frames[i]))
			return;
	c->trickle = false;
	if (p->rawlen && !write_full(c, p->raw, p->rawlen))
		return;
	static const frame hb = {1, true, "{\"method\":\"heartbeat\"}"}, ping = {9, true, "hb"};
	for (int i = 0; i < p->chatter_n && !atomic_load(&p->stop); i++) {
		usleep((useconds_t)p->chatter_ms * 1000);
		atomic_store(&p->last_sent_us, lt_now_us()); /* before: the client may be faster */
		if (!write_frame(c, p->chatter_ping ? &ping : &hb))
			return;
	}
	peer_wait_close(p, c, p->hold_ms);
}

static void *peer_main(void *arg)
{
	peer *p = arg;
	int conns = p->conns ? p->conns : 1;
	for (int k = 0; k < conns && !atomic_load(&p->stop); k++) {
		struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
		int64_t give_up = lt_now_us() + 5000000;
		int r = 0;
		while (!atomic_load(&p->stop) && lt_now_us() < give_up &&
		       (r = poll(&pfd, 1, 20)) == 0)
			;
		if (r != 1)
			break;
		conn c = {accept(p->lfd, NULL, NULL), NULL, false};
		if (c.fd < 0)
			break;
		atomic_fetch_add(&p->accepted, 1);
		struct timeval tv = {.tv_sec = 3};
		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (p->tls) {
			c.ssl = SSL_new(p->tls);
			SSL_set_fd(c.ssl, c.fd);
			if (SSL_accept(c.ssl) == 1)
				peer_serve(p, &c, k);
			SSL_free(c.ssl);
		} else {
			peer_serve(p, &c, k);
		}
		close(c.fd);
	}
	atomic_store(&p->done, true);
	return NULL;
}

void peer_start(peer *p)
{
	atomic_init(&p->done, false);
	atomic_init(&p->stop, false);
	atomic_init(&p->accepted, 0);
	atomic_init(&p->close_in, 0);
	atomic_init(&p->pongs, 0);
	atomic_init(&p->last_sent_us, 0);
	atomic_init(&p->got, 0);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	assert_int_equal(inet_pton(AF_INET, p->host ? p->host : "127.0.0.1", &a.sin_addr), 1);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
	p->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

bool peer_done(void *ctx) { return atomic_load(&((peer *)ctx)->done); }
bool peer_got_close(void *ctx) { return atomic_load(&((peer *)ctx)->close_in) != 0; }
bool peer_got_pong(void *ctx) { return atomic_load(&((peer *)ctx)->pongs) > 0; }

/* Close the client, stop the peer and wait for both. */
void finish(lt_loop *loop, peer *p, lt_ws *ws)
{
	lt_ws_close(ws);
	atomic_store(&p->stop, true);
	assert_true(drive(loop, peer_done, p, 5000));
	pthread_join(p->th, NULL);
	close(p->lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
}

SSL_CTX *venue_tls(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	if (SSL_CTX_use_certificate_chain_file(ctx, LT_CERT_DIR "/server.pem") != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, LT_CERT_DIR "/server.key", SSL_FILETYPE_PEM) != 1)
		fail_msg("cannot load %s/server.pem and server.key (make certs)", LT_CERT_DIR);
	return ctx;
}

bool saw_message(void *ctx)
{
	until_msg *u = ctx;
	for (int i = 0; i < u->o->nmsgs && i < MAX_EV; i++)
		if (strcmp(u->o->msgs[i], u->text) == 0)
			return true;
	return count_state(u->o, LT_WS_CLOSED) > 0;
}

lt_ws *connect_peer(lt_loop *loop, peer *p, obs *o, const char *path, lt_ws_opts opts)
{
	char url[128];
	snprintf(url, sizeof url, "ws%s://%s:%d%s", p->tls ? "s" : "",
		 p->host ? p->host : "127.0.0.1", p->port, path);
	opts.url = url;
	opts.insecure_loopback = !p->tls;
	return ws_new(loop, &opts, o);
}

/* Connect to a peer that plays frames, with two messages queued before the connection opens;
 * run until the message "end" arrives. The caller checks obs and stats, then calls finish. */
lt_ws *run_peer(lt_loop *loop, peer *p, obs *o, const char *path, size_t max_message,
		const frame *frames, size_t nframes)
{
	memset(p, 0, sizeof *p);
	p->frames = frames;
	p->nframes = nframes;
	p->want_in = 2;
	peer_start(p);
	lt_ws *ws = connect_peer(loop, p, o, path,
				 (lt_ws_opts){.max_message = max_message, .no_reconnect = true});
	send_text(ws, "{\"first\":1}", 0);
	send_text(ws, "{\"second\":2}", 0);
	until_msg u = {o, "end"};
	drive(loop, saw_message, &u, 3000);
	return ws;
}
