/* ws_test.c — src/ws.c and src/ws_rules.c.
 *
 * Pure rules first: URL parsing and the wss/loopback rule, the backoff delay, the wording of
 * connect failures and of the venue's close frames. Then the connection itself, on loopback
 * only: refused connects, a name that does not resolve, option and CA-file errors, closing from
 * inside a callback, and, against a minimal WebSocket peer run by a thread of this test (plain
 * or TLS with the built-in venue's certificate), the handshake path, the send queue's order and
 * bound, reassembly, binary and oversize drops, the venue's close code, dead-link detection, and
 * the backoff against a venue that accepts and drops at once. Nothing here leaves 127.0.0.1.
 *
 * Timing margins are meant to hold under ASan on a loaded 2-core machine: waits are bounded by
 * seconds, and lower bounds only assert what the code guarantees (a timer never fires early).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
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
#include "utf8.h"
#include "ws_rules.h"

#ifndef LT_CERT_DIR
#define LT_CERT_DIR "build/sim"
#endif

/* ---- recording callbacks ----------------------------------------------------------------- */

#define MAX_EV 64

typedef struct obs {
	lt_ws_state states[MAX_EV];
	char reasons[MAX_EV][200];
	int attempts[MAX_EV], backoffs[MAX_EV]; /* lt_ws_attempt, last_backoff_ms at the event */
	lt_ws_fail fails[MAX_EV];
	int64_t at_us[MAX_EV];
	int nstates;
	char *msgs[MAX_EV];
	size_t msg_len[MAX_EV];
	int nmsgs;
	lt_ws *ws;          /* set by the test once lt_ws_new returned */
	bool ready_on_open; /* call lt_ws_set_ready at every OPEN */
	int close_on;       /* 1 + state: call lt_ws_close at the first event of that state */
} obs;

static void on_state(void *ud, lt_ws_state st, const char *reason)
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

/* Index of the first event of state st at or after from, or -1. */
static int find_state(const obs *o, lt_ws_state st, int from)
{
	for (int i = from; i < o->nstates && i < MAX_EV; i++)
		if (o->states[i] == st)
			return i;
	return -1;
}

static lt_loop *loop_new(void)
{
	lt_loop *loop;
	lt_err err = {0};
	if (lt_loop_new(&loop, &err))
		fail_msg("lt_loop_new: %s", err.msg);
	lws_set_log_level(0, NULL); /* the failures provoked here are expected */
	return loop;
}

static lt_ws *ws_new(lt_loop *loop, const lt_ws_opts *opts, obs *o)
{
	lt_ws *ws = NULL;
	lt_err err = {0};
	if (lt_ws_new(loop, opts, &cbs, o, &ws, &err))
		fail_msg("lt_ws_new %s: %s", opts->url, err.msg);
	assert_non_null(ws);
	o->ws = ws;
	return ws;
}

/* A loopback port nothing listens on (bound, then released). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void send_text(lt_ws *ws, const char *text, int want_rc)
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
static bool saw_open(void *ctx) { return count_state(ctx, LT_WS_OPEN) > 0; }
static bool saw_three_retries(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) >= 3; }
static bool saw_six_retries(void *ctx) { return count_state(ctx, LT_WS_RECONNECTING) >= 6; }

/* ---- URL rules --------------------------------------------------------------------------- */

static void expect_einval(lt_loop *loop, const char *url, bool insecure_loopback)
{
	obs o = {0};
	lt_ws_opts opts = {.url = url, .insecure_loopback = insecure_loopback};
	lt_ws *ws = (lt_ws *)&o; /* must be reset to NULL */
	lt_err err = {0};
	int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
	if (rc != LT_EINVAL)
		fail_msg("%s: got %d, want LT_EINVAL", url ? url : "(null)", rc);
	assert_null(ws);
	assert_int_equal(err.code, LT_EINVAL);
	if (strncmp(err.msg, "url:", 4) != 0)
		fail_msg("%s: message '%s' does not start with 'url:'", url ? url : "(null)",
			 err.msg);
	assert_int_equal(o.nstates, 0);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
}

