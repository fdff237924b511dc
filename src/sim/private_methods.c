/* private_methods.c — the simulated venue's private trading methods (deribit-api.md §4 private
 * subscribe, §5 trading, §8 codes). The gate (dispatch.c, auth.c) has checked the token before a
 * handler runs; the account is rq->conn->acc (or the access_token's, via lt_sim_auth_resolve).
 *
 * buy/sell: type limit | market; stop_limit, stop_market, take_limit, take_market, market_limit
 * and trailing_stop are refused with 11050 bad_request. Parameter errors are -32602 with
 * {param, reason}: amount and contracts both missing or disagreeing, price missing for a limit
 * order, label over 64 characters. Unknown instrument 13020 not_found. The engine's codes
 * (engine.c): 10002 qty_too_low, 10021 invalid_amount, 10023 invalid_price, 10043
 * price_wrong_tick, 10007 price_too_high (buy above max_price) / 10005 price_too_low (sell below
 * min_price), 10009
 * not_enough_funds, 11054 post_only_reject, 11030 other_reject (reduce_only without a position).
 * Orders of other accounts are invisible (10004 order_not_found); cancel/edit of an order that
 * is no longer open: 11044 not_open_order. */
#include "internal.h"
#include "trading.h"

#include <string.h>

#include "json.h"

static lt_sim_engine *engine(lt_sim_req *rq)
{
	lt_sim_engine *e = lt_sim_engine_get(rq->sim->mkt);
	if (!e)
		lt_sim_reply_error(rq, 11094, "internal_server_error");
	return e;
}

static lt_sim_account *account(lt_sim_req *rq)
{
	lt_sim_account *a = lt_sim_auth_resolve(rq);
	if (!a)
		lt_sim_reply_error(rq, 13009, "unauthorized");
	return a;
}

/* amount / contracts: one of them; both must agree (contracts * contract_size). */
static int get_amount(lt_sim_req *rq, const lt_sim_instr *d, bool required, double *amount)
{
	double a = 0, c = 0;
	int ra = lt_sim_param_num(rq, "amount", false, &a), rc;
	if (ra < 0 || (rc = lt_sim_param_num(rq, "contracts", false, &c)) < 0)
		return -1;
	if (ra == 0 && rc == 0)
		return required ? lt_sim_reply_invalid(rq, "amount", "value required") : 0;
	if (ra && rc && lt_sim_amount_round(d, c * d->contract_size) != lt_sim_amount_round(d, a))
		return lt_sim_reply_invalid(rq, "contracts", "does not match amount");
	*amount = ra ? a : c * d->contract_size;
	return 1;
}

static int get_label(lt_sim_req *rq, const char **label)
{
	int rc = lt_sim_param_str(rq, "label", false, label);
	if (rc == 1 && strlen(*label) > 64)
		return lt_sim_reply_invalid(rq, "label", "must be at most 64 characters");
	return rc;
}

static void reply_terr(lt_sim_req *rq, const lt_sim_terr *err)
{
	lt_sim_reply_error(rq, err->code, err->message);
}

/* {"order": o, "trades": [the fills from first on]}; then raw user.* notifications. */
static void reply_order_trades(lt_sim_req *rq, lt_sim_engine *e, lt_sim_order *o, size_t first)
{
	lt_buf *b = lt_sim_reply_begin(rq);
	LT_SIM_LIT(b, "{\"order\":");
	lt_sim_render_order(e, o, b);
	LT_SIM_LIT(b, ",\"trades\":[");
	for (size_t i = first; i < e->ntrades; i++) {
		if (e->trades[i].order != o)
			continue;
		if (b->len && lt_buf_text(b)[b->len - 1] != '[')
			lt_buf_add(b, ",", 1);
		lt_sim_render_utrade(e, &e->trades[i], b);
	}
	LT_SIM_LIT(b, "]}");
	lt_sim_reply_end(rq);
	lt_sim_user_flush_raw(e);
}

