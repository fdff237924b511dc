/* sim_stats_test.c — the venue's sim/stats control (src/sim/stats.c) over real wss on loopback
 * (sim_wire.h): labels and requests counted as they arrived, whatever happened to them next
 * (answered, rejected by params or the engine, stalled, rate-limited, failed by a fault, refused
 * after a revocation); which account a message counts for; subscribes/unsubscribes per channel;
 * per open connection its id, token validity, cancel on disconnect and channels; auths and
 * refreshes; the unauthenticated and venue-wide counters; the 10,000-key cap with its overflow
 * count; reset; and bad parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_wire.h"

#define ACCOUNTS "a1:s1,a2:s2,a3:s3,a4:s4"

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

/* sim/stats for account (NULL: unauthenticated), asked on c; the caller frees it. */
static yajl_val stats(wc *c, const char *account)
{
	char p[128];
	snprintf(p, sizeof p, account ? "{\"account\":\"%s\"}" : "{}", account);
	yajl_val r = wc_call(c, "sim/stats", p, 3000);
	if (!jget(r, "result", NULL, NULL))
		fail_msg("sim/stats %s: no result", p);
	return r;
}

/* result.<map>.<key>, 0 when absent */
static int64_t count(yajl_val r, const char *map, const char *key)
{
	yajl_val v = jget(r, "result", map, key);
	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

static size_t len_of(yajl_val r, const char *key)
{
	yajl_val v = jget(r, "result", key, NULL);
	if (!v)
		fail_msg("no result.%s", key);
	return YAJL_IS_ARRAY(v) ? v->u.array.len : v->u.object.len;
}

static yajl_val elem(yajl_val r, const char *key, size_t i)
{
	yajl_val v = jget(r, "result", key, NULL);
	if (!v || !YAJL_IS_ARRAY(v) || i >= v->u.array.len)
		fail_msg("no result.%s[%zu]", key, i);
	return v->u.array.values[i];
}

static void buy(wc *c, const char *method, const char *label_json)
{
	char p[256];
	snprintf(p, sizeof p,
		 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,"
		 "\"type\":\"market\",\"label\":%s}",
		 label_json);
	yajl_tree_free(wc_call(c, method, p, 3000));
}

static void test_labels_count_every_order_request_that_arrived(void **state)
{
	wire *w = *state;
	wc *a, *u;
	a = wc_open(w);
	u = wc_open(w);
	wc_auth(a, "a1", "s1", NULL);
	buy(a, "private/buy", "\"L1\""); /* filled */
	buy(a, "private/buy", "\"L1\""); /* the same label again */
	yajl_tree_free(wc_call(a, "private/sell",
			       "{\"instrument_name\":\"BTC-PERPETUAL\","
			       "\"amount\":-5,\"type\":\"market\",\"label\":\"L2\"}",
			       3000));
	yajl_tree_free(wc_call(a, "private/edit",
			       "{\"order_id\":\"nope\",\"amount\":10,"
			       "\"label\":\"L3\"}",
			       3000)); /* rejected: no such order */
	wc_ok(a, "sim/fault", "{\"action\":\"stall\"}");
	int64_t stalled = wc_req(a, "private/buy",
				 "{\"instrument_name\":\"BTC-PERPETUAL\","
				 "\"amount\":10,\"type\":\"market\",\"label\":\"L4\"}");
	wc_ok(a, "sim/fault", "{\"action\":\"rate_limit\"}");
	assert_int_equal(wc_err(a, "private/buy",
				"{\"instrument_name\":\"BTC-PERPETUAL\","
				"\"amount\":10,\"type\":\"market\",\"label\":\"L5\"}",
				NULL),
			 10028);
	wc_ok(a, "sim/fault", "{\"action\":\"error\",\"code\":10040}");
	assert_int_equal(wc_err(a, "private/buy",
				"{\"instrument_name\":\"BTC-PERPETUAL\","
				"\"amount\":10,\"type\":\"market\",\"label\":\"L6\"}",
				NULL),
			 10040);
	yajl_tree_free(wc_call(a, "private/cancel_by_label", "{\"label\":\"L7\"}", 3000));
	buy(a, "private/buy", "5"); /* not a string: no label */
	wc_ok(a, "sim/fault", "{\"action\":\"revoke_tokens\"}");
	buy(a, "private/buy", "\"L8\""); /* 13009, still a1's connection */
	buy(u, "private/buy", "\"L9\""); /* 13009, unauthenticated */
	yajl_val r = stats(u, "a1");
	static const struct {
		const char *label;
		int64_t n;
	} want[] = {
		{"L1", 2}, {"L2", 1}, {"L3", 1}, {"L4", 1}, {"L5", 1},
		{"L6", 1}, {"L7", 0}, {"L8", 1}, {"L9", 0},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (count(r, "labels", want[i].label) != want[i].n)
			fail_msg("labels.%s = %lld, want %lld", want[i].label,
				 (long long)count(r, "labels", want[i].label),
				 (long long)want[i].n);
	assert_int_equal(len_of(r, "labels"), 7);
	assert_int_equal(count(r, "requests", "private/buy"), 7);
	assert_int_equal(count(r, "requests", "private/sell"), 1);
	assert_int_equal(count(r, "requests", "private/edit"), 1);
	assert_int_equal(count(r, "requests", "private/cancel_by_label"), 1);
	assert_int_equal(count(r, "requests", "sim/fault"), 0);   /* controls are not counted */
	assert_int_equal(count(r, "requests", "public/auth"), 0); /* it came unauthenticated */
	assert_int_equal(jint(r, "result", "rate_limited", NULL), 1);
	assert_int_equal(jint(r, "result", "auths", NULL), 1);
	yajl_tree_free(r);
	r = stats(u, NULL);
	assert_int_equal(count(r, "labels", "L9"), 1);
	assert_true(count(r, "requests", "public/auth") >= 1);
	yajl_tree_free(r);
	for (size_t i = 0; i < a->nmsgs; i++) /* the stalled one was never answered */
		assert_null(wc_answer_at(a, i, stalled));
	wc_close(a);
	wc_close(u);
}

static void test_open_connections_show_cancel_on_disconnect_and_channels(void **state)
{
	wire *w = *state;
	wc *a, *b, *c, *q;
	a = wc_open(w);
	b = wc_open(w);
	c = wc_open(w);
	q = wc_open(w);
	wc_auth(a, "a2", "s2", NULL);
	wc_auth(b, "a2", "s2", NULL);
	wc_auth(c, "a2", "s2", NULL);
	yajl_tree_free(wc_call(a, "public/subscribe",
			       "{\"channels\":[\"ticker.BTC-PERPETUAL.100ms\","
			       "\"bogus.channel\"]}",
			       3000));
	yajl_tree_free(wc_call(a, "private/subscribe",
			       "{\"channels\":[\"user.orders.BTC-PERPETUAL.raw\"]}", 3000));
	wc_ok(a, "private/enable_cancel_on_disconnect", "{}");
	yajl_tree_free(wc_call(c, "public/unsubscribe",
			       "{\"channels\":[\"ticker.BTC-PERPETUAL.100ms\"]}", 3000));
	yajl_val r = stats(q, "a2");
	assert_string_equal(jstr(r, "result", "account", NULL), "a2");
	assert_int_equal(jint(r, "result", "connections", NULL), 3);
	assert_int_equal(jint(r, "result", "connections_total", NULL), 3);
	assert_int_equal(jint(r, "result", "auths", NULL), 3);
	assert_int_equal(len_of(r, "connection_ids"), 3);
	assert_true(YAJL_GET_INTEGER(elem(r, "connection_ids", 0)) <
		    YAJL_GET_INTEGER(elem(r, "connection_ids", 1))); /* oldest first */
	assert_true(YAJL_IS_TRUE(elem(r, "cancel_on_disconnect", 0)));
	assert_true(YAJL_IS_FALSE(elem(r, "cancel_on_disconnect", 1)));
	assert_true(YAJL_IS_FALSE(elem(r, "cancel_on_disconnect", 2)));
	for (size_t i = 0; i < 3; i++)
		assert_true(YAJL_IS_TRUE(elem(r, "authenticated", i)));
	yajl_val s0 = elem(r, "subscriptions", 0);
	assert_int_equal(s0->u.array.len, 2);
	assert_string_equal(YAJL_GET_STRING(s0->u.array.values[0]), "ticker.BTC-PERPETUAL.100ms");
	assert_string_equal(YAJL_GET_STRING(s0->u.array.values[1]),
			    "user.orders.BTC-PERPETUAL.raw");
	assert_int_equal(elem(r, "subscriptions", 1)->u.array.len, 0);
	assert_int_equal(count(r, "subscribes", "ticker.BTC-PERPETUAL.100ms"), 1);
	assert_int_equal(count(r, "subscribes", "bogus.channel"), 1); /* named, though refused */
	assert_int_equal(count(r, "subscribes", "user.orders.BTC-PERPETUAL.raw"), 1);
	assert_int_equal(count(r, "unsubscribes", "ticker.BTC-PERPETUAL.100ms"), 1);
	yajl_tree_free(r);
	wc_close(a);
	wire_run(w, 50);
	wc_ok(b, "sim/fault", "{\"action\":\"revoke_tokens\"}");
	r = stats(q, "a2");
	assert_int_equal(jint(r, "result", "connections", NULL), 2);
	assert_int_equal(jint(r, "result", "connections_total", NULL), 3);
	assert_true(YAJL_IS_FALSE(elem(r, "cancel_on_disconnect", 0)));
	assert_true(YAJL_IS_FALSE(elem(r, "authenticated", 0)));
	assert_true(YAJL_IS_FALSE(elem(r, "authenticated", 1)));
	yajl_tree_free(r);
	wc_close(b);
	wc_close(c);
	wc_close(q);
}

static void test_auths_and_refreshes_are_counted_apart(void **state)
{
	wire *w = *state;
	wc *a, *b;
	a = wc_open(w);
	b = wc_open(w);
	char p[256];
	snprintf(p, sizeof p, "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"%s\"}",
		 wc_auth(a, "a3", "s3", NULL));
	yajl_val r = wc_call(a, "public/auth", p, 3000);
	assert_non_null(jget(r, "result", "access_token", NULL));
	yajl_tree_free(r);
	assert_int_equal(wc_err(b, "public/auth",
				"{\"grant_type\":\"client_credentials\","
				"\"client_id\":\"a3\",\"client_secret\":\"wrong\"}",
				NULL),
			 13004);
	wc_auth(b, "a3", "s3", NULL);
	r = stats(b, "a3");
	assert_int_equal(jint(r, "result", "auths", NULL), 2);
	assert_int_equal(jint(r, "result", "refreshes", NULL), 1);
	assert_int_equal(jint(r, "result", "connections_total", NULL), 2);
	assert_int_equal(count(r, "requests", "public/auth"), 1); /* the refresh, from a3's conn */
	yajl_tree_free(r);
	wc_close(a);
	wc_close(b);
}

static void test_unauthenticated_and_venue_wide_counters(void **state)
{
	wire *w = *state;
	wc *q, *u;
	q = wc_open(w);
	yajl_val r = stats(q, NULL);
	int64_t total = jint(r, "result", "connections_total", NULL);
	int64_t open = jint(r, "result", "connections", NULL);
	int64_t unauth = jint(r, "result", "unauthenticated", NULL);
	int64_t malformed = jint(r, "result", "malformed", NULL);
	int64_t get_time = count(r, "requests", "public/get_time");
	assert_true(YAJL_IS_NULL(jget(r, "result", "account", NULL)));
	yajl_tree_free(r);
	u = wc_open(w);
	wc_send(u, "not json");
	wc_send(u, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/test\"}]");
	char *big = malloc(40001);
	assert_non_null(big);
	memset(big, ' ', 40000);
	big[40000] = '\0';
	wc_send(u, big);
	free(big);
	wc_alive(u);
	r = stats(q, NULL);
	assert_int_equal(jint(r, "result", "connections_total", NULL), total + 1);
	assert_int_equal(jint(r, "result", "connections", NULL), open + 1);
	assert_int_equal(jint(r, "result", "unauthenticated", NULL), unauth + 1);
	assert_int_equal(jint(r, "result", "malformed", NULL), malformed + 3);
	assert_int_equal(count(r, "requests", "public/get_time"), get_time + 1);
	assert_int_equal(len_of(r, "connection_ids"), (size_t)(unauth + 1));
	yajl_tree_free(r);
	wc_close(u);
	wc_close(q);
}

/* 10,001 distinct labels and one too long: 10,000 kept, 2 in overflow; then reset. The orders
 * come unauthenticated, so they are refused (10028 or 13009) but counted all the same. */
static void test_label_map_is_capped_and_resets(void **state)
{
	wire *w = *state;
	wc *q = wc_open(w), *u = wc_open(w);
	yajl_tree_free(wc_call(q, "sim/stats", "{\"reset\":true}", 3000));
	char p[512];
	for (int i = 0; i < 10001; i++) {
		snprintf(p, sizeof p, "{\"label\":\"cap-%d\"}", i);
		wc_req(u, "private/buy", p);
	}
	snprintf(p, sizeof p, "{\"label\":\"%0300d\"}", 0);
	int64_t last = wc_req(u, "private/sell", p);
	yajl_val r = wc_wait_id(u, last, 60000); /* answered in order: all of them were read */
	assert_non_null(r);
	yajl_tree_free(r);
	r = wc_call(q, "sim/stats", "{\"reset\":true}", 10000);
	assert_non_null(r);
	assert_int_equal(len_of(r, "labels"), 10000);
	assert_int_equal(jint(r, "result", "overflow", "labels"), 2);
	assert_int_equal(count(r, "requests", "private/buy"), 10001);
	assert_int_equal(count(r, "requests", "private/sell"), 1);
	assert_true(jint(r, "result", "rate_limited", NULL) > 9000);
	yajl_tree_free(r);
	r = stats(q, NULL);
	assert_int_equal(len_of(r, "labels"), 0);
	assert_int_equal(jint(r, "result", "overflow", "labels"), 0);
	assert_int_equal(jint(r, "result", "rate_limited", NULL), 0);
	assert_int_equal(len_of(r, "connection_ids"), 2); /* connections are not reset */
	yajl_tree_free(r);
	wc_close(u);
	wc_close(q);
}

static void test_stats_rejects_bad_parameters(void **state)
{
	wire *w = *state;
	wc *q;
	q = wc_open(w);
	static const char *const bad[][2] = {
		{"{\"account\":5}", "account"},
		{"{\"account\":\"nobody\"}", "account"},
		{"{\"reset\":\"yes\"}", "reset"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *param;
		assert_int_equal(wc_err(q, "sim/stats", bad[i][0], &param), -32602);
		assert_string_equal(param, bad[i][1]);
	}
	yajl_val r = stats(q, "a4"); /* an account nobody used yet */
	assert_int_equal(jint(r, "result", "connections", NULL), 0);
	assert_int_equal(len_of(r, "requests"), 0);
	yajl_tree_free(r);
	wc_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_count_every_order_request_that_arrived),
		cmocka_unit_test(test_open_connections_show_cancel_on_disconnect_and_channels),
		cmocka_unit_test(test_auths_and_refreshes_are_counted_apart),
		cmocka_unit_test(test_unauthenticated_and_venue_wide_counters),
		cmocka_unit_test(test_label_map_is_capped_and_resets),
		cmocka_unit_test(test_stats_rejects_bad_parameters),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