static void test_url_rules(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	static const char *const refused[] = {
		"http://x",
		"https://127.0.0.1/ws",
		"WSS://example.com/",
		"wss:/example.com/",
		"wss://",
		"wss:///path",
		"",
		"wss://exa mple.com/",
		"wss://example.com/a b",
		"wss://user@example.com/",
		"wss://127.0.0.1@evil.com/",
		"wss://+/tmp/sock",
		"wss://example.com:0/",
		"wss://example.com:65536/",
		"wss://example.com:80x/",
		"wss://example.com:/",
		"wss://[::1/",
		"wss://[zz]/",
		"wss://[::1]x/",
		"wss://ex%61mple.com/",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		expect_einval(loop, refused[i], true);
	expect_einval(loop, NULL, false);
	expect_einval(loop, "ws://example.com/x", false);
	expect_einval(loop, "ws://example.com/x", true); /* plain ws refused off loopback */
	expect_einval(loop, "ws://10.0.0.1:80/x", true);
	expect_einval(loop, "ws://127.0.0.1:9/x", false); /* loopback needs the flag */
	expect_einval(loop, "ws://localhost:9/x", false);
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

/* The loopback rule parses the host: a numeric IPv4 address in 127/8, ::1, or "localhost";
 * names that only begin like one are remote hosts. Each case is checked through all three
 * doors: lt_ws_host_is_loopback, lt_ws_url_is_loopback, and whether ws:// is accepted. */
static void test_loopback_rule(void **state)
{
	(void)state;
	static const struct {
		const char *host;
		bool loopback;
	} cases[] = {
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"127.1.2.3", true},
		{"localhost", true},
		{"LocalHost", true},
		{"[::1]", true},
		{"127.attacker.example", false},
		{"127.0.0.1.evil.com", false},
		{"128.0.0.1", false},
		{"126.255.255.255", false},
		{"localhost.evil.com", false},
		{"localhost.", false},
		{"mylocalhost", false},
		{"127.1", false},
		{"0x7f.0.0.1", false},
		{"[::2]", false},
		{"[::ffff:127.0.0.1]", false},
		{"10.0.0.1", false},
		{"example.com", false},
		{"127.0.0.1x", false},
	};
	lt_loop *loop = loop_new();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *h = cases[i].host;
		char url[128];
		if (lt_ws_host_is_loopback(h) != cases[i].loopback)
			fail_msg("lt_ws_host_is_loopback(%s) != %d", h, cases[i].loopback);
		snprintf(url, sizeof url, "wss://%s:8443/ws", h);
		if (lt_ws_url_is_loopback(url) != cases[i].loopback)
			fail_msg("lt_ws_url_is_loopback(%s) != %d", url, cases[i].loopback);
		snprintf(url, sizeof url, "ws://%s:9/ws", h);
		obs o = {0};
		lt_ws_opts opts = {.url = url, .insecure_loopback = true};
		lt_ws *ws = NULL;
		lt_err err = {0};
		int rc = lt_ws_new(loop, &opts, &cbs, &o, &ws, &err);
		if (rc != (cases[i].loopback ? 0 : LT_EINVAL))
			fail_msg("%s with insecure_loopback: rc %d (%s)", url, rc, err.msg);
		lt_ws_close(ws);
	}
	assert_true(lt_ws_host_is_loopback("::1"));
	assert_false(lt_ws_host_is_loopback(NULL));
	assert_false(lt_ws_url_is_loopback(NULL));
	assert_false(lt_ws_url_is_loopback("ws://127.0.0.1@evil.com/"));
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

static void test_url_parts(void **state)
{
	(void)state;
	static const struct {
		const char *url, *host, *path;
		int port;
		bool tls;
	} cases[] = {
		{"wss://example.com", "example.com", "/", 443, true},
		{"wss://example.com/", "example.com", "/", 443, true},
		{"wss://test.deribit.com/ws/api/v2", "test.deribit.com", "/ws/api/v2", 443, true},
		{"wss://127.0.0.1:8443/ws/api/v2", "127.0.0.1", "/ws/api/v2", 8443, true},
		{"ws://localhost:9", "localhost", "/", 9, false},
		{"ws://127.0.0.1?x=1", "127.0.0.1", "/?x=1", 80, false},
		{"wss://[::1]:8443/a#frag", "::1", "/a", 8443, true},
		{"wss://h:65535/#", "h", "/", 65535, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lt_ws_url u;
		lt_err err = {0};
		if (lt_ws_url_parse(cases[i].url, true, &u, &err))
			fail_msg("%s: %s", cases[i].url, err.msg);
		assert_string_equal(u.host, cases[i].host);
		assert_string_equal(u.path, cases[i].path);
		assert_int_equal(u.port, cases[i].port);
		assert_int_equal(u.tls, cases[i].tls);
	}
}

static void test_ws_to_loopback_with_insecure_loopback(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	static const char *const urls[] = {"ws://127.0.0.1:9/x", "ws://localhost:9/x",
					   "ws://127.1.2.3:9/", "ws://[::1]:9/x"};
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		obs o = {0};
		lt_ws_opts opts = {.url = urls[i], .insecure_loopback = true};
		lt_ws *ws = ws_new(loop, &opts, &o);
		assert_int_equal(*lt_loop_conn_count(loop), 1);
		assert_int_equal(lt_ws_get_state(ws), LT_WS_CONNECTING);
		assert_int_equal(o.nstates, 0); /* nothing is called back from lt_ws_new */
		lt_ws_close(ws);
		/* nothing reaches the owner after close */
		drive(loop, NULL, NULL, 50);
		assert_int_equal(o.nstates, 0);
		assert_int_equal(*lt_loop_conn_count(loop), 0);
	}
	lt_loop_free(loop);
}

static void test_bad_options(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	lt_ws_opts base = {.url = "wss://127.0.0.1:9/ws"};
	lt_ws_opts bad[4] = {base, base, base, base};
	bad[0].dead_after_ms = -1;
	bad[1].backoff_base_ms = -1;
	bad[2].backoff_cap_ms = -5;
	bad[3].stable_ms = -1;
	for (int i = 0; i < 4; i++) {
		lt_ws *ws = (lt_ws *)&bad[i];
		lt_err err = {0};
		assert_int_equal(lt_ws_new(loop, &bad[i], &cbs, NULL, &ws, &err), LT_EINVAL);
		assert_null(ws);
		assert_non_null(strstr(err.msg, ">= 0"));
	}
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

/* ---- backoff (pure) ---------------------------------------------------------------------- */

static int64_t bound(int n, int base, int cap)
{
	return n < 32 && ((int64_t)base << n) < cap ? (int64_t)base << n : cap;
}

/* Full jitter: every delay lies in [0, min(cap, base*2^n)], the draws cover that range (so a
 * constant or half-jittered delay fails), and the range doubles with n up to the cap. */
static void test_backoff_delay(void **state)
{
	(void)state;
	uint64_t rng = 0x1234567887654321ull;
	const int base = 250, cap = 30000, samples = 2000;
	int prev_max = -1;
	for (int n = 0; n < 12; n++) {
		int lo = INT32_MAX, hi = -1;
		int64_t b = bound(n, base, cap);
		for (int i = 0; i < samples; i++) {
			int d = lt_ws_backoff_ms(n, base, cap, &rng);
			if (d < 0 || d > b)
				fail_msg("n=%d: delay %d outside [0, %lld]", n, d, (long long)b);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		if (lo > b / 10 || hi < b * 9 / 10)
			fail_msg("n=%d: draws span [%d, %d] of [0, %lld]", n, lo, hi, (long long)b);
		if (b < cap)
			assert_true(hi > prev_max); /* grows while below the cap */
		prev_max = hi;
	}
	/* large n, large base and cap: saturates at the cap, no overflow (UBSan watches) */
	static const int ns[] = {30, 31, 32, 33, 62, 63, 64, 1000, INT32_MAX};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		int d = lt_ws_backoff_ms(ns[i], INT32_MAX / 2, INT32_MAX, &rng);
		assert_true(d >= 0);
		d = lt_ws_backoff_ms(ns[i], 250, 30000, &rng);
		assert_true(d >= 0 && d <= 30000);
	}
	assert_int_equal(lt_ws_backoff_ms(3, 0, 1000, &rng), 0);
}

/* ---- failure and close wording (pure) ---------------------------------------------------- */

static void test_describe_fail(void **state)
{
	(void)state;
	static const char untrusted[] = "connect SSL err 1: error:00000001:lib(0)::reason(1)";
	static const struct {
		const char *lws;
		long verify;
		unsigned http;
		int64_t elapsed_ms;
		lt_ws_fail want;
		const char *words;
	} cases[] = {
		{"Unable to connect", -1, 0, 2, LT_WS_FAIL_REFUSED, "connection refused"},
		{"Unable to connect", -1, 0, 20000, LT_WS_FAIL_TIMEOUT, "timed out"},
		{untrusted, 20, 0, 5, LT_WS_FAIL_TLS,
		 "certificate not trusted (unable to get local issuer certificate; pass ca_file"},
		{untrusted, 18, 0, 5, LT_WS_FAIL_TLS, "certificate not trusted (self"},
		{untrusted, 62, 0, 5, LT_WS_FAIL_TLS, "certificate does not name this host"},
		{untrusted, 10, 0, 5, LT_WS_FAIL_TLS, "certificate expired"},
		{"connect SYSCALL 0", 0, 0, 5, LT_WS_FAIL_TLS, "TLS handshake failed (connect"},
		{"Timed out waiting SSL", 0, 0, 20000, LT_WS_FAIL_TIMEOUT, "timed out"},
		{"HS: ws upgrade response not 101", 0, 429, 5, LT_WS_FAIL_HANDSHAKE,
		 "handshake failed: HTTP 429, too many connections"},
		{"HS: ws upgrade response not 101", -1, 503, 5, LT_WS_FAIL_HANDSHAKE,
		 "handshake failed: HTTP 503 instead of 101"},
		{"HS: Accept hash wrong", -1, 101, 5, LT_WS_FAIL_HANDSHAKE,
		 "handshake failed (HS: Accept hash wrong)"},
		{"Peer hung up", -1, 0, 5, LT_WS_FAIL_HANDSHAKE,
		 "handshake failed: the venue closed"},
		{"ipv6 lws_getaddrinfo46 failed", -1, 0, 5, LT_WS_FAIL_DNS, "host not found"},
		{"closed before established", -1, 0, 30000, LT_WS_FAIL_TIMEOUT, "timed out"},
		{"closed before established", -1, 0, 5, LT_WS_FAIL_OTHER, "connect failed (closed"},
		{NULL, -1, 0, 5, LT_WS_FAIL_OTHER, "connect failed (no detail"},
		{"weird\x01\xff text", -1, 0, 5, LT_WS_FAIL_OTHER, "connect failed (weird?? text)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[200];
		memset(out, 'x', sizeof out);
		const char *t = cases[i].lws;
		lt_ws_fail f =
			lt_ws_describe_fail(t, t ? strlen(t) + 1 : 0, cases[i].verify,
					    cases[i].http, cases[i].elapsed_ms, out, sizeof out);
		if (f != cases[i].want || strncmp(out, cases[i].words, strlen(cases[i].words)))
			fail_msg("case %zu (%s): got %d '%s', want %d '%s...'", i, t ? t : "NULL",
				 f, out, cases[i].want, cases[i].words);
		for (const char *p = out; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
	char tiny[8];
	lt_ws_describe_fail("Unable to connect", 17, -1, 0, 1, tiny, sizeof tiny);
	assert_int_equal(strlen(tiny), 7);
}

static void test_close_reason_wording(void **state)
{
	(void)state;
	char out[200];
	lt_ws_close_reason((const unsigned char *)"\x0f\xa0maintenance", 13, out, sizeof out);
	assert_string_equal(out, "closed by the venue (code 4000: maintenance)");
	lt_ws_close_reason((const unsigned char *)"\x03\xe8", 2, out, sizeof out);
	assert_string_equal(out, "closed by the venue (code 1000)");
	lt_ws_close_reason(NULL, 0, out, sizeof out);
	assert_string_equal(out, "closed by the venue (no close code)");
	lt_ws_close_reason((const unsigned char *)"\x03", 1, out, sizeof out);
	assert_string_equal(out, "closed by the venue (no close code)");
	static const unsigned char raw[] = {0x0f, 0xa1, 'a', 0x00, '\n', 0xc3, 0xa9, 'b', 0x7f};
	lt_ws_close_reason(raw, sizeof raw, out, sizeof out);
	assert_string_equal(out, "closed by the venue (code 4001: a?"
				 "???b?)");
	/* trailing NUL padding is not shown; 0x7f is not printable */
	unsigned char big[2 + 125];
	big[0] = 0x0f;
	big[1] = 0xa0;
	memset(big + 2, 'r', sizeof big - 2);
	lt_ws_close_reason(big, sizeof big, out, sizeof out);
	assert_true(strlen(out) <= 120);
	assert_non_null(strstr(out, "rrr...)"));
}

/* ---- refused connects, names, CA files ---------------------------------------------------- */

static void test_refused_connect_reconnects(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	char url[64];
	snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", free_port());
	lt_ws_opts opts = {.url = url, .backoff_base_ms = 10, .backoff_cap_ms = 40};
	lt_ws *ws = ws_new(loop, &opts, &o);
	assert_true(drive(loop, saw_reconnecting, &o, 3000));
	assert_int_equal(o.states[0], LT_WS_RECONNECTING);
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_REFUSED);
	assert_int_equal(o.fails[0], LT_WS_FAIL_REFUSED);
	assert_true(strncmp(o.reasons[0], "connection refused", 18) == 0);
	/* the backoff runs out and it tries again, and again, each retry numbered */
	assert_true(drive(loop, saw_three_retries, &o, 3000));
	assert_int_equal(count_state(&o, LT_WS_OPEN), 0);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 0);
	assert_true(count_state(&o, LT_WS_CONNECTING) >= 2);
	for (int i = 0, k = 0; i < o.nstates && i < MAX_EV; i++) {
		/* states alternate: never two RECONNECTINGs in a row */
		if (i)
			assert_false(o.states[i] == LT_WS_RECONNECTING &&
				     o.states[i - 1] == LT_WS_RECONNECTING);
		if (o.states[i] != LT_WS_RECONNECTING)
			continue;
		assert_int_equal(o.attempts[i], ++k);
		assert_true(o.backoffs[i] >= 0 && o.backoffs[i] <= bound(k - 1, 10, 40));
	}
	assert_true(lt_ws_get_stats(ws)->reconnects >= 3);
	assert_int_equal(lt_ws_get_stats(ws)->msgs_in, 0);
	lt_ws_close(ws);
	int before = o.nstates;
	drive(loop, NULL, NULL, 100); /* the retry timer was cancelled with it */
	assert_int_equal(o.nstates, before);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

static void test_refused_connect_without_reconnect_closes(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	char url[64];
	snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", free_port());
	lt_ws_opts opts = {.url = url, .no_reconnect = true};
	lt_ws *ws = ws_new(loop, &opts, &o);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	assert_int_equal(count_state(&o, LT_WS_RECONNECTING), 0);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1);
	assert_int_equal(lt_ws_get_stats(ws)->reconnects, 0);
	/* it stays closed */
	drive(loop, NULL, NULL, 100);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1);
	assert_int_equal(count_state(&o, LT_WS_CONNECTING), 0);
	/* closed for good: sending is refused and the buffer stays with the caller */
	send_text(ws, "{}", LT_ESTATE);
	lt_ws_close(ws);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

/* A hold-off makes the next retry wait at least that long, whatever the backoff says. */
static void test_hold_off(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	char url[64];
	snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", free_port());
	lt_ws_opts opts = {.url = url, .backoff_base_ms = 10, .backoff_cap_ms = 20};
	lt_ws *ws = ws_new(loop, &opts, &o);
	lt_ws_hold_off(ws, 400);
	assert_true(drive(loop, saw_reconnecting, &o, 3000));
	int d = lt_ws_get_stats(ws)->last_backoff_ms;
	assert_true(d >= 400 && d < 1400);
	lt_ws_close(ws);
	lt_loop_free(loop);
}

/* A name that does not resolve (.invalid never does, RFC 6761) is reported as such. */
static void test_unknown_host(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://luatrade-test.invalid/ws", .no_reconnect = true};
	lt_ws *ws = ws_new(loop, &opts, &o);
	assert_int_equal(o.nstates, 0);
	assert_true(drive(loop, saw_closed, &o, 10000));
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_DNS);
	int i = find_state(&o, LT_WS_CLOSED, 0);
	if (strncmp(o.reasons[i], "host not found (luatrade-test.invalid", 37) != 0)
		fail_msg("reason: %s", o.reasons[i]);
	lt_ws_close(ws);
	lt_loop_free(loop);
}

/* A CA file that cannot be read is an error at once (LT_ETLS naming the file), not a later
 * drop: loop.c checks it before libwebsockets, which would only log it. */
static void test_missing_ca_file(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "wss://127.0.0.1:9/ws",
			   .ca_file = "/nonexistent/luatrade-test/ca.pem",
			   .no_reconnect = true};
	lt_ws *ws = (lt_ws *)&o;
	lt_err err = {0};
	assert_int_equal(lt_ws_new(loop, &opts, &cbs, &o, &ws, &err), LT_ETLS);
	assert_null(ws);
	assert_int_equal(err.code, LT_ETLS);
	assert_non_null(strstr(err.msg, "/nonexistent/luatrade-test/ca.pem"));
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(o.nstates, 0);
	lt_loop_free(loop);
}

/* Sends while connecting are queued and take the buffer; a buffer without LWS_PRE headroom is
 * refused; closing before the connection opened reports nothing and frees everything. */
static void test_send_while_connecting_then_close(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	obs o = {0};
	lt_ws_opts opts = {.url = "ws://127.0.0.1:9/x", .insecure_loopback = true};
	lt_ws *ws = ws_new(loop, &opts, &o);
	send_text(ws, "{\"queued\":1}", 0);
	lt_buf small;
	lt_buf_init(&small, 0);
	lt_buf_add(&small, "{}", 2);
	assert_int_equal(lt_ws_send(ws, &small), LT_ENOMEM);
	assert_non_null(small.data);
	lt_buf_free(&small);
	drive(loop, NULL, NULL, 5); /* the attempt is under way (or already refused) */
	lt_ws_close(ws);
	int before = o.nstates;
	drive(loop, NULL, NULL, 50);
	assert_int_equal(o.nstates, before);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	lt_loop_free(loop);
}

static bool closed_by_callback(void *ctx) { return ((obs *)ctx)->ws == NULL; }

/* The owner may close from inside on_state, whether a transport is alive or not. */
static void test_close_inside_callback(void **state)
{
	(void)state;
	static const lt_ws_state at[] = {LT_WS_RECONNECTING, LT_WS_CONNECTING, LT_WS_CLOSED};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		lt_loop *loop = loop_new();
		obs o = {.close_on = 1 + (int)at[i]};
		char url[64];
		snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", free_port());
		lt_ws_opts opts = {.url = url,
				   .backoff_base_ms = 5,
				   .backoff_cap_ms = 5,
				   .no_reconnect = at[i] == LT_WS_CLOSED};
		ws_new(loop, &opts, &o);
		assert_true(drive(loop, closed_by_callback, &o, 3000));
		drive(loop, NULL, NULL, 50);
		int n = find_state(&o, at[i], 0);
		assert_int_equal(n, o.nstates - 1); /* and nothing came after */
		assert_int_equal(*lt_loop_conn_count(loop), 0);
		lt_loop_free(loop);
	}
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
	int opcode; /* 1 text, 2 binary, 0 continuation, 8 close, 9 ping (| MASKED) */
	bool fin;
	const char *data;
} frame;