static int parse_type(lt_sim_req *rq, lt_sim_otype *type)
{
	static const char *const types[] = {"limit",        "market",        "stop_limit",
					    "stop_market",  "take_limit",    "take_market",
					    "market_limit", "trailing_stop", NULL};
	const char *t = "limit";
	if (lt_sim_param_enum(rq, "type", false, types, &t) < 0)
		return -1;
	if (strcmp(t, "limit") && strcmp(t, "market")) {
		lt_sim_reply_error(rq, 11050, "bad_request");
		return -1;
	}
	*type = strcmp(t, "market") == 0 ? LT_SIM_OT_MARKET : LT_SIM_OT_LIMIT;
	return 0;
}

static int parse_tif(lt_sim_req *rq, lt_sim_tif *tif)
{
	static const char *const tifs[] = {"good_til_cancelled", "good_til_day", "fill_or_kill",
					   "immediate_or_cancel", NULL};
	const char *t = tifs[0];
	if (lt_sim_param_enum(rq, "time_in_force", false, tifs, &t) < 0)
		return -1;
	for (int i = 0; tifs[i]; i++)
		if (strcmp(t, tifs[i]) == 0)
			*tif = (lt_sim_tif)i;
	return 0;
}

static void place(lt_sim_req *rq, bool sell)
{
	lt_sim_order_req o = {.sell = sell};
	lt_sim_engine *e;
	lt_sim_account *acc;
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s || !(acc = account(rq)) || !(e = engine(rq)))
		return;
	o.ins = (size_t)(s - rq->sim->mkt->ins);
	if (get_amount(rq, s->def, true, &o.amount) < 0 || parse_type(rq, &o.type) < 0 ||
	    parse_tif(rq, &o.tif) < 0 || get_label(rq, &o.label) < 0 ||
	    lt_sim_param_bool(rq, "post_only", false, &o.post_only) < 0 ||
	    lt_sim_param_bool(rq, "reject_post_only", false, &o.reject_post_only) < 0 ||
	    lt_sim_param_bool(rq, "reduce_only", false, &o.reduce_only) < 0)
		return;
	int rp = lt_sim_param_num(rq, "price", false, &o.price);
	if (rp < 0)
		return;
	if (rp == 0 && o.type == LT_SIM_OT_LIMIT) {
		lt_sim_reply_invalid(rq, "price", "required for limit orders");
		return;
	}
	lt_sim_order *ord;
	size_t first;
	lt_sim_terr err;
	if (lt_sim_engine_place(e, acc, rq->conn->id, &o, &ord, &first, &err) != 0)
		reply_terr(rq, &err);
	else
		reply_order_trades(rq, e, ord, first);
}

static void m_buy(lt_sim_req *rq) { place(rq, false); }

static void m_sell(lt_sim_req *rq) { place(rq, true); }

/* The order named by param order_id, or NULL after replying (10004). */
static lt_sim_order *param_order(lt_sim_req *rq, lt_sim_engine **e)
{
	const char *id;
	lt_sim_account *acc;
	if (lt_sim_param_str(rq, "order_id", true, &id) <= 0 || !(acc = account(rq)) ||
	    !(*e = engine(rq)))
		return NULL;
	lt_sim_order *o = lt_sim_order_find(*e, acc, id);
	if (!o)
		lt_sim_reply_error(rq, 10004, "order_not_found");
	return o;
}

static void m_edit(lt_sim_req *rq)
{
	lt_sim_engine *e;
	lt_sim_order *o = param_order(rq, &e);
	if (!o)
		return;
	const lt_sim_instr *d = e->mkt->ins[o->ins].def;
	double amount = o->amount, price = lt_sim_order_price(e, o);
	bool po = o->post_only, rpo = o->reject_post_only, ro = o->reduce_only;
	if (get_amount(rq, d, false, &amount) < 0 ||
	    lt_sim_param_num(rq, "price", false, &price) < 0 ||
	    lt_sim_param_bool(rq, "post_only", false, &po) < 0 ||
	    lt_sim_param_bool(rq, "reject_post_only", false, &rpo) < 0 ||
	    lt_sim_param_bool(rq, "reduce_only", false, &ro) < 0)
		return;
	size_t first;
	lt_sim_terr err;
	if (lt_sim_engine_edit(e, o, amount, price, po, rpo, ro, &first, &err) != 0) {
		reply_terr(rq, &err);
		lt_sim_user_flush_raw(e);
	} else {
		reply_order_trades(rq, e, o, first);
	}
}

