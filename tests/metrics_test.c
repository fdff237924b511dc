/* metrics_test.c — src/metrics.c: the registry (counters, gauges, histograms, lookups by
 * label values), the Prometheus text exposition (HELP/TYPE lines, label escaping, cumulative
 * buckets, number formatting), its bounds (the series cap and the dropped-updates counter,
 * label values truncated and made printable), the Lua-only families, and the core's hooks as a
 * client over the fake transport fires them (request ends by method and error, the round
 * trip on the fake clock, 10028, reconnects, connection_lost).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "metrics.h"
#include "support/fake_transport.h"

static const double bk[] = {0.01, 0.1, 1};

static const lt_mx_family fams[] = {
	{"t_requests_total",
	 "Requests.",
	 LT_MX_COUNTER,
	 {"client", "method"},
	 NULL,
	 0,
	 false,
	 NULL},
	{"t_depth",
	 "Depth with a \\ and a\nnewline.",
	 LT_MX_GAUGE,
	 {"client"},
	 NULL,
	 0,
	 false,
	 NULL},
	{"t_rtt_seconds", "Round trip.", LT_MX_HISTOGRAM, {"client"}, bk, 3, false, NULL},
	{"luatrade_metrics_series_dropped_total",
	 "Dropped.",
	 LT_MX_COUNTER,
	 {NULL},
	 NULL,
	 0,
	 false,
	 NULL},
};

/* The exposition of m (a fresh string the caller frees). */
static char *render(const lt_metrics *m)
{
	lt_buf b;
	lt_buf_init(&b, 0);
	assert_int_equal(lt_metrics_render(m, &b), 0);
	char *s = strndup(lt_buf_text(&b), b.len);
	lt_buf_free(&b);
	return s;
}

static void assert_has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_counter_gauge_and_their_exposition(void **state)
{
	(void)state;
	lt_metrics *m = lt_metrics_new(fams, 4, 16);
	assert_non_null(m);
	const char *a[] = {"public", "public/ticker"}, *b[] = {"public", "public/test"};
	assert_int_equal(lt_metrics_add(m, 0, a, 1), 0);
	assert_int_equal(lt_metrics_add(m, 0, a, 2), 0);
	assert_int_equal(lt_metrics_add(m, 0, b, 1), 0);
	assert_int_equal(lt_metrics_add(m, 0, a, -1), LT_EINVAL); /* counters never go down */
	assert_int_equal(lt_metrics_set(m, 0, a, 5), LT_EINVAL);  /* nor are they set */
	assert_true(lt_metrics_value(m, 0, a) == 3);
	const char *g[] = {"private"};
	assert_int_equal(lt_metrics_set(m, 1, g, 7), 0);
	assert_int_equal(lt_metrics_add(m, 1, g, -2), 0);
	assert_true(lt_metrics_value(m, 1, g) == 5);
	char *t = render(m);
	assert_has(t, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"
		      "t_requests_total{client=\"public\",method=\"public/ticker\"} 3\n"
		      "t_requests_total{client=\"public\",method=\"public/test\"} 1\n");
	/* help text escapes \ and newline (not quotes) */
	assert_has(t, "# HELP t_depth Depth with a \\\\ and a\\nnewline.\n# TYPE t_depth gauge\n"
		      "t_depth{client=\"private\"} 5\n");
	assert_has(t, "# TYPE luatrade_metrics_series_dropped_total counter\n"
		      "luatrade_metrics_series_dropped_total 0\n");
	free(t);
	lt_metrics_zero_gauges(m);
	assert_true(lt_metrics_value(m, 1, g) == 0);
	assert_true(lt_metrics_value(m, 0, a) == 3); /* counters stay */
	lt_metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
	(void)state;
	lt_metrics *m = lt_metrics_new(fams, 4, 16);
	const char *v[] = {"public"};
	double obs[] = {0.005, 0.01, 0.05, 0.5, 3};
	for (int i = 0; i < 5; i++)
		assert_int_equal(lt_metrics_observe(m, 2, v, obs[i]), 0);
	assert_int_equal(lt_metrics_add(m, 2, v, 1), LT_EINVAL);
	char *t = render(m);
	assert_has(t,
		   "# TYPE t_rtt_seconds histogram\n"
		   "t_rtt_seconds_bucket{client=\"public\",le=\"0.01\"} 2\n" /* le is inclusive */
		   "t_rtt_seconds_bucket{client=\"public\",le=\"0.1\"} 3\n"
		   "t_rtt_seconds_bucket{client=\"public\",le=\"1\"} 4\n"
		   "t_rtt_seconds_bucket{client=\"public\",le=\"+Inf\"} 5\n"
		   "t_rtt_seconds_sum{client=\"public\"} 3.565\n"
		   "t_rtt_seconds_count{client=\"public\"} 5\n");
	free(t);
	lt_metrics_free(m);
}