#define MAX_IN 8

typedef struct peer {
	int lfd, port;
	/* the script, for every connection */
	const frame *frames; /* sent after the client's want_in messages arrived */
	size_t nframes;
	int want_in;
	int conns;      /* connections to serve (0 = 1) */
	int flap_first; /* the first flap_first connections close right after the 101 */
	int hold_ms;    /* after the frames: close after this long (0 = wait for the client) */
	int chatter_ms, chatter_n; /* after the frames: "hb" every chatter_ms, chatter_n times */
	bool chatter_ping;         /* ... as WebSocket pings instead of text messages */
	bool trickle;              /* the frames one byte per TCP segment (ws://) */
	const unsigned char *raw;  /* after the frames: these bytes as they are */
	size_t rawlen;
	const char *http_answer; /* answer the upgrade with this status line instead of 101 */
	const char *accept;      /* answer the 101 with this Sec-WebSocket-Accept (a wrong one) */
	SSL_CTX *tls;            /* serve wss with the built-in venue's certificate */
	const char *host;        /* listen on (and connect to) this loopback address; 127.0.0.1 */
	/* what happened */
	char request_line[600];
	char in[MAX_IN][128];
	int nin;
	bool handshake_ok;
	atomic_int close_in; /* the status code of the client's close frame (0: none yet) */
	atomic_int pongs;    /* pongs from the client after the script */
	char pong[128];      /* the last one's payload */
	atomic_int accepted;
	atomic_int ins; /* client messages read so far (of want_in) */
	_Atomic int64_t last_sent_us;
	atomic_bool stop, done;
	pthread_t th;
} peer;

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

