/* private_subscribe.c — private/subscribe (deribit-api.md §4): subscribes to channels on an
 * authenticated connection; may mix public channels and the user.* ones (user.orders.*,
 * user.trades.*, user.portfolio.*, user.changes.*). The result is the array of channels
 * actually subscribed (invalid or unauthorised ones are silently left out). An optional label
 * (at most 16 characters) is attached to the private notifications. At most 500 channels per
 * call. WebSocket only.
 *
 * No Lua method of its own (lua_name NULL): the client's subscribe uses it internally on
 * authenticated connections, e.g. for
 *
 *   local sub, err = acct:subscribe({ "user.orders.BTC-PERPETUAL.raw",
 *                                     "user.trades.BTC-PERPETUAL.raw" }, on_event)
 *
 * Errors: invalid parameters raise ("channels: required", "channels: at most 500 entries",
 * "channels[2]: must not be empty", "label: at most 16 characters"); venue errors return
 * nil, err.
 * Rate limit: the subscribe pool, 3,000 credits (cap 30,000: ~3.3 calls/s, burst 10; §7).
 */
#include "codec.h"

static const lt_param private_subscribe_params[] = {
	{.name = "channels",
	 .type = LT_P_STRING_ARRAY,
	 .flags = LT_PF_REQUIRED,
	 .min = 1,
	 .max = 500},
	{.name = "label", .type = LT_P_STRING, .min = 1, .max = 16},
	{0},
};

const lt_method lt_m_private_subscribe = {
	.name = "private/subscribe",
	.lua_name = NULL,
	.params = private_subscribe_params,
	.result = &lt_s_string_array,
	.pool = LT_POOL_SUBSCRIBE,
	.cost = 3000,
	.flags = LT_MF_PRIVATE,
};
