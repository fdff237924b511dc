/* lua_private.c — the private client's Lua side: credential options (secrets only, or a plain
 * string with a warning) into private.c's state machine, and priv:logout(). Authentication
 * itself (public/auth on every connect, refresh, re-authentication on 13009, auth_failed) is
 * in private.c. */
#include <lauxlib.h>
#include <string.h>

#include "lua_client.h"
#include "lua_secret.h"

/* A string option copied into out (cap bytes), raising when empty or too long. */
static void opt_str(lua_State *L, int idx, const char *name, char *out, size_t cap)
{
	const char *s = lt_opt_string(L, idx, name);
	size_t n = s ? strlen(s) : 0;
	if (s && (n == 0 || n >= cap))
		luaL_error(L, "private: option '%s' must be a non-empty string under %d bytes",
			   name, (int)cap);
	if (s)
		memcpy(out, s, n + 1);
}

static lt_grant opt_grant(lua_State *L, int idx)
{
	char grant[32] = "client_signature";
	opt_str(L, idx, "grant", grant, sizeof grant);
	if (strcmp(grant, "client_signature") == 0)
		return LT_GRANT_SIGNATURE;
	if (strcmp(grant, "client_credentials") == 0)
		return LT_GRANT_CREDENTIALS;
	return (lt_grant)luaL_error(L, "private: grant must be \"client_signature\" or "
				       "\"client_credentials\"");
}

void lt_private_setup(lua_State *L, lt_client *c, int idx, bool tier_auto,
		      void (*on_state)(void *ud, const char *state, const char *reason))
{
	char client_id[128] = "", scope[160] = "";
	opt_str(L, idx, "client_id", client_id, sizeof client_id);
	if (!client_id[0])
		luaL_error(L, "private: client_id is required");
	opt_str(L, idx, "scope", scope, sizeof scope);
	lt_priv_opts po = {0};
	po.client_id = client_id;
	po.scope = scope;
	po.grant = opt_grant(L, idx);
	po.refresh_fraction = lt_opt_number(L, idx, "refresh_fraction", 0.8, 0.1, 0.95);
	po.auth_timeout_ms =
		(int64_t)(lt_opt_number(L, idx, "auth_timeout", 10, 0.001, 300) * 1000);
	po.tier_auto = tier_auto;
	lua_getfield(L, idx, "client_secret");
	if (lua_isnil(L, -1))
		luaL_error(L, "private: client_secret is required (lt.secret.env(NAME) or "
			      "lt.secret.file(PATH))");
	po.secret = lt_lua_secret_copy(L, -1, "client_secret");
	lua_pop(L, 1);
	if (!po.secret)
		luaL_error(L, "private: client_secret must be a secret (lt.secret.env / "
			      "lt.secret.file) or a string");
	lt_priv_events ev = {on_state};
	lt_err err = {0, ""};
	if (lt_priv_new(c->cl, &po, &ev, c, &c->priv, &err)) /* takes po.secret */
		luaL_error(L, "private: %s", err.msg);
}

/* ---- logout ------------------------------------------------------------------------------ */

static int k_logout(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	lua_pop(L, 2); /* [how, value]: the venue closes the socket instead of answering */
	lt_client_close(L, lt_client_check(L, 1));
	lua_pushboolean(L, 1);
	return 1;
}

/* priv:logout([invalidate_token = true]) (awaitable): the venue closes the connection; the
 * client is closed afterwards. Returns true. One non-ME request (500 credits). */
int lt_private_logout(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lt_task *t = lt_task_require(L, "logout");
	if (!c->priv)
		return luaL_error(L, "logout: only a private client can log out");
	lua_settop(L, 2);
	lua_createtable(L, 0, 1);
	lua_pushboolean(L, lua_isnil(L, 2) ? 1 : lua_toboolean(L, 2));
	lua_setfield(L, -2, "invalidate_token");
	return lt_client_request(L, c, t, lt_method_find("private/logout"), "private/logout", 3,
				 3000, k_logout, 0);
}