/* Read one client frame (masked); returns its opcode or -1. */
static int read_frame(conn *c, char *out, size_t cap, size_t *len)
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
	return h[0] & 0x0f;
}

/* opcode | MASKED: the frame has the mask bit set and data's first 4 bytes are the key (no
 * server may send such a frame). */
#define MASKED 0x100
/* opcode | RSV1: the frame has the RSV1 bit set (no extension was negotiated). */
#define RSV1 0x200

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
		int op = read_frame(c, buf, sizeof buf, &len);
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
		if (read_frame(c, p->in[p->nin], sizeof p->in[0], &len) != 1)
			return;
		p->nin++;
		atomic_fetch_add(&p->ins, 1);
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

static void peer_start(peer *p)
{
	atomic_init(&p->done, false);
	atomic_init(&p->stop, false);
	atomic_init(&p->accepted, 0);
	atomic_init(&p->ins, 0);
	atomic_init(&p->close_in, 0);
	atomic_init(&p->pongs, 0);
	atomic_init(&p->last_sent_us, 0);
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

static bool peer_done(void *ctx) { return atomic_load(&((peer *)ctx)->done); }
static bool peer_got_close(void *ctx) { return atomic_load(&((peer *)ctx)->close_in) != 0; }
static bool peer_got_pong(void *ctx) { return atomic_load(&((peer *)ctx)->pongs) > 0; }

/* Close the client, stop the peer and wait for both. */
static void finish(lt_loop *loop, peer *p, lt_ws *ws)
{
	lt_ws_close(ws);
	atomic_store(&p->stop, true);
	assert_true(drive(loop, peer_done, p, 5000));
	pthread_join(p->th, NULL);
	close(p->lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
}

static SSL_CTX *venue_tls(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	if (SSL_CTX_use_certificate_chain_file(ctx, LT_CERT_DIR "/server.pem") != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, LT_CERT_DIR "/server.key", SSL_FILETYPE_PEM) != 1)
		fail_msg("cannot load %s/server.pem and server.key (make certs)", LT_CERT_DIR);
	return ctx;
}

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

static lt_ws *connect_peer(lt_loop *loop, peer *p, obs *o, const char *path, lt_ws_opts opts)
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
static lt_ws *run_peer(lt_loop *loop, peer *p, obs *o, const char *path, size_t max_message,
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

static void test_queue_order_and_reassembly(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "hel"},
		{0, false, "lo, "},
		{0, true, "world"},        /* fragmented text */
		{2, true, "\x01\x02\x03"}, /* binary: dropped */
		{1, true, "{\"one\":\"piece\"}"},
		{2, false, "bi"},
		{0, true, "nary"}, /* fragmented binary */
		{1, false, "0123456789"},
		{0, true, "0123456789"}, /* 20 > 16: dropped */
		{1, false, "abcd"},
		{0, false, "efgh"},
		{0, true, "ijklmnop"}, /* 16: exactly fits */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws =
		run_peer(loop, &p, &o, "/ws/api/v2", 16, frames, sizeof frames / sizeof frames[0]);
	assert_true(p.handshake_ok);
	assert_string_equal(p.request_line, "GET /ws/api/v2 HTTP/1.1");
	/* queued before open, sent in order once open */
	assert_int_equal(p.nin, 2);
	assert_string_equal(p.in[0], "{\"first\":1}");
	assert_string_equal(p.in[1], "{\"second\":2}");
	assert_int_equal(o.nstates, 1);
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_NONE);
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
	assert_int_equal(s->dead, 0);
	finish(loop, &p, ws);
	assert_int_equal(o.nstates, 1); /* nothing after close */
	obs_free(&o);
	lt_loop_free(loop);
}

/* A message over max_message is dropped and counted also when it arrives in one frame (the
 * no-copy path), not only when fragmented. */
static void test_single_frame_oversize_is_dropped(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, true, "0123456789012345678901234567890123456789"}, /* 40 > 16 */
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

/* A URL without a path requests "/" (not "//"). */
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

/* The peer answers the handshake, reads the queued messages, sends a close frame: a drop whose
 * reason carries the venue's code. */
