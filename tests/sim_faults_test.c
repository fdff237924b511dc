/* sim_faults_test.c — the venue's connection-level test controls (src/sim/faults.c) over real
 * wss on loopback (sim_wire.h): blackhole (silent, discards, keeps the TCP/TLS connection, ends
 * on its timer; "freeze" does not even read, so pings go unanswered until it ends), flap (the next N connections closed at once, with or without a close frame),
 * close with a code and reason, drop, token revocation (own account and another one, refresh
 * refused, a fresh auth works), the 32 kB request limit (deribit-api.md §1) whole and
 * fragmented, and bad parameters answered with -32602 naming the parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_wire.h"

#define ACCOUNTS "alice:sa,bob:sb"

static int setup(void **state)
{
	static wire w;
	wire_up(&w, ACCOUNTS);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	wire_down(*state);
	return 0;
}

/* ---- blackhole --------------------------------------------------------------------------- */

static void test_blackhole_sends_nothing_and_discards_then_ends(void **state)
{
	wire *w = *state;
	wc *c, *other;
	c = wc_open(w);
	other = wc_open(w);
	/* test_requests every 20 ms that must be answered, and a ticker every tick */
	wc_ok(c, "sim/configure", "{\"min_heartbeat_s\":1,\"heartbeat_ms_per_s\":20}");
	wc_ok(c, "public/set_heartbeat", "{\"interval\":1}");
	yajl_val r = wc_call(c, "public/subscribe",
			     "{\"channels\":[\"ticker.BTC-PERPETUAL.100ms\"]}", 3000);
	assert_non_null(r);
	yajl_tree_free(r);
	int64_t id = wc_req(c, "sim/fault", "{\"action\":\"blackhole\",\"ms\":600}");
	wire_run(w, 100); /* frames already on their way may still land */
	size_t before = c->nmsgs;
	int64_t probe = wc_req(c, "public/test", "{}");
	wc_ping(c);
	wire_run(w, 300); /* heartbeats would have closed an unanswered connection by now */
	assert_int_equal(c->nmsgs, before);
	assert_int_equal(c->pongs, 1); /* libwebsockets still answers pings (documented) */
	assert_true(c->open);
	assert_false(c->closed);
	/* the venue counted what it discarded */
	r = wc_call(other, "sim/stats", "{}", 3000);
	assert_true(jint(r, "result", "discarded", NULL) >= 1);
	assert_true(jint(r, "result", "requests", "public/test") >= 1);
	yajl_tree_free(r);
	/* after the blackhole: answers, notifications and heartbeats again */
	wire_run(w, 300);
	r = wc_call(c, "public/get_time", "{}", 3000);
	assert_non_null(r);
	yajl_tree_free(r);
	wire_run(w, 200);
	assert_true(c->nmsgs > before + 2);
	assert_true(c->open);
	for (size_t i = 0; i < c->nmsgs; i++) { /* neither the fault nor the probe was answered */
		assert_null(wc_answer_at(c, i, id));
		assert_null(wc_answer_at(c, i, probe));
	}
	wc_close(c);
	wc_close(other);
}

static void test_blackhole_without_ms_lasts_until_the_connection_closes(void **state)
{
	wire *w = *state;
	wc *c, *other;
	c = wc_open(w);
	other = wc_open(w);
	wc_req(c, "sim/fault", "{\"action\":\"blackhole\"}");
	wire_run(w, 50);
	size_t before = c->nmsgs;
	wc_req(c, "public/get_time", "{}");
	wc_send(c, "not json");
	wire_run(w, 600);
	assert_int_equal(c->nmsgs, before);
	assert_true(c->open);
	yajl_val r = wc_call(other, "sim/stats", "{}", 3000);
	int64_t open_before = jint(r, "result", "connections", NULL);
	yajl_tree_free(r);
	wc_close(c); /* the client can still close it */
	wire_run(w, 100);
	r = wc_call(other, "sim/stats", "{}", 3000);
	assert_int_equal(jint(r, "result", "connections", NULL), open_before - 1);
	yajl_tree_free(r);
	wc_close(other);
}

