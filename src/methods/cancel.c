/* cancel.c — private/cancel (deribit-api.md §5 "Cancel"): cancels one order by id. The result
 * is the order as cancelled (order_state "cancelled", cancel_reason "user_request").
 *
 *   local o, err = acct:cancel{ order_id = "USDC-104819327443" }
 *   -- o.order_state == "cancelled", o.filled_amount == 0.0 (float)
 *
 * Errors: invalid parameters raise ("order_id: required", "order_id: expected string, got
 * number" — order ids are strings); venue errors (11044 not_open_order, 10004
 * order_not_found) return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param cancel_params[] = {
	{.name = "order_id", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_cancel = {
	.name = "private/cancel",
	.lua_name = "cancel",
	.params = cancel_params,
	.result = &lt_s_order,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