static void m_cancel(lt_sim_req *rq)
{
	lt_sim_engine *e;
	lt_sim_order *o = param_order(rq, &e);
	if (!o)
		return;
	if (o->state != LT_SIM_OS_OPEN) {
		lt_sim_reply_error(rq, 11044, "not_open_order");
		return;
	}
	lt_sim_engine_cancel(e, o, "user_request");
	lt_sim_render_order(e, o, lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
	lt_sim_user_flush_raw(e);
}

/* ---- filters shared by the cancel-all family and the queries ---------------------------- */

typedef struct filter {
	long ins; /* -1 any */
	int ccy;  /* LT_SIM_IDX_*, -1 any, 99 none */
	int kind_mask;
	const char *label; /* NULL any */
	bool none;         /* type selects trigger orders only: nothing */
} filter;

static bool matches(const lt_sim_engine *e, const filter *f, const lt_sim_account *acc,
		    const lt_sim_order *o)
{
	const lt_sim_instr *d = e->mkt->ins[o->ins].def;
	return !f->none && o->acc == acc && (f->ins < 0 || (size_t)f->ins == o->ins) &&
	       (f->ccy < 0 || f->ccy == d->index) && (f->kind_mask & (1 << d->kind)) &&
	       (!f->label || strcmp(f->label, o->label) == 0);
}

static int parse_currency(lt_sim_req *rq, bool required, bool any_ok, int *ccy)
{
	static const char *const ccys[] = {"BTC", "ETH", "USDC", "USDT", "EURR", "any", NULL};
	const char *c;
	int rc = lt_sim_param_enum(rq, "currency", required, ccys, &c);
	if (rc == 1 && strcmp(c, "any") == 0 && !any_ok)
		return lt_sim_reply_invalid(rq, "currency", "must be a currency");
	if (rc == 1)
		*ccy = strcmp(c, "BTC") == 0   ? LT_SIM_IDX_BTC
		       : strcmp(c, "ETH") == 0 ? LT_SIM_IDX_ETH
		       : strcmp(c, "any") == 0 ? -1
					       : 99;
	return rc;
}

static int parse_kind(lt_sim_req *rq, int *mask)
{
	static const char *const kinds[] = {"future",       "option", "spot", "future_combo",
					    "option_combo", "combo",  "any",  NULL};
	const char *k = "any";
	if (lt_sim_param_enum(rq, "kind", false, kinds, &k) < 0)
		return -1;
	*mask = strcmp(k, "any") == 0      ? 7
		: strcmp(k, "future") == 0 ? 3
		: strcmp(k, "option") == 0 ? 4
					   : 0;
	return 0;
}

/* type of the cancel family and the open-order queries: trigger types match nothing here. */
static int parse_otype(lt_sim_req *rq, filter *f)
{
	static const char *const types[] = {
		"all",           "limit",       "trigger_all",  "stop",        "take",
		"trailing_stop", "stop_all",    "stop_limit",   "stop_market", "take_all",
		"take_limit",    "take_market", "trailing_all", "market",      NULL};
	const char *t = "all";
	if (lt_sim_param_enum(rq, "type", false, types, &t) < 0)
		return -1;
	f->none = strcmp(t, "all") != 0 && strcmp(t, "limit") != 0;
	return 0;
}

static void cancel_matching(lt_sim_req *rq, const filter *f)
{
	lt_sim_engine *e;
	lt_sim_account *acc;
	bool detailed = false;
	if (lt_sim_param_bool(rq, "detailed", false, &detailed) < 0 || !(acc = account(rq)) ||
	    !(e = engine(rq)))
		return;
	lt_buf *b = lt_sim_reply_begin(rq);
	int64_t n = 0;
	if (detailed)
		lt_buf_add(b, "[", 1);
	for (size_t i = 0; i < e->norders; i++) {
		lt_sim_order *o = e->orders[i];
		if (o->state != LT_SIM_OS_OPEN || !matches(e, f, acc, o))
			continue;
		lt_sim_engine_cancel(e, o, "user_request");
		if (detailed) {
			if (n)
				lt_buf_add(b, ",", 1);
			LT_SIM_LIT(b, "{\"order\":");
			lt_sim_render_order(e, o, b);
			lt_buf_add(b, "}", 1);
		}
		n++;
	}
	if (detailed)
		lt_buf_add(b, "]", 1);
	else
		lt_jw_int(b, n);
	lt_sim_reply_end(rq);
	lt_sim_user_flush_raw(e);
}

static void m_cancel_all(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	cancel_matching(rq, &f);
}

static void m_cancel_all_by_instrument(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s || parse_otype(rq, &f) < 0)
		return;
	f.ins = (long)(s - rq->sim->mkt->ins);
	cancel_matching(rq, &f);
}

