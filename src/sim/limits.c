/* limits.c — server-side rate limits of the simulated venue (deribit-api.md §7).
 *
 * Credit buckets per account, shared by all its connections; an unauthenticated connection has
 * its own (the real venue limits per IP). Buckets refill continuously up to their cap:
 *   non-matching-engine  500 credits a request, cap 50,000, refill 10,000/s (20/s, burst 100)
 *   subscribe            public/subscribe, private/subscribe: 3,000, cap 30,000, 10,000/s
 *   get_instruments      public/get_instruments: 10,000, cap 500,000, 10,000/s (1/s, burst 50)
 *   matching engine      the ME methods below, one credit a request, per tier
 *                        1: 30/s burst 100, 2: 20/50, 3: 10/30, 4: 5/20 (new accounts: 4)
 * An unauthenticated connection's ME-method requests draw on its non-ME bucket (they are
 * refused with 13009 anyway). "sim/" control methods are never limited. A request that finds
 * too few credits takes none and gets 10028 "too_many_requests"; then the connection is closed
 * when opts.close_on_10028 or sim/configure {close_on_10028: true} says so, as the real venue
 * does: the 10028 answer is written first, then the socket closes; requests that arrive in
 * between are dropped and nothing more is published. sim/fault {action: "rate_limit"} makes the next request of a connection get 10028.
 *
 * Levels are integers in millionths of a credit: a rate of R credits/s adds exactly R units per
 * microsecond, so the arithmetic is exact and testable with a fake clock. The clock is the time
 * the request began to arrive (usIn).
 *
 * Grace: a request may arrive up to GRACE_US early, taking credits the bucket will have then
 * (the level goes below zero and the debt is repaid from the refill). A client that keeps its
 * own exact bucket (src/ratelimit.c) sees loopback and timer jitter of a few milliseconds; the
 * grace absorbs it without changing any burst or sustained rate, as it is worth less than one
 * request in every bucket (10 ms: 100 of 500 credits; tier 1 ME: 0.3 of 1).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

#define UNIT 1000000 /* units per credit */
#define GRACE_US 10000

static const char *const me_methods[] = {"buy",
					 "sell",
					 "edit",
					 "edit_by_label",
					 "cancel",
					 "cancel_by_label",
					 "cancel_all",
					 "cancel_all_by_instrument",
					 "cancel_all_by_currency",
					 "cancel_all_by_kind_or_type",
					 "close_position",
					 "verify_block_trade",
					 "execute_block_trade",
					 "move_positions",
					 "mass_quote",
					 "cancel_quotes",
					 "add_block_rfq_quote",
					 "edit_block_rfq_quote",
					 "cancel_block_rfq_quote",
					 "cancel_all_block_rfq_quotes",
					 NULL};

static const int tier_rate[4] = {30, 20, 10, 5};
static const int tier_burst[4] = {100, 50, 30, 20};

int lt_sim_limits_pool(const char *method)
{
	if (strncmp(method, "sim/", 4) == 0)
		return -1;
	if (strcmp(method, "public/subscribe") == 0 || strcmp(method, "private/subscribe") == 0)
		return LT_SIM_POOL_SUBSCRIBE;
	if (strcmp(method, "public/get_instruments") == 0)
		return LT_SIM_POOL_INSTRUMENTS;
	if (strncmp(method, "private/", 8) == 0)
		for (const char *const *m = me_methods; *m; m++)
			if (strcmp(method + 8, *m) == 0)
				return LT_SIM_POOL_ME;
	return LT_SIM_POOL_NON_ME;
}

static void bucket_set(lt_sim_bucket *b, int64_t cost, int64_t cap, int64_t rate, int64_t now_us)
{
	b->cost = cost * UNIT;
	b->cap = cap * UNIT;
	b->rate = rate;
	b->level = b->cap;
	b->last_us = now_us;
}

static void refill(lt_sim_bucket *b, int64_t now_us)
{
	if (now_us <= b->last_us || b->rate <= 0)
		return;
	int64_t dt = now_us - b->last_us;
	int64_t room = b->cap - b->level;
	/* dt * rate could overflow after a long idle time: compare before multiplying */
	if (room <= 0 || dt >= room / b->rate + 1)
		b->level = b->cap;
	else
		b->level += dt * b->rate;
	if (b->level > b->cap)
		b->level = b->cap;
	b->last_us = now_us;
}

void lt_sim_limits_init(lt_sim_limits *l, int tier, int64_t now_us)
{
	memset(l, 0, sizeof *l);
	bucket_set(&l->pool[LT_SIM_POOL_NON_ME], 500, 50000, 10000, now_us);
	bucket_set(&l->pool[LT_SIM_POOL_SUBSCRIBE], 3000, 30000, 10000, now_us);
	bucket_set(&l->pool[LT_SIM_POOL_INSTRUMENTS], 10000, 500000, 10000, now_us);
	l->grace_us = GRACE_US;
	if (lt_sim_limits_set_tier(l, tier, now_us) != 0)
		lt_sim_limits_set_tier(l, 4, now_us);
	l->pool[LT_SIM_POOL_ME].level = l->pool[LT_SIM_POOL_ME].cap;
}