static void test_blackhole_freeze_reads_nothing_until_it_ends(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	wc_req(c, "sim/fault", "{\"action\":\"blackhole\",\"mode\":\"freeze\",\"ms\":500}");
	wire_run(w, 50);
	size_t before = c->nmsgs;
	int64_t late = wc_req(c, "public/get_time", "{}");
	wc_ping(c);
	wire_run(w, 250);
	assert_int_equal(c->nmsgs, before);
	assert_int_equal(c->pongs, 0); /* not even pings are read */
	assert_true(c->open);
	yajl_val r = wc_wait_id(c, late, 3000); /* read and answered once it is over */
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	assert_int_equal(c->pongs, 1);
	wc_alive(c);
	wc_close(c);
}

static void test_blackhole_rejects_bad_ms(void **state)
{
	wire *w = *state;
	wc *c;
	c = wc_open(w);
	static const char *const bad[] = {"{\"action\":\"blackhole\",\"ms\":-1}",
					  "{\"action\":\"blackhole\",\"ms\":3600001}",
					  "{\"action\":\"blackhole\",\"ms\":\"10\"}",
					  "{\"action\":\"blackhole\",\"ms\":1.5}",
					  "{\"action\":\"blackhole\",\"mode\":\"freeze\"}",
					  "{\"action\":\"blackhole\",\"mode\":\"freeze\",\"ms\":0}",
					  NULL};
	for (const char *const *p = bad; *p; p++) {
		const char *param;
		assert_int_equal(wc_err(c, "sim/fault", *p, &param), -32602);
		assert_string_equal(param, "ms");
	}
	const char *param;
	assert_int_equal(
		wc_err(c, "sim/fault", "{\"action\":\"blackhole\",\"mode\":\"sleep\"}", &param),
		-32602);
	assert_string_equal(param, "mode");
	wc_alive(c); /* still served */
	wc_close(c);
}

/* ---- flap, close, drop ------------------------------------------------------------------- */

static void test_flap_closes_the_next_connections_at_once(void **state)
{
	wire *w = *state;
	wc *c, *ok;
	c = wc_open(w);
	yajl_val r = wc_call(c, "sim/stats", "{}", 3000);
	int64_t total = jint(r, "result", "connections_total", NULL);
	int64_t flapped = jint(r, "result", "flapped", NULL);
	yajl_tree_free(r);
	wc_ok(c, "sim/fault", "{\"action\":\"flap\",\"count\":2}");
	wc *flaps[2];
	for (int i = 0; i < 2; i++) {
		flaps[i] = wc_connect(w); /* the handshake completes ... */
		wire_until(w, wc_is_closed, flaps[i], 3000);
		assert_true(flaps[i]->closed); /* ... then the venue closes it */
		assert_false(flaps[i]->failed);
		assert_int_equal(flaps[i]->close_code, 0); /* no close frame by default */
		wc_close(flaps[i]);
	}
	ok = wc_open(w);
	wc_alive(ok);
	r = wc_call(c, "sim/stats", "{}", 3000);
	assert_int_equal(jint(r, "result", "connections_total", NULL), total + 3);
	assert_int_equal(jint(r, "result", "flapped", NULL), flapped + 2);
	assert_int_equal(jint(r, "result", "flap_pending", NULL), 0);
	yajl_tree_free(r);
	wc_close(ok);
	wc_close(c);
}

