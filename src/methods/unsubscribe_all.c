/* unsubscribe_all.c — public/unsubscribe_all (deribit-api.md §4): removes every subscription of
 * this connection. WebSocket only.
 *
 *   local ok, err = pub:unsubscribe_all()   -- ok == "ok"
 *
 * Errors: takes no parameters (any key raises "unknown parameter 'x' for
 * public/unsubscribe_all"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7: only subscribe has its
 * own bucket; this call is not a subscribe).
 */
#include "codec.h"

const lt_method lt_m_unsubscribe_all = {
	.name = "public/unsubscribe_all",
	.lua_name = "unsubscribe_all",
	.params = NULL,
	.result = &lt_s_string,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