int lt_sim_limits_set_tier(lt_sim_limits *l, int tier, int64_t now_us)
{
	if (tier < 1 || tier > 4)
		return LT_EINVAL;
	lt_sim_bucket *b = &l->pool[LT_SIM_POOL_ME];
	refill(b, now_us);
	int64_t level = b->level;
	bool fresh = b->cap == 0;
	bucket_set(b, 1, tier_burst[tier - 1], tier_rate[tier - 1], now_us);
	if (!fresh && level < b->cap)
		b->level = level;
	l->tier = tier;
	return 0;
}

bool lt_sim_limits_take(lt_sim_limits *l, int pool, int64_t now_us)
{
	if (pool < 0 || pool >= LT_SIM_NPOOLS)
		return true;
	lt_sim_bucket *b = &l->pool[pool];
	refill(b, now_us);
	if (b->level + l->grace_us * b->rate < b->cost)
		return false;
	b->level -= b->cost;
	return true;
}

int lt_sim_limits_attach(lt_sim_account *a, int64_t now_us)
{
	lt_sim_limits *l = malloc(sizeof *l);
	if (!l)
		return LT_ENOMEM;
	lt_sim_limits_init(l, a->tier ? a->tier : 4, now_us);
	a->limits = l;
	return 0;
}

void lt_sim_limits_detach(lt_sim_account *a)
{
	free(a->limits);
	a->limits = NULL;
}

static bool close_after_10028(const lt_sim_req *rq, const lt_sim_account *acc)
{
	int v = acc ? acc->close_on_10028 : rq->conn->close_on_10028;
	return v ? v == 1 : rq->sim->opts.close_on_10028 != 0;
}

bool lt_sim_limits_check(lt_sim_req *rq, lt_sim_account *acc)
{
	lt_sim_conn *c = rq->conn;
	if (c->close_after_flush) { /* closing after a 10028: later requests are dropped */
		rq->done = true;
		return true;
	}
	int pool = lt_sim_limits_pool(rq->method);
	if (pool < 0)
		return false;
	int64_t now = rq->us_in;
	bool ok;
	if (c->rl_fault) {
		c->rl_fault = false;
		ok = false;
	} else if (acc && acc->limits) {
		ok = lt_sim_limits_take(acc->limits, pool, now);
	} else {
		if (!c->limits_ready) {
			lt_sim_limits_init(&c->limits, 4, now);
			c->limits_ready = true;
		}
		ok = lt_sim_limits_take(&c->limits,
					pool == LT_SIM_POOL_ME ? LT_SIM_POOL_NON_ME : pool, now);
	}
	if (ok)
		return false;
	lt_sim_log(rq->sim, 1, "#%u 10028 too_many_requests: %s", c->id, rq->method);
	lt_sim_reply_error(rq, 10028, "too_many_requests");
	lt_sim_stats_rate_limited(c, acc); /* stats.c */
	if (close_after_10028(rq, acc)) {
		/* the answer goes out first, then the close; nothing more is published */
		c->close_after_flush = true;
		lt_sim_chan_unsubscribe_all(c);
		lt_sim_hb_disable(c);
	}
	return true;
}

static void write_rate(lt_sim_jo *o, const char *key, int64_t rate, int64_t burst)
{
	lt_sim_jo r;
	lt_sim_jo_key(o, key);
	lt_sim_jo_begin(&r, o->b);
	lt_sim_jo_int(&r, "rate", rate);
	lt_sim_jo_int(&r, "burst", burst);
	lt_sim_jo_end(&r);
}

/* deribit-api.md §7 "Actual limits". trading, cancel_all and spot share the account's one ME
 * bucket here; the quote limits are the venue's usual figures (the sim has no mass quotes). */
void lt_sim_limits_write(const lt_sim_account *a, lt_buf *b)
{
	int t = a && a->tier >= 1 && a->tier <= 4 ? a->tier : 4;
	int64_t rate = tier_rate[t - 1], burst = tier_burst[t - 1];
	lt_sim_jo o, me, tr;
	lt_sim_jo_begin(&o, b);
	write_rate(&o, "non_matching_engine", 10000 / 500, 50000 / 500);
	lt_sim_jo_bool(&o, "limits_per_currency", false);
	lt_sim_jo_key(&o, "matching_engine");
	lt_sim_jo_begin(&me, b);
	lt_sim_jo_key(&me, "trading");
	lt_sim_jo_begin(&tr, b);
	write_rate(&tr, "total", rate, burst);
	lt_sim_jo_end(&tr);
	write_rate(&me, "cancel_all", rate, burst);
	write_rate(&me, "spot", rate, burst);
	write_rate(&me, "maximum_quotes", 500, 500);
	write_rate(&me, "maximum_mass_quotes", 10, 10);
	write_rate(&me, "guaranteed_mass_quotes", 2, 2);
	lt_sim_jo_end(&me);
	lt_sim_jo_end(&o);
}
