/* auth.c — public/auth (deribit-api.md §3): the shape of its result. The request is built and
 * signed by the C core (src/auth.c, lt_auth_request: client_signature, client_credentials or
 * refresh_token), which sends it when a private client opens and refreshes at ~80 % of
 * expires_in; this descriptor only tells the decoder how to type the answer (the client finds
 * it with lt_method_find("public/auth")). It declares no parameters and has no Lua name, so
 * client:call("public/auth", {...}) is refused ("unknown parameter 'grant_type' for
 * public/auth"): credentials never travel through a Lua parameter table.
 *
 * The result (§10 sample 3):
 *   { access_token = <secret>, refresh_token = <secret>, expires_in = 900 (integer seconds),
 *     scope = "mainaccount session:lt-exec trade:read_write", token_type = "bearer",
 *     state = "s1", sid = "4e3f", enabled_features = { "mmp" } }
 * The tokens decode into opaque luatrade.Secret objects (LT_T_SECRET), never into Lua strings.
 *
 * Errors: venue errors (13004 invalid_credentials, 13009 unauthorized) come back as the error
 * reply. Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7;
 * unauthenticated requests count per IP).
 */
#include "codec.h"

static const lt_field auth_result_fields[] = {
	{"access_token", &lt_s_secret},
	{"refresh_token", &lt_s_secret},
	{"expires_in", &lt_s_int},
	{"scope", &lt_s_string},
	{"token_type", &lt_s_string},
	{"state", &lt_s_string},
	{"sid", &lt_s_string},
	{"enabled_features", &lt_s_string_array},
	{NULL, NULL},
};
static const lt_schema auth_result = {.type = LT_T_OBJECT, .fields = auth_result_fields};

const lt_method lt_m_auth = {
	.name = "public/auth",
	.lua_name = NULL,
	.params = NULL,
	.result = &auth_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
