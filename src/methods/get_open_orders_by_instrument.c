/* get_open_orders_by_instrument.c — private/get_open_orders_by_instrument (deribit-api.md §5
 * "Queries"): the open orders of one instrument, all of them or one type, as an array of
 * order objects.
 *
 *   local orders, err = acct:get_open_orders_by_instrument{ instrument_name = "BTC-PERPETUAL" }
 *   -- orders[1].order_id is a string, orders[1].price a float (or "market_price")
 *
 * Errors: invalid parameters raise ("instrument_name: required", "type: must be one of all,
 * limit, trigger_all, stop_all, ..."); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const get_open_orders_by_instrument_types[] = {
	"all",      "limit",      "trigger_all", "stop_all",     "stop_limit",    "stop_market",
	"take_all", "take_limit", "take_market", "trailing_all", "trailing_stop", NULL};

static const lt_param get_open_orders_by_instrument_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "type", .type = LT_P_ENUM, .enums = get_open_orders_by_instrument_types},
	{0},
};

const lt_method lt_m_get_open_orders_by_instrument = {
	.name = "private/get_open_orders_by_instrument",
	.lua_name = "get_open_orders_by_instrument",
	.params = get_open_orders_by_instrument_params,
	.result = &lt_s_orders,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
