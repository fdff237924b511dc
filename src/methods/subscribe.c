/* subscribe.c — public/subscribe (deribit-api.md §4): subscribes to public channels; the result
 * is the array of channels actually subscribed (invalid or unauthorised ones are silently left
 * out, so callers compare it with the request). At most 500 channels per call. WebSocket only.
 *
 *   local subscribed, err = pub:subscribe{ channels = { "ticker.BTC-PERPETUAL.100ms",
 *                                                       "book.BTC-PERPETUAL.100ms" } }
 *
 * Errors: invalid parameters raise ("channels: required", "channels: at most 500 entries",
 * "channels[2]: must not be empty"); venue errors return nil, err.
 * Rate limit: the subscribe pool, 3,000 credits (cap 30,000: ~3.3 calls/s, burst 10; §7).
 */
#include "codec.h"

static const lt_param subscribe_params[] = {
	{.name = "channels",
	 .type = LT_P_STRING_ARRAY,
	 .flags = LT_PF_REQUIRED,
	 .min = 1,
	 .max = 500},
	{0},
};

const lt_method lt_m_subscribe = {
	.name = "public/subscribe",
	.lua_name = "subscribe",
	.params = subscribe_params,
	.result = &lt_s_string_array,
	.pool = LT_POOL_SUBSCRIBE,
	.cost = 3000,
};
