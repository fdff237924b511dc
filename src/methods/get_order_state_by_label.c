/* get_order_state_by_label.c — private/get_order_state_by_label (deribit-api.md §5 "Queries"):
 * the orders of one currency carrying a label, whatever their state, as an array of order
 * objects.
 *
 *   local orders, err = acct:get_order_state_by_label{ currency = "ETH", label = "hedge-77" }
 *
 * Errors: invalid parameters raise ("currency: required", "label: required", "label: at most
 * 64 characters"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const char *const get_order_state_by_label_currencies[] = {"BTC",  "ETH",  "USDC",
								  "USDT", "EURR", NULL};

static const lt_param get_order_state_by_label_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = get_order_state_by_label_currencies},
	{.name = "label", .type = LT_P_STRING, .flags = LT_PF_REQUIRED, .min = 1, .max = 64},
	{0},
};

const lt_method lt_m_get_order_state_by_label = {
	.name = "private/get_order_state_by_label",
	.lua_name = "get_order_state_by_label",
	.params = get_order_state_by_label_params,
	.result = &lt_s_orders,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
