/* get_account_summary.c — private/get_account_summary (deribit-api.md §5 "Account summary",
 * §7 "Actual limits"): balance, equity, margins, P&L and greeks of one currency; extended =
 * true adds the account (id, username, type), fees and the account's rate limits.
 *
 *   local s, err = acct:get_account_summary{ currency = "BTC", extended = true }
 *   -- s.equity == 302.61869214 (float), s.id == 10 (integer),
 *   -- s.limits.matching_engine.trading.total.rate == 200 (integer)
 *
 * Errors: invalid parameters raise ("currency: required", "currency: must be one of BTC, ETH,
 * USDC, USDT, EURR", "extended: expected boolean, got number"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const get_account_summary_currencies[] = {"BTC",  "ETH",  "USDC",
							     "USDT", "EURR", NULL};

static const lt_param get_account_summary_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = get_account_summary_currencies},
	{.name = "subaccount_id", .type = LT_P_INT, .flags = LT_PF_POSITIVE},
	{.name = "extended", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_get_account_summary = {
	.name = "private/get_account_summary",
	.lua_name = "get_account_summary",
	.params = get_account_summary_params,
	.result = &lt_s_account_summary,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
