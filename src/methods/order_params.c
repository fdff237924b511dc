/* order_params.c — what private/buy and private/sell accept (deribit-api.md §5), shared by
 * buy.c and sell.c: the per-field declarations (lt_order_params) and the rules between fields
 * (lt_order_check), which params.c runs after the per-field checks.
 *
 * Rules, each reported as "<param>: <rule>":
 *  - exactly one of amount or contracts (each > 0);
 *  - type defaults to limit; price is required for limit, stop_limit and take_limit and not
 *    allowed for market, stop_market, take_market and market_limit (trailing_stop: optional);
 *  - post_only = true and reject_post_only = true only on limit orders; reject_post_only =
 *    true needs post_only = true (false is the venue's default and always allowed);
 *  - trigger_price is required for stop_* and take_* orders, trigger_offset for trailing_stop.
 * The check reads the table with raw access only and never raises.
 */
#include "order_params.h"

#include <string.h>

static const char *const order_types[] = {"limit",        "market",        "stop_limit",
					  "stop_market",  "take_limit",    "take_market",
					  "market_limit", "trailing_stop", NULL};
static const char *const order_tifs[] = {"good_til_cancelled", "good_til_day", "fill_or_kill",
					 "immediate_or_cancel", NULL};
static const char *const order_triggers[] = {"index_price", "mark_price", "last_price", NULL};
static const char *const order_advanced[] = {"usd", "implv", NULL};
static const char *const order_linked_types[] = {"one_triggers_other", "one_cancels_other",
						 "one_triggers_one_cancels_other", NULL};
static const char *const order_fill_conditions[] = {"first_hit", "complete_fill", "incremental",
						    NULL};

/* Declaration order is the order the venue documents (and the order they are sent in). */
const lt_param lt_order_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "amount", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "contracts", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "type", .type = LT_P_ENUM, .enums = order_types},
	{.name = "label", .type = LT_P_STRING, .max = 64},
	{.name = "price", .type = LT_P_NUMBER},
	{.name = "time_in_force", .type = LT_P_ENUM, .enums = order_tifs},
	{.name = "display_amount", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "post_only", .type = LT_P_BOOL},
	{.name = "reject_post_only", .type = LT_P_BOOL},
	{.name = "reduce_only", .type = LT_P_BOOL},
	{.name = "trigger_price", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "trigger_offset", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "trigger", .type = LT_P_ENUM, .enums = order_triggers},
	{.name = "advanced", .type = LT_P_ENUM, .enums = order_advanced},
	{.name = "mmp", .type = LT_P_BOOL},
	{.name = "valid_until", .type = LT_P_INT, .flags = LT_PF_POSITIVE},
	{.name = "linked_order_type", .type = LT_P_ENUM, .enums = order_linked_types},
	{.name = "trigger_fill_condition", .type = LT_P_ENUM, .enums = order_fill_conditions},
	{.name = "otoco_config", .type = LT_P_ANY},
	{0},
};

static bool has(lua_State *L, int idx, const char *name)
{
	lua_pushstring(L, name);
	bool present = lua_rawget(L, idx) != LUA_TNIL;
	lua_pop(L, 1);
	return present;
}

static bool is_true(lua_State *L, int idx, const char *name)
{
	lua_pushstring(L, name);
	bool yes = lua_rawget(L, idx) == LUA_TBOOLEAN && lua_toboolean(L, -1);
	lua_pop(L, 1);
	return yes;
}

/* The order type (already checked against order_types by params.c), "limit" when absent.
 * The returned string points into order_types, so it outlives the stack slot. */
static const char *order_type(lua_State *L, int idx)
{
	const char *type = "limit";
	lua_pushstring(L, "type");
	if (lua_rawget(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, -1);
		for (const char *const *t = order_types; *t; t++)
			if (strcmp(*t, s) == 0)
				type = *t;
	}
	lua_pop(L, 1);
	return type;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

int lt_order_check(lua_State *L, int idx, lt_err *err)
{
	static const char *const priced[] = {"limit", "stop_limit", "take_limit", NULL};
	static const char *const unpriced[] = {"market", "stop_market", "take_market",
					       "market_limit", NULL};
	static const char *const triggered[] = {"stop_limit", "stop_market", "take_limit",
						"take_market", NULL};
	if (has(L, idx, "amount") == has(L, idx, "contracts"))
		return lt_err_set(err, LT_EINVAL,
				  "amount: give exactly one of amount or contracts");
	const char *type = order_type(L, idx);
	bool price = has(L, idx, "price");
	if (!price && one_of(type, priced))
		return lt_err_set(err, LT_EINVAL, "price: required for %s orders", type);
	if (price && one_of(type, unpriced))
		return lt_err_set(err, LT_EINVAL, "price: not allowed for %s orders", type);
	bool limit = strcmp(type, "limit") == 0;
	if (is_true(L, idx, "post_only") && !limit)
		return lt_err_set(err, LT_EINVAL, "post_only: only for limit orders");
	if (is_true(L, idx, "reject_post_only")) {
		if (!limit)
			return lt_err_set(err, LT_EINVAL,
					  "reject_post_only: only for limit orders");
		if (!is_true(L, idx, "post_only"))
			return lt_err_set(err, LT_EINVAL,
					  "reject_post_only: requires post_only = true");
	}
	if (one_of(type, triggered) && !has(L, idx, "trigger_price"))
		return lt_err_set(err, LT_EINVAL, "trigger_price: required for %s orders", type);
	if (strcmp(type, "trailing_stop") == 0 && !has(L, idx, "trigger_offset"))
		return lt_err_set(err, LT_EINVAL,
				  "trigger_offset: required for trailing_stop orders");
	return 0;
}
