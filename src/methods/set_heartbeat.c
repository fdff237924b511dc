/* set_heartbeat.c — public/set_heartbeat (deribit-api.md §2): asks the venue to send heartbeat
 * and test_request messages every `interval` seconds (at least 10). An unanswered test_request
 * makes the venue close the connection at once; the runtime answers them with public/test.
 * WebSocket only.
 *
 *   local ok, err = pub:set_heartbeat{ interval = 30 }   -- ok == "ok"
 *
 * Errors: invalid parameters raise ("interval: required", "interval: must be >= 10");
 * venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param set_heartbeat_params[] = {
	{.name = "interval", .type = LT_P_NUMBER, .flags = LT_PF_REQUIRED, .min = 10},
	{0},
};

const lt_method lt_m_set_heartbeat = {
	.name = "public/set_heartbeat",
	.lua_name = "set_heartbeat",
	.params = set_heartbeat_params,
	.result = &lt_s_string,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
