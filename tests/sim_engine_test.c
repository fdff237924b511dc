/* sim_engine_test.c — the simulated venue's matching engine (src/sim/engine.c) with orders and
 * portfolio (orders.c, portfolio.c), no network: a seeded market, two accounts, orders placed
 * straight through lt_sim_engine_place. Price-time priority behind the synthetic amount, partial
 * fills, IOC / FOK / post_only / reject_post_only / reduce_only, market orders never rest, edit
 * keeping or losing priority, cancel states, validation and margin errors, positions and
 * average prices, synthetic takers filling a resting bid, and the order / user trade JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "sim/trading.h"

#define SEED 42
#define PERP 0 /* BTC-PERPETUAL: tick 0.5, min amount 10 USD */

typedef struct fx {
	lt_sim_market *m;
	lt_sim_engine *e;
	lt_sim_account a, b;
} fx;

static int setup(void **state)
{
	static fx f;
	memset(&f, 0, sizeof f);
	assert_int_equal(lt_sim_market_new(SEED, 1767225600000, &f.m), 0);
	f.e = lt_sim_engine_get(f.m);
	assert_non_null(f.e);
	f.a.user_id = 1;
	f.b.user_id = 2;
	f.a.balance[LT_SIM_IDX_BTC] = f.b.balance[LT_SIM_IDX_BTC] = 10.0;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	lt_sim_market_free(f->m); /* frees the engine too */
	return 0;
}

static lt_sim_ins *perp(fx *f) { return &f->m->ins[PERP]; }

static const lt_sim_level *best(fx *f, int side) { return lt_sim_book_at(&perp(f)->book, side, 0); }

static double px(fx *f, int64_t ticks) { return lt_sim_book_price(&perp(f)->book, ticks); }

/* Place on BTC-PERPETUAL; returns the engine's result code. */
static int place(fx *f, lt_sim_account *acc, bool sell, lt_sim_otype type, lt_sim_tif tif,
		 double price, double amount, lt_sim_order **o)
{
	lt_sim_order_req rq = {.ins = PERP,
			       .sell = sell,
			       .type = type,
			       .tif = tif,
			       .price = price,
			       .amount = amount};
	lt_sim_order *dummy;
	size_t first;
	lt_sim_terr err;
	return lt_sim_engine_place(f->e, acc, 7, &rq, o ? o : &dummy, &first, &err);
}

static int place_flags(fx *f, lt_sim_account *acc, bool sell, double price, double amount, bool po,
		       bool rpo, bool ro, lt_sim_order **o)
{
	lt_sim_order_req rq = {.ins = PERP,
			       .sell = sell,
			       .type = LT_SIM_OT_LIMIT,
			       .tif = LT_SIM_TIF_GTC,
			       .price = price,
			       .amount = amount,
			       .post_only = po,
			       .reject_post_only = rpo,
			       .reduce_only = ro};
	size_t first;
	lt_sim_terr err;
	return lt_sim_engine_place(f->e, acc, 7, &rq, o, &first, &err);
}

/* Two user bids at the best bid queue behind its synthetic amount and fill in arrival order. */
static void price_time_priority(void **state)
{
	fx *f = *state;
	int64_t bid = best(f, LT_SIM_BID)->price;
	double synth = best(f, LT_SIM_BID)->amount;
	lt_sim_order *o1, *o2, *t;
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o1), 0);
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o2), 0);
	assert_int_equal(o1->state, LT_SIM_OS_OPEN);
	assert_true(best(f, LT_SIM_BID)->amount == synth + 200);
	assert_int_equal(
		place(f, &f->b, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, px(f, bid), synth + 150, &t),
		0);
	assert_int_equal(t->state, LT_SIM_OS_FILLED);
	assert_int_equal(o1->state, LT_SIM_OS_FILLED);
	assert_true(o1->filled == 100);
	assert_int_equal(o2->state, LT_SIM_OS_OPEN); /* partial fill */
	assert_true(o2->filled == 50);
	assert_true(best(f, LT_SIM_BID)->price == bid && best(f, LT_SIM_BID)->amount == 50);
	/* the maker fills are "M", the taker's "T", same trade ids */
	const lt_sim_utrade *last = &f->e->trades[f->e->ntrades - 1];
	assert_ptr_equal(last->order, o2);
	assert_true(last->maker);
	assert_string_equal(f->e->trades[f->e->ntrades - 2].trade_id, last->trade_id);
	assert_false(f->e->trades[f->e->ntrades - 2].maker);
}

