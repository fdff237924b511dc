/* market.c — the simulated venue's instruments and seeded synthetic market (market.h).
 *
 * Determinism: everything random comes from one xorshift64* stream seeded through splitmix64
 * from opts.seed, so the same seed and the same number of ticks give the same market on the same
 * UTC day (timestamps are wall-clock; time to expiry runs on the model clock, see market.h). Per tick: the btc_usd/eth_usd indices take a random
 * step, every mark follows its index (perpetual basis, future premium, option Black-76 price),
 * each book's top moves with the mark and a few of its ~20 levels a side change, and now and
 * then a synthetic taker trade takes liquidity from the best level. */
#include "market.h"
#include "trading.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NLEVELS 20 /* resting levels kept per side */
#define MAX_GAP 3  /* a refilled level is 1..MAX_GAP ticks behind the last one */
#define YEAR_MS 31536000000.0

const char *const lt_sim_index_names[LT_SIM_NIDX] = {"btc_usd", "eth_usd"};

static const double index_start[LT_SIM_NIDX] = {93000.0, 3300.0};
static const double index_vol[LT_SIM_NIDX] = {0.00003,
					      0.00004}; /* per tick: ~2.5 %/day at 100 ms */

/* deribit-api.md §6; ids and timestamps are realistic, not real. */
static const lt_sim_instr instruments[] = {
	{"BTC-PERPETUAL", LT_SIM_PERPETUAL, 124972, LT_SIM_IDX_BTC, 1, 2, 10.0, 10.0, 0.0, 0.0005,
	 1534167754000, 32503708800000, "perpetual", 50, 0, false, NULL},
	{"ETH-PERPETUAL", LT_SIM_PERPETUAL, 124993, LT_SIM_IDX_ETH, 1, 20, 1.0, 1.0, 0.0, 0.0005,
	 1534242287000, 32503708800000, "perpetual", 50, 0, false, NULL},
	{"BTC-25DEC26", LT_SIM_FUTURE, 452261, LT_SIM_IDX_BTC, 5, 2, 10.0, 10.0, 0.0, 0.0005,
	 1766736000000, 1798185600000, "month", 50, 0, false, NULL},
	{"BTC-25DEC26-90000-C", LT_SIM_OPTION, 452877, LT_SIM_IDX_BTC, 1, 2000, 1.0, 0.1, 0.0003,
	 0.0003, 1782460800000, 1798185600000, "month", 1, 90000.0, true, "BTC-25DEC26"},
	{"BTC-25DEC26-100000-C", LT_SIM_OPTION, 452881, LT_SIM_IDX_BTC, 1, 2000, 1.0, 0.1, 0.0003,
	 0.0003, 1782460800000, 1798185600000, "month", 1, 100000.0, true, "BTC-25DEC26"},
	{"BTC-25DEC26-90000-P", LT_SIM_OPTION, 452878, LT_SIM_IDX_BTC, 1, 2000, 1.0, 0.1, 0.0003,
	 0.0003, 1782460800000, 1798185600000, "month", 1, 90000.0, false, "BTC-25DEC26"},
	{"BTC-25DEC26-100000-P", LT_SIM_OPTION, 452882, LT_SIM_IDX_BTC, 1, 2000, 1.0, 0.1, 0.0003,
	 0.0003, 1782460800000, 1798185600000, "month", 1, 100000.0, false, "BTC-25DEC26"},
};
#define NINSTR (sizeof instruments / sizeof instruments[0])

/* ---- random numbers ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(lt_sim_market *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dULL;
}

static double urand(lt_sim_market *m) /* [0, 1) */ { return (double)(rnd(m) >> 11) * 0x1.0p-53; }

static int64_t irand(lt_sim_market *m, int64_t n) /* [0, n) */
{
	return (int64_t)(rnd(m) % (uint64_t)n);
}

