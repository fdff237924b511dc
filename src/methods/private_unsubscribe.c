/* private_unsubscribe.c — private/unsubscribe (deribit-api.md §4): removes subscriptions made
 * with private/subscribe; the result is the array of channels removed by this call. At most
 * 500 channels per call. WebSocket only.
 *
 * No Lua method of its own (lua_name NULL): closing a subscription made on an authenticated
 * connection sends it, e.g. `sub:close()` after `acct:subscribe({ "user.trades.any.any.raw" },
 * f)`.
 *
 * Errors: invalid parameters raise ("channels: required", "channels: at least 1 entry",
 * "channels[1]: expected string, got number"); venue errors return nil, err.
 * Rate limit: the non-matching-engine pool, 500 credits (deribit-api.md §7: only subscribe has
 * a bucket of its own; the venue charges unsubscribes to the default one).
 */
#include "codec.h"

static const lt_param private_unsubscribe_params[] = {
	{.name = "channels",
	 .type = LT_P_STRING_ARRAY,
	 .flags = LT_PF_REQUIRED,
	 .min = 1,
	 .max = 500},
	{0},
};

const lt_method lt_m_private_unsubscribe = {
	.name = "private/unsubscribe",
	.lua_name = NULL,
	.params = private_unsubscribe_params,
	.result = &lt_s_string_array,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
