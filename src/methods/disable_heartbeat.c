/* disable_heartbeat.c — public/disable_heartbeat (deribit-api.md §2): stops the heartbeat and
 * test_request messages started by public/set_heartbeat. WebSocket only.
 *
 *   local ok, err = pub:disable_heartbeat()   -- ok == "ok"
 *
 * Errors: takes no parameters (any key raises "unknown parameter 'x' for
 * public/disable_heartbeat"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

const lt_method lt_m_disable_heartbeat = {
	.name = "public/disable_heartbeat",
	.lua_name = "disable_heartbeat",
	.params = NULL,
	.result = &lt_s_string,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