static double gauss(lt_sim_market *m)
{
	double u = urand(m), v = urand(m);
	return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static double round_to(double v, double scale) { return round(v * scale) / scale; }

double lt_sim_tick_size(const lt_sim_instr *d) { return (double)d->tick_num / (double)d->tick_den; }

const char *lt_sim_currency(const lt_sim_instr *d)
{
	return d->index == LT_SIM_IDX_ETH ? "ETH" : "BTC";
}

const char *lt_sim_kind_name(lt_sim_kind k) { return k == LT_SIM_OPTION ? "option" : "future"; }

int lt_sim_market_index(const char *index_name)
{
	for (int i = 0; i < LT_SIM_NIDX; i++)
		if (strcmp(index_name, lt_sim_index_names[i]) == 0)
			return i;
	return -1;
}

lt_sim_ins *lt_sim_market_find(lt_sim_market *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->ins[i].def->name, name) == 0)
			return &m->ins[i];
	return NULL;
}

/* k steps of the minimum amount, computed so that 0.1 steps print as 0.3, not 0.30000000000000004 */
static double amount_units(const lt_sim_instr *d, int64_t k)
{
	if (d->min_trade_amount < 1.0)
		return (double)k / round(1.0 / d->min_trade_amount);
	return (double)k * d->min_trade_amount;
}

static double rand_amount(lt_sim_market *m, const lt_sim_instr *d)
{
	int64_t k = d->kind == LT_SIM_OPTION ? 1 + irand(m, 250) : 1 + irand(m, 4000);
	if (irand(m, 10) == 0)
		k *= 10; /* the odd large order */
	return amount_units(d, k);
}

/* ---- marks ------------------------------------------------------------------------------- */

static double ncdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Black-76 on the future price F, zero rates, priced in coin (USD price / F); fills the greeks
 * (vega per 1 % of vol, theta per day, both USD; delta and gamma per unit of F). */
static void option_mark(lt_sim_ins *s, double F, double t_years)
{
	const lt_sim_instr *d = s->def;
	double sigma = s->mark_iv / 100.0, sq = sqrt(t_years);
	double d1 = (log(F / d->strike) + 0.5 * sigma * sigma * t_years) / (sigma * sq);
	double d2 = d1 - sigma * sq, pdf = exp(-0.5 * d1 * d1) / sqrt(2.0 * M_PI);
	double usd = d->call ? F * ncdf(d1) - d->strike * ncdf(d2)
			     : d->strike * ncdf(-d2) - F * ncdf(-d1);
	double tick = lt_sim_tick_size(d);
	s->mark = round_to(fmax(usd / F, tick), 10000.0);
	s->delta = round_to(d->call ? ncdf(d1) : ncdf(d1) - 1.0, 100000.0);
	s->gamma = round_to(pdf / (F * sigma * sq), 100000.0);
	s->vega = round_to(F * pdf * sq / 100.0, 100000.0);
	s->theta = round_to(-F * pdf * sigma / (2.0 * sq) / 365.0, 100000.0);
	s->rho = round_to((d->call ? 1.0 : -1.0) * d->strike * t_years * ncdf(d->call ? d2 : -d2) /
				  100.0,
			  100000.0);
}

static void update_mark(lt_sim_market *m, lt_sim_ins *s)
{
	const lt_sim_instr *d = s->def;
	double idx = m->index[d->index];
	double t_years =
		fmax((double)(d->expiration_timestamp - m->model_ms) / YEAR_MS, 1.0 / 365.0);
	if (d->kind == LT_SIM_PERPETUAL) {
		s->funding = fmin(fmax(s->funding + 0.000002 * gauss(m), -0.0005), 0.0005);
		s->mark = round_to(idx * (1.0 + s->funding), 100.0);
	} else if (d->kind == LT_SIM_FUTURE) {
		s->mark = round_to(idx * (1.0 + 0.05 * t_years), 100.0);
	} else {
		s->underlying_price = round_to(idx * (1.0 + 0.05 * t_years), 100.0);
		double moneyness = log(d->strike / s->underlying_price);
		s->mark_iv = round_to(48.0 + 25.0 * moneyness * moneyness + 0.3 * gauss(m), 100.0);
		option_mark(s, s->underlying_price, t_years);
	}
}

