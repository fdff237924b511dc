/* sim_limits_test.c — src/sim/limits.c: the venue's server-side credit buckets with a fake clock
 * in microseconds (deribit-api.md §7): which bucket each method draws on, bursts and refill of
 * the non-matching-engine, subscribe and get_instruments buckets, the matching-engine bucket of
 * every tier, refusals taking nothing, the cap after a long idle time, tier changes keeping the
 * level, the 10 ms grace, and the `limits` object of get_account_summary. Most tests turn the
 * grace off to check the exact arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sim/internal.h"

#define T0 ((int64_t)1767225600000000) /* a fake clock, µs */
#define MS 1000

static void init_exact(lt_sim_limits *l, int tier, int64_t now)
{
	lt_sim_limits_init(l, tier, now);
	l->grace_us = 0;
}

/* n requests at now all pass */
static void take_n(lt_sim_limits *l, int pool, int n, int64_t now)
{
	for (int i = 0; i < n; i++)
		if (!lt_sim_limits_take(l, pool, now))
			fail_msg("request %d of %d refused", i + 1, n);
}

static void test_methods_map_to_buckets(void **state)
{
	(void)state;
	assert_int_equal(lt_sim_limits_pool("sim/fault"), -1);
	assert_int_equal(lt_sim_limits_pool("sim/configure"), -1);
	assert_int_equal(lt_sim_limits_pool("public/get_time"), LT_SIM_POOL_NON_ME);
	assert_int_equal(lt_sim_limits_pool("public/auth"), LT_SIM_POOL_NON_ME);
	assert_int_equal(lt_sim_limits_pool("public/unsubscribe"), LT_SIM_POOL_NON_ME);
	assert_int_equal(lt_sim_limits_pool("private/get_positions"), LT_SIM_POOL_NON_ME);
	assert_int_equal(lt_sim_limits_pool("public/subscribe"), LT_SIM_POOL_SUBSCRIBE);
	assert_int_equal(lt_sim_limits_pool("private/subscribe"), LT_SIM_POOL_SUBSCRIBE);
	assert_int_equal(lt_sim_limits_pool("public/get_instruments"), LT_SIM_POOL_INSTRUMENTS);
	assert_int_equal(lt_sim_limits_pool("public/get_instrument"), LT_SIM_POOL_NON_ME);
	static const char *const me[] = {"private/buy",
					 "private/sell",
					 "private/edit",
					 "private/edit_by_label",
					 "private/cancel",
					 "private/cancel_by_label",
					 "private/cancel_all",
					 "private/cancel_all_by_instrument",
					 "private/cancel_all_by_currency",
					 "private/cancel_all_by_kind_or_type",
					 "private/close_position",
					 "private/mass_quote",
					 "private/cancel_quotes",
					 NULL};
	for (const char *const *m = me; *m; m++)
		assert_int_equal(lt_sim_limits_pool(*m), LT_SIM_POOL_ME);
	assert_int_equal(lt_sim_limits_pool("public/buy"), LT_SIM_POOL_NON_ME);
	assert_int_equal(lt_sim_limits_pool("private/buyx"), LT_SIM_POOL_NON_ME);
}

static void test_non_me_burst_100_then_one_per_50ms(void **state)
{
	(void)state;
	lt_sim_limits l;
	init_exact(&l, 4, T0);
	take_n(&l, LT_SIM_POOL_NON_ME, 100, T0);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0));
	/* 500 credits at 10,000/s: 50 ms */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 50 * MS - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 50 * MS));
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 50 * MS));
	/* sustained: 20 per second */
	take_n(&l, LT_SIM_POOL_NON_ME, 20, T0 + 1050 * MS);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 1050 * MS));
	/* the other buckets were not touched */
	take_n(&l, LT_SIM_POOL_SUBSCRIBE, 10, T0);
	take_n(&l, LT_SIM_POOL_ME, 20, T0);
}

