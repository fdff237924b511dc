/* disable_cancel_on_disconnect.c — private/disable_cancel_on_disconnect (deribit-api.md §2, §9):
 * turns cancel-on-disconnect off for this connection (scope "connection", default) or as the
 * default for new connections (scope "account").
 * Needs account:read_write. WebSocket only.
 *
 *   local ok, err = acct:disable_cancel_on_disconnect{ scope = "account" }   -- ok == "ok"
 *
 * Errors: invalid parameters raise ("scope: must be one of connection, account", "scope:
 * expected string, got boolean"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const disable_cancel_on_disconnect_scopes[] = {"connection", "account", NULL};

static const lt_param disable_cancel_on_disconnect_params[] = {
	{.name = "scope", .type = LT_P_ENUM, .enums = disable_cancel_on_disconnect_scopes},
	{0},
};

const lt_method lt_m_disable_cancel_on_disconnect = {
	.name = "private/disable_cancel_on_disconnect",
	.lua_name = "disable_cancel_on_disconnect",
	.params = disable_cancel_on_disconnect_params,
	.result = &lt_s_string,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