/* IOC fills what it can at its limit and cancels the rest; FOK that cannot fill does nothing. */
static void ioc_and_fok(void **state)
{
	fx *f = *state;
	const lt_sim_level *ask = best(f, LT_SIM_ASK);
	int64_t p = ask->price;
	double amt = ask->amount;
	lt_sim_order *o;
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_FOK, px(f, p), amt + 10, &o), 0);
	assert_int_equal(o->state, LT_SIM_OS_CANCELLED);
	assert_true(o->filled == 0);
	assert_true(best(f, LT_SIM_ASK)->price == p && best(f, LT_SIM_ASK)->amount == amt);
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, px(f, p), amt + 10, &o), 0);
	assert_int_equal(o->state, LT_SIM_OS_CANCELLED);
	assert_string_equal(o->cancel_reason, "user_request");
	assert_true(o->filled == amt);
	assert_true(best(f, LT_SIM_ASK)->price > p);
	assert_true(lt_sim_engine_user_at(&perp(f)->book, LT_SIM_BID, p) == 0); /* never rests */
	/* a FOK that can fill does */
	p = best(f, LT_SIM_ASK)->price;
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_FOK, px(f, p), 10, &o),
			 0);
	assert_int_equal(o->state, LT_SIM_OS_FILLED);
}

/* post_only reprices a crossing buy to one tick under the best ask; reject_post_only refuses. */
static void post_only(void **state)
{
	fx *f = *state;
	int64_t ask = best(f, LT_SIM_ASK)->price;
	size_t trades = f->e->ntrades;
	lt_sim_order *o = NULL;
	assert_int_equal(place_flags(f, &f->a, false, px(f, ask + 4), 100, true, true, false, &o),
			 11054);
	assert_null(o);
	assert_int_equal(place_flags(f, &f->a, false, px(f, ask + 4), 100, true, false, false, &o),
			 0);
	assert_int_equal(o->state, LT_SIM_OS_OPEN);
	assert_true(o->price == ask - 1);
	assert_int_equal(f->e->ntrades, trades);
	assert_true(best(f, LT_SIM_BID)->price == ask - 1);
}

/* reduce_only without a position is refused; with one it is trimmed to the position. */
static void reduce_only(void **state)
{
	fx *f = *state;
	lt_sim_order *o = NULL;
	int64_t bid = best(f, LT_SIM_BID)->price, ask = best(f, LT_SIM_ASK)->price;
	assert_int_equal(place_flags(f, &f->a, true, px(f, bid), 100, false, false, true, &o),
			 11030);
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_MARKET, LT_SIM_TIF_GTC, 0, 100, &o), 0);
	assert_int_equal(o->state, LT_SIM_OS_FILLED);
	assert_true(lt_sim_pf_pos(&f->a, f->m, PERP)->size == 100);
	assert_int_equal(place_flags(f, &f->a, true, px(f, ask + 10), 500, false, false, true, &o),
			 0);
	assert_true(o->amount == 100);
	assert_int_equal(o->state, LT_SIM_OS_OPEN);
}

