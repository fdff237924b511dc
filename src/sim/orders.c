/* orders.c — the simulated venue's order table and user trades: storage, lookup, the change log
 * the user.* channels read, the JSON order object and user trade object (deribit-api.md §5,
 * tests/fixtures/ws_order_*.json, ws_user_trades_exact.json), and cancel on disconnect (§9:
 * connection scope, only the orders created over the connection that dropped). */
#include "internal.h"
#include "trading.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, c * size);
	if (!q)
		return LT_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

int lt_sim_order_add(lt_sim_engine *e, lt_sim_order *o)
{
	if (grow((void **)&e->orders, &e->orders_cap, e->norders, sizeof *e->orders) != 0)
		return LT_ENOMEM;
	e->orders[e->norders++] = o;
	return 0;
}

lt_sim_order *lt_sim_order_find(lt_sim_engine *e, const lt_sim_account *acc, const char *id)
{
	for (size_t i = e->norders; i-- > 0;)
		if (e->orders[i]->acc == acc && strcmp(e->orders[i]->order_id, id) == 0)
			return e->orders[i];
	return NULL;
}

void lt_sim_order_changed(lt_sim_engine *e, lt_sim_order *o)
{
	if (grow((void **)&e->events, &e->events_cap, e->nevents, sizeof *e->events) != 0)
		e->oom = true;
	else
		e->events[e->nevents++] = o;
	lt_sim_ev_order(e, o); /* eventlog.c */
	lt_sim_user_order_event(e, o);
}

lt_sim_utrade *lt_sim_utrade_add(lt_sim_engine *e)
{
	if (grow((void **)&e->trades, &e->trades_cap, e->ntrades, sizeof *e->trades) != 0) {
		e->oom = true;
		return NULL;
	}
	lt_sim_utrade *t = &e->trades[e->ntrades++];
	memset(t, 0, sizeof *t);
	return t;
}

double lt_sim_amount_round(const lt_sim_instr *d, double amount)
{
	/* amounts are whole steps of min_trade_amount; 0.1 steps divide so that 0.3 prints 0.3 */
	if (d->min_trade_amount < 1.0) {
		double inv = round(1.0 / d->min_trade_amount);
		return round(amount * inv) / inv;
	}
	return round(amount / d->min_trade_amount) * d->min_trade_amount;
}

double lt_sim_order_price(const lt_sim_engine *e, const lt_sim_order *o)
{
	return lt_sim_book_price(&e->mkt->ins[o->ins].book, o->price);
}

static const char *state_name(lt_sim_ostate s)
{
	static const char *const names[] = {"open", "filled", "cancelled", "rejected"};
	return names[s];
}

static const char *tif_name(lt_sim_tif t)
{
	static const char *const names[] = {"good_til_cancelled", "good_til_day", "fill_or_kill",
					    "immediate_or_cancel"};
	return names[t];
}

static double r8(double v) { return round(v * 1e8) / 1e8; }

void lt_sim_render_order(const lt_sim_engine *e, const lt_sim_order *o, lt_buf *b)
{
	const lt_sim_instr *d = e->mkt->ins[o->ins].def;
	lt_sim_jo j;
	lt_sim_jo_begin(&j, b);
	lt_sim_jo_str(&j, "order_id", o->order_id);
	lt_sim_jo_str(&j, "order_state", state_name(o->state));
	lt_sim_jo_str(&j, "order_type", o->type == LT_SIM_OT_MARKET ? "market" : "limit");
	lt_sim_jo_str(&j, "time_in_force", tif_name(o->tif));
	lt_sim_jo_str(&j, "instrument_name", d->name);
	lt_sim_jo_str(&j, "direction", o->sell ? "sell" : "buy");
	if (o->type == LT_SIM_OT_MARKET)
		lt_sim_jo_str(&j, "price", "market_price");
	else
		lt_sim_jo_num(&j, "price", lt_sim_order_price(e, o));
	lt_sim_jo_num(&j, "amount", o->amount);
	lt_sim_jo_num(&j, "contracts", r8(o->amount / d->contract_size));
	lt_sim_jo_num(&j, "filled_amount", o->filled);
	lt_sim_jo_num(&j, "average_price", o->filled > 0 ? r8(o->notional / o->filled) : 0.0);
	lt_sim_jo_str(&j, "label", o->label);
	lt_sim_jo_bool(&j, "post_only", o->post_only);
	lt_sim_jo_bool(&j, "reject_post_only", o->reject_post_only);
	lt_sim_jo_bool(&j, "reduce_only", o->reduce_only);
	lt_sim_jo_bool(&j, "api", true);
	lt_sim_jo_bool(&j, "web", false);
	lt_sim_jo_bool(&j, "mobile", false);
	lt_sim_jo_int(&j, "creation_timestamp", o->created);
	lt_sim_jo_int(&j, "last_update_timestamp", o->updated);
	lt_sim_jo_bool(&j, "replaced", o->replaced);
	lt_sim_jo_bool(&j, "is_liquidation", false);
	lt_sim_jo_bool(&j, "risk_reducing", false);
	lt_sim_jo_bool(&j, "mmp", false);
	lt_sim_jo_int(&j, "user_id", o->acc ? o->acc->user_id : 0);
	if (o->state == LT_SIM_OS_CANCELLED && o->cancel_reason)
		lt_sim_jo_str(&j, "cancel_reason", o->cancel_reason);
	lt_sim_jo_end(&j);
}