static void test_peer_closing_is_a_drop(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "bye"}, {8, true, "\x03\xe8"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "bye");
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1); /* no_reconnect */
	assert_string_equal(o.reasons[1], "closed by the venue (code 1000)");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_NONE); /* it had opened */
	send_text(ws, "{}", LT_ESTATE);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static void test_venue_close_code_and_reason(void **state)
{
	(void)state;
	static const frame frames[] = {{8, true, "\x0f\xa0maintenance"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 1);
	assert_true(drive(loop, saw_closed, &o, 3000));
	int i = find_state(&o, LT_WS_CLOSED, 0);
	assert_string_equal(o.reasons[i], "closed by the venue (code 4000: maintenance)");
	/* the close handshake: the client answered with the venue's code (RFC 6455 §5.5.1) */
	assert_true(drive(loop, peer_got_close, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 4000);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* ---- the frames (wslay) and the hand-written upgrade ---------------------------------------- */

/* A fragmented message with a ping between its fragments arrives whole; the ping is answered
 * with a pong carrying its payload, and a fragment split inside a UTF-8 sequence is valid. */
static void test_ping_between_fragments(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "frag"},    {9, true, "p1"},   {0, false, "men"}, {0, true, "ted"},
		{1, false, "caf\xc3"}, {0, true, "\xa9"}, /* é split across two fragments */
		{1, false, ""},        {0, true, ""},     /* an empty message in two empty frames */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, sizeof frames / sizeof frames[0]);
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "fragmented");
	assert_string_equal(o.msgs[1], "caf\xc3\xa9");
	assert_int_equal(o.msg_len[2], 0);
	assert_string_equal(o.msgs[3], "end");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "p1");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* Frames that arrive one byte per TCP segment (every header, extended length and payload cut
 * everywhere) are read as when they come whole: wslay's frame layer resumes where it stopped
 * and rx_frames keeps the message state across reads. */
static void test_frames_byte_by_byte(void **state)
{
	(void)state;
	char big[301];
	for (int i = 0; i < 300; i++)
		big[i] = (char)('a' + i % 26); /* 300 bytes: a 16-bit extended length */
	big[300] = '\0';
	const frame frames[] = {
		{1, false, "frag"}, {9, true, "p1"},          {0, true, "mented"},
		{1, true, big},     {1, true, "caf\xc3\xa9"}, {1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.frames = frames;
	p.nframes = sizeof frames / sizeof frames[0];
	p.trickle = true;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 10000));
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "fragmented");
	assert_int_equal(o.msg_len[1], 300);
	assert_memory_equal(o.msgs[1], big, 300);
	assert_string_equal(o.msgs[2], "caf\xc3\xa9");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "p1");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random stream of plausible and broken frames (each opcode, fin or not, RSV bits, masks,
 * 7- and 16-bit lengths, payloads mostly ASCII with stray bytes, close frames with and without
 * a valid code) into buf; returns its length. */
static size_t random_frames(uint64_t *rng, unsigned char *buf, size_t cap)
{
	static const int ops[] = {0, 1, 1, 1, 2, 8, 9, 10, 3, 11};
	size_t n = 0;
	int frames = 1 + (int)(xorshift(rng) % 12);
	for (int k = 0; k < frames && n + 200 < cap; k++) {
		uint64_t r = xorshift(rng);
		int op = ops[r % 10];
		bool fin = (r >> 8) % 4 != 0, rsv = (r >> 12) % 16 == 0, mask = (r >> 16) % 16 == 0;
		size_t len = (r >> 20) % 8 == 0 ? 130 : (size_t)((r >> 24) % 41);
		buf[n++] = (unsigned char)((fin ? 0x80 : 0) | (rsv ? 0x40 : 0) | op);
		if (len < 126) {
			buf[n++] = (unsigned char)((mask ? 0x80 : 0) | len);
		} else {
			buf[n++] = (unsigned char)((mask ? 0x80 : 0) | 126);
			buf[n++] = (unsigned char)(len >> 8);
			buf[n++] = (unsigned char)len;
		}
		if (mask)
			for (int i = 0; i < 4; i++)
				buf[n++] = (unsigned char)xorshift(rng);
		for (size_t i = 0; i < len; i++) {
			uint64_t b = xorshift(rng);
			buf[n++] = b % 8 == 0 ? (unsigned char)(b >> 8)
					      : (unsigned char)('a' + (b >> 8) % 26);
		}
		if (op == 8 && len >= 2 && (r >> 28) % 2) { /* a valid code: 1000 */
			buf[n - len] = 0x03;
			buf[n - len + 1] = 0xe8;
		}
	}
	return n;
}

/* Whatever frames the venue sends, the client does not crash (the suite runs under ASan),
 * hands on only valid UTF-8 and, if it fails the connection, says why. 40 random streams. */
static void test_random_frames_never_break_the_client(void **state)
{
	(void)state;
	uint64_t rng = 0x5eed;
	for (int k = 0; k < 40; k++) {
		unsigned char raw[4096];
		lt_loop *loop = loop_new();
		peer p;
		memset(&p, 0, sizeof p);
		p.raw = raw;
		p.rawlen = random_frames(&rng, raw, sizeof raw);
		peer_start(&p);
		obs o = {0};
		lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
		drive(loop, saw_closed, &o, 150);
		for (int i = 0; i < o.nmsgs && i < MAX_EV; i++)
			if (!lt_utf8_ok((const unsigned char *)o.msgs[i], o.msg_len[i]))
				fail_msg("stream %d: message %d handed on is not UTF-8", k, i);
		int c = find_state(&o, LT_WS_CLOSED, 0);
		if (c >= 0 && !o.reasons[c][0])
			fail_msg("stream %d: closed with no reason", k);
		finish(loop, &p, ws);
		obs_free(&o);
		lt_loop_free(loop);
	}
}

/* A text message that is not UTF-8 fails the connection (RFC 6455 §8.1): close code 1007 to
 * the venue, a reason that says so to the owner; what came before it was delivered. */
static void test_invalid_utf8_fails_the_connection(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, true, "ok"}, {1, true, "{\"m\":\"\xff\xfe\"}"}, {1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 3);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "ok");
	int i = find_state(&o, LT_WS_CLOSED, 0);
	assert_string_equal(o.reasons[i], "the venue sent a text message that is not valid UTF-8 "
					  "(closed with 1007)");
	assert_true(drive(loop, peer_got_close, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1007);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* A masked frame from the venue breaks the protocol (servers never mask, RFC 6455 §5.1):
 * close code 1002. */
static void test_masked_frame_from_the_venue_is_a_protocol_error(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "ok"},
				       {1 | MASKED, true,
					"\x01\x02\x03\x04"
					"abcd"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(o.nmsgs, 1);
	int i = find_state(&o, LT_WS_CLOSED, 0);
	assert_string_equal(o.reasons[i], "the venue broke the WebSocket protocol (closed with "
					  "1002)");
	assert_true(drive(loop, peer_got_close, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1002);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* What the venue may not send, each after one good message: the connection fails with the
 * close code given (the good message was delivered, nothing after it). The message level is
 * ours (rx_frames), the frames are wslay's: each rule here has a line there. */
static void test_venue_protocol_errors(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		frame bad[2];
		size_t n;
		int code;
	} cases[] = {
		{"an RSV1 bit", {{1 | RSV1, true, "x"}}, 1, 1002},
		{"a continuation with no message", {{0, true, "x"}}, 1, 1002},
		{"a new message inside a fragmented one",
		 {{1, false, "a"}, {1, true, "b"}},
		 2,
		 1002},
		{"a reserved opcode", {{3, true, "x"}}, 1, 1002},
		{"a fragmented ping", {{9, false, "p"}}, 1, 1002},
		{"a close with code 1005", {{8, true, "\x03\xed"}}, 1, 1002},
		{"a close with a 1-byte payload", {{8, true, "\x03"}}, 1, 1002},
		{"a close reason not UTF-8", {{8, true, "\x0f\xa0\xff"}}, 1, 1007},
	};
	int failed = 0;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		frame frames[4] = {{1, true, "ok"}};
		memcpy(frames + 1, cases[k].bad, cases[k].n * sizeof(frame));
		frames[1 + cases[k].n] = (frame){1, true, "after"};
		lt_loop *loop = loop_new();
		peer p;
		obs o = {0};
		lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2 + cases[k].n);
		if (!drive(loop, saw_closed, &o, 3000)) {
			print_error("%s: the connection stayed up\n", cases[k].what);
			failed++;
		} else if (o.nmsgs != 1 || strcmp(o.msgs[0], "ok")) {
			print_error("%s: %d messages delivered, want only \"ok\"\n", cases[k].what,
				    o.nmsgs);
			failed++;
		} else if (!drive(loop, peer_got_close, &p, 3000) ||
			   atomic_load(&p.close_in) != cases[k].code) {
			print_error("%s: closed with %d, want %d\n", cases[k].what,
				    atomic_load(&p.close_in), cases[k].code);
			failed++;
		}
		finish(loop, &p, ws);
		obs_free(&o);
		lt_loop_free(loop);
	}
	assert_int_equal(failed, 0);
}

