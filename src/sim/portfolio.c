/* portfolio.c — positions, balances and margin of the simulated venue's accounts, and the
 * position and account summary objects (deribit-api.md §5, tests/fixtures/http_get_positions.json,
 * http_get_account_summaries.json, ws_portfolio.json).
 *
 * Simplified model, all in the instrument's coin: inverse perpetuals/futures (size in USD,
 * negative when short) average entries harmonically and have PnL size * (1/avg - 1/mark);
 * options (size in coin) are treated linearly, PnL size * (mark - avg), no premium moves.
 * Realized PnL and fees go straight into the balance. Initial margin: inverse size / mark /
 * max_leverage (maintenance half of it); short options (0.15 + mark) per coin, long options
 * none. Open orders carry the margin of the part that would open exposure, at their price
 * (reduce_only orders none). equity = balance + floating PnL; available_funds = equity - initial
 * margin - open orders margin. */
#include "trading.h"

#include <math.h>
#include <stdlib.h>

#include "json.h"

/* One account's positions; owned by the engine (the accounts are freed before it). */
typedef struct pf {
	struct pf *next;
	size_t n;
	lt_sim_pos pos[];
} pf;

lt_sim_pos *lt_sim_pf_pos(lt_sim_account *acc, const lt_sim_market *m, size_t ins)
{
	if (!acc || ins >= m->n)
		return NULL;
	pf *p = acc->portfolio;
	if (!p) {
		if (!m->engine || !(p = calloc(1, sizeof *p + m->n * sizeof p->pos[0])))
			return NULL;
		p->n = m->n;
		p->next = m->engine->pfs;
		m->engine->pfs = p;
		acc->portfolio = p;
	}
	return &p->pos[ins];
}

void lt_sim_pf_free_all(lt_sim_engine *e)
{
	while (e->pfs) {
		pf *p = e->pfs;
		e->pfs = p->next;
		free(p);
	}
}

static bool inverse(const lt_sim_instr *d) { return d->kind != LT_SIM_OPTION; }

double lt_sim_pf_fee(const lt_sim_instr *d, double price, double amount, bool maker)
{
	double c = maker ? d->maker_commission : d->taker_commission;
	if (inverse(d))
		return amount / price * c;
	return fmin(c * amount, 0.125 * price * amount);
}

double lt_sim_pf_order_margin(const lt_sim_instr *d, double price, double amount, bool sell)
{
	if (inverse(d))
		return amount / price / d->max_leverage;
	return sell ? amount * (0.15 + price) : amount * price;
}

/* PnL of closing `amount` of a position (long when long) entered at avg, at price. */
static double close_pnl(const lt_sim_instr *d, bool long_pos, double avg, double price,
			double amount)
{
	double per = inverse(d) ? amount * (1.0 / avg - 1.0 / price) : amount * (price - avg);
	return long_pos ? per : -per;
}

double lt_sim_pf_fill(lt_sim_account *acc, const lt_sim_market *m, size_t ins, bool sell,
		      double price, double amount, double fee)
{
	lt_sim_pos *p = lt_sim_pf_pos(acc, m, ins);
	const lt_sim_instr *d = m->ins[ins].def;
	if (!p)
		return 0.0;
	double q = sell ? -amount : amount, size = fabs(p->size), rpl = 0.0;
	if (p->size == 0.0 || (p->size > 0) == (q > 0)) {
		p->avg = inverse(d) ? (size + amount) / (size / (p->avg > 0 ? p->avg : price) +
							 amount / price)
				    : (size * p->avg + amount * price) / (size + amount);
		p->size = lt_sim_amount_round(d, p->size + q);
	} else {
		rpl = close_pnl(d, p->size > 0, p->avg, price, fmin(amount, size));
		bool flips = amount > size;
		p->size = lt_sim_amount_round(d, p->size + q);
		if (p->size == 0.0)
			p->avg = 0.0;
		else if (flips)
			p->avg = price;
	}
	p->avg = round(p->avg * 1e8) / 1e8;
	p->rpl += rpl;
	p->session_rpl += rpl;
	acc->balance[d->index] += rpl - fee;
	return rpl;
}

