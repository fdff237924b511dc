/* raw_client.c — the benchmark's measuring stick: a wss client without a WebSocket library
 * (blocking socket, OpenSSL, the WebSocket frame header read and written here), doing the same
 * handler work as the other peers (bench/ticker_fields.h: yajl parse of every message, best bid
 * and ask). What this client reaches is the machine's limit for that work; it is a benchmark
 * peer, not product code (the runtime uses libraries for framing).
 *
 *     raw_client CA_FILE PORT ROUNDTRIPS [react]
 *
 * Connects to wss://127.0.0.1:PORT/ws/api/v2 (TLS peer verified against CA_FILE, IP checked;
 * the opening handshake's Sec-WebSocket-Accept checked with OpenSSL's SHA-1 and base64), then:
 *   1. firehose: public/subscribe to ticker.BTC-PERPETUAL.raw; parses every notification until
 *      the end marker, timed from the subscribe send to the end marker;
 *   2. round trip: ROUNDTRIPS awaited public/test calls, each timed from before its write to
 *      after its answer is parsed;
 *   3. react: private/subscribe to ticker.BTC-PERPETUAL.100ms; for each ticker, sends the same
 *      order as the other peers, {"jsonrpc":"2.0","id":N,"method":"private/buy","params":
 *      {"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","label":"bench",
 *      "price":BEST_BID,"post_only":true}}, and waits for its answer (the server times it).
 * Prints "RESULT key=value ..." lines like bench/bare_client.c; exit 1 on any failure, named.
 * Frames: text/binary/continuation, ping answered with pong, a close from the server fails the
 * run; client frames masked with a key from RAND_bytes; messages over BR_MAX_MSG fail the run;
 * at the end it sends a close frame (1000) and TLS close_notify.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ticker_fields.h"

#define BR_BUF (512 * 1024)     /* receive buffer */
#define BR_MAX_MSG (256 * 1024) /* largest message accepted */
#define BR_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct br_conn {
	SSL *ssl;
	unsigned char *buf; /* received bytes buf[pos..len) not yet consumed */
	size_t pos, len;
	unsigned char *msg; /* a message reassembled from fragments */
	size_t msg_len;
} br_conn;

static int64_t br_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void br_die(const char *what)
{
	fprintf(stderr, "raw_client: %s\n", what);
	exit(1);
}

static void br_write_all(br_conn *c, const void *p, size_t n)
{
	if (SSL_write(c->ssl, p, (int)n) != (int)n)
		br_die("TLS write failed");
}

/* Read more bytes into the buffer (compacting it first); dies on EOF or error. */
static void br_fill(br_conn *c)
{
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == BR_BUF)
		br_die("frame larger than the receive buffer");
	int n = SSL_read(c->ssl, c->buf + c->len, (int)(BR_BUF - c->len));
	if (n <= 0)
		br_die("connection closed or TLS read failed");
	c->len += (size_t)n;
}

/* Send one masked client text frame. */
static void br_send_text(br_conn *c, const char *text, size_t n)
{
	unsigned char f[16 + 4096];
	size_t h = 0;
	if (n > 4096)
		br_die("request too long");
	f[h++] = 0x81;
	if (n < 126) {
		f[h++] = (unsigned char)(0x80 | n);
	} else {
		f[h++] = 0x80 | 126;
		f[h++] = (unsigned char)(n >> 8);
		f[h++] = (unsigned char)n;
	}
	unsigned char *key = f + h;
	if (RAND_bytes(key, 4) != 1)
		br_die("RAND_bytes failed");
	h += 4;
	for (size_t i = 0; i < n; i++)
		f[h + i] = (unsigned char)text[i] ^ key[i & 3];
	br_write_all(c, f, h + n);
}

static void br_send_control(br_conn *c, unsigned char op, const unsigned char *p, size_t n)
{
	unsigned char f[6 + 125];
	f[0] = (unsigned char)(0x80 | op);
	f[1] = (unsigned char)(0x80 | n);
	if (RAND_bytes(f + 2, 4) != 1)
		br_die("RAND_bytes failed");
	for (size_t i = 0; i < n; i++)
		f[6 + i] = p[i] ^ f[2 + (i & 3)];
	br_write_all(c, f, 6 + n);
}

