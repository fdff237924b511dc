/* ratelimit.c — credit-bucket arithmetic; see ratelimit.h.
 *
 * The safety margin. A limiter that spends credits at exactly the venue's rate loses to
 * ordinary jitter: a request that left just after our bucket refilled can reach the venue's
 * bucket just before its refill (sends bunch up in the kernel and TLS, the venue's clock is
 * not ours), and the venue answers 10028. So the local bucket is deliberately poorer than the
 * venue's: it refills LT_RL_RATE_MARGIN (95 %) as fast, and its capacity keeps one request of
 * the pool back (the last token of a 20-token burst, the last 500 credits of 50,000). Over any
 * window the local bucket then admits fewer requests than the venue's by at least one request
 * plus 5 % of the refill, which covers send jitter of hundreds of milliseconds and costs about
 * 5 % of sustained throughput. */
#include "ratelimit.h"

#include <math.h>

/* One request's cost per pool: the headroom kept below the venue's capacity. */
static const double reserve_of[4] = {500, 1, 3000, 10000};

static void bucket_set(lt_rl_bucket *b, lt_pool pool, double cap, double rate, int64_t now_us)
{
	double keep = reserve_of[pool] < cap / 2 ? reserve_of[pool] : 0;
	b->venue_cap = cap;
	b->venue_rate = rate;
	b->cap = cap - keep;
	b->rate = rate * LT_RL_RATE_MARGIN;
	b->level = b->cap;
	b->last_us = now_us;
}

static void refill(lt_rl_bucket *b, int64_t now_us)
{
	if (now_us > b->last_us) {
		b->level += b->rate * (double)(now_us - b->last_us) / 1e6;
		if (b->level > b->cap)
			b->level = b->cap;
		b->last_us = now_us;
	}
}

void lt_rl_init(lt_rl *rl, int64_t now_us)
{
	bucket_set(&rl->pool[LT_POOL_NON_ME], LT_POOL_NON_ME, 50000, 10000, now_us);
	bucket_set(&rl->pool[LT_POOL_SUBSCRIBE], LT_POOL_SUBSCRIBE, 30000, 10000, now_us);
	bucket_set(&rl->pool[LT_POOL_INSTRUMENTS], LT_POOL_INSTRUMENTS, 500000, 10000, now_us);
	bucket_set(&rl->pool[LT_POOL_ME], LT_POOL_ME, 20, 5, now_us);
	rl->waited = 0;
	rl->waited_s = 0;
}

/* New figures for a bucket in use. What it was short of its capacity (spent and not yet
 * refilled, queued reservations included) stays missing from the new capacity: limits read
 * after requests went out must not hand those credits out a second time. */
static void bucket_change(lt_rl_bucket *b, lt_pool pool, double cap, double rate, int64_t now_us)
{
	refill(b, now_us);
	double spent = b->cap - b->level;
	bucket_set(b, pool, cap, rate, now_us);
	b->level = b->cap - spent;
}

void lt_rl_set_bucket(lt_rl *rl, lt_pool pool, double cap, double rate, int64_t now_us)
{
	bucket_change(&rl->pool[pool], pool, cap, rate, now_us);
}

int lt_rl_set_tier(lt_rl *rl, int tier, int64_t now_us)
{
	static const double rate[] = {30, 20, 10, 5}, burst[] = {100, 50, 30, 20};
	if (tier < 1 || tier > 4)
		return LT_EINVAL;
	bucket_change(&rl->pool[LT_POOL_ME], LT_POOL_ME, burst[tier - 1], rate[tier - 1], now_us);
	return 0;
}

/* Whole microseconds until the bucket holds cost, rounded up: a wait a fraction of a
 * microsecond short would let the request go before its credits are there. */
static int64_t wait_us(const lt_rl_bucket *b, double cost)
{
	double missing = cost - b->level;
	return missing <= 0 ? 0 : (int64_t)ceil(missing / b->rate * 1e6);
}

int64_t lt_rl_delay(lt_rl *rl, lt_pool pool, int cost, int64_t now_us)
{
	lt_rl_bucket *b = &rl->pool[pool];
	refill(b, now_us);
	return wait_us(b, cost);
}

int64_t lt_rl_reserve(lt_rl *rl, lt_pool pool, int cost, int64_t now_us)
{
	lt_rl_bucket *b = &rl->pool[pool];
	refill(b, now_us);
	int64_t d = wait_us(b, cost);
	b->level -= cost;
	if (d > 0) {
		rl->waited++;
		rl->waited_s += (double)d / 1e6;
	}
	return d;
}

void lt_rl_drain(lt_rl *rl, lt_pool pool, int64_t now_us)
{
	lt_rl_bucket *b = &rl->pool[pool];
	refill(b, now_us);
	if (b->level > 0)
		b->level = 0;
}
