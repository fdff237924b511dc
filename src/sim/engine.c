/* engine.c — the simulated venue's matching engine: per instrument, price-time priority between
 * the synthetic liquidity and user orders (model in trading.h; deribit-api.md §5 for the order
 * parameters and their rules, §8 for the error codes).
 *
 * Choices: FOK that cannot fill completely is refused with nothing done (the order is returned
 * with order_state "cancelled", filled_amount 0, no trades); IOC and market remainders are
 * cancelled (cancel_reason "user_request", state "cancelled" even after partial fills); a
 * reduce_only order is trimmed to the position it reduces and refused (11030 other_reject) when
 * there is none; a buy above the instrument's band (the ticker's max_price) gets 10007
 * price_too_high <max>, a sell below it (min_price) 10005 price_too_low <min>; self-trades are allowed; GTD
 * orders are not cancelled at 08:00. */
#include "trading.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

lt_sim_engine *lt_sim_engine_get(lt_sim_market *m)
{
	if (!m->engine) {
		lt_sim_engine *e = calloc(1, sizeof *e);
		if (!e)
			return NULL;
		e->mkt = m;
		e->next_order_id = 63018852000;
		m->engine = e;
	}
	return m->engine;
}

void lt_sim_engine_free(lt_sim_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->mkt->n; i++)
		for (int side = 0; side < 2; side++) {
			lt_sim_side *sd = &e->mkt->ins[i].book.side[side];
			for (size_t k = 0; k < sd->n; k++) {
				free(sd->lv[k].orders);
				sd->lv[k].orders = NULL;
			}
		}
	lt_sim_user_free_subs(e);
	lt_sim_pf_free_all(e);
	for (size_t i = 0; i < e->norders; i++)
		free(e->orders[i]);
	free(e->orders);
	free(e->trades);
	free(e->events);
	e->mkt->engine = NULL;
	free(e);
}

/* ---- levels and their user FIFOs ---------------------------------------------------------- */