/* ---- books ------------------------------------------------------------------------------- */

/* The market only ever sets the synthetic part of a level; user orders resting there stay
 * (trading.h). Without an engine there are no user orders and this is lt_sim_book_set. */
static void set_synth(lt_sim_market *m, lt_sim_ins *s, int side, int64_t price, double amount)
{
	if (m->engine)
		lt_sim_engine_set_synth(m->engine, s, side, price, amount);
	else
		lt_sim_book_set(&s->book, side, price, amount);
}

static double user_at(const lt_sim_market *m, const lt_sim_ins *s, int side, int64_t price)
{
	return m->engine ? lt_sim_engine_user_at(&s->book, side, price) : 0.0;
}

/* Drop the levels of a side that are better than its new synthetic best. A user order there
 * that the opposite best has reached is filled (the market moved through it); one still short
 * of it keeps its place alone, without synthetic liquidity. */
static void drop_through(lt_sim_market *m, lt_sim_ins *s, int side, int64_t best, int64_t opp)
{
	lt_sim_book *bk = &s->book;
	size_t i = 0;
	const lt_sim_level *l;
	while ((l = lt_sim_book_at(bk, side, i)) &&
	       (side == LT_SIM_BID ? l->price > best : l->price < best)) {
		int64_t price = l->price;
		if (user_at(m, s, side, price) > 0.0) {
			bool crossed = side == LT_SIM_BID ? price >= opp : price <= opp;
			if (crossed)
				lt_sim_engine_cross(m->engine, s, side, price);
			else
				i++;
		}
		set_synth(m, s, side, price, 0);
	}
}

static int64_t spread_ticks(const lt_sim_ins *s, int64_t mid)
{
	if (s->def->kind == LT_SIM_OPTION)
		return mid / 50 > 2 ? mid / 50 : 2;
	return s->def->kind == LT_SIM_FUTURE ? 2 : 1;
}

/* Keep the top of the book around the mark: drop levels through the new best prices, make sure
 * the best prices exist, keep at most NLEVELS levels a side. */
static void book_follow(lt_sim_market *m, lt_sim_ins *s)
{
	lt_sim_book *bk = &s->book;
	int64_t mid = lt_sim_book_ticks(bk, s->mark), spread = spread_ticks(s, mid);
	int64_t bid = mid - spread / 2, ask = bid + spread;
	if (bid < 1) {
		bid = 1;
		ask = 1 + spread;
	}
	drop_through(m, s, LT_SIM_BID, bid, ask);
	drop_through(m, s, LT_SIM_ASK, ask, bid);
	if (lt_sim_book_amount(bk, LT_SIM_BID, bid) == 0.0)
		lt_sim_book_set(bk, LT_SIM_BID, bid, rand_amount(m, s->def));
	if (lt_sim_book_amount(bk, LT_SIM_ASK, ask) == 0.0)
		lt_sim_book_set(bk, LT_SIM_ASK, ask, rand_amount(m, s->def));
	for (int side = 0; side < 2; side++) {
		/* levels holding user orders stay (without synthetic liquidity) */
		size_t n = lt_sim_book_depth(bk, side), i = n;
		while (n > NLEVELS && i > 0) {
			int64_t price = lt_sim_book_at(bk, side, --i)->price;
			if (user_at(m, s, side, price) == 0.0)
				n--;
			set_synth(m, s, side, price, 0);
		}
	}
}

