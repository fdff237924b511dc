/* get_cancel_on_disconnect.c — private/get_cancel_on_disconnect (deribit-api.md §2, §9):
 * whether cancel-on-disconnect is on for this connection (scope "connection", default) or as
 * the account's default for new connections (scope "account").
 *
 *   local cod, err = acct:get_cancel_on_disconnect{ scope = "connection" }
 *   -- cod.scope == "connection", cod.enabled == true
 *
 * Errors: invalid parameters raise ("scope: must be one of connection, account"); venue
 * errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_field get_cancel_on_disconnect_result_fields[] = {
	{"scope", &lt_s_string},
	{"enabled", &lt_s_bool},
	{NULL, NULL},
};
static const lt_schema get_cancel_on_disconnect_result = {
	.type = LT_T_OBJECT, .fields = get_cancel_on_disconnect_result_fields};

static const char *const get_cancel_on_disconnect_scopes[] = {"connection", "account", NULL};

static const lt_param get_cancel_on_disconnect_params[] = {
	{.name = "scope", .type = LT_P_ENUM, .enums = get_cancel_on_disconnect_scopes},
	{0},
};

const lt_method lt_m_get_cancel_on_disconnect = {
	.name = "private/get_cancel_on_disconnect",
	.lua_name = "get_cancel_on_disconnect",
	.params = get_cancel_on_disconnect_params,
	.result = &get_cancel_on_disconnect_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
