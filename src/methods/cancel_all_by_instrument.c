/* cancel_all_by_instrument.c — private/cancel_all_by_instrument (deribit-api.md §5 "Cancel"):
 * cancels the open orders of one instrument, all of them or one type. The result is the
 * number cancelled (an integer), or with detailed = true an array of {order, trades} reports.
 *
 *   local n, err = acct:cancel_all_by_instrument{ instrument_name = "BTC-PERPETUAL",
 *                                                 type = "limit" }   -- n == 2
 *
 * Errors: invalid parameters raise ("instrument_name: required", "type: must be one of all,
 * limit, trigger_all, stop, take, trailing_stop"); venue errors return nil, err.
 * Rate limit: matching-engine pool, 1 request (deribit-api.md §7).
 */
#include "codec.h"

static const lt_schema cancel_all_by_instrument_result = {.type = LT_T_ARRAY,
							  .elem = &lt_s_order_result};

static const char *const cancel_all_by_instrument_types[] = {
	"all", "limit", "trigger_all", "stop", "take", "trailing_stop", NULL};

static const lt_param cancel_all_by_instrument_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "type", .type = LT_P_ENUM, .enums = cancel_all_by_instrument_types},
	{.name = "detailed", .type = LT_P_BOOL},
	{.name = "include_combos", .type = LT_P_BOOL},
	{.name = "freeze_quotes", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_cancel_all_by_instrument = {
	.name = "private/cancel_all_by_instrument",
	.lua_name = "cancel_all_by_instrument",
	.params = cancel_all_by_instrument_params,
	.result = &cancel_all_by_instrument_result,
	.pool = LT_POOL_ME,
	.cost = 1,
	.flags = LT_MF_PRIVATE,
};
