/* buy.c — private/buy (deribit-api.md §5): places a buy order (limit by default; market,
 * stop/take, trailing). The result is the order as placed plus the fills it made at once.
 * Parameters and their rules are shared with private/sell (order_params.c).
 *
 *   local r, err = acct:buy{ instrument_name = "BTC-PERPETUAL", amount = 100, price = 93150.0,
 *                            post_only = true, label = "mm-bid-1" }
 *   -- r.order.order_id == "63018852741" (string), r.order.price == 93150.0 (float),
 *   -- r.order.creation_timestamp is an integer, r.trades is an array of user trades
 *
 * Errors: invalid parameters raise, naming the parameter and the rule ("instrument_name:
 * required", "amount: give exactly one of amount or contracts", "price: required for limit
 * orders", "price: not allowed for market orders", "post_only: only for limit orders",
 * "reject_post_only: requires post_only = true", "trigger_price: required for stop_market
 * orders", "label: at most 64 characters", "type: must be one of limit, market, ...");
 * venue errors (10009 not_enough_funds, 11054 post_only_reject, 13888 timed_out...) return
 * nil, err. Needs an authenticated connection with trade:read_write.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "order_params.h"

const lt_method lt_m_buy = {
	.name = "private/buy",
	.lua_name = "buy",
	.params = lt_order_params,
	.check = lt_order_check,
	.result = &lt_s_order_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
