/* get_positions.c — private/get_positions (deribit-api.md §5 "Queries", "Position"): the
 * positions of one currency (or all), optionally of one kind, as an array of position
 * objects.
 *
 *   local ps, err = acct:get_positions{ currency = "BTC", kind = "future" }
 *   -- ps[1].size == 50.0 (float, negative when short), ps[1].user_id is an integer,
 *   -- ps[1].estimated_liquidation_price may be luatrade.null
 *
 * Errors: invalid parameters raise ("currency: required", "currency: must be one of BTC, ETH,
 * USDC, USDT, EURR, any", "kind: must be one of future, option, ...", "subaccount_id:
 * expected integer, got 1.5"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const get_positions_currencies[] = {"BTC",  "ETH", "USDC", "USDT",
						       "EURR", "any", NULL};
static const char *const get_positions_kinds[] = {"future",       "option",       "spot",
						  "future_combo", "option_combo", NULL};

static const lt_param get_positions_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = get_positions_currencies},
	{.name = "kind", .type = LT_P_ENUM, .enums = get_positions_kinds},
	{.name = "subaccount_id", .type = LT_P_INT, .flags = LT_PF_POSITIVE},
	{0},
};

const lt_method lt_m_get_positions = {
	.name = "private/get_positions",
	.lua_name = "get_positions",
	.params = get_positions_params,
	.result = &lt_s_positions,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