/* The next complete message: *text points into the receive buffer or the reassembly buffer
 * and stays valid until the next call. */
static void br_next_message(br_conn *c, const unsigned char **text, size_t *n)
{
	c->msg_len = 0;
	for (;;) {
		while (c->len - c->pos < 2)
			br_fill(c);
		const unsigned char *h = c->buf + c->pos;
		size_t avail = c->len - c->pos, hl = 2;
		uint64_t pl = h[1] & 0x7f;
		if (h[1] & 0x80)
			br_die("masked frame from the server");
		if (pl == 126)
			hl = 4;
		else if (pl == 127)
			hl = 10;
		if (avail < hl) {
			br_fill(c);
			continue;
		}
		if (pl == 126)
			pl = (uint64_t)h[2] << 8 | h[3];
		else if (pl == 127)
			for (int i = 0; i < 8; i++)
				pl = pl << 8 | h[2 + i];
		if (pl > BR_MAX_MSG)
			br_die("message over the size cap");
		if (avail < hl + pl) {
			br_fill(c);
			continue;
		}
		bool fin = h[0] & 0x80;
		unsigned op = h[0] & 0x0f;
		const unsigned char *p = h + hl;
		c->pos += hl + (size_t)pl;
		if (op == 0x9) { /* ping */
			if (pl > 125)
				br_die("ping too long");
			unsigned char copy[125];
			memcpy(copy, p, (size_t)pl);
			br_send_control(c, 0xA, copy, (size_t)pl);
			continue;
		}
		if (op == 0xA)
			continue;
		if (op == 0x8)
			br_die("the server closed the connection");
		if (op != 0x0 && op != 0x1 && op != 0x2)
			br_die("unknown frame opcode");
		if (fin && c->msg_len == 0 && op != 0x0) {
			*text = p;
			*n = (size_t)pl;
			return;
		}
		if (c->msg_len + pl > BR_MAX_MSG)
			br_die("message over the size cap");
		memcpy(c->msg + c->msg_len, p, (size_t)pl);
		c->msg_len += (size_t)pl;
		if (fin) {
			*text = c->msg;
			*n = c->msg_len;
			return;
		}
	}
}

/* The next message, parsed (dies on invalid JSON). */
static void br_next_parsed(br_conn *c, bt_msg *m)
{
	const unsigned char *t;
	size_t n;
	br_next_message(c, &t, &n);
	if (bt_parse(t, n, m))
		br_die("invalid JSON from the server");
}