/* Refill each side to NLEVELS levels behind its last level (bids stop at 1 tick). */
static void book_fill(lt_sim_market *m, lt_sim_ins *s)
{
	lt_sim_book *bk = &s->book;
	for (int side = 0; side < 2; side++) {
		size_t n;
		while ((n = lt_sim_book_depth(bk, side)) > 0 && n < NLEVELS) {
			int64_t last = lt_sim_book_at(bk, side, n - 1)->price,
				gap = 1 + irand(m, MAX_GAP);
			int64_t price = side == LT_SIM_BID ? last - gap : last + gap;
			if (price < 1)
				break;
			lt_sim_book_set(bk, side, price, rand_amount(m, s->def));
		}
	}
}

/* A few random new / changed / deleted levels between the best and the last level. */
static void book_churn(lt_sim_market *m, lt_sim_ins *s, int count)
{
	lt_sim_book *bk = &s->book;
	for (int i = 0; i < count; i++) {
		int side = (int)irand(m, 2);
		size_t n = lt_sim_book_depth(bk, side);
		if (n < 2)
			continue;
		int64_t best = lt_sim_book_at(bk, side, 0)->price;
		int64_t span = llabs(lt_sim_book_at(bk, side, n - 1)->price - best);
		int64_t off = 1 + irand(m, span);
		int64_t price = side == LT_SIM_BID ? best - off : best + off;
		double cur = lt_sim_book_amount(bk, side, price);
		if (cur > 0.0 && irand(m, 3) == 0)
			set_synth(m, s, side, price, 0);
		else
			set_synth(m, s, side, price, rand_amount(m, s->def));
	}
}

/* ---- trades ------------------------------------------------------------------------------ */

static int tick_direction(const lt_sim_ins *s, double price)
{
	if (price > s->last)
		return 0;
	if (price < s->last)
		return 2;
	return s->last_tick_direction <= 1 ? 1 : 3;
}

static void record_trade(lt_sim_market *m, lt_sim_ins *s, bool sell, double price, double amount)
{
	const lt_sim_instr *d = s->def;
	lt_sim_trade *t = &s->ring[(s->trade_seq + 1) % LT_SIM_TRADE_RING];
	memset(t, 0, sizeof *t);
	t->seq = ++s->trade_seq;
	if (t->seq - s->ring_first >= LT_SIM_TRADE_RING)
		s->ring_first = t->seq - LT_SIM_TRADE_RING + 1;
	t->timestamp = m->now_ms;
	t->price = price;
	t->amount = amount;
	t->sell = sell;
	t->index_price = m->index[d->index];
	t->mark_price = s->mark;
	t->iv = d->kind == LT_SIM_OPTION ? s->mark_iv : 0.0;
	t->tick_direction = tick_direction(s, price);
	int64_t id = m->trade_id[d->index]++;
	snprintf(t->trade_id, sizeof t->trade_id, d->index == LT_SIM_IDX_ETH ? "ETH-%lld" : "%lld",
		 (long long)id);
	s->last_tick_direction = t->tick_direction;
	s->last = price;
	s->high = fmax(s->high, price);
	s->low = fmin(s->low, price);
	bool inverse = d->kind != LT_SIM_OPTION;
	s->volume += inverse ? amount / price : amount;
	s->volume_usd += inverse ? amount : amount * price * t->index_price;
	s->open_interest =
		round_to(fmax(s->open_interest + amount_units(d, irand(m, 21) - 10), 0.0), 1e8);
}

const lt_sim_trade *lt_sim_market_record_trade(lt_sim_market *m, lt_sim_ins *s, bool sell,
					       double price, double amount)
{
	record_trade(m, s, sell, price, amount);
	return &s->ring[s->trade_seq % LT_SIM_TRADE_RING];
}

