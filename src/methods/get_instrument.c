/* get_instrument.c — public/get_instrument (deribit-api.md §6): one instrument's definition
 * (kind, tick_size, contract_size, min_trade_amount, expiry, commissions...).
 *
 *   local ins, err = pub:get_instrument{ instrument_name = "BTC-PERPETUAL" }
 *   -- ins.tick_size == 0.5, ins.contract_size == 10.0, ins.instrument_id == 124972
 *
 * Errors: invalid parameters raise ("instrument_name: required", "instrument_name: expected
 * string, got number"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param get_instrument_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_get_instrument = {
	.name = "public/get_instrument",
	.lua_name = "get_instrument",
	.params = get_instrument_params,
	.result = &lt_s_instrument,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