/* lt_ws_close on an open connection sends a close frame with 1000 before the TCP close. */
static void test_client_close_sends_1000(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 1);
	assert_int_equal(o.nmsgs, 1);
	lt_ws_close(ws);
	assert_true(drive(loop, peer_done, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1000);
	pthread_join(p.th, NULL);
	close(p.lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	obs_free(&o);
	lt_loop_free(loop);
}

/* Connect once (no reconnect) to a peer that answers the upgrade as set in p; return the
 * reason of the CLOSED event, which must come without an OPEN. */
static void refused_upgrade(peer *p, char *reason, size_t cap, lt_ws_fail *fail)
{
	lt_loop *loop = loop_new();
	peer_start(p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 5000));
	assert_int_equal(count_state(&o, LT_WS_OPEN), 0);
	*fail = lt_ws_last_fail(ws);
	snprintf(reason, cap, "%s", o.reasons[find_state(&o, LT_WS_CLOSED, 0)]);
	send_text(ws, "{}", LT_ESTATE);
	finish(loop, p, ws);
	lt_loop_free(loop);
}

/* A 101 whose Sec-WebSocket-Accept does not answer the key is refused with a clear reason. */
static void test_wrong_accept_is_refused(void **state)
{
	(void)state;
	peer p;
	memset(&p, 0, sizeof p);
	p.accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; /* RFC 6455's example: for another key */
	char reason[200];
	lt_ws_fail fail;
	refused_upgrade(&p, reason, sizeof reason, &fail);
	assert_int_equal(fail, LT_WS_FAIL_HANDSHAKE);
	static const char want[] = "handshake failed (Sec-WebSocket-Accept does not match the key "
				   "sent";
	if (strncmp(reason, want, sizeof want - 1) != 0)
		fail_msg("reason: %s", reason);
}

/* Any status but 101 is a refused upgrade that names the status (here over plain ws://; the
 * TLS test below does 429). */
static void test_http_error_status_on_upgrade(void **state)
{
	(void)state;
	peer p;
	memset(&p, 0, sizeof p);
	p.http_answer = "HTTP/1.1 503 Service Unavailable";
	char reason[200];
	lt_ws_fail fail;
	refused_upgrade(&p, reason, sizeof reason, &fail);
	assert_int_equal(fail, LT_WS_FAIL_HANDSHAKE);
	assert_string_equal(reason, "handshake failed: HTTP 503 instead of 101 (HTTP/1.1 503 "
				    "Service Unavailable)");
}

/* The upgrade's pure parts: the request, the accept value (RFC 6455 §1.3's example), and the
 * check of answers, whole and cut short. */
static void test_upgrade_rules(void **state)
{
	(void)state;
	char acc[LT_WS_ACCEPT_LEN + 1], key[LT_WS_KEY_LEN + 1], key2[LT_WS_KEY_LEN + 1];
	lt_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(lt_ws_make_key(key), 0);
	assert_int_equal(lt_ws_make_key(key2), 0);
	assert_int_equal(strlen(key), LT_WS_KEY_LEN);
	assert_string_not_equal(key, key2);
	lt_ws_url u;
	assert_int_equal(lt_ws_url_parse("wss://[::1]:8443/ws/api/v2", false, &u, NULL), 0);
	char req[512];
	size_t n = lt_ws_upgrade_request(&u, "dGhlIHNhbXBsZSBub25jZQ==", req, sizeof req);
	assert_true(n > 0 && n == strlen(req));
	static const char line1[] = "GET /ws/api/v2 HTTP/1.1\r\nHost: [::1]:8443\r\n";
	assert_true(strncmp(req, line1, sizeof line1 - 1) == 0);
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_int_equal(lt_ws_upgrade_request(&u, key, req, 40), 0); /* too small: nothing */
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
				 "Connection: keep-alive, Upgrade\r\n"
				 "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n";
	unsigned http;
	char why[160];
	assert_int_equal(lt_ws_head_end(ok, sizeof ok - 1), sizeof ok - 1);
	for (size_t i = 0; i < sizeof ok - 1; i++) /* every prefix is incomplete */
		assert_int_equal(lt_ws_head_end(ok, i), 0);
	assert_int_equal(lt_ws_upgrade_check(ok, sizeof ok - 1, "dGhlIHNhbXBsZSBub25jZQ==", &http,
					     why, sizeof why),
			 0);
	assert_int_equal(http, 101);
	assert_int_equal(lt_ws_upgrade_check(ok, sizeof ok - 1, key, &http, why, sizeof why),
			 LT_EIO);
	assert_non_null(strstr(why, "Sec-WebSocket-Accept does not match"));
	static const struct {
		const char *head, *why;
		unsigned http;
	} bad[] = {
		{"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP/1.x", 0},
		{"HTTP/1.1 429 Too Many Requests\r\n\r\n", "HTTP/1.1 429 Too Many Requests", 429},
		{"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n", "without Upgrade", 101},
		{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n", "without Connection", 101},
		{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		 "without Sec-WebSocket-Accept", 101},
		{"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		 "extension", 101},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = lt_ws_upgrade_check(bad[i].head, strlen(bad[i].head),
					     "dGhlIHNhbXBsZSBub25jZQ==", &http, why, sizeof why);
		if (rc != LT_EIO || http != bad[i].http || !strstr(why, bad[i].why))
			fail_msg("case %zu: rc %d http %u why %s", i, rc, http, why);
	}
}

/* lt_ws_send refuses (LT_EFULL, buffer untouched) what would take the queue over
 * max_queue_bytes, takes what fits exactly, and has room again once the queue was written. */
static void test_send_queue_is_bounded(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.want_in = 3;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.max_queue_bytes = 32});
	send_text(ws, "0123456789abcdefghij", 0); /* 20 */
	send_text(ws, "0123456789abc", LT_EFULL); /* 33 > 32 */
	send_text(ws, "0123456789ab", 0);         /* 32 fits exactly */
	send_text(ws, "x", LT_EFULL);
	assert_true(drive(loop, saw_open, &o, 3000));
	int64_t deadline = lt_now_us() + 3000000;
	while (lt_ws_get_stats(ws)->msgs_out < 2 && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 5);
	assert_int_equal(lt_ws_get_stats(ws)->msgs_out, 2);
	send_text(ws, "0123456789abcdefghij0123456789ab", 0); /* the queue is empty again */
	deadline = lt_now_us() + 3000000;
	while (lt_ws_get_stats(ws)->msgs_out < 3 && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 5);
	finish(loop, &p, ws);
	assert_int_equal(p.nin, 3);
	assert_string_equal(p.in[0], "0123456789abcdefghij");
	assert_string_equal(p.in[1], "0123456789ab");
	assert_string_equal(p.in[2], "0123456789abcdefghij0123456789ab");
	obs_free(&o);
	lt_loop_free(loop);
}

