/* user_channels.c — the simulated venue's user.* channels (deribit-api.md §4):
 *   user.orders.{instr}.{iv}, user.orders.{kind}.{ccy}.{iv}   raw: ONE order object per change;
 *                                                             100ms/agg2: an ARRAY of the orders
 *                                                             changed since the last message
 *   user.trades.{instr}.{iv}, user.trades.{kind}.{ccy}.{iv}   always an array of user trades
 *   user.changes.{instr}.{iv}, user.changes.{kind}.{ccy}.{iv} {instrument_name, orders, trades,
 *                                                             positions} per instrument
 *   user.portfolio.{ccy|any}                                  account summary (per currency),
 *                                                             after changes and every agg2 tick
 * Only on a connection with an account (conn->acc, set by auth.c); messages go to every
 * subscribed connection of the order's account. Subscriptions keep cursors into the engine's
 * order change log and user trade list; raw channels are sent at the change (orders) or at the
 * end of the request / market step (trades, changes, portfolio), 100ms at every tick, agg2
 * every 2 s. kind: future (perpetuals and futures), option, any (spot/combo: valid, silent);
 * ccy: BTC, ETH, any (others valid, silent); names compare case-insensitively for the currency. */
#include "internal.h"
#include "trading.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"

enum { U_ORDERS, U_TRADES, U_CHANGES, U_PORTFOLIO };
enum { IV_RAW = 2 }; /* after LT_SIM_IV_100MS, LT_SIM_IV_AGG2 */

struct lt_sim_usub {
	lt_sim_usub *next;
	lt_sim_conn *conn;
	char name[128];
	int what, interval;
	long ins;      /* instrument index, -1: kind_mask/ccy */
	int kind_mask; /* bit per lt_sim_kind */
	int ccy;       /* LT_SIM_IDX_*, -1 any, 99 none */
	size_t ev, tr; /* cursors: next order event / user trade to look at */
};

