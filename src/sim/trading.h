/* trading.h — the simulated venue's trading side: the matching engine (engine.c), orders and
 * user trades (orders.c), positions and balances (portfolio.c), the user.* channels
 * (user_channels.c) and the private trading methods (private_methods.c). deribit-api.md §5.
 *
 * Model. One engine per venue (lt_sim_market.engine, made on first use, freed with the market).
 * Every order ever placed stays in the engine's table until the venue is freed, so order state
 * queries keep answering for filled and cancelled orders. A resting user order sits in the FIFO
 * of its price level: lt_sim_level.orders points to an lt_sim_queue. A level's amount (book.h) is
 * synthetic + user amount; the synthetic part is split into `ahead` (resting before the first
 * user order arrived, matched first) and the rest (matched after the user orders). The synthetic
 * market (market.c) changes only the synthetic part, through lt_sim_engine_set_synth; when its
 * best prices move through a user order, lt_sim_engine_cross fills it as a maker; its synthetic
 * takers go through lt_sim_engine_take, which fills user orders queued behind `ahead`.
 *
 * Amounts: USD for the inverse perpetuals/futures, coin for options (deribit-api.md §1); PnL,
 * fees and margin in the instrument's coin. Every state change of an order is logged (order
 * events) and every fill is a user trade; user_channels.c reads both logs with per-subscription
 * cursors. Functions that can be refused return 0 or a Deribit error code (§8) with its message.
 */
#ifndef LT_SIM_TRADING_H
#define LT_SIM_TRADING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../codec.h"
#include "accounts.h"
#include "market.h"

typedef enum {
	LT_SIM_OS_OPEN,
	LT_SIM_OS_FILLED,
	LT_SIM_OS_CANCELLED,
	LT_SIM_OS_REJECTED
} lt_sim_ostate;
typedef enum { LT_SIM_OT_LIMIT, LT_SIM_OT_MARKET } lt_sim_otype;
typedef enum { LT_SIM_TIF_GTC, LT_SIM_TIF_GTD, LT_SIM_TIF_FOK, LT_SIM_TIF_IOC } lt_sim_tif;

typedef struct lt_sim_order lt_sim_order;
struct lt_sim_order {
	lt_sim_order *qnext, *qprev; /* the price level's FIFO (open orders only) */
	lt_sim_account *acc;
	unsigned conn_id; /* connection it was created over (cancel on disconnect) */
	size_t ins;       /* instrument index in the market */
	char order_id[32];
	bool sell;
	lt_sim_otype type;
	lt_sim_tif tif;
	lt_sim_ostate state;
	int64_t price;                   /* ticks (limit orders) */
	double amount, filled, notional; /* notional: sum of price * amount of the fills */
	char label[65];
	bool post_only, reject_post_only, reduce_only, replaced;
	const char *cancel_reason; /* static text, NULL while not cancelled */
	int64_t created, updated;
	uint64_t gen; /* user_channels.c: de-duplication stamp */
};

/* One fill seen from one side (a taker fill against another user's order makes two). */
typedef struct lt_sim_utrade {
	lt_sim_order *order;
	char trade_id[32];
	int64_t trade_seq, timestamp;
	double price, amount, fee, index_price, mark_price, profit_loss;
	int tick_direction;
	bool maker;
	lt_sim_ostate state; /* the order's state right after this fill */
} lt_sim_utrade;

/* A level's user FIFO (lt_sim_level.orders). */
typedef struct lt_sim_queue {
	lt_sim_order *head, *tail;
	double user;  /* sum of the remaining amounts of the queued orders */
	double ahead; /* synthetic amount matched before the first user order */
} lt_sim_queue;

typedef struct lt_sim_usub lt_sim_usub; /* user_channels.c */

typedef struct lt_sim_engine {
	lt_sim_market *mkt;
	lt_sim_order **orders; /* every order, in creation order */
	size_t norders, orders_cap;
	lt_sim_utrade *trades; /* every user trade */
	size_t ntrades, trades_cap;
	lt_sim_order **events; /* order change log (an order appears once per change) */
	size_t nevents, events_cap;
	int64_t next_order_id;
	lt_sim_usub *usubs; /* user.* subscriptions of every connection */
	uint64_t gen;
	void *pfs;                  /* portfolio.c: every account's positions */
	bool oom;                   /* a log could not grow: notifications may be incomplete */
	struct lt_sim_evlog *evlog; /* the venue's event log (eventlog.c), or NULL */
} lt_sim_engine;

/* An order request after parameter validation (private_methods.c fills it). */
typedef struct lt_sim_order_req {
	size_t ins;
	bool sell;
	lt_sim_otype type;
	lt_sim_tif tif;
	double price; /* limit orders */
	double amount;
	const char *label; /* NULL = "" */
	bool post_only, reject_post_only, reduce_only;
} lt_sim_order_req;

/* An error a trading call answers with (deribit-api.md §8). */
typedef struct lt_sim_terr {
	int64_t code;
	char message[96];
} lt_sim_terr;

/* ---- engine.c ---------------------------------------------------------------------------- */
/* The market's engine, made on first use (NULL when out of memory). */
lt_sim_engine *lt_sim_engine_get(lt_sim_market *m);
void lt_sim_engine_free(lt_sim_engine *e);
/* Hooks for market.c (see the model above). set_synth sets the synthetic part of a level;
 * cross fills every user order at a level the synthetic market moved through and leaves only
 * the synthetic part; take is a synthetic taker taking up to amount from the best level of
 * side, recording the public and user trades. */
void lt_sim_engine_set_synth(lt_sim_engine *e, lt_sim_ins *s, int side, int64_t price,
			     double synth);