/* Per-position figures at the current mark. */
typedef struct pos_fig {
	double upl, im, mm, delta, size_ccy;
} pos_fig;

static pos_fig figures(const lt_sim_ins *s, const lt_sim_pos *p)
{
	const lt_sim_instr *d = s->def;
	pos_fig f = {0, 0, 0, 0, 0};
	if (p->size == 0.0 || s->mark <= 0.0)
		return f;
	if (inverse(d)) {
		f.upl = p->size * (1.0 / p->avg - 1.0 / s->mark);
		f.im = fabs(p->size) / s->mark / d->max_leverage;
		f.mm = f.im / 2.0;
		f.delta = f.size_ccy = p->size / s->mark;
	} else {
		f.upl = p->size * (s->mark - p->avg);
		f.im = p->size < 0 ? -p->size * (0.15 + s->mark) : 0.0;
		f.mm = p->size < 0 ? -p->size * (0.075 + s->mark) : 0.0;
		f.delta = p->size * s->delta;
		f.size_ccy = p->size;
	}
	return f;
}

static double orders_margin(const lt_sim_engine *e, const lt_sim_account *acc, size_t ins)
{
	double sum = 0.0;
	for (size_t i = 0; e && i < e->norders; i++) {
		const lt_sim_order *o = e->orders[i];
		if (o->acc != acc || o->ins != ins || o->state != LT_SIM_OS_OPEN || o->reduce_only)
			continue;
		sum += lt_sim_pf_order_margin(e->mkt->ins[ins].def, lt_sim_order_price(e, o),
					      o->amount - o->filled, o->sell);
	}
	return sum;
}

void lt_sim_pf_summary(const lt_sim_engine *e, lt_sim_account *acc, int ccy, lt_sim_summary *out)
{
	static const lt_sim_summary zero;
	*out = zero;
	out->balance = acc->balance[ccy];
	const lt_sim_market *m = e->mkt;
	const pf *p = acc->portfolio;
	for (size_t i = 0; i < m->n; i++) {
		const lt_sim_ins *s = &m->ins[i];
		if (s->def->index != ccy)
			continue;
		out->open_orders_margin += orders_margin(e, acc, i);
		if (!p)
			continue;
		pos_fig f = figures(s, &p->pos[i]);
		bool opt = s->def->kind == LT_SIM_OPTION;
		out->initial_margin += f.im;
		out->maintenance_margin += f.mm;
		out->session_upl += f.upl;
		out->session_rpl += p->pos[i].session_rpl;
		out->total_pl += f.upl + p->pos[i].rpl;
		out->delta_total += f.delta;
		*(opt ? &out->options_pl : &out->futures_pl) += f.upl + p->pos[i].rpl;
		*(opt ? &out->options_session_upl : &out->futures_session_upl) += f.upl;
		*(opt ? &out->options_session_rpl : &out->futures_session_rpl) +=
			p->pos[i].session_rpl;
		if (opt) {
			out->options_value += p->pos[i].size * s->mark;
			out->options_delta += f.delta;
		}
	}
	out->equity = out->balance + out->session_upl;
	out->available_funds = out->equity - out->initial_margin - out->open_orders_margin;
}

static double r8(double v) { return round(v * 1e8) / 1e8; }

