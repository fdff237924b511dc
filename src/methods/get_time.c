/* get_time.c — public/get_time (deribit-api.md §2): the venue's clock in milliseconds since the
 * epoch (an integer), for measuring clock skew before signing or setting valid_until.
 *
 *   local ms, err = pub:get_time()   -- 1733338800000
 *
 * Errors: takes no parameters (any key raises "unknown parameter 'x' for public/get_time");
 * venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

const lt_method lt_m_get_time = {
	.name = "public/get_time",
	.lua_name = "get_time",
	.params = NULL,
	.result = &lt_s_int,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