double lt_sim_engine_user_at(const lt_sim_book *bk, int side, int64_t price);
void lt_sim_engine_cross(lt_sim_engine *e, lt_sim_ins *s, int side, int64_t price);
void lt_sim_engine_take(lt_sim_engine *e, lt_sim_ins *s, int side, double amount);
/* Place an order for acc; on success *out is the order and the fills it made are user trades
 * [*first_trade, e->ntrades). Returns 0 or the error code filled into err. */
int lt_sim_engine_place(lt_sim_engine *e, lt_sim_account *acc, unsigned conn_id,
			const lt_sim_order_req *rq, lt_sim_order **out, size_t *first_trade,
			lt_sim_terr *err);
/* Edit an open order (amount, price ticks, flags); priority is lost when the price changes or
 * the amount grows. Trades as for place. */
int lt_sim_engine_edit(lt_sim_engine *e, lt_sim_order *o, double amount, double price,
		       bool post_only, bool reject_post_only, bool reduce_only, size_t *first_trade,
		       lt_sim_terr *err);
/* Cancel an open order with a reason ("user_request", "cancel_on_disconnect"). */
void lt_sim_engine_cancel(lt_sim_engine *e, lt_sim_order *o, const char *reason);

/* ---- orders.c ---------------------------------------------------------------------------- */
int lt_sim_order_add(lt_sim_engine *e, lt_sim_order *o); /* takes ownership */
lt_sim_order *lt_sim_order_find(lt_sim_engine *e, const lt_sim_account *acc, const char *id);
void lt_sim_order_changed(lt_sim_engine *e, lt_sim_order *o); /* log + raw notifications */
/* The event log's order entries (eventlog.c): a state change. */
void lt_sim_ev_order(lt_sim_engine *e, const lt_sim_order *o);
lt_sim_utrade *lt_sim_utrade_add(lt_sim_engine *e); /* zeroed, NULL on ENOMEM */
double lt_sim_order_price(const lt_sim_engine *e, const lt_sim_order *o);
void lt_sim_render_order(const lt_sim_engine *e, const lt_sim_order *o, lt_buf *b);
void lt_sim_render_utrade(const lt_sim_engine *e, const lt_sim_utrade *t, lt_buf *b);
/* Amount with float noise of k min-amount steps removed (0.1 steps stay 0.3). */
double lt_sim_amount_round(const lt_sim_instr *d, double amount);

/* ---- portfolio.c ------------------------------------------------------------------------- */
typedef struct lt_sim_pos {
	double size; /* signed: USD (inverse) or coin (options); < 0 short */
	double avg;  /* average entry price, 0 when flat */
	double rpl;  /* realized PnL, coin */
	double session_rpl;
} lt_sim_pos;
/* The account's position in instrument ins (NULL when out of memory). */
lt_sim_pos *lt_sim_pf_pos(lt_sim_account *acc, const lt_sim_market *m, size_t ins);
/* Book a fill into the position and balance; returns the realized PnL of the fill. */
double lt_sim_pf_fill(lt_sim_account *acc, const lt_sim_market *m, size_t ins, bool sell,
		      double price, double amount, double fee);
double lt_sim_pf_fee(const lt_sim_instr *d, double price, double amount, bool maker);
/* Initial margin of an order part that opens exposure. */
double lt_sim_pf_order_margin(const lt_sim_instr *d, double price, double amount, bool sell);
typedef struct lt_sim_summary {
	double balance, equity, available_funds, initial_margin, maintenance_margin,
		open_orders_margin, session_upl, session_rpl, total_pl, delta_total, futures_pl,
		futures_session_upl, futures_session_rpl, options_pl, options_session_upl,
		options_session_rpl, options_value, options_delta;
} lt_sim_summary;
void lt_sim_pf_summary(const lt_sim_engine *e, lt_sim_account *acc, int ccy, lt_sim_summary *out);
/* Free every account's positions (engine teardown; acc->portfolio dangles after). */
void lt_sim_pf_free_all(lt_sim_engine *e);
void lt_sim_render_position(const lt_sim_market *m, lt_sim_account *acc, size_t ins, lt_buf *b);
void lt_sim_render_summary(const lt_sim_engine *e, lt_sim_account *acc, int ccy, bool extended,
			   bool limits, lt_buf *b);

/* ---- user_channels.c (notifications; no-ops without subscriptions) ------------------------ */
typedef struct lt_sim_conn lt_sim_conn;
typedef struct lt_sim lt_sim;
void lt_sim_user_order_event(lt_sim_engine *e, lt_sim_order *o);
/* End of a request or market step: raw trades/changes and changed portfolios go out. */
void lt_sim_user_flush_raw(lt_sim_engine *e);
/* After a market step (channels.c): raw, 100ms and (agg2) agg2 channels and portfolios. */
void lt_sim_user_publish(lt_sim *sim, bool agg2);
/* user.* channel names: 1 subscribed (needs conn->account), 0 invalid/not allowed, <0 error. */
int lt_sim_user_subscribe(lt_sim_conn *c, const char *name);
bool lt_sim_user_unsubscribe(lt_sim_conn *c, const char *name);
void lt_sim_user_unsubscribe_all(lt_sim_conn *c);
void lt_sim_user_free_subs(lt_sim_engine *e);
/* sim/stats: append c's user.* channel names to b as JSON strings, comma-separated after the n
 * already written there; returns the new count. */
size_t lt_sim_user_names(lt_sim_conn *c, lt_buf *b, size_t n);

/* ---- declared by the auth side (auth.c, limits.c); implemented / called here ------------- */
void lt_sim_engine_cancel_on_disconnect(lt_sim_conn *c);      /* orders.c */
void lt_sim_limits_write(const lt_sim_account *a, lt_buf *b); /* limits.c */
int64_t lt_sim_now_ms(void);                                  /* server.c */

#endif