void lt_sim_render_position(const lt_sim_market *m, lt_sim_account *acc, size_t ins, lt_buf *b)
{
	static const lt_sim_pos flat;
	const lt_sim_ins *s = &m->ins[ins];
	const lt_sim_instr *d = s->def;
	const lt_sim_pos *p =
		acc && acc->portfolio ? &((const pf *)acc->portfolio)->pos[ins] : &flat;
	const lt_sim_engine *e = m->engine;
	pos_fig f = figures(s, p);
	double idx = m->index[d->index], oom = orders_margin(e, acc, ins);
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_str(&o, "instrument_name", d->name);
	lt_sim_jo_str(&o, "kind", lt_sim_kind_name(d->kind));
	lt_sim_jo_str(&o, "direction", p->size > 0 ? "buy" : p->size < 0 ? "sell" : "zero");
	lt_sim_jo_num(&o, "size", p->size);
	lt_sim_jo_num(&o, "size_currency", r8(f.size_ccy));
	lt_sim_jo_num(&o, "average_price", p->avg);
	if (d->kind == LT_SIM_OPTION)
		lt_sim_jo_num(&o, "average_price_usd", r8(p->avg * idx));
	lt_sim_jo_num(&o, "mark_price", s->mark);
	lt_sim_jo_num(&o, "index_price", idx);
	lt_sim_jo_num(&o, "settlement_price", s->settlement);
	lt_sim_jo_num(&o, "delta", r8(f.delta));
	if (d->kind == LT_SIM_OPTION) {
		lt_sim_jo_num(&o, "gamma", r8(p->size * s->gamma));
		lt_sim_jo_num(&o, "vega", r8(p->size * s->vega));
		lt_sim_jo_num(&o, "theta", r8(p->size * s->theta));
		lt_sim_jo_num(&o, "floating_profit_loss_usd", r8(f.upl * idx));
	}
	lt_sim_jo_num(&o, "initial_margin", r8(f.im));
	lt_sim_jo_num(&o, "maintenance_margin", r8(f.mm));
	lt_sim_jo_num(&o, "open_orders_margin", r8(oom));
	lt_sim_jo_num(&o, "total_profit_loss", r8(f.upl + p->rpl));
	lt_sim_jo_num(&o, "floating_profit_loss", r8(f.upl));
	lt_sim_jo_num(&o, "realized_profit_loss", r8(p->rpl));
	lt_sim_jo_num(&o, "realized_funding", 0.0);
	if (d->kind == LT_SIM_PERPETUAL)
		lt_sim_jo_num(&o, "interest_value", 0.0);
	lt_sim_jo_num(&o, "leverage", d->max_leverage);
	lt_sim_jo_null(&o, "estimated_liquidation_price");
	lt_sim_jo_int(&o, "user_id", acc ? acc->user_id : 0);
	lt_sim_jo_end(&o);
}

static void render_fees(lt_sim_jo *o, int ccy)
{
	static const char *const kinds[] = {"perpetual", "future", "option"};
	lt_buf *b = o->b;
	lt_sim_jo_key(o, "fees");
	lt_buf_add(b, "[", 1);
	for (int k = 0; k < 3; k++) {
		lt_sim_jo f, v, dflt;
		if (k)
			lt_buf_add(b, ",", 1);
		lt_sim_jo_begin(&f, b);
		lt_sim_jo_key(&f, "value");
		lt_sim_jo_begin(&v, b);
		lt_sim_jo_key(&v, "default");
		lt_sim_jo_begin(&dflt, b);
		lt_sim_jo_str(&dflt, "type", k == 2 ? "relative" : "fixed");
		lt_sim_jo_num(&dflt, "taker", k == 2 ? 0.0003 : 0.0005);
		lt_sim_jo_num(&dflt, "maker", k == 2 ? 0.0003 : 0.0);
		lt_sim_jo_end(&dflt);
		lt_sim_jo_num(&v, "block_trade", 0.3);
		lt_sim_jo_end(&v);
		lt_sim_jo_str(&f, "kind", kinds[k]);
		lt_sim_jo_str(&f, "index_name", lt_sim_index_names[ccy]);
		lt_sim_jo_end(&f);
	}
	lt_buf_add(b, "]", 1);
}

static void render_extended(lt_sim_jo *o, const lt_sim_account *acc, int ccy)
{
	lt_sim_jo_int(o, "id", acc->user_id);
	lt_sim_jo_str(o, "username", acc->username);
	lt_sim_jo_str(o, "system_name", acc->username);
	lt_sim_jo_str(o, "email", "");
	lt_sim_jo_str(o, "type", "main");
	lt_sim_jo_null(o, "referrer_id");
	lt_sim_jo_bool(o, "login_enabled", false);
	lt_sim_jo_bool(o, "security_keys_enabled", false);
	lt_sim_jo_bool(o, "mmp_enabled", false);
	lt_sim_jo_bool(o, "interuser_transfers_enabled", false);
	lt_sim_jo_str(o, "self_trading_reject_mode", "cancel_maker");
	lt_sim_jo_bool(o, "self_trading_extended_to_subaccounts", false);
	render_fees(o, ccy);
}