static lt_sim_level *level_find(lt_sim_book *bk, int side, int64_t price)
{
	lt_sim_side *sd = &bk->side[side];
	size_t lo = 0, hi = sd->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t p = sd->lv[mid].price;
		if (p == price)
			return &sd->lv[mid];
		if (side == LT_SIM_BID ? p > price : p < price)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

double lt_sim_engine_user_at(const lt_sim_book *bk, int side, int64_t price)
{
	const lt_sim_level *l = level_find((lt_sim_book *)bk, side, price);
	return l && l->orders ? ((const lt_sim_queue *)l->orders)->user : 0.0;
}

static int set_level(lt_sim_ins *s, int side, int64_t price, double amount)
{
	return lt_sim_book_set(&s->book, side, price, lt_sim_amount_round(s->def, amount));
}

void lt_sim_engine_set_synth(lt_sim_engine *e, lt_sim_ins *s, int side, int64_t price, double synth)
{
	(void)e;
	lt_sim_level *l = level_find(&s->book, side, price);
	lt_sim_queue *q = l ? l->orders : NULL;
	if (synth < 0.0)
		synth = 0.0;
	if (!q) {
		lt_sim_book_set(&s->book, side, price, synth);
		return;
	}
	if (q->ahead > synth)
		q->ahead = synth; /* synthetic cancels come out of the front; additions go behind */
	set_level(s, side, price, synth + q->user);
}

static int side_of(const lt_sim_order *o) { return o->sell ? LT_SIM_ASK : LT_SIM_BID; }

/* Queue o's remaining amount at the back of its level. LT_ENOMEM leaves the book unchanged. */
static int queue_push(lt_sim_ins *s, lt_sim_order *o)
{
	int side = side_of(o);
	double rem = o->amount - o->filled;
	lt_sim_level *l = level_find(&s->book, side, o->price);
	lt_sim_queue *q = l ? l->orders : NULL, *fresh = NULL;
	double cur = l ? l->amount : 0.0;
	if (!q) {
		if (!(q = fresh = calloc(1, sizeof *q)))
			return LT_ENOMEM;
		q->ahead = cur;
	}
	if (set_level(s, side, o->price, cur + rem) != 0) {
		free(fresh);
		return LT_ENOMEM;
	}
	level_find(&s->book, side, o->price)->orders = q;
	o->qnext = NULL;
	o->qprev = q->tail;
	if (q->tail)
		q->tail->qnext = o;
	else
		q->head = o;
	q->tail = o;
	q->user = lt_sim_amount_round(s->def, q->user + rem);
	return 0;
}

/* Take o out of its level's FIFO; `amount` of the level goes with it (its remaining amount on a
 * cancel, the filled part on a fill). Frees the queue when it empties. */
static void queue_unlink(lt_sim_ins *s, lt_sim_order *o, double amount)
{
	int side = side_of(o);
	lt_sim_level *l = level_find(&s->book, side, o->price);
	lt_sim_queue *q = l ? l->orders : NULL;
	if (!q)
		return;
	if (o->qprev)
		o->qprev->qnext = o->qnext;
	else
		q->head = o->qnext;
	if (o->qnext)
		o->qnext->qprev = o->qprev;
	else
		q->tail = o->qprev;
	o->qnext = o->qprev = NULL;
	q->user = lt_sim_amount_round(s->def, q->user - amount);
	double left = l->amount - amount;
	if (!q->head) {
		free(q);
		l->orders = NULL;
	}
	set_level(s, side, o->price, left);
}

/* Shrink a queued order's share of its level by amount (partial fill or smaller edit). */
static void queue_shrink(lt_sim_ins *s, lt_sim_order *o, double amount)
{
	int side = side_of(o);
	lt_sim_level *l = level_find(&s->book, side, o->price);
	lt_sim_queue *q = l->orders;
	q->user = lt_sim_amount_round(s->def, q->user - amount);
	set_level(s, side, o->price, l->amount - amount);
}

/* ---- fills ------------------------------------------------------------------------------- */

static void book_fill(lt_sim_engine *e, lt_sim_ins *s, lt_sim_order *o, const lt_sim_trade *pt,
		      double amount, bool maker)
{
	const lt_sim_instr *d = s->def;
	double price = pt->price;
	lt_sim_utrade *t = lt_sim_utrade_add(e);
	o->filled = lt_sim_amount_round(d, o->filled + amount);
	o->notional += price * amount;
	o->updated = pt->timestamp;
	if (o->filled >= o->amount - EPS)
		o->state = LT_SIM_OS_FILLED;
	double fee = lt_sim_pf_fee(d, price, amount, maker);
	double pl = lt_sim_pf_fill(o->acc, e->mkt, o->ins, o->sell, price, amount, fee);
	if (!t)
		return;
	t->order = o;
	memcpy(t->trade_id, pt->trade_id, sizeof t->trade_id);
	t->trade_seq = pt->seq;
	t->timestamp = pt->timestamp;
	t->price = price;
	t->amount = amount;
	t->fee = fee;
	t->index_price = pt->index_price;
	t->mark_price = pt->mark_price;
	t->tick_direction = pt->tick_direction;
	t->profit_loss = pl;
	t->maker = maker;
	t->state = o->state;
}

/* One trade of amount at price between a taker (user order or NULL = synthetic, side from
 * taker_sell) and a maker (user order or NULL = synthetic). */
static void fill(lt_sim_engine *e, lt_sim_ins *s, lt_sim_order *maker, lt_sim_order *taker,
		 bool taker_sell, int64_t price, double amount)
{
	e->mkt->now_ms = lt_sim_now_ms();
	const lt_sim_trade *pt = lt_sim_market_record_trade(
		e->mkt, s, taker_sell, lt_sim_book_price(&s->book, price), amount);
	if (taker)
		book_fill(e, s, taker, pt, amount, false);
	if (maker) {
		book_fill(e, s, maker, pt, amount, true);
		lt_sim_order_changed(e, maker);
	}
}

/* Consume up to want from the level (side, price): synthetic `ahead`, then the user FIFO, then
 * the synthetic rest (users_only: the user FIFO only). Returns the amount consumed. */
static double consume_level(lt_sim_engine *e, lt_sim_ins *s, int side, int64_t price, double want,
			    lt_sim_order *taker, bool taker_sell, bool users_only)
{
	double done = 0.0;
	lt_sim_level *l;
	while (done < want - EPS && (l = level_find(&s->book, side, price))) {
		lt_sim_queue *q = l->orders;
		double synth = lt_sim_amount_round(s->def, l->amount - (q ? q->user : 0.0));
		double ahead = q ? fmin(q->ahead, synth) : synth, left = want - done, take;
		if (!users_only && ahead > EPS) {
			take = fmin(left, ahead);
			if (q)
				q->ahead = ahead - take;
			set_level(s, side, price, l->amount - take);
			fill(e, s, NULL, taker, taker_sell, price, take);
		} else if (q) {
			lt_sim_order *m = q->head;
			double mrem = m->amount - m->filled;
			take = fmin(left, mrem);
			if (take >= mrem - EPS)
				queue_unlink(s, m, mrem);
			else
				queue_shrink(s, m, take);
			fill(e, s, m, taker, taker_sell, price, take);
		} else {
			break;
		}
		done += take;
	}
	return done;
}

void lt_sim_engine_cross(lt_sim_engine *e, lt_sim_ins *s, int side, int64_t price)
{
	consume_level(e, s, side, price, INFINITY, NULL, side == LT_SIM_BID, true);
}

void lt_sim_engine_take(lt_sim_engine *e, lt_sim_ins *s, int side, double amount)
{
	const lt_sim_level *l = lt_sim_book_at(&s->book, side, 0);
	if (l)
		consume_level(e, s, side, l->price, amount, NULL, side == LT_SIM_BID, false);
}

/* ---- checks ------------------------------------------------------------------------------ */

static int terr(lt_sim_terr *err, int64_t code, const char *msg)
{
	err->code = code;
	snprintf(err->message, sizeof err->message, "%s", msg);
	return (int)code;
}

/* The ticker's price band (render.c): min_price / max_price around the mark. */
static void band(const lt_sim_ins *s, double *lo, double *hi)
{
	double tick = lt_sim_tick_size(s->def), w = s->def->kind == LT_SIM_OPTION ? 0.5 : 0.015;
	*lo = fmax(round(floor(s->mark * (1 - w) / tick) * tick * 1e8) / 1e8, tick);
	*hi = round(ceil(s->mark * (1 + w) / tick) * tick * 1e8) / 1e8;
}

static int check_amount(const lt_sim_instr *d, double amount, lt_sim_terr *err)
{
	double k = amount / d->min_trade_amount;
	if (amount < d->min_trade_amount - EPS)
		return terr(err, 10002, "qty_too_low");
	if (fabs(k - round(k)) > 1e-6)
		return terr(err, 10021, "invalid_amount");
	return 0;
}

/* Tick grid, then the band: buys above max_price and sells below min_price are refused. */
static int check_price(const lt_sim_ins *s, double price, bool sell, int64_t *ticks,
		       lt_sim_terr *err)
{
	double tick = lt_sim_tick_size(s->def), lo, hi;
	if (price <= 0.0)
		return terr(err, 10023, "invalid_price");
	*ticks = lt_sim_book_ticks(&s->book, price);
	if (fabs((double)*ticks * tick - price) > 1e-9 * fmax(1.0, price))
		return terr(err, 10043, "price_wrong_tick");
	band(s, &lo, &hi);
	char msg[64];
	if (!sell && price > hi + EPS) {
		snprintf(msg, sizeof msg, "price_too_high %.10g", hi);
		return terr(err, 10007, msg);
	}
	if (sell && price < lo - EPS) {
		snprintf(msg, sizeof msg, "price_too_low %.10g", lo);
		return terr(err, 10005, msg);
	}
	return 0;
}

static bool crosses(const lt_sim_book *bk, bool sell, int64_t price)
{
	const lt_sim_level *l = lt_sim_book_at(bk, sell ? LT_SIM_BID : LT_SIM_ASK, 0);
	return l && (sell ? l->price >= price : l->price <= price);
}

/* Amount available against an order up to its limit (market: the whole side). */
static double fillable(const lt_sim_book *bk, bool sell, bool market, int64_t limit)
{
	int side = sell ? LT_SIM_BID : LT_SIM_ASK;
	double sum = 0.0;
	const lt_sim_level *l;
	for (size_t i = 0; (l = lt_sim_book_at(bk, side, i)); i++) {
		if (!market && (sell ? l->price < limit : l->price > limit))
			break;
		sum += l->amount;
	}
	return sum;
}

/* post_only: a crossing price moves to one tick off the opposite best, or is refused. */
static int post_only_price(const lt_sim_ins *s, bool sell, bool reject, int64_t *price,
			   lt_sim_terr *err)
{
	if (!crosses(&s->book, sell, *price))
		return 0;
	if (reject)
		return terr(err, 11054, "post_only_reject");
	const lt_sim_level *l = lt_sim_book_at(&s->book, sell ? LT_SIM_BID : LT_SIM_ASK, 0);
	*price = sell ? l->price + 1 : l->price - 1;
	if (*price < 1)
		return terr(err, 11054, "post_only_reject");
	return 0;
}

/* The part of amount that opens exposure (the rest closes the opposite position). */
static double opening(lt_sim_engine *e, lt_sim_account *acc, size_t ins, bool sell, double amount)
{
	lt_sim_pos *p = lt_sim_pf_pos(acc, e->mkt, ins);
	double closing = p ? (sell ? fmax(p->size, 0.0) : fmax(-p->size, 0.0)) : 0.0;
	return fmax(amount - closing, 0.0);
}

static int check_funds(lt_sim_engine *e, lt_sim_account *acc, const lt_sim_ins *s, size_t ins,
		       bool sell, double price, double amount, lt_sim_terr *err)
{
	double open = opening(e, acc, ins, sell, amount);
	if (open <= 0.0)
		return 0;
	lt_sim_summary sum;
	lt_sim_pf_summary(e, acc, s->def->index, &sum);
	if (lt_sim_pf_order_margin(s->def, price, open, sell) > sum.available_funds)
		return terr(err, 10009, "not_enough_funds");
	return 0;
}

/* ---- placing ----------------------------------------------------------------------------- */

static lt_sim_order *order_new(lt_sim_engine *e, lt_sim_account *acc, unsigned conn_id,
			       const lt_sim_order_req *rq, int64_t price)
{
	lt_sim_order *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	const lt_sim_instr *d = e->mkt->ins[rq->ins].def;
	o->acc = acc;
	o->conn_id = conn_id;
	o->ins = rq->ins;
	long long id = (long long)e->next_order_id++;
	snprintf(o->order_id, sizeof o->order_id, d->index == LT_SIM_IDX_ETH ? "ETH-%lld" : "%lld",
		 id);
	o->sell = rq->sell;
	o->type = rq->type;
	o->tif = rq->tif;
	o->state = LT_SIM_OS_OPEN;
	o->price = price;
	o->amount = lt_sim_amount_round(d, rq->amount);
	snprintf(o->label, sizeof o->label, "%s", rq->label ? rq->label : "");
	o->post_only = rq->post_only;
	o->reject_post_only = rq->reject_post_only;
	o->reduce_only = rq->reduce_only;
	o->created = o->updated = lt_sim_now_ms();
	if (lt_sim_order_add(e, o) != 0) {
		free(o);
		return NULL;
	}
	return o;
}

/* Match o as a taker, then rest it (GTC/GTD limit) or cancel the remainder. */
static int run_order(lt_sim_engine *e, lt_sim_order *o)
{
	lt_sim_ins *s = &e->mkt->ins[o->ins];
	int side = o->sell ? LT_SIM_BID : LT_SIM_ASK;
	bool market = o->type == LT_SIM_OT_MARKET;
	const lt_sim_level *l;
	while (o->state == LT_SIM_OS_OPEN && (l = lt_sim_book_at(&s->book, side, 0))) {
		if (!market && (o->sell ? l->price < o->price : l->price > o->price))
			break;
		if (consume_level(e, s, side, l->price, o->amount - o->filled, o, o->sell, false) <=
		    0)
			break;
	}
	int rc = 0;
	if (o->state == LT_SIM_OS_OPEN) {
		bool rests = !market && (o->tif == LT_SIM_TIF_GTC || o->tif == LT_SIM_TIF_GTD);
		if (!rests || (rc = queue_push(s, o)) != 0) {
			o->state = LT_SIM_OS_CANCELLED;
			o->cancel_reason = "user_request";
		}
	}
	lt_sim_book_commit(&s->book, 1, lt_sim_now_ms());
	lt_sim_order_changed(e, o);
	return rc;
}

/* Checks of a new order that need the book and the account; may trim a reduce_only amount and
 * move a post_only price. */
static int check_new(lt_sim_engine *e, lt_sim_account *acc, const lt_sim_order_req *rq,
		     int64_t *price, double *amount, lt_sim_terr *err)
{
	lt_sim_ins *s = &e->mkt->ins[rq->ins];
	bool market = rq->type == LT_SIM_OT_MARKET;
	int rc = check_amount(s->def, rq->amount, err);
	if (rc || (!market && (rc = check_price(s, rq->price, rq->sell, price, err))))
		return rc;
	*amount = rq->amount;
	if (rq->reduce_only) {
		lt_sim_pos *p = lt_sim_pf_pos(acc, e->mkt, rq->ins);
		double most = p ? (rq->sell ? fmax(p->size, 0.0) : fmax(-p->size, 0.0)) : 0.0;
		if (most <= 0.0)
			return terr(err, 11030, "other_reject reduce_only");
		*amount = fmin(*amount, most);
	}
	if (!market && rq->post_only &&
	    (rc = post_only_price(s, rq->sell, rq->reject_post_only, price, err)))
		return rc;
	const lt_sim_level *best = lt_sim_book_at(&s->book, rq->sell ? LT_SIM_BID : LT_SIM_ASK, 0);
	double px = !market ? lt_sim_book_price(&s->book, *price)
		    : best  ? lt_sim_book_price(&s->book, best->price)
			    : s->mark;
	return rq->reduce_only ? 0 : check_funds(e, acc, s, rq->ins, rq->sell, px, *amount, err);
}

int lt_sim_engine_place(lt_sim_engine *e, lt_sim_account *acc, unsigned conn_id,
			const lt_sim_order_req *rq, lt_sim_order **out, size_t *first_trade,
			lt_sim_terr *err)
{
	lt_sim_ins *s = &e->mkt->ins[rq->ins];
	int64_t price = 0;
	double amount;
	*out = NULL;
	*first_trade = e->ntrades;
	int rc = check_new(e, acc, rq, &price, &amount, err);
	if (rc)
		return rc;
	lt_sim_order_req r = *rq;
	r.amount = amount;
	lt_sim_order *o = order_new(e, acc, conn_id, &r, price);
	if (!o)
		return terr(err, 11094, "internal_server_error");
	*out = o;
	bool market = rq->type == LT_SIM_OT_MARKET;
	if (rq->tif == LT_SIM_TIF_FOK &&
	    fillable(&s->book, rq->sell, market, price) < amount - EPS) {
		o->state = LT_SIM_OS_CANCELLED; /* nothing happens (see the top of this file) */
		o->cancel_reason = "user_request";
		lt_sim_order_changed(e, o);
		return 0;
	}
	if (run_order(e, o) != 0)
		return terr(err, 11094, "internal_server_error");
	for (size_t i = *first_trade; i < e->ntrades; i++)
		e->trades[i].state = o->state; /* the placement's trades show the final state */
	return 0;
}

/* ---- edit and cancel --------------------------------------------------------------------- */

void lt_sim_engine_cancel(lt_sim_engine *e, lt_sim_order *o, const char *reason)
{
	if (o->state != LT_SIM_OS_OPEN)
		return;
	lt_sim_ins *s = &e->mkt->ins[o->ins];
	queue_unlink(s, o, o->amount - o->filled);
	lt_sim_book_commit(&s->book, 1, lt_sim_now_ms());
	o->state = LT_SIM_OS_CANCELLED;
	o->cancel_reason = reason;
	o->updated = lt_sim_now_ms();
	lt_sim_order_changed(e, o);
}

int lt_sim_engine_edit(lt_sim_engine *e, lt_sim_order *o, double amount, double price,
		       bool post_only, bool reject_post_only, bool reduce_only, size_t *first_trade,
		       lt_sim_terr *err)
{
	lt_sim_ins *s = &e->mkt->ins[o->ins];
	int64_t ticks = o->price;
	*first_trade = e->ntrades;
	if (o->state != LT_SIM_OS_OPEN)
		return terr(err, 11044, "not_open_order");
	int rc = check_amount(s->def, amount, err);
	if (rc ||
	    (o->type == LT_SIM_OT_LIMIT && (rc = check_price(s, price, o->sell, &ticks, err))))
		return rc;
	if (amount <= o->filled + EPS)
		return terr(err, 10021, "invalid_amount");
	double grow = amount - o->amount;
	if (grow > EPS && !reduce_only &&
	    (rc = check_funds(e, o->acc, s, o->ins, o->sell, lt_sim_book_price(&s->book, ticks),
			      grow, err)))
		return rc;
	bool moved = ticks != o->price;
	double rem = o->amount - o->filled;
	if (moved || grow > EPS)
		queue_unlink(s, o, rem); /* priority lost: off the book, matched and queued anew */
	if (post_only && (moved || grow > EPS) &&
	    (rc = post_only_price(s, o->sell, reject_post_only, &ticks, err))) {
		o->state = LT_SIM_OS_CANCELLED;
		o->cancel_reason = "edit_post_only_reject";
		o->updated = lt_sim_now_ms();
		lt_sim_book_commit(&s->book, 1, o->updated);
		lt_sim_order_changed(e, o);
		return rc;
	}
	o->post_only = post_only;
	o->reject_post_only = reject_post_only;
	o->reduce_only = reduce_only;
	o->replaced = true;
	o->updated = lt_sim_now_ms();
	if (!moved && grow <= EPS) {
		if (grow < -EPS)
			queue_shrink(s, o, -grow);
		o->amount = lt_sim_amount_round(s->def, amount);
		lt_sim_book_commit(&s->book, 1, o->updated);
		lt_sim_order_changed(e, o);
		return 0;
	}
	o->price = ticks;
	o->amount = lt_sim_amount_round(s->def, amount);
	if (run_order(e, o) != 0)
		return terr(err, 11094, "internal_server_error");
	for (size_t i = *first_trade; i < e->ntrades; i++)
		e->trades[i].state = o->state;
	return 0;
}
