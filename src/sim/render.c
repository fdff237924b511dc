/* render.c — JSON writers of the simulated venue's objects: instrument (deribit-api.md §6,
 * tests/fixtures/http_get_instrument*.json), ticker (§4, tests/fixtures/ws_ticker.json), public
 * trade (§4, tests/fixtures/ws_trades.json) and price index (§4 deribit_price_index). */
#include <math.h>

#include "json.h"
#include "market.h"

static double r(double v, double scale) { return round(v * scale) / scale; }

void lt_sim_render_instrument(const lt_sim_instr *d, lt_buf *b)
{
	bool opt = d->kind == LT_SIM_OPTION;
	const char *ccy = lt_sim_currency(d);
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_str(&o, "price_index", lt_sim_index_names[d->index]);
	lt_sim_jo_str(&o, "kind", lt_sim_kind_name(d->kind));
	lt_sim_jo_str(&o, "instrument_name", d->name);
	if (opt) {
		lt_sim_jo_str(&o, "option_type", d->call ? "call" : "put");
		lt_sim_jo_num(&o, "strike", d->strike);
	}
	lt_sim_jo_int(&o, "max_leverage", d->max_leverage);
	lt_sim_jo_num(&o, "maker_commission", d->maker_commission);
	lt_sim_jo_num(&o, "taker_commission", d->taker_commission);
	lt_sim_jo_str(&o, "instrument_type", "reversed");
	lt_sim_jo_int(&o, "expiration_timestamp", d->expiration_timestamp);
	lt_sim_jo_int(&o, "creation_timestamp", d->creation_timestamp);
	lt_sim_jo_bool(&o, "is_active", true);
	lt_sim_jo_num(&o, "tick_size", lt_sim_tick_size(d));
	lt_sim_jo_num(&o, "contract_size", d->contract_size);
	lt_sim_jo_int(&o, "instrument_id", d->instrument_id);
	lt_sim_jo_num(&o, "min_trade_amount", d->min_trade_amount);
	if (!opt)
		lt_sim_jo_str(&o, "future_type", "reversed");
	lt_sim_jo_num(&o, "max_liquidation_commission", 0.0075);
	lt_sim_jo_num(&o, "block_trade_commission", 0.00025);
	lt_sim_jo_int(&o, "block_trade_min_trade_amount", opt ? 25 : 200000);
	lt_sim_jo_num(&o, "block_trade_tick_size", opt ? 0.0001 : 0.01);
	lt_sim_jo_str(&o, "settlement_currency", ccy);
	lt_sim_jo_str(&o, "settlement_period", d->settlement_period);
	lt_sim_jo_str(&o, "base_currency", ccy);
	lt_sim_jo_str(&o, "counter_currency", "USD");
	lt_sim_jo_str(&o, "quote_currency", opt ? ccy : "USD");
	lt_sim_jo_key(&o, "tick_size_steps");
	LT_SIM_LIT(b, "[]");
	lt_sim_jo_end(&o);
}

static void render_best(lt_sim_jo *o, const lt_sim_ins *s, int side)
{
	const lt_sim_level *l = lt_sim_book_at(&s->book, side, 0);
	const char *pk = side == LT_SIM_BID ? "best_bid_price" : "best_ask_price";
	const char *ak = side == LT_SIM_BID ? "best_bid_amount" : "best_ask_amount";
	if (l)
		lt_sim_jo_num(o, pk, lt_sim_book_price(&s->book, l->price));
	else
		lt_sim_jo_null(o, pk);
	lt_sim_jo_num(o, ak, l ? l->amount : 0.0);
}

static void render_stats(lt_sim_jo *o, const lt_sim_ins *s)
{
	lt_sim_jo inner;
	lt_sim_jo_key(o, "stats");
	lt_sim_jo_begin(&inner, o->b);
	lt_sim_jo_num(&inner, "high", s->high);
	lt_sim_jo_num(&inner, "low", s->low);
	lt_sim_jo_num(&inner, "price_change", r((s->last - s->open) / s->open * 100.0, 10000.0));
	lt_sim_jo_num(&inner, "volume", r(s->volume, 1e8));
	lt_sim_jo_num(&inner, "volume_usd", r(s->volume_usd, 1.0));
	lt_sim_jo_num(&inner, "volume_notional", r(s->volume_usd, 1.0));
	lt_sim_jo_end(&inner);
}

/* bid_iv / ask_iv: the mark iv moved by the relative distance of the best prices. */
static double side_iv(const lt_sim_ins *s, int side)
{
	const lt_sim_level *l = lt_sim_book_at(&s->book, side, 0);
	if (!l || s->mark <= 0.0)
		return 0.0;
	double rel = (lt_sim_book_price(&s->book, l->price) - s->mark) / s->mark;
	return fmax(r(s->mark_iv * (1.0 + rel / 2.0), 100.0), 0.0);
}