/* Maybe one or two taker trades against the best level(s). */
static void maybe_trade(lt_sim_market *m, lt_sim_ins *s)
{
	int pct = s->def->kind == LT_SIM_OPTION ? 4 : 25;
	if (irand(m, 100) >= pct)
		return;
	int n = 1 + (int)irand(m, 2);
	bool sell = irand(m, 2) == 0;
	for (int i = 0; i < n; i++) {
		int side = sell ? LT_SIM_BID : LT_SIM_ASK;
		const lt_sim_level *best = lt_sim_book_at(&s->book, side, 0);
		if (!best)
			return;
		int64_t price = best->price;
		double amount = fmin(best->amount, amount_units(s->def, 1 + irand(m, 60)));
		if (m->engine && best->orders) { /* user orders queue there: they may fill */
			lt_sim_engine_take(m->engine, s, side, amount);
			continue;
		}
		lt_sim_book_set(&s->book, side, price, best->amount - amount);
		record_trade(m, s, sell, lt_sim_book_price(&s->book, price), amount);
	}
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void ins_init(lt_sim_market *m, lt_sim_ins *s, const lt_sim_instr *d)
{
	s->def = d;
	lt_sim_book_init(&s->book, d->tick_num, d->tick_den, 140000000000LL + irand(m, 1000000000));
	s->mark_iv = 50.0;
	s->funding = 0.00002;
	update_mark(m, s);
	s->last = s->open = s->high = s->low = s->settlement = s->mark;
	s->open_interest = amount_units(d, d->kind == LT_SIM_OPTION ? 20000 : 100000000);
	s->trade_seq = 200000000 + irand(m, 100000000);
	s->ring_first = s->trade_seq + 1;
	book_follow(m, s);
	book_fill(m, s);
	book_churn(m, s, 30);
	book_fill(m, s);
	lt_sim_book_commit(&s->book, 1, m->now_ms);
	for (int k = 0; k < LT_SIM_NACC; k++)
		lt_sim_book_acc_reset(&s->book, k);
}

int lt_sim_market_new(uint64_t seed, int64_t now_ms, lt_sim_market **out)
{
	*out = NULL;
	lt_sim_market *m = calloc(1, sizeof *m);
	if (!m)
		return LT_ENOMEM;
	m->ins = calloc(NINSTR, sizeof *m->ins);
	if (!m->ins) {
		free(m);
		return LT_ENOMEM;
	}
	uint64_t sm = seed;
	m->rng = splitmix64(&sm) | 1;
	m->now_ms = m->index_ts = now_ms;
	m->model_ms = now_ms - now_ms % 86400000;
	for (int i = 0; i < LT_SIM_NIDX; i++)
		m->index[i] = round_to(index_start[i] * (1.0 + 0.01 * gauss(m)), 100.0);
	m->trade_id[LT_SIM_IDX_BTC] = 403000000 + irand(m, 1000000);
	m->trade_id[LT_SIM_IDX_ETH] = 284000000 + irand(m, 1000000);
	m->n = NINSTR;
	for (size_t i = 0; i < NINSTR; i++)
		ins_init(m, &m->ins[i], &instruments[i]);
	*out = m;
	return 0;
}

void lt_sim_market_free(lt_sim_market *m)
{
	if (!m)
		return;
	lt_sim_engine_free(m->engine); /* before the books: it frees the level queues */
	for (size_t i = 0; i < m->n; i++)
		lt_sim_book_free(&m->ins[i].book);
	free(m->ins);
	free(m);
}

void lt_sim_market_step(lt_sim_market *m, int64_t now_ms, int64_t dt_ms)
{
	m->now_ms = m->index_ts = now_ms;
	m->model_ms += dt_ms;
	for (int i = 0; i < LT_SIM_NIDX; i++)
		m->index[i] = round_to(m->index[i] * exp(index_vol[i] * gauss(m)), 100.0);
	for (size_t i = 0; i < m->n; i++) {
		lt_sim_ins *s = &m->ins[i];
		update_mark(m, s);
		book_follow(m, s);
		book_churn(m, s, 1 + (int)irand(m, 4));
		maybe_trade(m, s);
		book_follow(m, s);
		book_fill(m, s);
		lt_sim_book_commit(&s->book, 1 + irand(m, 40), now_ms);
	}
}
