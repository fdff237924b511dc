/* auth.c — public/auth (deribit-api.md §3): authenticates the connection with client
 * credentials (the secret is sent), a client signature (HMAC-SHA256 of
 * "<timestamp>\n<nonce>\n<data>" keyed by the secret; the secret stays here) or a refresh
 * token. The result carries the access and refresh tokens, their lifetime in seconds and the
 * scope granted.
 *
 * No Lua method (lua_name NULL): the C core signs and sends it when a client is opened with
 * credentials, and refreshes at ~80 % of expires_in. Its request, for example:
 *   { grant_type = "client_signature", client_id = "fT3kLq9w", timestamp = 1767225600123,
 *     nonce = "k7d2q9xa", data = "", signature = "97c9ab...",
 *     scope = "session:lt trade:read_write" }
 *   -- result.access_token (string), result.expires_in == 900 (integer)
 *
 * Errors: invalid parameters are reported with the rule ("grant_type: required", "client_id:
 * required for grant_type client_signature", "client_secret: not allowed with grant_type
 * client_signature", "timestamp: expected integer, got 1.5"); venue errors (13004
 * invalid_credentials, 13009 unauthorized) come back as the error reply.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7; unauthenticated
 * requests count per IP).
 */
#include "codec.h"

#include <string.h>

static const lt_field auth_result_fields[] = {
	{"access_token", &lt_s_secret}, {"refresh_token", &lt_s_secret},
	{"expires_in", &lt_s_int},      {"scope", &lt_s_string},
	{"token_type", &lt_s_string},   {"state", &lt_s_string},
	{"sid", &lt_s_string},          {"enabled_features", &lt_s_string_array},
	{NULL, NULL},
};
static const lt_schema auth_result = {.type = LT_T_OBJECT, .fields = auth_result_fields};

static const char *const auth_grant_types[] = {"client_signature", "client_credentials",
					       "refresh_token", NULL};

/* In the order of deribit-api.md §10 sample 2. */
static const lt_param auth_params[] = {
	{.name = "grant_type", .type = LT_P_ENUM, .flags = LT_PF_REQUIRED, .enums = auth_grant_types},
	{.name = "client_id", .type = LT_P_STRING},
	{.name = "client_secret", .type = LT_P_STRING},
	{.name = "timestamp", .type = LT_P_INT, .flags = LT_PF_POSITIVE},
	{.name = "nonce", .type = LT_P_STRING},
	{.name = "data", .type = LT_P_STRING, .max = 32768}, /* may be "" (bounds allow empty) */
	{.name = "signature", .type = LT_P_STRING},
	{.name = "refresh_token", .type = LT_P_STRING},
	{.name = "state", .type = LT_P_STRING},
	{.name = "scope", .type = LT_P_STRING},
	{0},
};

/* Per grant type: the parameters it needs and those that belong to another grant type.
 * Sending client_secret with a signature would defeat signing, so it is refused. */
static const struct {
	const char *grant;
	const char *const needs[5];
	const char *const refuses[7];
} auth_rules[] = {
	{"client_credentials", {"client_id", "client_secret"},
	 {"timestamp", "signature", "nonce", "data", "refresh_token"}},
	{"client_signature", {"client_id", "timestamp", "signature", "nonce"},
	 {"client_secret", "refresh_token"}},
	{"refresh_token", {"refresh_token"},
	 {"client_id", "client_secret", "timestamp", "signature", "nonce", "data"}},
};

static bool auth_has(lua_State *L, int idx, const char *name)
{
	lua_pushstring(L, name);
	bool present = lua_rawget(L, idx) != LUA_TNIL;
	lua_pop(L, 1);
	return present;
}

static int auth_check(lua_State *L, int idx, lt_err *err)
{
	lua_pushstring(L, "grant_type");
	lua_rawget(L, idx);
	const char *grant = lua_tostring(L, -1); /* a valid enum value: params.c checked it */
	for (size_t i = 0; grant && i < sizeof auth_rules / sizeof auth_rules[0]; i++) {
		if (strcmp(grant, auth_rules[i].grant) != 0)
			continue;
		for (const char *const *p = auth_rules[i].needs; *p; p++)
			if (!auth_has(L, idx, *p)) {
				lua_pop(L, 1);
				return lt_err_set(err, LT_EINVAL, "%s: required for grant_type %s", *p,
						  auth_rules[i].grant);
			}
		for (const char *const *p = auth_rules[i].refuses; *p; p++)
			if (auth_has(L, idx, *p)) {
				lua_pop(L, 1);
				return lt_err_set(err, LT_EINVAL, "%s: not allowed with grant_type %s", *p,
						  auth_rules[i].grant);
			}
	}
	lua_pop(L, 1);
	return 0;
}

const lt_method lt_m_auth = {
	.name = "public/auth",
	.lua_name = NULL,
	.params = auth_params,
	.check = auth_check,
	.result = &auth_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