static void test_flap_with_a_close_code_and_disarming(void **state)
{
	wire *w = *state;
	wc *c, *f, *ok;
	c = wc_open(w);
	wc_ok(c, "sim/fault",
	      "{\"action\":\"flap\",\"count\":1,\"code\":4001,\"reason\":\"restart\"}");
	f = wc_connect(w);
	wire_until(w, wc_is_closed, f, 3000);
	assert_int_equal(f->close_code, 4001);
	assert_string_equal(f->close_reason, "restart");
	wc_close(f);
	wc_ok(c, "sim/fault", "{\"action\":\"flap\",\"count\":5}");
	wc_ok(c, "sim/fault", "{\"action\":\"flap\",\"count\":0}"); /* disarmed */
	ok = wc_open(w);
	wc_alive(ok);
	wc_close(ok);
	static const char *const bad[][2] = {
		{"{\"action\":\"flap\",\"count\":-1}", "count"},
		{"{\"action\":\"flap\",\"count\":\"2\"}", "count"},
		{"{\"action\":\"flap\",\"code\":1006}", "code"},
		{"{\"action\":\"flap\",\"reason\":\"no code\"}", "reason"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *param;
		assert_int_equal(wc_err(c, "sim/fault", bad[i][0], &param), -32602);
		assert_string_equal(param, bad[i][1]);
	}
	wc_close(c);
}

static void test_close_sends_the_code_and_reason(void **state)
{
	wire *w = *state;
	static const struct {
		const char *params;
		int code;
		const char *reason;
	} cases[] = {
		{"{\"action\":\"close\"}", 1000, ""},
		{"{\"action\":\"close\",\"code\":4000,\"reason\":\"bye\"}", 4000, "bye"},
		{"{\"action\":\"close\",\"code\":1011}", 1011, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		wc *c;
		c = wc_open(w);
		int64_t id = wc_req(c, "sim/fault", cases[i].params);
		wire_until(w, wc_is_closed, c, 3000);
		assert_true(c->closed);
		assert_int_equal(c->close_code, cases[i].code);
		assert_string_equal(c->close_reason, cases[i].reason);
		for (size_t j = 0; j < c->nmsgs; j++) /* no answer to the request */
			assert_null(wc_answer_at(c, j, id));
		wc_close(c);
	}
}

static void test_close_rejects_bad_codes_and_reasons(void **state)
{
	wire *w = *state;
	wc *c;
	c = wc_open(w);
	char long_reason[200];
	snprintf(long_reason, sizeof long_reason, "{\"action\":\"close\",\"reason\":\"%0124d\"}",
		 0);
	static const char *const codes[] = {"999",  "1004", "1005", "1006",     "1012",
					    "1015", "2999", "5000", "\"1000\"", NULL};
	for (const char *const *p = codes; *p; p++) {
		char params[80];
		snprintf(params, sizeof params, "{\"action\":\"close\",\"code\":%s}", *p);
		const char *param;
		assert_int_equal(wc_err(c, "sim/fault", params, &param), -32602);
		assert_string_equal(param, "code");
	}
	const char *param;
	assert_int_equal(wc_err(c, "sim/fault", long_reason, &param), -32602);
	assert_string_equal(param, "reason");
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"close\",\"reason\":5}", &param),
			 -32602);
	assert_string_equal(param, "reason");
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"explode\"}", &param), -32602);
	assert_string_equal(param, "action");
	assert_true(c->open);
	wc_close(c);
}

static void test_drop_closes_without_a_close_frame(void **state)
{
	wire *w = *state;
	wc *c;
	c = wc_open(w);
	wc_req(c, "sim/fault", "{\"action\":\"drop\"}");
	wire_until(w, wc_is_closed, c, 3000);
	assert_true(c->closed);
	assert_int_equal(c->close_code, 0);
	wc_close(c);
}

/* ---- revoke_tokens ----------------------------------------------------------------------- */

#define PRIV "private/get_cancel_on_disconnect"

