/* cancel_all_by_currency.c — private/cancel_all_by_currency (deribit-api.md §5 "Cancel"):
 * cancels the open orders of one currency, optionally of one kind and type. The result is the
 * number cancelled (an integer), or with detailed = true an array of {order, trades} reports.
 * Per-currency cancels sent in parallel beat one cancel_all.
 *
 *   local n, err = acct:cancel_all_by_currency{ currency = "BTC", kind = "future" }  -- 4
 *
 * Errors: invalid parameters raise ("currency: required", "currency: must be one of BTC, ETH,
 * USDC, USDT, EURR", "kind: must be one of future, option, spot, future_combo, option_combo,
 * combo, any", "type: must be one of all, limit, ..."); venue errors return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "codec.h"

static const lt_schema cancel_all_by_currency_result = {.type = LT_T_ARRAY,
							.elem = &lt_s_order_result};

static const char *const cancel_all_by_currency_currencies[] = {"BTC",  "ETH",  "USDC",
								"USDT", "EURR", NULL};
static const char *const cancel_all_by_currency_kinds[] = {
	"future", "option", "spot", "future_combo", "option_combo", "combo", "any", NULL};
static const char *const cancel_all_by_currency_types[] = {
	"all", "limit", "trigger_all", "stop", "take", "trailing_stop", NULL};

static const lt_param cancel_all_by_currency_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = cancel_all_by_currency_currencies},
	{.name = "kind", .type = LT_P_ENUM, .enums = cancel_all_by_currency_kinds},
	{.name = "type", .type = LT_P_ENUM, .enums = cancel_all_by_currency_types},
	{.name = "detailed", .type = LT_P_BOOL},
	{.name = "freeze_quotes", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_cancel_all_by_currency = {
	.name = "private/cancel_all_by_currency",
	.lua_name = "cancel_all_by_currency",
	.params = cancel_all_by_currency_params,
	.result = &cancel_all_by_currency_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
