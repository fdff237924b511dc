/* ratelimit.h — one client's rate limiter: Deribit's credit buckets (deribit-api.md §7).
 *
 * Pools: non-matching-engine credits (cost 500, cap 50,000, refill 10,000/s), subscribe
 * (cost 3,000, cap 30,000, refill 10,000/s), get_instruments (cost 10,000, cap 500,000, refill
 * 10,000/s) and the matching-engine bucket (cost 1, tier 4: 5/s, burst 20). Each client owns
 * one instance; none is shared. Time is passed in (microseconds), so the arithmetic is testable
 * with a fake clock.
 *
 * Safety margin: every bucket refills at LT_RL_RATE_MARGIN of the venue's rate and keeps one
 * request's cost below the venue's capacity, so jitter never brings a request to the venue
 * before its bucket has the credits (ratelimit.c says why).
 *
 * Reservations make waiting FIFO: lt_rl_reserve takes the credits now, possibly driving the
 * level below zero, and returns how long the caller must wait before sending; the next caller's
 * wait is therefore longer, so requests leave in the order they were made.
 *
 * Example:
 *     lt_rl rl; lt_rl_init(&rl, lt_now_us()); lt_rl_set_tier(&rl, 4, lt_now_us());
 *     int64_t wait = lt_rl_reserve(&rl, LT_POOL_ME, 1, lt_now_us());  // 0: send now
 * Errors: lt_rl_set_tier returns LT_EINVAL outside 1..4.
 */
#ifndef LT_RATELIMIT_H
#define LT_RATELIMIT_H

#include <stdint.h>

#include "codec.h"

/* The local bucket refills this much slower than the venue's (see ratelimit.c). */
#define LT_RL_RATE_MARGIN 0.95

typedef struct lt_rl_bucket {
	double level, cap, rate; /* credits now, capacity, credits per second (with the margin) */
	double venue_cap, venue_rate; /* the venue's figures this bucket stays below */
	int64_t last_us;              /* time of the last refill */
} lt_rl_bucket;

typedef struct lt_rl {
	lt_rl_bucket pool[4];      /* indexed by lt_pool */
	unsigned long long waited; /* requests that had to wait */
	double waited_s;           /* total time they waited */
} lt_rl;

/* Defaults of a new account (tier 4); now_us starts every bucket full. */
void lt_rl_init(lt_rl *rl, int64_t now_us);

/* Set the matching-engine tier (1..4: 30/100, 20/50, 10/30, 5/20 per s/burst). LT_EINVAL else.
 * Like lt_rl_set_bucket, credits already spent stay spent. */
int lt_rl_set_tier(lt_rl *rl, int tier, int64_t now_us);

/* Replace one pool's capacity and refill rate (the venue's figures; credits per second). The
 * credits already spent stay spent: the new level is the new capacity less what the pool was
 * short of its old one (a fresh pool is full; queued reservations stay queued). Used when the
 * account's real limits are read (tier = "auto"), which may answer after requests went out. */
void lt_rl_set_bucket(lt_rl *rl, lt_pool pool, double cap, double rate, int64_t now_us);

/* How long (µs) a request of cost on pool would wait if reserved now; 0 = it may go now. */
int64_t lt_rl_delay(lt_rl *rl, lt_pool pool, int cost, int64_t now_us);

/* Take cost from pool and return the wait in µs before the request may be sent (0 = now). */
int64_t lt_rl_reserve(lt_rl *rl, lt_pool pool, int cost, int64_t now_us);

/* Empty a pool (after the venue answered 10028): following requests back off for a refill. */
void lt_rl_drain(lt_rl *rl, lt_pool pool, int64_t now_us);

#endif