static void test_refusals_take_nothing(void **state)
{
	(void)state;
	lt_sim_limits l;
	init_exact(&l, 4, T0);
	take_n(&l, LT_SIM_POOL_NON_ME, 100, T0);
	for (int i = 0; i < 1000; i++)
		assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 25 * MS));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 50 * MS));
}

static void test_subscribe_and_get_instruments_buckets(void **state)
{
	(void)state;
	lt_sim_limits l;
	init_exact(&l, 4, T0);
	take_n(&l, LT_SIM_POOL_SUBSCRIBE, 10, T0); /* 30,000 / 3,000 */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_SUBSCRIBE, T0));
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_SUBSCRIBE, T0 + 300 * MS - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_SUBSCRIBE, T0 + 300 * MS));
	take_n(&l, LT_SIM_POOL_INSTRUMENTS, 50, T0); /* 500,000 / 10,000 */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, T0));
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, T0 + 1000 * MS - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, T0 + 1000 * MS));
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, T0 + 1000 * MS));
}

/* burst, then one request after 1/rate seconds (rounded up to the µs) */
static void check_tier(int tier, int rate, int burst)
{
	lt_sim_limits l;
	init_exact(&l, tier, T0);
	assert_int_equal(l.tier, tier);
	take_n(&l, LT_SIM_POOL_ME, burst, T0);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0));
	int64_t one = (1000000 + rate - 1) / rate;
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0 + one - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0 + one));
	/* a second later: `rate` more */
	take_n(&l, LT_SIM_POOL_ME, rate, T0 + one + 1000 * MS);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0 + one + 1000 * MS));
}

static void test_matching_engine_tiers(void **state)
{
	(void)state;
	check_tier(1, 30, 100);
	check_tier(2, 20, 50);
	check_tier(3, 10, 30);
	check_tier(4, 5, 20);
}

static void test_bad_tier_is_refused(void **state)
{
	(void)state;
	lt_sim_limits l;
	lt_sim_limits_init(&l, 9, T0); /* falls back to tier 4 */
	assert_int_equal(l.tier, 4);
	assert_int_equal(lt_sim_limits_set_tier(&l, 0, T0), LT_EINVAL);
	assert_int_equal(lt_sim_limits_set_tier(&l, 5, T0), LT_EINVAL);
	assert_int_equal(l.tier, 4);
}

static void test_tier_change_keeps_the_level(void **state)
{
	(void)state;
	lt_sim_limits l;
	init_exact(&l, 4, T0);
	take_n(&l, LT_SIM_POOL_ME, 20, T0);
	assert_int_equal(lt_sim_limits_set_tier(&l, 1, T0), 0);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0)); /* still empty */
	take_n(&l, LT_SIM_POOL_ME, 30, T0 + 1000 * MS);           /* refills at tier 1's rate */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0 + 1000 * MS));
	/* down to tier 4 with a full tier-1 bucket: capped at 20 */
	init_exact(&l, 1, T0);
	assert_int_equal(lt_sim_limits_set_tier(&l, 4, T0), 0);
	take_n(&l, LT_SIM_POOL_ME, 20, T0);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0));
}

static void test_long_idle_time_fills_to_the_cap_only(void **state)
{
	(void)state;
	lt_sim_limits l;
	init_exact(&l, 4, T0);
	take_n(&l, LT_SIM_POOL_INSTRUMENTS, 50, T0);
	int64_t later = T0 + (int64_t)10 * 365 * 86400 * 1000000; /* ten years */
	take_n(&l, LT_SIM_POOL_INSTRUMENTS, 50, later);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, later));
	assert_true(l.pool[LT_SIM_POOL_INSTRUMENTS].level >= 0);
	/* a clock going backwards adds nothing */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_INSTRUMENTS, later - 5000 * MS));
}