static void test_label_values_are_escaped_and_bounded(void **state)
{
	(void)state;
	lt_metrics *m = lt_metrics_new(fams, 4, 16);
	const char *v[] = {"a\"b\\c\nd\x01\xc3\xa9", "x"};
	assert_int_equal(lt_metrics_add(m, 0, v, 1), 0);
	char *t = render(m);
	/* quote, backslash and newline escaped; a control byte and non-ASCII bytes become _ */
	assert_has(t, "t_requests_total{client=\"a\\\"b\\\\c\\nd___\",method=\"x\"} 1\n");
	free(t);
	char longv[200];
	memset(longv, 'z', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	const char *l[] = {"public", longv};
	assert_int_equal(lt_metrics_add(m, 0, l, 1), 0);
	t = render(m);
	char want[LT_METRICS_VALUE_MAX + 16];
	snprintf(want, sizeof want, "method=\"%.*s\"} 1\n", LT_METRICS_VALUE_MAX - 1, longv);
	assert_has(t, want);
	free(t);
	/* two values that truncate alike are one series */
	longv[100] = 'y';
	assert_int_equal(lt_metrics_add(m, 0, l, 1), 0);
	assert_int_equal(lt_metrics_series_count(m), 3); /* dropped counter + 2 */
	assert_true(lt_metrics_value(m, 0, l) == 2);
	lt_metrics_free(m);
}

static void test_series_are_capped_and_drops_counted(void **state)
{
	(void)state;
	lt_metrics *m = lt_metrics_new(fams, 4, 5); /* the dropped counter takes one */
	char name[32];
	int ok = 0, full = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "m%d", i);
		const char *v[] = {"public", name};
		int rc = lt_metrics_add(m, 0, v, 1);
		ok += rc == 0;
		full += rc == LT_EFULL;
	}
	assert_int_equal(ok, 4);
	assert_int_equal(full, 96);
	assert_int_equal(lt_metrics_series_count(m), 5);
	assert_true(lt_metrics_value(m, 3, NULL) == 96);
	/* existing series still count past the cap */
	const char *v0[] = {"public", "m0"};
	assert_int_equal(lt_metrics_add(m, 0, v0, 1), 0);
	assert_true(lt_metrics_value(m, 0, v0) == 2);
	char *t = render(m);
	assert_has(t, "luatrade_metrics_series_dropped_total 96\n");
	assert_null(strstr(t, "m4\""));
	free(t);
	lt_metrics_free(m);
}

static void test_runtime_families_and_scopes(void **state)
{
	(void)state;
	lt_metrics *m = lt_metrics_new_runtime();
	assert_non_null(m);
	assert_null(lt_metrics_scope(m, "other"));
	assert_false(lt_metrics_scoped(m, "public"));
	const lt_mx *pub = lt_metrics_scope(m, "public");
	assert_non_null(pub);
	assert_true(lt_metrics_scoped(m, "public"));
	assert_false(lt_metrics_scoped(m, "private"));
	assert_ptr_equal(lt_metrics_scope(m, "public"), pub);
	char *t = render(m);
	/* counters of the client and the preset values exist at 0 before anything happened */
	assert_has(t, "luatrade_reconnects_total{client=\"public\"} 0\n");
	assert_has(t,
		   "luatrade_subscription_dropped_total{client=\"public\",reason=\"newest\"} 0\n");
	assert_has(t,
		   "luatrade_limiter_waits_total{client=\"public\",pool=\"matching_engine\"} 0\n");
	assert_has(t, "luatrade_messages_dropped_total{client=\"public\",reason=\"oversize\"} 0\n");
	assert_has(t, "luatrade_request_duration_seconds_count{client=\"public\"} 0\n");
	assert_null(strstr(t, "client=\"private\""));
	free(t);
	/* only the orders' families are Lua's */
	int placed = lt_metrics_family(m, "luatrade_orders_placed_total");
	assert_int_equal(placed, LT_M_ORDERS_PLACED);
	assert_true(lt_metrics_family_info(m, placed)->lua);
	assert_false(lt_metrics_family_info(m, LT_M_REQUESTS)->lua);
	assert_int_equal(lt_metrics_family(m, "nope"), -1);
	/* hooks: a method outside the codec table is "other"; errors by kind and name */
	lt_mx_request(pub, "public/ticker", 0, 0.002, -1, -1);
	lt_mx_request(pub, "made/up_method", LT_CODE_TIMEOUT, -1, -1, -1);
	lt_mx_request(pub, "public/ticker", 10028, 0.02, LT_POOL_NON_ME, 0.25);
	const char *tick[] = {"public", "public/ticker"}, *other[] = {"public", "other"};
	assert_true(lt_metrics_value(m, LT_M_REQUESTS, tick) == 2);
	assert_true(lt_metrics_value(m, LT_M_REQUESTS, other) == 1);
	const char *e1[] = {"public", "other", "timeout", "timeout"};
	const char *e2[] = {"public", "public/ticker", "rate_limit", "too_many_requests"};
	assert_true(lt_metrics_value(m, LT_M_REQUEST_ERRORS, e1) == 1);
	assert_true(lt_metrics_value(m, LT_M_REQUEST_ERRORS, e2) == 1);
	const char *c[] = {"public"}, *pool[] = {"public", "non_matching_engine"};
	assert_true(lt_metrics_value(m, LT_M_VENUE_RATE_LIMITED, c) == 1);
	assert_true(lt_metrics_value(m, LT_M_ROUND_TRIP, c) == 2); /* observations */
	assert_true(lt_metrics_value(m, LT_M_LIMITER_WAITS, pool) == 1);
	assert_true(lt_metrics_value(m, LT_M_LIMITER_WAIT_SECONDS, c) == 0.25);
	lt_mx_inc(NULL, LT_M_RECONNECTS, NULL, 1); /* no scope: nothing, no crash */
	lt_mx_request(NULL, "public/ticker", 0, 0.1, 0, 0);
	lt_metrics_free(m);
	lt_metrics_free(NULL);
}