static void render_option_fields(lt_sim_jo *o, const lt_sim_ins *s)
{
	lt_sim_jo_num(o, "underlying_price", s->underlying_price);
	lt_sim_jo_str(o, "underlying_index", s->def->underlying);
	lt_sim_jo_num(o, "interest_rate", 0.0);
	lt_sim_jo_num(o, "bid_iv", side_iv(s, LT_SIM_BID));
	lt_sim_jo_num(o, "ask_iv", side_iv(s, LT_SIM_ASK));
	lt_sim_jo_num(o, "mark_iv", s->mark_iv);
	lt_sim_jo g;
	lt_sim_jo_key(o, "greeks");
	lt_sim_jo_begin(&g, o->b);
	lt_sim_jo_num(&g, "delta", s->delta);
	lt_sim_jo_num(&g, "gamma", s->gamma);
	lt_sim_jo_num(&g, "vega", s->vega);
	lt_sim_jo_num(&g, "theta", s->theta);
	lt_sim_jo_num(&g, "rho", s->rho);
	lt_sim_jo_end(&g);
}

void lt_sim_render_ticker_fields(const lt_sim_market *m, const lt_sim_ins *s, int64_t now_ms,
				 lt_buf *b)
{
	const lt_sim_instr *d = s->def;
	double idx = m->index[d->index], tick = lt_sim_tick_size(d);
	double band = d->kind == LT_SIM_OPTION ? 0.5 : 0.015;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_int(&o, "timestamp", now_ms);
	lt_sim_jo_str(&o, "state", "open");
	render_stats(&o, s);
	lt_sim_jo_num(&o, "index_price", idx);
	lt_sim_jo_str(&o, "instrument_name", d->name);
	lt_sim_jo_num(&o, "last_price", s->last);
	lt_sim_jo_num(&o, "settlement_price", s->settlement);
	lt_sim_jo_num(&o, "min_price",
		      fmax(r(floor(s->mark * (1 - band) / tick) * tick, 1e8), tick));
	lt_sim_jo_num(&o, "max_price", r(ceil(s->mark * (1 + band) / tick) * tick, 1e8));
	lt_sim_jo_num(&o, "open_interest", s->open_interest);
	lt_sim_jo_num(&o, "mark_price", s->mark);
	render_best(&o, s, LT_SIM_ASK);
	render_best(&o, s, LT_SIM_BID);
	lt_sim_jo_num(&o, "estimated_delivery_price", idx);
	if (d->kind == LT_SIM_PERPETUAL) {
		lt_sim_jo_num(&o, "interest_value", r(s->funding * 30.0, 1e10));
		lt_sim_jo_num(&o, "current_funding", r(s->funding / 8.0, 1e8));
		lt_sim_jo_num(&o, "funding_8h", r(s->funding, 1e8));
	} else if (d->kind == LT_SIM_OPTION) {
		render_option_fields(&o, s);
	}
	/* no closing brace: see market.h */
}

void lt_sim_render_ticker(const lt_sim_market *m, const lt_sim_ins *s, int64_t now_ms, lt_buf *b)
{
	lt_sim_render_ticker_fields(m, s, now_ms, b);
	lt_buf_add(b, "}", 1);
}

void lt_sim_render_trade(const lt_sim_ins *s, const lt_sim_trade *t, lt_buf *b)
{
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_int(&o, "timestamp", t->timestamp);
	lt_sim_jo_num(&o, "price", t->price);
	lt_sim_jo_num(&o, "amount", t->amount);
	lt_sim_jo_str(&o, "direction", t->sell ? "sell" : "buy");
	lt_sim_jo_num(&o, "index_price", t->index_price);
	lt_sim_jo_str(&o, "instrument_name", s->def->name);
	lt_sim_jo_int(&o, "trade_seq", t->seq);
	lt_sim_jo_num(&o, "mark_price", t->mark_price);
	lt_sim_jo_int(&o, "tick_direction", t->tick_direction);
	lt_sim_jo_num(&o, "contracts", r(t->amount / s->def->contract_size, 1e8));
	if (s->def->kind == LT_SIM_OPTION)
		lt_sim_jo_num(&o, "iv", t->iv);
	lt_sim_jo_str(&o, "trade_id", t->trade_id);
	lt_sim_jo_end(&o);
}

void lt_sim_render_index(const lt_sim_market *m, int idx, lt_buf *b)
{
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_str(&o, "index_name", lt_sim_index_names[idx]);
	lt_sim_jo_num(&o, "price", m->index[idx]);
	lt_sim_jo_int(&o, "timestamp", m->index_ts);
	lt_sim_jo_end(&o);
}
