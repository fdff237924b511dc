/* ratelimit_test.c — src/ratelimit.c: the credit-bucket arithmetic of every pool with a fake
 * clock in microseconds: a full start, refill up to the cap, FIFO reservations, lt_rl_delay
 * taking nothing, the subscribe, get_instruments and matching-engine pools, tiers, drain, and
 * the waited counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "ratelimit.h"

#define T0 ((int64_t)1700000000000000)  /* an arbitrary start; the clock is never 0 */
#define NON_ME_COST 500
#define MS 1000

/* Reserve n times at now; assert each goes at once. */
static void reserve_free(lt_rl *rl, lt_pool pool, int cost, int n, int64_t now)
{
	for (int i = 0; i < n; i++) {
		int64_t d = lt_rl_reserve(rl, pool, cost, now);
		if (d != 0)
			fail_msg("reservation %d of %d waits %lld us", i + 1, n, (long long)d);
	}
}

static void test_new_limiter_is_full(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	assert_true(rl.pool[LT_POOL_NON_ME].level == 50000);
	assert_true(rl.pool[LT_POOL_NON_ME].cap == 50000);
	assert_true(rl.pool[LT_POOL_NON_ME].rate == 10000);
	assert_int_equal(rl.waited, 0);
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 0);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	assert_int_equal(rl.waited, 0);
	assert_true(rl.waited_s == 0);
	/* the 101st waits for 500 credits at 10,000/s */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50000);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50000);
	assert_int_equal(rl.waited, 1);
	/* the other pools were not touched */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_SUBSCRIBE, 3000, T0), 0);
	assert_true(rl.pool[LT_POOL_SUBSCRIBE].level == 30000);
	assert_true(rl.pool[LT_POOL_INSTRUMENTS].level == 500000);
	assert_true(rl.pool[LT_POOL_ME].level == 20);
}

static void test_refill_restores_capacity_up_to_the_cap(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, T0);  /* empty */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50000);
	/* 25 ms later: 250 credits back, 250 missing */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0 + 25 * MS), 25000);
	/* 50 ms: exactly one request's worth */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0 + 50 * MS), 0);
	/* 1 s: 10,000 credits = 20 requests, then the 21st waits */
	int64_t t1 = T0 + 1000 * MS;
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 20, t1);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, t1), 50000);
	/* an hour idle: full again, never above the cap */
	int64_t t2 = T0 + (int64_t)3600 * 1000 * MS;
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, t2), 0);
	assert_true(rl.pool[LT_POOL_NON_ME].level == 50000);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, t2);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, t2), 50000);
	/* a clock that steps back adds nothing */
	lt_rl fresh;
	lt_rl_init(&fresh, T0);
	reserve_free(&fresh, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	assert_int_equal(lt_rl_delay(&fresh, LT_POOL_NON_ME, NON_ME_COST, T0 - 1000 * MS), 50000);
	assert_true(fresh.pool[LT_POOL_NON_ME].level == 0);
}

static void test_reservations_are_fifo(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	/* successive reservations at the same instant: 50 ms apart (500 credits / 10,000 per s) */
	for (int i = 1; i <= 10; i++)
		assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), i * 50000);
	assert_true(rl.pool[LT_POOL_NON_ME].level == -5000);
	/* 120 ms later: the queue has moved on by 1,200 credits; the next is 11th in line */
	int64_t t = T0 + 120 * MS;
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, t), 11 * 50000 - 120000);
	assert_int_equal(rl.waited, 11);
	/* waiting exactly as long as told lets each request go in its turn */
	lt_rl q;
	lt_rl_init(&q, T0);
	reserve_free(&q, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	int64_t d1 = lt_rl_reserve(&q, LT_POOL_NON_ME, NON_ME_COST, T0);
	int64_t d2 = lt_rl_reserve(&q, LT_POOL_NON_ME, NON_ME_COST, T0);
	int64_t d3 = lt_rl_reserve(&q, LT_POOL_NON_ME, NON_ME_COST, T0);
	assert_true(d1 < d2 && d2 < d3);
	/* at d3 every queued request has been paid for: the level is back to 0, nothing extra */
	assert_int_equal(lt_rl_delay(&q, LT_POOL_NON_ME, 0, T0 + d3), 0);
	assert_true(fabs(q.pool[LT_POOL_NON_ME].level) < 1e-6);
}

static void test_delay_takes_no_credits(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 0);
	assert_true(rl.pool[LT_POOL_NON_ME].level == 50000);
	assert_int_equal(rl.waited, 0);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50000);
	assert_int_equal(rl.waited, 0);  /* asking is not waiting */
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50000);
	/* a larger cost asks for more */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_NON_ME, 2000, T0), 250000);
}

static void test_subscribe_pool(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	reserve_free(&rl, LT_POOL_SUBSCRIBE, 3000, 10, T0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, T0), 300 * MS);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, T0), 600 * MS);
	/* the non-ME pool is separate */
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 0);
	/* cap 30,000: after a long pause at most 10 go at once */
	int64_t t = T0 + 100 * 1000 * MS;
	reserve_free(&rl, LT_POOL_SUBSCRIBE, 3000, 10, t);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, t), 300 * MS);
}

static void test_instruments_pool(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	/* cap 500,000 at 10,000 each: 50 go, the 51st waits a second */
	reserve_free(&rl, LT_POOL_INSTRUMENTS, 10000, 50, T0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_INSTRUMENTS, 10000, T0), 1000 * MS);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_INSTRUMENTS, 10000, T0), 2000 * MS);
	assert_true(rl.pool[LT_POOL_INSTRUMENTS].cap == 500000);
	assert_true(rl.pool[LT_POOL_INSTRUMENTS].rate == 10000);
}

