/* ticker.c — public/ticker (deribit-api.md §6, ticker object §4): best bid/ask, last, mark and
 * index prices, 24 h stats, funding (perpetuals) and greeks (options) of one instrument.
 *
 *   local t, err = pub:ticker{ instrument_name = "BTC-PERPETUAL" }
 *   -- t.best_bid_price == 92283.5 (float), t.timestamp == 1765541474086 (integer);
 *   -- an empty side has best_bid_price == luatrade.null
 *
 * Errors: invalid parameters raise ("instrument_name: required", "instrument_name: expected
 * string, got number", "unknown parameter 'foo' for public/ticker"); venue errors return
 * nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param ticker_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_ticker = {
	.name = "public/ticker",
	.lua_name = "ticker",
	.params = ticker_params,
	.result = &lt_s_ticker,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