/* ---- the hooks in client.c / request.c, over the fake transport ------------------------- */

static void test_client_hooks_count_requests_round_trips_and_reconnects(void **state)
{
	(void)state;
	lua_State *L;
	lt_loop *loop;
	lt_fake_tp tp;
	lt_cl_opts o;
	memset(&o, 0, sizeof o);
	lt_fake_env_open(&L, &loop, &tp, &o, 1000000000);
	lt_metrics *m = lt_metrics_new_runtime();
	o.ws.metrics = lt_metrics_scope(m, "private");
	lt_cl *cl;
	lt_err err;
	lt_fake_tp_arm(&tp);
	assert_int_equal(lt_cl_new(L, loop, &o, NULL, NULL, &cl, &err), 0);
	lt_fake_open(&tp);
	assert_int_equal(lt_cl_background(cl, "public/test", NULL, 0, 10000, NULL, NULL), 0);
	assert_int_equal(lt_cl_background(cl, "public/test", NULL, 0, 10000, NULL, NULL), 0);
	assert_int_equal(lt_cl_background(cl, "public/get_time", NULL, 0, 10000, NULL, NULL), 0);
	assert_int_equal(tp.nwire, 3);
	lt_fake_clock_us += 3000; /* 3 ms round trip */
	lt_fake_deliverf(&tp, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
			 (long long)lt_fake_id(&tp, 0));
	lt_fake_clock_us += 500000;
	lt_fake_deliverf(&tp,
			 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":10028,"
			 "\"message\":\"too_many_requests\"}}",
			 (long long)lt_fake_id(&tp, 1));
	lt_fake_drop(&tp, "test drop"); /* the third was sent: it ends connection_lost */
	const char *test[] = {"private", "public/test"}, *c[] = {"private"};
	const char *lost[] = {"private", "public/get_time", "transport", "connection_lost"};
	assert_true(lt_metrics_value(m, LT_M_REQUESTS, test) == 2);
	assert_true(lt_metrics_value(m, LT_M_REQUEST_ERRORS, lost) == 1);
	assert_true(lt_metrics_value(m, LT_M_VENUE_RATE_LIMITED, c) == 1);
	assert_true(lt_metrics_value(m, LT_M_RECONNECTS, c) == 1);
	assert_true(lt_metrics_value(m, LT_M_ROUND_TRIP, c) == 2); /* the lost one: none */
	char *t = render(m);
	assert_has(t,
		   "luatrade_request_duration_seconds_bucket{client=\"private\",le=\"0.0025\"} 0\n"
		   "luatrade_request_duration_seconds_bucket{client=\"private\",le=\"0.005\"} 1\n");
	assert_has(t, "luatrade_request_duration_seconds_bucket{client=\"private\",le=\"0.25\"} 1\n"
		      "luatrade_request_duration_seconds_bucket{client=\"private\",le=\"0.5\"} 1\n"
		      "luatrade_request_duration_seconds_bucket{client=\"private\",le=\"1\"} 2\n");
	assert_has(t, "luatrade_request_duration_seconds_sum{client=\"private\"} 0.506\n");
	free(t);
	lt_cl_free(cl);
	lt_fake_env_close(L, loop, &tp);
	lt_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_gauge_and_their_exposition),
		cmocka_unit_test(test_histogram_buckets_are_cumulative),
		cmocka_unit_test(test_label_values_are_escaped_and_bounded),
		cmocka_unit_test(test_series_are_capped_and_drops_counted),
		cmocka_unit_test(test_runtime_families_and_scopes),
		cmocka_unit_test(test_client_hooks_count_requests_round_trips_and_reconnects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