/* TCP connect, TLS with verification, the opening handshake. */
static void br_connect(br_conn *c, const char *ca_file, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa))
		br_die("cannot connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
		br_die("cannot load the CA file");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (!c->ssl || !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1") ||
	    !SSL_set_fd(c->ssl, fd) || SSL_connect(c->ssl) != 1 ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		br_die("TLS handshake or certificate verification failed");

	unsigned char nonce[16], key[32], want[64], sha[SHA_DIGEST_LENGTH];
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		br_die("RAND_bytes failed");
	EVP_EncodeBlock(key, nonce, sizeof nonce);
	char req[512], cat[128];
	int n = snprintf(req, sizeof req,
			 "GET /ws/api/v2 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 port, key);
	br_write_all(c, req, (size_t)n);
	snprintf(cat, sizeof cat, "%s%s", key, BR_WS_GUID);
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	EVP_EncodeBlock(want, sha, sizeof sha);

	unsigned char *end = NULL;
	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		br_fill(c);
	*end = '\0';
	char *resp = (char *)c->buf;
	char *acc = strcasestr(resp, "\r\nSec-WebSocket-Accept:");
	if (strncmp(resp, "HTTP/1.1 101", 12) || !acc)
		br_die("the server refused the WebSocket upgrade");
	acc += strlen("\r\nSec-WebSocket-Accept:");
	while (*acc == ' ')
		acc++;
	if (strncmp(acc, (const char *)want, strlen((const char *)want)))
		br_die("wrong Sec-WebSocket-Accept");
	c->pos = (size_t)(end + 4 - c->buf);
}

static int br_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t br_quantile(const int64_t *v, long n, double q)
{
	long i = (long)(q * (double)n + 0.999999) - 1;
	return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

/* Wait for the reply to the request just sent (notifications before it are parsed too). */
static void br_await_reply(br_conn *c)
{
	bt_msg m;
	do
		br_next_parsed(c, &m);
	while (!m.is_reply);
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "react") == 0)) {
		fprintf(stderr, "usage: %s CA_FILE PORT ROUNDTRIPS [react]\n", argv[0]);
		return 2;
	}
	int port = atoi(argv[2]);
	long rts = atol(argv[3]);
	if (port <= 0 || port > 65535 || rts < 0)
		return 2;
	br_conn c;
	memset(&c, 0, sizeof c);
	c.buf = malloc(BR_BUF);
	c.msg = malloc(BR_MAX_MSG);
	int64_t *rt_us = calloc(rts > 0 ? (size_t)rts : 1, sizeof *rt_us);
	if (!c.buf || !c.msg || !rt_us)
		return 1;
	br_connect(&c, argv[1], port);

	/* 1. firehose */
	static const char sub[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/subscribe\","
				  "\"params\":{\"channels\":[\"ticker.BTC-PERPETUAL.raw\"]}}";
	int64_t t0 = br_now_us();
	br_send_text(&c, sub, sizeof sub - 1);
	unsigned long msgs = 0;
	double spread = 0;
	bt_msg m;
	for (;;) {
		br_next_parsed(&c, &m);
		if (m.end)
			break;
		if (m.have_bid && m.have_ask) {
			spread += m.ask - m.bid;
			msgs++;
		}
	}
	double secs = (double)(br_now_us() - t0) / 1e6;
	if (!(spread > 0))
		br_die("the handler saw no spread");
	printf("RESULT firehose msgs=%lu secs=%.3f rate=%.0f\n", msgs, secs,
	       secs > 0 ? (double)msgs / secs : 0.0);

	/* 2. round trips */
	long id = 2;
	char req[512];
	for (long i = 0; i < rts; i++) {
		int n = snprintf(
			req, sizeof req,
			"{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"public/test\",\"params\":{}}",
			id++);
		int64_t t = br_now_us();
		br_send_text(&c, req, (size_t)n);
		br_await_reply(&c);
		rt_us[i] = br_now_us() - t;
	}
	if (rts > 0) {
		qsort(rt_us, (size_t)rts, sizeof *rt_us, br_cmp);
		printf("RESULT roundtrip n=%ld p50_us=%lld p99_us=%lld\n", rts,
		       (long long)br_quantile(rt_us, rts, 0.50),
		       (long long)br_quantile(rt_us, rts, 0.99));
	}

	/* 3. reactions */
	if (argc == 5) {
		int n = snprintf(req, sizeof req,
				 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":"
				 "\"private/subscribe\",\"params\":{\"channels\":"
				 "[\"ticker.BTC-PERPETUAL.100ms\"]}}",
				 id++);
		br_send_text(&c, req, (size_t)n);
		long orders = 0;
		for (;;) {
			br_next_parsed(&c, &m);
			if (m.end)
				break;
			if (m.is_reply || !m.have_bid)
				continue;
			n = snprintf(
				req, sizeof req,
				"{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":"
				"\"private/buy\",\"params\":{\"instrument_name\":\"BTC-PERPETUAL\","
				"\"amount\":10,\"type\":\"limit\",\"label\":\"bench\",\"price\":%."
				"17g,"
				"\"post_only\":true}}",
				id++, m.bid);
			br_send_text(&c, req, (size_t)n);
			br_await_reply(&c);
			orders++;
		}
		printf("RESULT react orders=%ld\n", orders);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT rss_kib=%ld\n", ru.ru_maxrss);
	static const unsigned char normal[2] = {0x03, 0xe8}; /* close status 1000 */
	br_send_control(&c, 0x8, normal, sizeof normal);
	SSL_shutdown(c.ssl);
	SSL_free(c.ssl);
	free(c.buf);
	free(c.msg);
	free(rt_us);
	return 0;
}
