/* logout.c — private/logout (deribit-api.md §2): ends the session. invalidate_token = true
 * (the venue's default) kills every token of the session; false keeps them for a later
 * reconnect. The venue sends NO response: it closes the socket, so there is no result to
 * decode (result NULL) and the caller must not wait for a reply. Logout does not trigger
 * cancel-on-disconnect. WebSocket only (HTTP answers 400).
 *
 *   acct:logout{ invalidate_token = false }   -- then the connection closes
 *
 * Errors: invalid parameters raise ("invalidate_token: expected boolean, got string",
 * "unknown parameter 'x' for private/logout").
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_param logout_params[] = {
	{.name = "invalidate_token", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_logout = {
	.name = "private/logout",
	.lua_name = "logout",
	.params = logout_params,
	.result = NULL,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
	.flags = LT_MF_PRIVATE,
};