/* A market order never rests: what the book cannot give is cancelled. */
static void market_never_rests(void **state)
{
	fx *f = *state;
	lt_sim_order *o;
	double side = 0;
	for (size_t i = 0; i < lt_sim_book_depth(&perp(f)->book, LT_SIM_BID); i++)
		side += lt_sim_book_at(&perp(f)->book, LT_SIM_BID, i)->amount;
	f->b.balance[LT_SIM_IDX_BTC] = 1e6;
	assert_int_equal(
		place(f, &f->b, true, LT_SIM_OT_MARKET, LT_SIM_TIF_GTC, 0, side + 1000, &o), 0);
	assert_int_equal(o->state, LT_SIM_OS_CANCELLED);
	assert_true(fabs(o->filled - side) < 1e-6);
	assert_int_equal(lt_sim_book_depth(&perp(f)->book, LT_SIM_BID), 0);
	assert_int_equal(lt_sim_book_depth(&perp(f)->book, LT_SIM_ASK) > 0, 1);
	for (size_t i = 0; i < lt_sim_book_depth(&perp(f)->book, LT_SIM_ASK); i++)
		assert_null(lt_sim_book_at(&perp(f)->book, LT_SIM_ASK, i)->orders);
}

/* Shrinking keeps the place in the queue; growing (or moving) loses it. */
static void edit_priority(void **state)
{
	fx *f = *state;
	int64_t bid = best(f, LT_SIM_BID)->price - 1; /* a level of user orders only, or behind */
	double synth = lt_sim_book_amount(&perp(f)->book, LT_SIM_BID, bid);
	lt_sim_order *o1, *o2, *t;
	size_t first;
	lt_sim_terr err;
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o1), 0);
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o2), 0);
	assert_int_equal(
		lt_sim_engine_edit(f->e, o1, 50, px(f, bid), false, false, false, &first, &err), 0);
	assert_true(o1->replaced && o1->amount == 50);
	double top = best(f, LT_SIM_BID)->amount;
	/* sell through the best level and the synthetic part of ours, then 10 more */
	assert_int_equal(place(f, &f->b, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, px(f, bid),
			       top + synth + 10, &t),
			 0);
	assert_true(o1->filled == 10 && o2->filled == 0);
	assert_int_equal(
		lt_sim_engine_edit(f->e, o1, 100, px(f, bid), false, false, false, &first, &err),
		0);
	assert_int_equal(place(f, &f->b, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, px(f, bid), 10, &t),
			 0);
	assert_true(o2->filled == 10 && o1->filled == 10);
	/* edit below the filled amount is refused; a cancelled order is not open */
	assert_int_equal(
		lt_sim_engine_edit(f->e, o1, 10, px(f, bid), false, false, false, &first, &err),
		10021);
	lt_sim_engine_cancel(f->e, o1, "user_request");
	assert_int_equal(
		lt_sim_engine_edit(f->e, o1, 100, px(f, bid), false, false, false, &first, &err),
		11044);
}

static void cancel_states(void **state)
{
	fx *f = *state;
	int64_t bid = best(f, LT_SIM_BID)->price;
	double before = best(f, LT_SIM_BID)->amount;
	lt_sim_order *o;
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o), 0);
	assert_true(best(f, LT_SIM_BID)->amount == before + 100);
	lt_sim_engine_cancel(f->e, o, "user_request");
	assert_int_equal(o->state, LT_SIM_OS_CANCELLED);
	assert_string_equal(o->cancel_reason, "user_request");
	assert_true(best(f, LT_SIM_BID)->amount == before);
	assert_null(best(f, LT_SIM_BID)->orders);
	lt_sim_engine_cancel(f->e, o, "cancel_on_disconnect"); /* not open: nothing changes */
	assert_string_equal(o->cancel_reason, "user_request");
	assert_ptr_equal(lt_sim_order_find(f->e, &f->a, o->order_id), o);
	assert_null(lt_sim_order_find(f->e, &f->b, o->order_id)); /* other accounts' orders */
}