static void test_revoke_tokens_unauthenticates_every_connection_of_the_account(void **state)
{
	wire *w = *state;
	wc *a1, *a2, *b;
	a1 = wc_open(w);
	a2 = wc_open(w);
	b = wc_open(w);
	wc_auth(a1, "alice", "sa", NULL);
	char refresh[128];
	snprintf(refresh, sizeof refresh, "%s", wc_auth(a2, "alice", "sa", "session:s1"));
	wc_auth(b, "bob", "sb", NULL);
	yajl_val r = wc_call(a1, PRIV, "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	wc_ok(a1, "sim/fault", "{\"action\":\"revoke_tokens\"}");
	assert_int_equal(wc_err(a1, PRIV, "{}", NULL), 13009);
	assert_int_equal(wc_err(a2, PRIV, "{}", NULL), 13009);
	r = wc_call(b, PRIV, "{}", 3000); /* another account is untouched */
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	/* the revoked refresh token is refused; a fresh auth works */
	char p[256];
	snprintf(p, sizeof p, "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"%s\"}",
		 refresh);
	assert_int_equal(wc_err(a2, "public/auth", p, NULL), 13009);
	wc_auth(a2, "alice", "sa", "session:s1");
	r = wc_call(a2, PRIV, "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	assert_int_equal(wc_err(a1, PRIV, "{}", NULL), 13009); /* a1 did not authenticate */
	wc_close(a1);
	wc_close(a2);
	wc_close(b);
}

static void test_revoke_tokens_of_another_account(void **state)
{
	wire *w = *state;
	wc *anon, *b;
	anon = wc_open(w);
	b = wc_open(w);
	wc_auth(b, "bob", "sb", NULL);
	const char *param;
	assert_int_equal(wc_err(anon, "sim/fault", "{\"action\":\"revoke_tokens\"}", &param),
			 -32602);
	assert_string_equal(param, "account");
	assert_int_equal(wc_err(anon, "sim/fault",
				"{\"action\":\"revoke_tokens\",\"account\":\"carol\"}", &param),
			 -32602);
	assert_string_equal(param, "account");
	assert_int_equal(
		wc_err(anon, "sim/fault", "{\"action\":\"revoke_tokens\",\"account\":7}", &param),
		-32602);
	assert_string_equal(param, "account");
	wc_ok(anon, "sim/fault", "{\"action\":\"revoke_tokens\",\"account\":\"bob\"}");
	assert_int_equal(wc_err(b, PRIV, "{}", NULL), 13009);
	wc_auth(b, "bob", "sb", NULL);
	yajl_val r = wc_call(b, PRIV, "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	wc_close(anon);
	wc_close(b);
}

/* ---- the 32 kB limit (deribit-api.md §1) -------------------------------------------------- */

/* A public/test request of exactly n bytes (n >= 100). */
static char *request_of_size(size_t n, int64_t id)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	int head = snprintf(s, n + 1,
			    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"public/test\","
			    "\"params\":{\"pad\":\"",
			    (long long)id);
	memset(s + head, 'x', n - (size_t)head - 3);
	memcpy(s + n - 3, "\"}}", 4);
	assert_int_equal(strlen(s), n);
	return s;
}

static void expect_result(wc *c, int64_t id)
{
	yajl_val r = wc_wait_id(c, id, 3000);
	assert_non_null(r);
	assert_non_null(jget(r, "result", "version", NULL));
	yajl_tree_free(r);
}

static void expect_too_large(wc *c)
{
	yajl_val r = wc_wait_id(c, -1, 3000); /* id null: the request was never read */
	assert_non_null(r);
	assert_int_equal(jint(r, "error", "code", NULL), -32600);
	assert_string_equal(jstr(r, "error", "message", NULL), "request entity too large");
	yajl_tree_free(r);
}

static void send_in_fragments(wc *c, const char *s, size_t chunk)
{
	size_t n = strlen(s);
	for (size_t off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;
		int flags = off == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
		if (off + len < n)
			flags |= LWS_WRITE_NO_FIN;
		wc_send_frame(c, s + off, len, flags);
	}
}

static void test_requests_over_32_kB_get_32600_with_a_null_id(void **state)
{
	wire *w = *state;
	wc *c;
	c = wc_open(w);
	char *at = request_of_size(32768, 1), *over = request_of_size(32769, 2);
	wc_send(c, at);
	expect_result(c, 1);
	wc_send(c, over);
	expect_too_large(c);
	for (size_t i = 0; i < c->nmsgs; i++)
		assert_null(wc_answer_at(c, i, 2));
	wc_alive(c); /* the connection goes on */
	wc_close(c);
	c = wc_open(w);
	send_in_fragments(c, over, 4000); /* the limit is on the message, not the frame */
	expect_too_large(c);
	free(at);
	at = request_of_size(32768, 3);
	send_in_fragments(c, at, 1000);
	expect_result(c, 3);
	char *huge = request_of_size(200000, 4);
	wc_send(c, huge);
	wire_run(w, 300);
	size_t too_large = 0;
	for (size_t i = 0; i < c->nmsgs; i++) {
		yajl_val r = wc_answer_at(c, i, -1);
		too_large += r != NULL;
		yajl_tree_free(r);
	}
	assert_int_equal(too_large, 2); /* one answer per message */
	wc_close(c);
	free(at);
	free(over);
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blackhole_sends_nothing_and_discards_then_ends),
		cmocka_unit_test(test_blackhole_without_ms_lasts_until_the_connection_closes),
		cmocka_unit_test(test_blackhole_freeze_reads_nothing_until_it_ends),
		cmocka_unit_test(test_blackhole_rejects_bad_ms),
		cmocka_unit_test(test_flap_closes_the_next_connections_at_once),
		cmocka_unit_test(test_flap_with_a_close_code_and_disarming),
		cmocka_unit_test(test_close_sends_the_code_and_reason),
		cmocka_unit_test(test_close_rejects_bad_codes_and_reasons),
		cmocka_unit_test(test_drop_closes_without_a_close_frame),
		cmocka_unit_test(
			test_revoke_tokens_unauthenticates_every_connection_of_the_account),
		cmocka_unit_test(test_revoke_tokens_of_another_account),
		cmocka_unit_test(test_requests_over_32_kB_get_32600_with_a_null_id),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
