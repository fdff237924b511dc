/* cancel_by_label.c — private/cancel_by_label (deribit-api.md §5 "Cancel"): cancels every open
 * order carrying a label, optionally in one currency only. The result is the number
 * cancelled (an integer).
 *
 *   local n, err = acct:cancel_by_label{ label = "mm-bid", currency = "BTC" }   -- n == 3
 *
 * Errors: invalid parameters raise ("label: required", "label: at most 64 characters",
 * "currency: must be one of BTC, ETH, USDC, USDT, EURR"); venue errors return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7; without currency the venue
 * counts it against its cancel_all bucket).
 */
#include "codec.h"

static const char *const cancel_by_label_currencies[] = {"BTC",  "ETH",  "USDC",
							 "USDT", "EURR", NULL};

static const lt_param cancel_by_label_params[] = {
	{.name = "label", .type = LT_P_STRING, .flags = LT_PF_REQUIRED, .min = 1, .max = 64},
	{.name = "currency", .type = LT_P_ENUM, .enums = cancel_by_label_currencies},
	{0},
};

const lt_method lt_m_cancel_by_label = {
	.name = "private/cancel_by_label",
	.lua_name = "cancel_by_label",
	.params = cancel_by_label_params,
	.result = &lt_s_int,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
