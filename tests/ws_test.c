/* ws_test.c — src/ws.c and src/ws_rules.c: the rules and the life of a connection.
 *
 * Pure rules first: URL parsing and the wss/loopback rule, the backoff delay, the wording of
 * connect failures and of the venue's close frames. Then the connection itself, on loopback
 * only: refused connects, a name that does not resolve, option and CA-file errors, closing from
 * inside a callback, and, against the minimal WebSocket peer of tests/support/ws_peer.h (plain
 * or TLS with the built-in venue's certificate), the hand-written upgrade and its refusals,
 * dead-link detection, the backoff against a venue that accepts and drops at once, and the
 * certificate checks. The frames once a connection is open are ws_frames_test.c's. Nothing
 * here leaves 127.0.0.1.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "ws.h"
#include "ws_rules.h"
#include "support/ws_peer.h"

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

/* ---- refused connects, names, CA files --------------------------------------------------- */

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

/* ---- the hand-written upgrade ------------------------------------------------------------ */

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
		cmocka_unit_test(test_url_without_path_requests_slash),
		cmocka_unit_test(test_wrong_accept_is_refused),
		cmocka_unit_test(test_http_error_status_on_upgrade),
		cmocka_unit_test(test_upgrade_rules),
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
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
