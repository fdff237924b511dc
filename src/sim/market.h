/* market.h — the simulated venue's instruments and its seeded synthetic market: index random
 * walks, mark prices, resting liquidity in each instrument's book, synthetic public trades and
 * the ticker statistics (deribit-api.md §4 ticker/trade objects, §6 instrument fields). */
#ifndef LT_SIM_MARKET_H
#define LT_SIM_MARKET_H

#include <stdbool.h>
#include <stdint.h>

#include "book.h"

typedef enum { LT_SIM_PERPETUAL = 0, LT_SIM_FUTURE, LT_SIM_OPTION } lt_sim_kind;
enum { LT_SIM_IDX_BTC = 0, LT_SIM_IDX_ETH = 1, LT_SIM_NIDX = 2 };

/* Static description of one instrument (get_instrument fields). */
typedef struct lt_sim_instr {
	const char *name;
	lt_sim_kind kind;
	int64_t instrument_id;
	int index;                  /* LT_SIM_IDX_* */
	int64_t tick_num, tick_den; /* tick_size = tick_num / tick_den */
	double contract_size, min_trade_amount, maker_commission, taker_commission;
	int64_t creation_timestamp, expiration_timestamp;
	const char *settlement_period;
	int max_leverage;
	double strike;          /* options */
	bool call;              /* options: call, else put */
	const char *underlying; /* options: the future whose price underlies it */
} lt_sim_instr;

enum { LT_SIM_TRADE_RING = 128 };

typedef struct lt_sim_trade {
	int64_t seq, timestamp;
	double price, amount, index_price, mark_price, iv;
	bool sell; /* taker side */
	int tick_direction;
	char trade_id[32];
} lt_sim_trade;

/* Live state of one instrument. */
typedef struct lt_sim_ins {
	const lt_sim_instr *def;
	lt_sim_book book;
	double mark, last, settlement, open, high, low, volume, volume_usd, open_interest;
	double underlying_price, mark_iv, funding; /* options: underlying_price, mark_iv */
	double delta, gamma, vega, theta, rho;     /* options */
	int last_tick_direction;
	int64_t trade_seq;                    /* seq of the newest trade */
	lt_sim_trade ring[LT_SIM_TRADE_RING]; /* trade with seq s is at ring[s % RING] */
	int64_t ring_first;                   /* oldest seq still in the ring */
} lt_sim_ins;

typedef struct lt_sim_market {
	uint64_t rng;
	double index[LT_SIM_NIDX];
	int64_t index_ts; /* ms of the last index update */
	int64_t trade_id[LT_SIM_NIDX];
	int64_t now_ms;   /* wall clock of the last step (timestamps only) */
	int64_t model_ms; /* the model's clock for time to expiry: UTC midnight of the creation
			     * day plus dt_ms per step, so a seed gives the same market all day */
	size_t n;
	lt_sim_ins *ins;
	/* trading side (engine.c, trading.h): user orders in the books; NULL until first used */
	struct lt_sim_engine *engine;
} lt_sim_market;

extern const char *const lt_sim_index_names[LT_SIM_NIDX]; /* "btc_usd", "eth_usd" */

/* Build the instruments and their initial books from seed. LT_ENOMEM on failure. */
int lt_sim_market_new(uint64_t seed, int64_t now_ms, lt_sim_market **out);
void lt_sim_market_free(lt_sim_market *m);
/* One tick of dt_ms: move the indices, marks, books; maybe trade. Commits every book. */
void lt_sim_market_step(lt_sim_market *m, int64_t now_ms, int64_t dt_ms);

/* Record a public trade on s at the market's clock (the engine's fills use it too). */
const lt_sim_trade *lt_sim_market_record_trade(lt_sim_market *m, lt_sim_ins *s, bool sell,
					       double price, double amount);
lt_sim_ins *lt_sim_market_find(lt_sim_market *m, const char *name);
int lt_sim_market_index(const char *index_name);    /* LT_SIM_IDX_* or -1 */
const char *lt_sim_currency(const lt_sim_instr *d); /* "BTC" / "ETH" */
const char *lt_sim_kind_name(lt_sim_kind k);        /* "future" / "option" */
double lt_sim_tick_size(const lt_sim_instr *d);

/* JSON writers of the venue's objects (render.c). */
void lt_sim_render_instrument(const lt_sim_instr *d, lt_buf *b);
/* Ticker fields without the closing brace, so get_order_book can add to it. */
void lt_sim_render_ticker_fields(const lt_sim_market *m, const lt_sim_ins *s, int64_t now_ms,
				 lt_buf *b);
void lt_sim_render_ticker(const lt_sim_market *m, const lt_sim_ins *s, int64_t now_ms, lt_buf *b);
void lt_sim_render_trade(const lt_sim_ins *s, const lt_sim_trade *t, lt_buf *b);
void lt_sim_render_index(const lt_sim_market *m, int idx, lt_buf *b);

#endif
