/* enable_cancel_on_disconnect.c — private/enable_cancel_on_disconnect (deribit-api.md §2, §9):
 * turns on cancel-on-disconnect. Scope "connection" (default): when this connection drops
 * (clean close, inactivity, heartbeat death) the venue cancels the orders created over it,
 * with cancel_reason "cancel_on_disconnect"; scope "account" sets the default for every new
 * connection. private/logout does not trigger it.
 * Needs account:read_write. WebSocket only.
 *
 *   local ok, err = acct:enable_cancel_on_disconnect{ scope = "account" }   -- ok == "ok"
 *
 * Errors: invalid parameters raise ("scope: must be one of connection, account", "scope:
 * expected string, got boolean"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const enable_cancel_on_disconnect_scopes[] = {"connection", "account", NULL};

static const lt_param enable_cancel_on_disconnect_params[] = {
	{.name = "scope", .type = LT_P_ENUM, .enums = enable_cancel_on_disconnect_scopes},
	{0},
};

const lt_method lt_m_enable_cancel_on_disconnect = {
	.name = "private/enable_cancel_on_disconnect",
	.lua_name = "enable_cancel_on_disconnect",
	.params = enable_cancel_on_disconnect_params,
	.result = &lt_s_string,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