static void test_grace_lets_a_request_come_10ms_early_on_credit(void **state)
{
	(void)state;
	lt_sim_limits l;
	lt_sim_limits_init(&l, 4, T0);
	assert_int_equal(l.grace_us, 10 * MS);
	take_n(&l, LT_SIM_POOL_NON_ME, 100, T0); /* the burst is still 100 */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0));
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 40 * MS - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 40 * MS)); /* 10 ms early */
	/* the debt is repaid: the next one is due at 100 ms, so again 10 ms early at the most */
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 90 * MS - 1));
	assert_true(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 90 * MS));
	/* over a second the sustained rate is unchanged: 20 more by 1.09 s, not 21 */
	take_n(&l, LT_SIM_POOL_NON_ME, 20, T0 + 1090 * MS);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_NON_ME, T0 + 1090 * MS));
	/* tier 1 ME: the burst stays 100 */
	lt_sim_limits_init(&l, 1, T0);
	take_n(&l, LT_SIM_POOL_ME, 100, T0);
	assert_false(lt_sim_limits_take(&l, LT_SIM_POOL_ME, T0));
}

static void test_limits_object_follows_the_tier(void **state)
{
	(void)state;
	lt_sim_account a;
	memset(&a, 0, sizeof a);
	lt_buf b;
	lt_buf_init(&b, 0);
	a.tier = 4;
	lt_sim_limits_write(&a, &b);
	assert_string_equal(
		lt_buf_text(&b),
		"{\"non_matching_engine\":{\"rate\":20,\"burst\":100},\"limits_per_currency\":"
		"false,"
		"\"matching_engine\":{\"trading\":{\"total\":{\"rate\":5,\"burst\":20}},"
		"\"cancel_all\":{\"rate\":5,\"burst\":20},\"spot\":{\"rate\":5,\"burst\":20},"
		"\"maximum_quotes\":{\"rate\":500,\"burst\":500},"
		"\"maximum_mass_quotes\":{\"rate\":10,\"burst\":10},"
		"\"guaranteed_mass_quotes\":{\"rate\":2,\"burst\":2}}}");
	lt_buf_reset(&b);
	a.tier = 1;
	lt_sim_limits_write(&a, &b);
	assert_non_null(
		strstr(lt_buf_text(&b), "\"trading\":{\"total\":{\"rate\":30,\"burst\":100}}"));
	lt_buf_reset(&b);
	a.tier = 2;
	lt_sim_limits_write(&a, &b);
	assert_non_null(strstr(lt_buf_text(&b), "\"total\":{\"rate\":20,\"burst\":50}"));
	lt_buf_reset(&b);
	a.tier = 3;
	lt_sim_limits_write(&a, &b);
	assert_non_null(strstr(lt_buf_text(&b), "\"total\":{\"rate\":10,\"burst\":30}"));
	lt_buf_free(&b);
}

static void test_account_buckets_attach_and_detach(void **state)
{
	(void)state;
	lt_sim_account a;
	memset(&a, 0, sizeof a);
	a.tier = 2;
	assert_int_equal(lt_sim_limits_attach(&a, T0), 0);
	lt_sim_limits *l = a.limits;
	assert_non_null(l);
	assert_int_equal(l->tier, 2);
	take_n(l, LT_SIM_POOL_ME, 50, T0);
	assert_false(lt_sim_limits_take(l, LT_SIM_POOL_ME, T0));
	lt_sim_limits_detach(&a);
	assert_null(a.limits);
	lt_sim_limits_detach(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods_map_to_buckets),
		cmocka_unit_test(test_non_me_burst_100_then_one_per_50ms),
		cmocka_unit_test(test_refusals_take_nothing),
		cmocka_unit_test(test_subscribe_and_get_instruments_buckets),
		cmocka_unit_test(test_matching_engine_tiers),
		cmocka_unit_test(test_bad_tier_is_refused),
		cmocka_unit_test(test_tier_change_keeps_the_level),
		cmocka_unit_test(test_long_idle_time_fills_to_the_cap_only),
		cmocka_unit_test(test_grace_lets_a_request_come_10ms_early_on_credit),
		cmocka_unit_test(test_limits_object_follows_the_tier),
		cmocka_unit_test(test_account_buckets_attach_and_detach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
