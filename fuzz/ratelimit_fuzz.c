/* ratelimit_fuzz.c — libFuzzer harness for the credit buckets (ratelimit.c) on a fake clock.
 * The input is a sequence of 4-byte operations: advance the clock (0..~16 s, never backwards),
 * reserve a request (pool and cost of a real method from lt_methods[], or any cost up to the
 * pool's capacity), ask lt_rl_delay, drain a pool (a 10028), set the matching-engine tier or
 * replace a pool's figures (lt_rl_set_bucket, as tier = "auto" does).
 * Every reservation is sent at now + its wait. Invariants, per pool, from the last change of
 * its figures on (a change keeps what was spent, so the bound restarts there):
 *  - token bucket: for every window [t1, t2] of send times (t1 at or after the change), the
 *    credits sent in it are at most cap + rate * (t2 - t1 + 1 µs) of the local bucket (waits
 *    are whole microseconds rounded up: a request sent up to 1 µs late leaves that much
 *    refill to the next one, at most rate * 1 µs credits, far below the request kept back
 *    from the venue's capacity), and the local figures stay below the venue's (cap <=
 *    venue_cap, rate = 95 % of the venue's), so the venue's bucket never runs dry; a request
 *    that costs more than the whole capacity is not made (no bucket bounds it);
 *  - FIFO: reservations leave in the order they were made (send times never decrease, 1 µs
 *    of rounding allowed);
 *  - lt_rl_delay at the same instant predicts lt_rl_reserve's wait exactly, waits are >= 0.
 * Never crashes (UBSan: no overflow or bad float-to-int conversion). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define MAXSENT 256

typedef struct sent {
	int64_t at;
	double cost;
} sent;

typedef struct track {
	sent s[MAXSENT];
	int n;
	int64_t last_send;
} track;

static void fail(const char *what, int pool, double a, double b)
{
	fprintf(stderr, "ratelimit_fuzz: pool %d: %s (%.6f vs %.6f)\n", pool, what, a, b);
	abort();
}

static int by_time(const void *a, const void *b)
{
	const sent *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Sends in every window [t1, t2] of send times against the bucket bound: sorted by time with
 * prefix sums, every pair (i <= j) is a window (ties: the widest pair covers them all). */
static void check_windows(const track *t, const lt_rl_bucket *b, int pool)
{
	sent s[MAXSENT];
	double pre[MAXSENT + 1];
	memcpy(s, t->s, (size_t)t->n * sizeof *s);
	qsort(s, (size_t)t->n, sizeof *s, by_time);
	pre[0] = 0;
	for (int i = 0; i < t->n; i++)
		pre[i + 1] = pre[i] + s[i].cost;
	for (int i = 0; i < t->n; i++)
		for (int j = i; j < t->n; j++) {
			double sum = pre[j + 1] - pre[i];
			double bound = b->cap + b->rate * (double)(s[j].at - s[i].at + 1) / 1e6;
			if (sum > bound + 1e-9 * (bound + 1)) {
				fprintf(stderr,
					"window [%lld, %lld] us: %d sends, cap %.6f rate %.6f\n",
					(long long)s[i].at, (long long)s[j].at, j - i + 1, b->cap,
					b->rate);
				fail("window over the bucket", pool, sum, bound);
			}
		}
}

static void reset(track *t)
{
	t->n = 0;
	t->last_send = INT64_MIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static track tr[4];
	size_t nm = 0;
	while (lt_methods[nm])
		nm++;
	int64_t now = 1000000;
	lt_rl rl;
	lt_rl_init(&rl, now);
	for (int p = 0; p < 4; p++)
		reset(&tr[p]);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		const uint8_t *op = data + i;
		int pool = op[1] & 3;
		lt_rl_bucket *b = &rl.pool[pool];
		unsigned arg = (unsigned)op[2] << 8 | op[3];
		switch (op[0] % 8) {
		case 0:
		case 1: /* the clock moves: up to 65 ms, or up to 16 s */
			now += op[0] & 8 ? (int64_t)arg * 250 : (int64_t)arg;
			break;
		case 2:
		case 3:
		case 4: { /* reserve */
			double cost;
			if (op[0] & 8) {
				const lt_method *m = lt_methods[arg % nm];
				pool = m->pool;
				b = &rl.pool[pool];
				cost = m->cost;
			} else
				cost = 1 + arg % (unsigned)(b->cap > 1 ? b->cap : 1);
			if (cost > b->cap)
				break; /* can never fit (a pool smaller than one request): not bounded */
			int64_t predicted = lt_rl_delay(&rl, (lt_pool)pool, (int)cost, now);
			int64_t wait = lt_rl_reserve(&rl, (lt_pool)pool, (int)cost, now);
			if (wait < 0 || wait != predicted)
				fail("delay predicts reserve", pool, (double)predicted,
				     (double)wait);
			track *t = &tr[pool];
			int64_t at = now + wait;
			if (at + 1 < t->last_send)
				fail("FIFO: a later reservation leaves first", pool, (double)at,
				     (double)t->last_send);
			if (at > t->last_send)
				t->last_send = at;
			if (t->n < MAXSENT)
				t->s[t->n++] = (sent){at, cost};
			break;
		}
		case 5:
			lt_rl_drain(&rl, (lt_pool)pool, now);
			break;
		case 6:
			if (lt_rl_set_tier(&rl, op[2] % 6, now) == 0)
				reset(&tr[LT_POOL_ME]);
			break;
		case 7: { /* the account's real figures */
			double cap = 1 + (double)(arg % 60000),
			       rate = 1 + (double)(op[3] % 200) * 100;
			lt_rl_set_bucket(&rl, (lt_pool)pool, cap, rate, now);
			reset(&tr[pool]);
			break;
		}
		}
	}
	for (int p = 0; p < 4; p++) {
		const lt_rl_bucket *b = &rl.pool[p];
		if (b->rate > b->venue_rate * LT_RL_RATE_MARGIN * (1 + 1e-12))
			fail("rate above the margin", p, b->rate, b->venue_rate);
		if (b->cap > b->venue_cap)
			fail("capacity above the venue's", p, b->cap, b->venue_cap);
		check_windows(&tr[p], b, p);
	}
	return 0;
}
