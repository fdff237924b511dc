/* get_order_state.c — private/get_order_state (deribit-api.md §5 "Queries"): the current state
 * of one order by id, open or not (an order object).
 *
 *   local o, err = acct:get_order_state{ order_id = "USDC-104819327443" }
 *   -- o.order_state == "open", o.filled_amount == 0.0, o.creation_timestamp is an integer
 *
 * Errors: invalid parameters raise ("order_id: required", "order_id: expected string, got
 * number"); venue errors (10004 order_not_found) return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param get_order_state_params[] = {
	{.name = "order_id", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_get_order_state = {
	.name = "private/get_order_state",
	.lua_name = "get_order_state",
	.params = get_order_state_params,
	.result = &lt_s_order,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