static lt_sim_engine *engine_of(lt_sim_conn *c)
{
	return c->sim && c->sim->mkt ? c->sim->mkt->engine : NULL;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static bool parse_ccy(const char *s, int *ccy)
{
	static const char *const names[] = {"BTC", "ETH", "any", "USDC", "USDT", "EURR"};
	static const int ids[] = {LT_SIM_IDX_BTC, LT_SIM_IDX_ETH, -1, 99, 99, 99};
	for (int i = 0; i < 6; i++)
		if (strcasecmp(s, names[i]) == 0) {
			*ccy = ids[i];
			return true;
		}
	return false;
}

static bool parse_kind(const char *s, int *mask)
{
	static const char *const names[] = {"future", "option",       "any",         "spot",
					    "combo",  "future_combo", "option_combo"};
	static const int masks[] = {3, 4, 7, 0, 0, 0, 0};
	for (int i = 0; i < 7; i++)
		if (strcmp(s, names[i]) == 0) {
			*mask = masks[i];
			return true;
		}
	return false;
}

static bool parse_iv(const char *s, int *iv)
{
	if (strcmp(s, "raw") == 0)
		*iv = IV_RAW;
	else if (strcmp(s, "100ms") == 0)
		*iv = LT_SIM_IV_100MS;
	else if (strcmp(s, "agg2") == 0)
		*iv = LT_SIM_IV_AGG2;
	else
		return false;
	return true;
}

static bool parse(lt_sim_market *m, const char *name, lt_sim_usub *u)
{
	char tmp[128], *p[6];
	int n = 0;
	size_t len = strlen(name);
	if (len >= sizeof tmp || strncmp(name, "user.", 5) != 0)
		return false;
	memcpy(tmp, name, len + 1);
	for (char *s = strtok(tmp, "."); s && n < 6; s = strtok(NULL, "."))
		p[n++] = s;
	if (n == 3 && strcmp(p[1], "portfolio") == 0) {
		u->what = U_PORTFOLIO;
		u->ins = -1;
		u->kind_mask = 7;
		return parse_ccy(p[2], &u->ccy);
	}
	if (n < 4 || n > 5)
		return false;
	if (strcmp(p[1], "orders") == 0)
		u->what = U_ORDERS;
	else if (strcmp(p[1], "trades") == 0)
		u->what = U_TRADES;
	else if (strcmp(p[1], "changes") == 0)
		u->what = U_CHANGES;
	else
		return false;
	if (!parse_iv(p[n - 1], &u->interval))
		return false;
	if (n == 5) {
		u->ins = -1;
		return parse_kind(p[2], &u->kind_mask) && parse_ccy(p[3], &u->ccy);
	}
	lt_sim_ins *s = lt_sim_market_find(m, p[2]);
	u->ins = s ? (long)(s - m->ins) : -1;
	return s != NULL;
}

/* ---- subscription list ------------------------------------------------------------------- */

int lt_sim_user_subscribe(lt_sim_conn *c, const char *name)
{
	lt_sim_usub u;
	memset(&u, 0, sizeof u);
	if (!lt_sim_auth_valid(c) || !parse(c->sim->mkt, name, &u))
		return 0;
	lt_sim_engine *e = lt_sim_engine_get(c->sim->mkt);
	if (!e)
		return LT_ENOMEM;
	for (lt_sim_usub *x = e->usubs; x; x = x->next)
		if (x->conn == c && strcmp(x->name, name) == 0)
			return 1;
	lt_sim_usub *n = malloc(sizeof *n);
	if (!n)
		return LT_ENOMEM;
	*n = u;
	n->conn = c;
	memcpy(n->name, name, strlen(name) + 1);
	n->ev = e->nevents;
	n->tr = e->ntrades;
	n->next = e->usubs;
	e->usubs = n;
	return 1;
}

static bool remove_where(lt_sim_engine *e, lt_sim_conn *c, const char *name)
{
	bool any = false;
	for (lt_sim_usub **pp = &e->usubs; *pp;) {
		lt_sim_usub *x = *pp;
		if (x->conn == c && (!name || strcmp(x->name, name) == 0)) {
			*pp = x->next;
			free(x);
			any = true;
		} else {
			pp = &x->next;
		}
	}
	return any;
}

bool lt_sim_user_unsubscribe(lt_sim_conn *c, const char *name)
{
	lt_sim_engine *e = engine_of(c);
	return e && remove_where(e, c, name);
}

void lt_sim_user_unsubscribe_all(lt_sim_conn *c)
{
	lt_sim_engine *e = engine_of(c);
	if (e)
		remove_where(e, c, NULL);
}

size_t lt_sim_user_names(lt_sim_conn *c, lt_buf *b, size_t n)
{
	lt_sim_engine *e = engine_of(c);
	for (lt_sim_usub *x = e ? e->usubs : NULL; x; x = x->next) {
		if (x->conn != c)
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_jw_string(b, x->name, strlen(x->name));
	}
	return n;
}

void lt_sim_user_free_subs(lt_sim_engine *e)
{
	while (e->usubs) {
		lt_sim_usub *x = e->usubs;
		e->usubs = x->next;
		free(x);
	}
}

/* ---- publishing -------------------------------------------------------------------------- */

static bool ins_matches(const lt_sim_engine *e, const lt_sim_usub *u, size_t ins)
{
	if (u->ins >= 0)
		return (size_t)u->ins == ins;
	const lt_sim_instr *d = e->mkt->ins[ins].def;
	return (u->kind_mask & (1 << d->kind)) && (u->ccy < 0 || u->ccy == d->index);
}

static bool order_matches(const lt_sim_engine *e, const lt_sim_usub *u, const lt_sim_order *o)
{
	return u->conn->acc && o->acc == u->conn->acc && ins_matches(e, u, o->ins);
}

void lt_sim_user_order_event(lt_sim_engine *e, lt_sim_order *o)
{
	for (lt_sim_usub *u = e->usubs; u; u = u->next) {
		if (u->what != U_ORDERS || u->interval != IV_RAW || !order_matches(e, u, o))
			continue;
		lt_sim_msg *m = lt_sim_notify_begin(u->name);
		if (!m)
			continue;
		lt_sim_render_order(e, o, &m->b);
		m->uo.on = true; /* eventlog.c logs it when it is written (or discarded) */
		m->uo.state = (int)o->state;
		m->uo.ts = o->updated;
		snprintf(m->uo.order_id, sizeof m->uo.order_id, "%s", o->order_id);
		lt_sim_notify_end(u->conn, m);
	}
}

/* Write the orders changed since u->ev (current state, each once) matching u and, when ins is
 * not -1, that instrument; returns how many. */
static size_t write_orders(lt_sim_engine *e, const lt_sim_usub *u, long ins, lt_buf *b)
{
	size_t n = 0;
	e->gen++;
	lt_buf_add(b, "[", 1);
	for (size_t i = u->ev; i < e->nevents; i++) {
		lt_sim_order *o = e->events[i];
		if (o->gen == e->gen || !order_matches(e, u, o) ||
		    (ins >= 0 && (size_t)ins != o->ins))
			continue;
		o->gen = e->gen;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_sim_render_order(e, o, b);
	}
	lt_buf_add(b, "]", 1);
	return n;
}

static size_t write_trades(lt_sim_engine *e, const lt_sim_usub *u, long ins, lt_buf *b)
{
	size_t n = 0;
	lt_buf_add(b, "[", 1);
	for (size_t i = u->tr; i < e->ntrades; i++) {
		const lt_sim_utrade *t = &e->trades[i];
		if (!order_matches(e, u, t->order) || (ins >= 0 && (size_t)ins != t->order->ins))
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_sim_render_utrade(e, t, b);
	}
	lt_buf_add(b, "]", 1);
	return n;
}

/* Send what was written after the data began, or drop the message when nothing matched. */
static void send_or_drop(lt_sim_usub *u, lt_sim_msg *m, size_t n)
{
	if (n)
		lt_sim_notify_end(u->conn, m);
	else
		lt_sim_msg_free(m);
}

static void flush_list(lt_sim_engine *e, lt_sim_usub *u)
{
	lt_sim_msg *m = lt_sim_notify_begin(u->name);
	if (!m)
		return;
	size_t n =
		u->what == U_ORDERS ? write_orders(e, u, -1, &m->b) : write_trades(e, u, -1, &m->b);
	send_or_drop(u, m, n);
}

/* user.changes: one message per instrument with changes. */
static void flush_changes(lt_sim_engine *e, lt_sim_usub *u)
{
	for (size_t i = 0; i < e->mkt->n; i++) {
		if (!ins_matches(e, u, i))
			continue;
		lt_sim_msg *m = lt_sim_notify_begin(u->name);
		if (!m)
			return;
		lt_sim_jo o;
		lt_sim_jo_begin(&o, &m->b);
		lt_sim_jo_str(&o, "instrument_name", e->mkt->ins[i].def->name);
		lt_sim_jo_key(&o, "orders");
		size_t n = write_orders(e, u, (long)i, &m->b);
		lt_sim_jo_key(&o, "trades");
		n += write_trades(e, u, (long)i, &m->b);
		lt_sim_jo_key(&o, "positions");
		lt_buf_add(&m->b, "[", 1);
		lt_sim_render_position(e->mkt, u->conn->acc, i, &m->b);
		lt_buf_add(&m->b, "]", 1);
		lt_sim_jo_end(&o);
		send_or_drop(u, m, n);
	}
}

/* Did the account change in u's currency since the cursor? */
static bool portfolio_changed(const lt_sim_engine *e, const lt_sim_usub *u)
{
	for (size_t i = u->ev; i < e->nevents; i++)
		if (order_matches(e, u, e->events[i]))
			return true;
	return false;
}

static void flush_portfolio(lt_sim_engine *e, lt_sim_usub *u, bool force)
{
	if (!u->conn->acc || (!force && !portfolio_changed(e, u)))
		return;
	for (int ccy = 0; ccy < LT_SIM_NIDX; ccy++) {
		if (u->ccy >= 0 && u->ccy != ccy)
			continue;
		lt_sim_msg *m = lt_sim_notify_begin(u->name);
		if (!m)
			return;
		lt_sim_render_summary(e, u->conn->acc, ccy, false, false, &m->b);
		lt_sim_notify_end(u->conn, m);
	}
}

static void flush(lt_sim_engine *e, lt_sim_usub *u, bool force_portfolio)
{
	if (!u->conn->acc || !u->conn->sim) {
		/* logged out: nothing to send, move on */
	} else if (u->what == U_PORTFOLIO) {
		flush_portfolio(e, u, force_portfolio);
	} else if (u->what == U_CHANGES) {
		flush_changes(e, u);
	} else if (u->what == U_TRADES || u->interval != IV_RAW) {
		flush_list(e, u);
	}
	u->ev = e->nevents;
	u->tr = e->ntrades;
}

void lt_sim_user_flush_raw(lt_sim_engine *e)
{
	for (lt_sim_usub *u = e->usubs; u; u = u->next)
		if (u->interval == IV_RAW || u->what == U_PORTFOLIO)
			flush(e, u, false);
}

void lt_sim_user_publish(lt_sim *sim, bool agg2)
{
	lt_sim_engine *e = sim->mkt ? sim->mkt->engine : NULL;
	if (!e)
		return;
	for (lt_sim_usub *u = e->usubs; u; u = u->next) {
		if (u->what == U_PORTFOLIO)
			flush(e, u, agg2);
		else if (u->interval == IV_RAW || u->interval == LT_SIM_IV_100MS ||
			 (agg2 && u->interval == LT_SIM_IV_AGG2))
			flush(e, u, false);
	}
}
