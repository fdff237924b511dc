/* edit.c — private/edit (deribit-api.md §5): changes the size, price or flags of an open
 * order in place (the type cannot change). The result is {order, trades} with
 * order.replaced == true. Queue priority is kept only if the price is unchanged and the size
 * not increased.
 *
 *   local r, err = acct:edit{ order_id = "63018852741", amount = 100, price = 93120.5,
 *                             post_only = true }
 *   -- r.order.price == 93120.5, r.order.last_update_timestamp is an integer
 *
 * Errors: invalid parameters raise ("order_id: required", "amount: give at most one of amount
 * or contracts", "contracts: must be > 0", "reject_post_only: requires post_only = true",
 * "advanced: must be one of usd, implv"); venue errors (11044 not_open_order, 13777
 * replaced...) return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "codec.h"

static const char *const edit_advanced[] = {"usd", "implv", NULL};

static const lt_param edit_params[] = {
	{.name = "order_id", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "amount", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "contracts", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "price", .type = LT_P_NUMBER},
	{.name = "post_only", .type = LT_P_BOOL},
	{.name = "reject_post_only", .type = LT_P_BOOL},
	{.name = "reduce_only", .type = LT_P_BOOL},
	{.name = "advanced", .type = LT_P_ENUM, .enums = edit_advanced},
	{.name = "trigger_price", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "trigger_offset", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "mmp", .type = LT_P_BOOL},
	{.name = "valid_until", .type = LT_P_INT, .flags = LT_PF_POSITIVE},
	{.name = "display_amount", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{0},
};

/* The parameter is given (a boolean: given and true). */
static bool edit_set(lua_State *L, int idx, const char *name)
{
	lua_pushstring(L, name);
	int t = lua_rawget(L, idx);
	bool yes = t == LUA_TBOOLEAN ? lua_toboolean(L, -1) : t != LUA_TNIL;
	lua_pop(L, 1);
	return yes;
}

/* At most one of amount or contracts; reject_post_only = true only with post_only = true. */
static int edit_check(lua_State *L, int idx, lt_err *err)
{
	if (edit_set(L, idx, "amount") && edit_set(L, idx, "contracts"))
		return lt_err_set(err, LT_EINVAL,
				  "amount: give at most one of amount or contracts");
	if (edit_set(L, idx, "reject_post_only") && !edit_set(L, idx, "post_only"))
		return lt_err_set(err, LT_EINVAL, "reject_post_only: requires post_only = true");
	return 0;
}

const lt_method lt_m_edit = {
	.name = "private/edit",
	.lua_name = "edit",
	.params = edit_params,
	.check = edit_check,
	.result = &lt_s_order_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