static void validation_and_margin(void **state)
{
	fx *f = *state;
	int64_t bid = best(f, LT_SIM_BID)->price;
	double p = px(f, bid);
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, p + 0.25, 100, NULL),
		10043);
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, p, 5, NULL),
			 10002);
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, p, 15, NULL),
			 10021);
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, round(p * 3) / 2,
			       100, NULL),
			 10007);
	assert_int_equal(
		place(f, &f->a, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, round(p) / 2, 100, NULL),
		10005);
	/* a deep bid and a high offer are fine */
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, round(p) / 2, 100, NULL),
		0);
	assert_int_equal(
		place(f, &f->a, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, round(p * 3) / 2, 100, NULL),
		0);
	/* 10 BTC at 50x carries about 45 M USD at ~90 k */
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, p, 1e9, NULL),
			 10009);
	assert_int_equal(f->e->norders, 2);
}

/* Buys average harmonically (inverse), a sell realizes PnL and keeps the average. */
static void position_average(void **state)
{
	fx *f = *state;
	lt_sim_pos *pos;
	lt_sim_order *o;
	double a1 = px(f, best(f, LT_SIM_ASK)->price);
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, a1, 100, &o), 0);
	pos = lt_sim_pf_pos(&f->a, f->m, PERP);
	assert_true(pos->size == 100);
	assert_true(fabs(pos->avg - a1) < 1e-6);
	double a2 = a1 + 50; /* lift the asks up to 50 USD higher */
	assert_int_equal(place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, a2, 100, &o), 0);
	double p2 = o->notional / o->filled;
	assert_true(pos->size == 100 + o->filled);
	double want = pos->size / (100 / a1 + o->filled / p2);
	assert_true(fabs(pos->avg - want) < 1e-6);
	double avg = pos->avg, bal = f->a.balance[LT_SIM_IDX_BTC], held = pos->size;
	double b1 = px(f, best(f, LT_SIM_BID)->price);
	assert_int_equal(place(f, &f->a, true, LT_SIM_OT_LIMIT, LT_SIM_TIF_IOC, b1, 50, &o), 0);
	assert_true(pos->size == held - 50);
	assert_true(fabs(pos->avg - avg) < 1e-9);
	double rpl = 50 * (1 / avg - 1 / b1), fee = 50 / b1 * 0.0005;
	assert_true(fabs(f->a.balance[LT_SIM_IDX_BTC] - (bal + rpl - fee)) < 1e-12);
	assert_true(fabs(pos->rpl - rpl) < 1e-12);
	/* sell everything and more: the position flips short at the last price */
	double size = pos->size;
	assert_int_equal(place(f, &f->a, true, LT_SIM_OT_MARKET, LT_SIM_TIF_GTC, 0, size + 100, &o),
			 0);
	assert_true(pos->size == -100);
	lt_sim_summary s;
	lt_sim_pf_summary(f->e, &f->a, LT_SIM_IDX_BTC, &s);
	assert_true(s.initial_margin > 0 && s.available_funds < s.equity);
}

/* A resting bid at the best bid is filled by the synthetic market, deterministically. */
static void synthetic_takers_fill(void **state)
{
	fx *f = *state;
	lt_sim_order *o;
	int64_t bid = best(f, LT_SIM_BID)->price;
	assert_int_equal(
		place(f, &f->a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(f, bid), 100, &o), 0);
	int steps = 0;
	while (o->filled == 0 && steps < 5000)
		lt_sim_market_step(f->m, 1767225600000 + 100 * ++steps, 100);
	assert_true(o->filled > 0);
	assert_true(f->e->trades[f->e->ntrades - 1].maker);
	assert_ptr_equal(f->e->trades[f->e->ntrades - 1].order, o);
	/* same seed, same number of steps */
	fx g;
	memset(&g, 0, sizeof g);
	assert_int_equal(lt_sim_market_new(SEED, 1767225600000, &g.m), 0);
	g.e = lt_sim_engine_get(g.m);
	g.a.balance[LT_SIM_IDX_BTC] = 10.0;
	assert_int_equal(
		place(&g, &g.a, false, LT_SIM_OT_LIMIT, LT_SIM_TIF_GTC, px(&g, bid), 100, &o), 0);
	for (int i = 1; i <= steps; i++)
		lt_sim_market_step(g.m, 1767225600000 + 100 * i, 100);
	assert_true(o->filled > 0 && o->filled == f->e->orders[0]->filled);
	lt_sim_market_free(g.m);
}