/* ---- liveness ---------------------------------------------------------------------------- */

/* A venue that goes silent after the handshake is dropped once dead_after_ms pass without a
 * frame: not before, and well within a margin after. */
static void test_silent_venue_is_dead(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws",
				 (lt_ws_opts){.dead_after_ms = 300, .no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 5000));
	int op = find_state(&o, LT_WS_OPEN, 0), cl = find_state(&o, LT_WS_CLOSED, 0);
	assert_true(op >= 0 && cl > op);
	int64_t ms = (o.at_us[cl] - o.at_us[op]) / 1000;
	if (ms < 290 || ms > 3000) /* 290: OPEN is reported a moment after the last frame */
		fail_msg("dropped after %lld ms, want 300..3000", (long long)ms);
	if (strncmp(o.reasons[cl], "dead: no data from the venue for ", 33) != 0)
		fail_msg("reason: %s", o.reasons[cl]);
	assert_int_equal(lt_ws_get_stats(ws)->dead, 1);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* While frames keep arriving the link stays up (the lazily re-armed timer does not fire on its
 * first deadline); when they stop it is dropped dead_after_ms after the last one. */
static void test_dead_timer_waits_while_data_flows(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.chatter_ms = 100;
	p.chatter_n = 20; /* 2 s of heartbeats, twice the dead_after_ms below */
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws",
				 (lt_ws_opts){.dead_after_ms = 1000, .no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 10000));
	assert_int_equal(o.nmsgs, 20); /* every heartbeat arrived while open */
	int cl = find_state(&o, LT_WS_CLOSED, 0);
	int64_t after_last = (o.at_us[cl] - atomic_load(&p.last_sent_us)) / 1000;
	if (after_last < 1000 || after_last > 4000)
		fail_msg("dropped %lld ms after the last frame, want 1000..4000",
			 (long long)after_last);
	assert_non_null(strstr(o.reasons[cl], "dead"));
	assert_int_equal(lt_ws_get_stats(ws)->dead, 1);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* Only data counts as life: a venue that sends nothing but pings (answered all along) is dead
 * after dead_after_ms, long before its pings stop. */
static void test_pings_alone_do_not_keep_it_alive(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.chatter_ms = 100;
	p.chatter_n = 40; /* 4 s of pings */
	p.chatter_ping = true;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws",
				 (lt_ws_opts){.dead_after_ms = 500, .no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 10000));
	int op = find_state(&o, LT_WS_OPEN, 0), cl = find_state(&o, LT_WS_CLOSED, 0);
	assert_true(op >= 0);
	int64_t open_ms = (o.at_us[cl] - o.at_us[op]) / 1000;
	if (open_ms < 500 || open_ms > 3500)
		fail_msg("dead after %lld ms of pings, want 500..3500", (long long)open_ms);
	assert_non_null(strstr(o.reasons[cl], "dead"));
	assert_int_equal(o.nmsgs, 0);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* dead_after_ms = 0 is off: a silent link stays open; lt_ws_drop then drops it, in words. */
static void test_dead_detection_off_and_drop(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
	assert_true(drive(loop, saw_open, &o, 3000));
	drive(loop, NULL, NULL, 700);
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	lt_ws_drop(ws);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_string_equal(o.reasons[find_state(&o, LT_WS_CLOSED, 0)], "dropped by the client");
	assert_int_equal(lt_ws_get_stats(ws)->dead, 0);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* ---- backoff against a flapping venue ---------------------------------------------------- */

/* Check every RECONNECTING in o: retries numbered 1, 2, 3 ... from first_attempt, each delay
 * within [0, min(cap, base*2^n)] and actually waited before the next attempt. */
static void check_retries(const obs *o, int first_attempt, int base, int cap)
{
	int k = first_attempt;
	for (int i = 0; i < o->nstates && i < MAX_EV; i++) {
		if (o->states[i] != LT_WS_RECONNECTING)
			continue;
		if (o->attempts[i] != k)
			fail_msg("event %d: attempt %d, want %d", i, o->attempts[i], k);
		if (o->backoffs[i] < 0 || o->backoffs[i] > bound(k - 1, base, cap))
			fail_msg("retry %d waited %d ms, want 0..%lld", k - 1, o->backoffs[i],
				 (long long)bound(k - 1, base, cap));
		int next = find_state(o, LT_WS_CONNECTING, i);
		if (next > 0)
			assert_true(o->at_us[next] - o->at_us[i] >=
				    (int64_t)o->backoffs[i] * 1000 - 1000);
		k++;
	}
}

/* A venue that accepts the handshake and drops at once: handshakes alone never reset the retry
 * counter (even with lt_ws_set_ready at every open, since no connection lasts stable_ms). */
static void test_flapping_venue_backoff_grows(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.conns = 20;
	p.flap_first = 20;
	peer_start(&p);
	obs o = {.ready_on_open = true};
	lt_ws *ws = connect_peer(
		loop, &p, &o, "/ws",
		(lt_ws_opts){.backoff_base_ms = 20, .backoff_cap_ms = 80, .stable_ms = 1500});
	assert_true(drive(loop, saw_six_retries, &o, 5000));
	assert_true(count_state(&o, LT_WS_OPEN) >= 4); /* the handshakes did complete */
	check_retries(&o, 1, 20, 80);
	assert_true(lt_ws_attempt(ws) >= 6);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

typedef struct until_attempt {
	obs *o;
	lt_ws *ws;
	int want;
	int opens;
} until_attempt;

static bool open_with_attempt(void *ctx)
{
	until_attempt *u = ctx;
	return count_state(u->o, LT_WS_OPEN) >= u->opens && lt_ws_get_state(u->ws) == LT_WS_OPEN &&
	       lt_ws_attempt(u->ws) == u->want;
}

/* Three flaps, then a connection that stays up 1.5 s. With lt_ws_set_ready at open and
 * stable_ms 500 the counter returns to 0 while it is up, and the drop after it schedules retry
 * 0 again; without lt_ws_set_ready the same connection resets nothing. */
static void run_stable_case(bool ready)
{
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.conns = 5;
	p.flap_first = 3;
	p.hold_ms = 1500;
	peer_start(&p);
	obs o = {.ready_on_open = ready};
	lt_ws *ws = connect_peer(
		loop, &p, &o, "/ws",
		(lt_ws_opts){.backoff_base_ms = 20, .backoff_cap_ms = 80, .stable_ms = 500});
	assert_true(drive(loop, saw_three_retries, &o, 5000));
	check_retries(&o, 1, 20, 80);
	until_attempt u = {&o, ws, ready ? 0 : 3, 4};
	assert_true(drive(loop, open_with_attempt, &u, 3000)); /* the fourth connection is up */
	int op = find_state(&o, LT_WS_OPEN, 0);
	for (int n = 1; n < 4; n++)
		op = find_state(&o, LT_WS_OPEN, op + 1);
	if (ready) /* reset while up, and not before stable_ms */
		assert_true((lt_now_us() - o.at_us[op]) / 1000 >= 500);
	int before = count_state(&o, LT_WS_RECONNECTING);
	int64_t deadline = lt_now_us() + 4000000;
	while (count_state(&o, LT_WS_RECONNECTING) == before && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 10);
	int i = find_state(&o, LT_WS_RECONNECTING, 0);
	for (int n = 0; n < before; n++)
		i = find_state(&o, LT_WS_RECONNECTING, i + 1);
	assert_true(i > op);
	assert_true((o.at_us[i] - o.at_us[op]) / 1000 >= 500); /* it was up for stable_ms */
	assert_int_equal(o.attempts[i], ready ? 1 : 4);
	assert_true(o.backoffs[i] <= bound(ready ? 0 : 3, 20, 80));
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static void test_stable_connection_resets_backoff(void **state)
{
	(void)state;
	run_stable_case(true);
}

static void test_handshake_without_ready_never_resets(void **state)
{
	(void)state;
	run_stable_case(false);
}

/* ---- TLS --------------------------------------------------------------------------------- */

/* The built-in venue's certificate checked against the system store: not trusted, in words. */
static void test_untrusted_certificate(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.tls = venue_tls();
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 5000));
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_TLS);
	int i = find_state(&o, LT_WS_CLOSED, 0);
	if (!strstr(o.reasons[i], "certificate not trusted") || !strstr(o.reasons[i], "ca_file"))
		fail_msg("reason: %s", o.reasons[i]);
	assert_false(p.handshake_ok);
	finish(loop, &p, ws);
	SSL_CTX_free(p.tls);
	lt_loop_free(loop);
}

