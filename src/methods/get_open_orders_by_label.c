/* get_open_orders_by_label.c — private/get_open_orders_by_label (deribit-api.md §5
 * "Queries"): the open orders of one currency carrying a label, as an array of order objects.
 *
 *   local orders, err = acct:get_open_orders_by_label{ currency = "BTC", label = "mm-bid" }
 *
 * Errors: invalid parameters raise ("currency: required", "currency: must be one of BTC, ETH,
 * USDC, USDT, EURR", "label: at most 64 characters"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const get_open_orders_by_label_currencies[] = {"BTC",  "ETH",  "USDC",
								  "USDT", "EURR", NULL};

static const lt_param get_open_orders_by_label_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = get_open_orders_by_label_currencies},
	{.name = "label", .type = LT_P_STRING, .min = 1, .max = 64},
	{0},
};

const lt_method lt_m_get_open_orders_by_label = {
	.name = "private/get_open_orders_by_label",
	.lua_name = "get_open_orders_by_label",
	.params = get_open_orders_by_label_params,
	.result = &lt_s_orders,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
