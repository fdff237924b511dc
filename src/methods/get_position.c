/* get_position.c — private/get_position (deribit-api.md §5 "Queries", "Position"): the
 * position in one instrument (direction "zero", size 0.0 when there is none).
 *
 *   local p, err = acct:get_position{ instrument_name = "BTC-PERPETUAL" }
 *   -- p.size == 50.0, p.average_price == 7440.18, p.direction == "buy"
 *
 * Errors: invalid parameters raise ("instrument_name: required", "instrument_name: expected
 * string, got number"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param get_position_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_get_position = {
	.name = "private/get_position",
	.lua_name = "get_position",
	.params = get_position_params,
	.result = &lt_s_position,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