/* The order object and user trade carry deribit-api.md §5's fields. */
static void order_and_trade_json(void **state)
{
	fx *f = *state;
	lt_sim_order *o;
	lt_buf b;
	lt_buf_init(&b, 0);
	double a1 = px(f, best(f, LT_SIM_ASK)->price);
	lt_sim_order_req rq = {.ins = PERP,
			       .type = LT_SIM_OT_LIMIT,
			       .tif = LT_SIM_TIF_GTC,
			       .price = a1 - 200,
			       .amount = 100,
			       .label = "mm-1"};
	size_t first;
	lt_sim_terr err;
	assert_int_equal(lt_sim_engine_place(f->e, &f->a, 7, &rq, &o, &first, &err), 0);
	lt_sim_render_order(f->e, o, &b);
	const char *t = lt_buf_text(&b);
	static const char *const keys[] = {"\"order_state\":\"open\"",
					   "\"order_type\":\"limit\"",
					   "\"time_in_force\":\"good_til_cancelled\"",
					   "\"instrument_name\":\"BTC-PERPETUAL\"",
					   "\"direction\":\"buy\"",
					   "\"amount\":100",
					   "\"contracts\":10",
					   "\"filled_amount\":0",
					   "\"average_price\":0",
					   "\"label\":\"mm-1\"",
					   "\"post_only\":false",
					   "\"reject_post_only\":false",
					   "\"reduce_only\":false",
					   "\"api\":true",
					   "\"web\":false",
					   "\"creation_timestamp\":",
					   "\"last_update_timestamp\":",
					   "\"replaced\":false"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		assert_non_null(strstr(t, keys[i]));
	assert_null(strstr(t, "cancel_reason"));
	assert_non_null(strstr(t, "\"order_id\":\""));
	lt_buf_reset(&b);
	rq.type = LT_SIM_OT_MARKET;
	rq.label = NULL;
	assert_int_equal(lt_sim_engine_place(f->e, &f->a, 7, &rq, &o, &first, &err), 0);
	lt_sim_render_order(f->e, o, &b);
	assert_non_null(strstr(lt_buf_text(&b), "\"price\":\"market_price\""));
	assert_non_null(strstr(lt_buf_text(&b), "\"label\":\"\""));
	lt_buf_reset(&b);
	lt_sim_render_utrade(f->e, &f->e->trades[first], &b);
	t = lt_buf_text(&b);
	assert_non_null(strstr(t, "\"liquidity\":\"T\""));
	assert_non_null(strstr(t, "\"fee_currency\":\"BTC\""));
	assert_non_null(strstr(t, "\"state\":\"filled\""));
	assert_non_null(strstr(t, "\"trade_seq\":"));
	lt_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(price_time_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(ioc_and_fok, setup, teardown),
		cmocka_unit_test_setup_teardown(post_only, setup, teardown),
		cmocka_unit_test_setup_teardown(reduce_only, setup, teardown),
		cmocka_unit_test_setup_teardown(market_never_rests, setup, teardown),
		cmocka_unit_test_setup_teardown(edit_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_states, setup, teardown),
		cmocka_unit_test_setup_teardown(validation_and_margin, setup, teardown),
		cmocka_unit_test_setup_teardown(position_average, setup, teardown),
		cmocka_unit_test_setup_teardown(synthetic_takers_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(order_and_trade_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