/* The same server with ca_file = its CA: TLS passes, so the failure is the venue's HTTP 429
 * answer to the upgrade (deribit-api.md §9: the 33rd connection from one address). */
static void test_trusted_certificate_then_http_429(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.tls = venue_tls();
	p.http_answer = "HTTP/1.1 429 Too Many Requests";
	peer_start(&p);
	obs o = {0};
	lt_ws *ws =
		connect_peer(loop, &p, &o, "/ws",
			     (lt_ws_opts){.ca_file = LT_CERT_DIR "/ca.pem", .no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 5000));
	assert_string_equal(p.request_line, "GET /ws HTTP/1.1");
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_HANDSHAKE);
	int i = find_state(&o, LT_WS_CLOSED, 0);
	if (strncmp(o.reasons[i], "handshake failed: HTTP 429", 26) != 0)
		fail_msg("reason: %s", o.reasons[i]);
	finish(loop, &p, ws);
	SSL_CTX_free(p.tls);
	lt_loop_free(loop);
}

/* A trusted certificate for another address (the venue's names 127.0.0.1 and localhost, this
 * server is 127.0.0.2): refused before any HTTP is sent, in words. */
static void test_certificate_for_another_host(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.tls = venue_tls();
	p.host = "127.0.0.2";
	peer_start(&p);
	obs o = {0};
	lt_ws *ws =
		connect_peer(loop, &p, &o, "/ws",
			     (lt_ws_opts){.ca_file = LT_CERT_DIR "/ca.pem", .no_reconnect = true});
	assert_true(drive(loop, saw_closed, &o, 5000));
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_TLS);
	int i = find_state(&o, LT_WS_CLOSED, 0);
	if (!strstr(o.reasons[i], "certificate does not name this host"))
		fail_msg("reason: %s", o.reasons[i]);
	assert_false(p.handshake_ok);
	finish(loop, &p, ws);
	SSL_CTX_free(p.tls);
	lt_loop_free(loop);
}

/* wss end to end with the venue's CA: the TLS layer carries the upgrade, frames both ways and
 * the close handshake. */
/* On an open connection with nothing queued, lt_ws_send writes at once: the venue has the
 * message before the loop runs again (one trip through poll less per request). */
static void test_send_on_an_open_connection_goes_out_at_once(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.tls = venue_tls();
	p.frames = frames;
	p.nframes = 1;
	p.want_in = 1;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws =
		connect_peer(loop, &p, &o, "/ws",
			     (lt_ws_opts){.ca_file = LT_CERT_DIR "/ca.pem", .no_reconnect = true});
	assert_true(drive(loop, saw_open, &o, 5000));
	send_text(ws, "{\"now\":1}", 0);
	int64_t end = lt_now_us() + 2000000; /* the loop is not serviced meanwhile */
	while (atomic_load(&p.ins) < 1 && lt_now_us() < end)
		usleep(1000);
	assert_int_equal(atomic_load(&p.ins), 1);
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 5000));
	assert_string_equal(p.in[0], "{\"now\":1}");
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
	SSL_CTX_free(p.tls);
}

static void test_wss_messages_both_ways(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "over "}, {9, true, "tls"}, {0, true, "tls"}, {1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.tls = venue_tls();
	p.frames = frames;
	p.nframes = 4;
	p.want_in = 2;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws =
		connect_peer(loop, &p, &o, "/ws",
			     (lt_ws_opts){.ca_file = LT_CERT_DIR "/ca.pem", .no_reconnect = true});
	send_text(ws, "{\"first\":1}", 0);
	send_text(ws, "{\"second\":2}", 0);
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 5000));
	assert_int_equal(o.nmsgs, 2);
	assert_string_equal(o.msgs[0], "over tls");
	assert_string_equal(p.in[0], "{\"first\":1}");
	assert_string_equal(p.in[1], "{\"second\":2}");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "tls");
	lt_ws_close(ws);
	assert_true(drive(loop, peer_done, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1000);
	pthread_join(p.th, NULL);
	close(p.lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	SSL_CTX_free(p.tls);
	obs_free(&o);
	lt_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_loopback_rule),
		cmocka_unit_test(test_url_parts),
		cmocka_unit_test(test_ws_to_loopback_with_insecure_loopback),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_backoff_delay),
		cmocka_unit_test(test_describe_fail),
		cmocka_unit_test(test_close_reason_wording),
		cmocka_unit_test(test_refused_connect_reconnects),
		cmocka_unit_test(test_refused_connect_without_reconnect_closes),
		cmocka_unit_test(test_hold_off),
		cmocka_unit_test(test_unknown_host),
		cmocka_unit_test(test_missing_ca_file),
		cmocka_unit_test(test_send_while_connecting_then_close),
		cmocka_unit_test(test_close_inside_callback),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_queue_order_and_reassembly),
		cmocka_unit_test(test_single_frame_oversize_is_dropped),
		cmocka_unit_test(test_url_without_path_requests_slash),
		cmocka_unit_test(test_peer_closing_is_a_drop),
		cmocka_unit_test(test_venue_close_code_and_reason),
		cmocka_unit_test(test_ping_between_fragments),
		cmocka_unit_test(test_frames_byte_by_byte),
		cmocka_unit_test(test_random_frames_never_break_the_client),
		cmocka_unit_test(test_invalid_utf8_fails_the_connection),
		cmocka_unit_test(test_masked_frame_from_the_venue_is_a_protocol_error),
		cmocka_unit_test(test_venue_protocol_errors),
		cmocka_unit_test(test_client_close_sends_1000),
		cmocka_unit_test(test_wrong_accept_is_refused),
		cmocka_unit_test(test_http_error_status_on_upgrade),
		cmocka_unit_test(test_upgrade_rules),
		cmocka_unit_test(test_send_queue_is_bounded),
		cmocka_unit_test(test_silent_venue_is_dead),
		cmocka_unit_test(test_dead_timer_waits_while_data_flows),
		cmocka_unit_test(test_pings_alone_do_not_keep_it_alive),
		cmocka_unit_test(test_dead_detection_off_and_drop),
		cmocka_unit_test(test_flapping_venue_backoff_grows),
		cmocka_unit_test(test_stable_connection_resets_backoff),
		cmocka_unit_test(test_handshake_without_ready_never_resets),
		cmocka_unit_test(test_untrusted_certificate),
		cmocka_unit_test(test_trusted_certificate_then_http_429),
		cmocka_unit_test(test_certificate_for_another_host),
		cmocka_unit_test(test_wss_messages_both_ways),
		cmocka_unit_test(test_send_on_an_open_connection_goes_out_at_once),
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