static void m_cancel_all_by_currency(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	if (parse_currency(rq, true, false, &f.ccy) <= 0 || parse_kind(rq, &f.kind_mask) < 0 ||
	    parse_otype(rq, &f) < 0)
		return;
	cancel_matching(rq, &f);
}

static void m_cancel_by_label(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	if (lt_sim_param_str(rq, "label", true, &f.label) <= 0 ||
	    parse_currency(rq, false, false, &f.ccy) < 0)
		return;
	cancel_matching(rq, &f);
}

/* An array of the account's orders matching f (open only, or every state). */
static void list_orders(lt_sim_req *rq, const filter *f, bool open_only)
{
	lt_sim_engine *e;
	lt_sim_account *acc;
	if (!(acc = account(rq)) || !(e = engine(rq)))
		return;
	lt_buf *b = lt_sim_reply_begin(rq);
	size_t n = 0;
	lt_buf_add(b, "[", 1);
	for (size_t i = 0; i < e->norders; i++) {
		const lt_sim_order *o = e->orders[i];
		if ((open_only && o->state != LT_SIM_OS_OPEN) || !matches(e, f, acc, o))
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_sim_render_order(e, o, b);
	}
	lt_buf_add(b, "]", 1);
	lt_sim_reply_end(rq);
}

static void m_get_open_orders(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	if (parse_kind(rq, &f.kind_mask) < 0 || parse_otype(rq, &f) < 0)
		return;
	list_orders(rq, &f, true);
}

static void m_get_open_orders_by_instrument(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s || parse_otype(rq, &f) < 0)
		return;
	f.ins = (long)(s - rq->sim->mkt->ins);
	list_orders(rq, &f, true);
}

static void m_get_open_orders_by_currency(lt_sim_req *rq)
{
	filter f = {-1, -1, 7, NULL, false};
	if (parse_currency(rq, true, false, &f.ccy) <= 0 || parse_kind(rq, &f.kind_mask) < 0 ||
	    parse_otype(rq, &f) < 0)
		return;
	list_orders(rq, &f, true);
}

/* get_open_orders_by_label and get_order_state_by_label: (currency, label). */
static void by_label(lt_sim_req *rq, bool open_only)
{
	filter f = {-1, -1, 7, NULL, false};
	if (parse_currency(rq, true, false, &f.ccy) <= 0 ||
	    lt_sim_param_str(rq, "label", !open_only, &f.label) < 0)
		return;
	list_orders(rq, &f, open_only);
}

static void m_get_open_orders_by_label(lt_sim_req *rq) { by_label(rq, true); }

static void m_get_order_state_by_label(lt_sim_req *rq) { by_label(rq, false); }

