/* cancel_all.c — private/cancel_all (deribit-api.md §5 "Cancel"): cancels every open order of
 * the account, in all currencies. The result is the number cancelled (an integer), or with
 * detailed = true an array of {order, trades} reports. Requests of yours still queued at the
 * venue fail with 13666 request_cancelled_by_user (expected).
 *
 *   local n, err = acct:cancel_all()                     -- n == 4
 *   local reports, err = acct:cancel_all{ detailed = true }
 *
 * Errors: invalid parameters raise ("detailed: expected boolean, got string", "unknown
 * parameter 'currency' for private/cancel_all"); venue errors return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "codec.h"

/* A count is a number, so the array schema leaves it an integer (lenient rule, codec.h). */
static const lt_schema cancel_all_result = {.type = LT_T_ARRAY, .elem = &lt_s_order_result};

static const lt_param cancel_all_params[] = {
	{.name = "detailed", .type = LT_P_BOOL},
	{.name = "freeze_quotes", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_cancel_all = {
	.name = "private/cancel_all",
	.lua_name = "cancel_all",
	.params = cancel_all_params,
	.result = &cancel_all_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
