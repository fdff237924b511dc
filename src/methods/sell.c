/* sell.c — private/sell (deribit-api.md §5): places a sell order (limit by default; market,
 * stop/take, trailing). The result is the order as placed plus the fills it made at once.
 * Parameters and their rules are shared with private/buy (order_params.c).
 *
 *   local r, err = acct:sell{ instrument_name = "BTC-PERPETUAL", amount = 50,
 *                             type = "market", label = "hedge-77" }
 *   -- r.order.order_state == "filled", r.trades[1].trade_seq is an integer,
 *   -- r.trades[1].price and .fee are floats
 *
 * Errors: invalid parameters raise, naming the parameter and the rule ("amount: give exactly
 * one of amount or contracts", "price: not allowed for market orders", "trigger_price:
 * required for stop_limit orders", "time_in_force: must be one of good_til_cancelled, ...");
 * venue errors return nil, err. Needs an authenticated connection with trade:read_write.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "order_params.h"

const lt_method lt_m_sell = {
	.name = "private/sell",
	.lua_name = "sell",
	.params = lt_order_params,
	.check = lt_order_check,
	.result = &lt_s_order_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