static void test_matching_engine_tier4(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	reserve_free(&rl, LT_POOL_ME, 1, 20, T0);  /* burst 20 */
	for (int i = 1; i <= 5; i++)
		assert_int_equal(lt_rl_reserve(&rl, LT_POOL_ME, 1, T0), i * 200 * MS);
	/* at a steady 5/s nobody waits once the queue is paid off */
	lt_rl s;
	lt_rl_init(&s, T0);
	reserve_free(&s, LT_POOL_ME, 1, 20, T0);
	for (int i = 1; i <= 50; i++)
		assert_int_equal(lt_rl_reserve(&s, LT_POOL_ME, 1, T0 + i * 200 * MS), 0);
	assert_int_equal(lt_rl_reserve(&s, LT_POOL_ME, 1, T0 + 50 * 200 * MS), 200 * MS);
}

static void test_set_tier(void **state)
{
	(void)state;
	static const struct {
		int tier, rate, burst;
	} tiers[] = {{1, 30, 100}, {2, 20, 50}, {3, 10, 30}, {4, 5, 20}};
	for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
		lt_rl rl;
		lt_rl_init(&rl, T0);
		lt_rl_bucket non_me = rl.pool[LT_POOL_NON_ME];
		assert_int_equal(lt_rl_set_tier(&rl, tiers[i].tier, T0), 0);
		assert_true(rl.pool[LT_POOL_ME].cap == tiers[i].burst);
		assert_true(rl.pool[LT_POOL_ME].rate == tiers[i].rate);
		reserve_free(&rl, LT_POOL_ME, 1, tiers[i].burst, T0);
		int64_t gap = (1000000 + tiers[i].rate - 1) / tiers[i].rate;  /* rounded up */
		assert_int_equal(lt_rl_reserve(&rl, LT_POOL_ME, 1, T0), gap);
		assert_int_equal(lt_rl_reserve(&rl, LT_POOL_ME, 1, T0), 2 * (int64_t)1000000 /
					 tiers[i].rate + (2 * 1000000 % tiers[i].rate != 0));
		/* only the ME pool changes */
		assert_memory_equal(&rl.pool[LT_POOL_NON_ME], &non_me, sizeof non_me);
	}
	lt_rl rl;
	lt_rl_init(&rl, T0);
	lt_rl before = rl;
	assert_int_equal(lt_rl_set_tier(&rl, 0, T0), LT_EINVAL);
	assert_int_equal(lt_rl_set_tier(&rl, 5, T0), LT_EINVAL);
	assert_int_equal(lt_rl_set_tier(&rl, -1, T0), LT_EINVAL);
	assert_memory_equal(&rl.pool, &before.pool, sizeof rl.pool);
}

static void test_drain_empties_a_pool(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	lt_rl_drain(&rl, LT_POOL_NON_ME, T0);
	assert_true(rl.pool[LT_POOL_NON_ME].level == 0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50 * MS);
	/* other pools keep their credits */
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, T0), 0);
	/* drain with reservations queued (level below 0) keeps the queue */
	lt_rl_drain(&rl, LT_POOL_NON_ME, T0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 100 * MS);
	/* the subscribe pool: a full refill of its cost is 300 ms */
	lt_rl_drain(&rl, LT_POOL_SUBSCRIBE, T0 + 10 * MS);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, T0 + 10 * MS), 300 * MS);
	/* the ME pool: 200 ms */
	lt_rl_drain(&rl, LT_POOL_ME, T0);
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_ME, 1, T0), 200 * MS);
	/* refill after a drain works as usual */
	assert_int_equal(lt_rl_delay(&rl, LT_POOL_ME, 1, T0 + 200 * MS), 0);
}

static void test_waited_counters(void **state)
{
	(void)state;
	lt_rl rl;
	lt_rl_init(&rl, T0);
	reserve_free(&rl, LT_POOL_NON_ME, NON_ME_COST, 100, T0);
	reserve_free(&rl, LT_POOL_ME, 1, 20, T0);
	assert_int_equal(rl.waited, 0);
	assert_true(rl.waited_s == 0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0), 50 * MS);
	assert_int_equal(rl.waited, 1);
	assert_true(fabs(rl.waited_s - 0.05) < 1e-9);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_ME, 1, T0), 200 * MS);
	assert_int_equal(rl.waited, 2);
	assert_true(fabs(rl.waited_s - 0.25) < 1e-9);
	/* later, once refilled, a reservation without delay does not count */
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_SUBSCRIBE, 3000, T0), 0);
	assert_int_equal(lt_rl_reserve(&rl, LT_POOL_NON_ME, NON_ME_COST, T0 + 10000 * MS), 0);
	assert_int_equal(rl.waited, 2);
	assert_true(fabs(rl.waited_s - 0.25) < 1e-9);
	/* lt_rl_init resets them */
	lt_rl_init(&rl, T0);
	assert_int_equal(rl.waited, 0);
	assert_true(rl.waited_s == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_limiter_is_full),
		cmocka_unit_test(test_refill_restores_capacity_up_to_the_cap),
		cmocka_unit_test(test_reservations_are_fifo),
		cmocka_unit_test(test_delay_takes_no_credits),
		cmocka_unit_test(test_subscribe_pool),
		cmocka_unit_test(test_instruments_pool),
		cmocka_unit_test(test_matching_engine_tier4),
		cmocka_unit_test(test_set_tier),
		cmocka_unit_test(test_drain_empties_a_pool),
		cmocka_unit_test(test_waited_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