void lt_sim_render_utrade(const lt_sim_engine *e, const lt_sim_utrade *t, lt_buf *b)
{
	const lt_sim_order *o = t->order;
	const lt_sim_ins *s = &e->mkt->ins[o->ins];
	const lt_sim_instr *d = s->def;
	lt_sim_jo j;
	lt_sim_jo_begin(&j, b);
	lt_sim_jo_str(&j, "trade_id", t->trade_id);
	lt_sim_jo_int(&j, "trade_seq", t->trade_seq);
	lt_sim_jo_str(&j, "instrument_name", d->name);
	lt_sim_jo_int(&j, "timestamp", t->timestamp);
	lt_sim_jo_str(&j, "order_id", o->order_id);
	lt_sim_jo_str(&j, "order_type", o->type == LT_SIM_OT_MARKET ? "market" : "limit");
	lt_sim_jo_str(&j, "direction", o->sell ? "sell" : "buy");
	lt_sim_jo_num(&j, "price", t->price);
	lt_sim_jo_num(&j, "amount", t->amount);
	lt_sim_jo_num(&j, "contracts", r8(t->amount / d->contract_size));
	lt_sim_jo_num(&j, "fee", r8(t->fee));
	lt_sim_jo_str(&j, "fee_currency", lt_sim_currency(d));
	lt_sim_jo_str(&j, "liquidity", t->maker ? "M" : "T");
	lt_sim_jo_str(&j, "state", state_name(t->state));
	lt_sim_jo_str(&j, "label", o->label);
	lt_sim_jo_num(&j, "index_price", t->index_price);
	lt_sim_jo_num(&j, "mark_price", t->mark_price);
	lt_sim_jo_int(&j, "tick_direction", t->tick_direction);
	lt_sim_jo_null(&j, "matching_id");
	lt_sim_jo_bool(&j, "reduce_only", o->reduce_only);
	lt_sim_jo_bool(&j, "post_only", o->post_only);
	lt_sim_jo_bool(&j, "mmp", false);
	lt_sim_jo_bool(&j, "risk_reducing", false);
	lt_sim_jo_bool(&j, "api", true);
	lt_sim_jo_num(&j, "profit_loss", r8(t->profit_loss));
	lt_sim_jo_int(&j, "user_id", o->acc ? o->acc->user_id : 0);
	if (d->kind == LT_SIM_OPTION) {
		lt_sim_jo_num(&j, "iv", s->mark_iv);
		lt_sim_jo_num(&j, "underlying_price", s->underlying_price);
	}
	lt_sim_jo_end(&j);
}

/* deribit-api.md §9: connection scope — the orders created over c, not the account's others. */
void lt_sim_engine_cancel_on_disconnect(lt_sim_conn *c)
{
	lt_sim_engine *e = c->sim && c->sim->mkt ? c->sim->mkt->engine : NULL;
	if (!e)
		return;
	for (size_t i = 0; i < e->norders; i++) {
		lt_sim_order *o = e->orders[i];
		if (o->state == LT_SIM_OS_OPEN && o->conn_id == c->id)
			lt_sim_engine_cancel(e, o, "cancel_on_disconnect");
	}
	lt_sim_user_flush_raw(e);
}