static void render_map(lt_sim_jo *o, const char *key, const char *index, double v, bool any)
{
	lt_sim_jo m;
	lt_sim_jo_key(o, key);
	lt_sim_jo_begin(&m, o->b);
	if (any)
		lt_sim_jo_num(&m, index, v);
	lt_sim_jo_end(&m);
}

void lt_sim_render_summary(const lt_sim_engine *e, lt_sim_account *acc, int ccy, bool extended,
			   bool limits, lt_buf *b)
{
	lt_sim_summary s;
	lt_sim_pf_summary(e, acc, ccy, &s);
	const char *idx = lt_sim_index_names[ccy];
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_str(&o, "currency", ccy == LT_SIM_IDX_ETH ? "ETH" : "BTC");
	lt_sim_jo_num(&o, "balance", r8(s.balance));
	lt_sim_jo_num(&o, "equity", r8(s.equity));
	lt_sim_jo_num(&o, "available_funds", r8(s.available_funds));
	lt_sim_jo_num(&o, "available_withdrawal_funds", r8(fmin(s.available_funds, s.balance)));
	lt_sim_jo_num(&o, "margin_balance", r8(s.equity));
	lt_sim_jo_num(&o, "initial_margin", r8(s.initial_margin + s.open_orders_margin));
	lt_sim_jo_num(&o, "maintenance_margin", r8(s.maintenance_margin));
	lt_sim_jo_num(&o, "projected_initial_margin", r8(s.initial_margin + s.open_orders_margin));
	lt_sim_jo_num(&o, "projected_maintenance_margin", r8(s.maintenance_margin));
	lt_sim_jo_num(&o, "delta_total", r8(s.delta_total));
	lt_sim_jo_num(&o, "projected_delta_total", r8(s.delta_total));
	render_map(&o, "delta_total_map", idx, r8(s.delta_total), true);
	lt_sim_jo_num(&o, "total_pl", r8(s.total_pl));
	lt_sim_jo_num(&o, "session_rpl", r8(s.session_rpl));
	lt_sim_jo_num(&o, "session_upl", r8(s.session_upl));
	lt_sim_jo_num(&o, "futures_pl", r8(s.futures_pl));
	lt_sim_jo_num(&o, "futures_session_rpl", r8(s.futures_session_rpl));
	lt_sim_jo_num(&o, "futures_session_upl", r8(s.futures_session_upl));
	lt_sim_jo_num(&o, "options_pl", r8(s.options_pl));
	lt_sim_jo_num(&o, "options_session_rpl", r8(s.options_session_rpl));
	lt_sim_jo_num(&o, "options_session_upl", r8(s.options_session_upl));
	lt_sim_jo_num(&o, "options_value", r8(s.options_value));
	lt_sim_jo_num(&o, "options_delta", r8(s.options_delta));
	lt_sim_jo_num(&o, "options_gamma", 0.0);
	lt_sim_jo_num(&o, "options_vega", 0.0);
	lt_sim_jo_num(&o, "options_theta", 0.0);
	render_map(&o, "options_gamma_map", idx, 0, false);
	render_map(&o, "options_vega_map", idx, 0, false);
	render_map(&o, "options_theta_map", idx, 0, false);
	lt_sim_jo_num(&o, "fee_balance", 0.0);
	lt_sim_jo_num(&o, "spot_reserve", 0.0);
	lt_sim_jo_num(&o, "additional_reserve", 0.0);
	lt_sim_jo_num(&o, "estimated_liquidation_ratio", 0.0);
	lt_sim_jo_str(&o, "margin_model", "segregated_sm");
	lt_sim_jo_bool(&o, "cross_collateral_enabled", false);
	lt_sim_jo_bool(&o, "portfolio_margining_enabled", false);
	if (extended)
		render_extended(&o, acc, ccy);
	if (limits) {
		lt_sim_jo_key(&o, "limits");
		lt_sim_limits_write(acc, b);
	}
	lt_sim_jo_end(&o);
}