static void m_get_order_state(lt_sim_req *rq)
{
	lt_sim_engine *e;
	lt_sim_order *o = param_order(rq, &e);
	if (!o)
		return;
	lt_sim_render_order(e, o, lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
}

/* ---- portfolio queries ------------------------------------------------------------------- */

static void m_get_positions(lt_sim_req *rq)
{
	int ccy = -1, mask = 7;
	lt_sim_engine *e;
	lt_sim_account *acc;
	if (parse_currency(rq, false, true, &ccy) < 0 || parse_kind(rq, &mask) < 0 ||
	    !(acc = account(rq)) || !(e = engine(rq)))
		return;
	lt_buf *b = lt_sim_reply_begin(rq);
	size_t n = 0;
	lt_buf_add(b, "[", 1);
	for (size_t i = 0; i < e->mkt->n; i++) {
		const lt_sim_instr *d = e->mkt->ins[i].def;
		lt_sim_pos *p = lt_sim_pf_pos(acc, e->mkt, i);
		if (!p || p->size == 0.0 || !(mask & (1 << d->kind)) ||
		    (ccy >= 0 && ccy != d->index))
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_sim_render_position(e->mkt, acc, i, b);
	}
	lt_buf_add(b, "]", 1);
	lt_sim_reply_end(rq);
}

static void m_get_position(lt_sim_req *rq)
{
	lt_sim_engine *e;
	lt_sim_account *acc;
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s || !(acc = account(rq)) || !(e = engine(rq)))
		return;
	lt_sim_render_position(e->mkt, acc, (size_t)(s - e->mkt->ins), lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
}

static void m_get_account_summary(lt_sim_req *rq)
{
	int ccy = 0;
	bool extended = false;
	lt_sim_engine *e;
	lt_sim_account *acc;
	if (parse_currency(rq, true, false, &ccy) <= 0 ||
	    lt_sim_param_bool(rq, "extended", false, &extended) < 0 || !(acc = account(rq)) ||
	    !(e = engine(rq)))
		return;
	if (ccy == 99) {
		lt_sim_reply_invalid(rq, "currency", "no such currency on this venue");
		return;
	}
	lt_sim_render_summary(e, acc, ccy, extended, true, lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
}

/* ---- private subscriptions: public channels (channels.c) and user.* ----------------------- */

static void m_subscribe(lt_sim_req *rq) { lt_sim_subscribe_reply(rq, true, true); }

static void m_unsubscribe(lt_sim_req *rq) { lt_sim_subscribe_reply(rq, false, true); }

static void m_unsubscribe_all(lt_sim_req *rq)
{
	lt_sim_chan_unsubscribe_all(rq->conn); /* user.* too */
	lt_sim_reply_ok(rq);
}

const lt_sim_method lt_sim_private_methods[] = {
	{"private/buy", m_buy},
	{"private/sell", m_sell},
	{"private/edit", m_edit},
	{"private/cancel", m_cancel},
	{"private/cancel_all", m_cancel_all},
	{"private/cancel_all_by_instrument", m_cancel_all_by_instrument},
	{"private/cancel_all_by_currency", m_cancel_all_by_currency},
	{"private/cancel_by_label", m_cancel_by_label},
	{"private/get_open_orders", m_get_open_orders},
	{"private/get_open_orders_by_instrument", m_get_open_orders_by_instrument},
	{"private/get_open_orders_by_currency", m_get_open_orders_by_currency},
	{"private/get_open_orders_by_label", m_get_open_orders_by_label},
	{"private/get_order_state", m_get_order_state},
	{"private/get_order_state_by_label", m_get_order_state_by_label},
	{"private/get_positions", m_get_positions},
	{"private/get_position", m_get_position},
	{"private/get_account_summary", m_get_account_summary},
	{"private/subscribe", m_subscribe},
	{"private/unsubscribe", m_unsubscribe},
	{"private/unsubscribe_all", m_unsubscribe_all},
	{NULL, NULL},
};
