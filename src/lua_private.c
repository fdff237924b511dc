/* lua_private.c — the private client's authentication; see lua_private.h and deribit-api.md §3.
 *
 * After every open the client sends public/auth (client_signature by default) before anything
 * private: private calls made meanwhile wait in a gate (each bounded by its own timeout) and
 * go out once authenticated, never before. The access token is refreshed with the refresh
 * token at refresh_fraction of expires_in. A venue error on auth (13004 invalid_credentials,
 * 13009, ...) makes the state "auth_failed": sticky, waiting and later private calls fail with
 * kind "auth", and nothing is retried in a loop. Secrets and tokens live in lt_secret only;
 * they are never logged, and errors name the step, never the value.
 */
#include "lua_private.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "errors.h"
#include "log.h"
#include "lua_secret.h"

typedef struct gate_wait {      /* one call waiting for authentication, boxed on its stack */
	lt_waiter w;
	lt_client *c;
	const lt_method *m;
	const char *name;
	int params_idx;
	int64_t timeout_ms;
	lua_KFunction k;
	lua_KContext ctx;
} gate_wait;

struct lt_auth {
	lt_client *c;
	char client_id[128];
	char scope[160];
	lt_secret *secret, *refresh_token, *access_token;
	lt_grant grant;
	int state;
	bool refreshing, refreshing_done; /* a refresh is in flight / the last answer was one */
	double refresh_fraction;
	int64_t auth_timeout_ms;
	int64_t fail_code;
	char fail_msg[160];
	unsigned long long auths, refreshes; /* successful exchanges */
	lws_sorted_usec_list_t refresh_sul;
	lt_waiter *waiters;            /* calls waiting for authentication */
};

static lws_usec_t us(int64_t ms) { return (lws_usec_t)ms * 1000; }

/* Wake every call waiting for authentication: ok = authenticated, else the error is built in
 * their continuation. */
static void wake_all(lt_client *c, bool ok)
{
	lt_waiters_wake(&c->auth->waiters, ok);
}

static int k_gate(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	int outcome = lua_type(L, -1) == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? 1 : 0) : -1;
	lua_pop(L, 1);
	gate_wait w = *(gate_wait *)luaL_checkudata(L, -1, "luatrade.AuthWait");
	lua_pop(L, 1);
	lt_client *c = w.c;
	char msg[240];
	if (outcome == 1 && !c->closed)
		return lt_client_request(L, c, lt_task_of(L), w.m, w.name, w.params_idx, w.timeout_ms,
					 w.k, w.ctx);
	if (outcome == -1) {
		snprintf(msg, sizeof msg, "%s: not authenticated within the call's timeout", w.name);
		return lt_push_error(L, LT_CODE_TIMEOUT, msg, 0, 0);
	}
	if (c->closed)
		return lt_push_error(L, LT_CODE_NOT_CONNECTED, "client is closed", 0, 0);
	snprintf(msg, sizeof msg, "%s: authentication failed: %s", w.name, c->auth->fail_msg);
	return lt_push_error(L, c->auth->fail_code, msg, 0, 0);
}

int lt_private_gate(lua_State *L, lt_client *c, lt_task *t, const lt_method *m, const char *name,
		    int params_idx, int64_t timeout_ms, lua_KFunction k, lua_KContext ctx)
{
	lt_auth *a = c->auth;
	bool private = (m && (m->flags & LT_MF_PRIVATE)) || strncmp(name, "private/", 8) == 0;
	if (!a || !private || a->state == LT_AUTH_OK)
		return -1;
	if (a->state == LT_AUTH_FAILED) {
		char msg[240];
		snprintf(msg, sizeof msg, "%s: authentication failed: %s", name, a->fail_msg);
		return lt_push_error(L, a->fail_code, msg, 0, 0);
	}
	gate_wait *w = lua_newuserdatauv(L, sizeof *w, 0);
	luaL_newmetatable(L, "luatrade.AuthWait");
	lua_setmetatable(L, -2);
	w->c = c;
	w->m = m;
	w->name = name;
	w->params_idx = lua_absindex(L, params_idx);
	w->timeout_ms = timeout_ms;
	w->k = k;
	w->ctx = ctx;
	return lt_waiter_await(L, t, &w->w, &a->waiters, timeout_ms, k_gate, 0);
}

/* ---- the auth exchange ------------------------------------------------------------------- */

static void send_auth(lt_client *c, bool refresh);

static void refresh_due(lws_sorted_usec_list_t *sul)
{
	lt_auth *a = lws_container_of(sul, lt_auth, refresh_sul);
	if (a->state == LT_AUTH_OK && !a->c->closed)
		send_auth(a->c, true);
}

static void after_auth(lt_client *c);

/* A token of the auth result: the decoder made it a secret (schema LT_T_SECRET), so it never
 * existed as a Lua string; take a copy and wipe the userdata now rather than at its GC. */
static lt_secret *take_token(lua_State *L, int tbl, const char *field)
{
	lua_getfield(L, tbl, field);
	lt_secret *s = lt_lua_secret_copy(L, -1, field);
	lua_getfield(L, -1, "wipe");
	if (lua_isfunction(L, -1)) {
		lua_pushvalue(L, -2);
		lua_call(L, 1, 0);
	} else
		lua_pop(L, 1);
	lua_pop(L, 1);
	return s;
}

static void auth_ok(lt_client *c, lua_State *L)
{
	lt_auth *a = c->auth;
	int tbl = lua_gettop(L);
	lt_secret *access = take_token(L, tbl, "access_token");
	lt_secret *refresh = take_token(L, tbl, "refresh_token");
	lua_getfield(L, tbl, "expires_in");
	int64_t expires = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
	lua_getfield(L, tbl, "scope");
	lt_log(LT_LOG_INFO, "%s: authenticated as %s (scope: %s, expires in %lld s)", c->url,
	       a->client_id, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?",
	       (long long)expires);
	lua_pop(L, 3);
	lt_secret_free(a->access_token);
	lt_secret_free(a->refresh_token);
	if (a->refreshing_done)
		a->refreshes++;
	else
		a->auths++;
	a->access_token = access;
	a->refresh_token = refresh;
	a->state = LT_AUTH_OK;
	lt_client_emit_state(c, "authenticated", NULL);
	if (expires > 0 && refresh)
		lws_sul_schedule(lt_loop_context(c->rt->loop), 0, &a->refresh_sul, refresh_due,
				 us((int64_t)((double)expires * 1000.0 * a->refresh_fraction)));
	wake_all(c, true);
	if (!a->refreshing_done) /* a refresh keeps the session: nothing to restore */
		after_auth(c);
}

static void on_auth_done(void *ud, lt_done how, lua_State *L)
{
	lt_client *c = ud;
	lt_auth *a = c->auth;
	bool was_refresh = a->refreshing;
	a->refreshing = false;
	a->refreshing_done = was_refresh;
	if (how == LT_DONE_RESULT && lua_istable(L, -1)) {
		auth_ok(c, L);
		return;
	}
	if (how == LT_DONE_RESULT || how == LT_DONE_ERROR) {
		int64_t code = 0;
		const char *msg = "unexpected result";
		if (how == LT_DONE_ERROR) {
			lua_getfield(L, -1, "code");
			lua_getfield(L, -2, "message");
			code = lua_tointeger(L, -2);
			msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
		}
		lt_errinfo info = lt_error_info(code);
		snprintf(a->fail_msg, sizeof a->fail_msg, "%s (%lld): %s", info.name,
			 (long long)code, msg);
		a->fail_code = code ? code : 13009;
		if (how == LT_DONE_ERROR)
			lua_pop(L, 2);
		lua_pop(L, 1);
		if (was_refresh) { /* a refused refresh: authenticate afresh with the secret */
			lt_log(LT_LOG_WARN, "%s: token refresh refused (%s); authenticating again",
			       c->url, a->fail_msg);
			send_auth(c, false);
			return;
		}
		a->state = LT_AUTH_FAILED;
		lt_client_emit_state(c, "auth_failed", a->fail_msg);
		lt_log(LT_LOG_ERROR, "%s: authentication failed: %s; private calls will fail until "
		       "the client is recreated", c->url, a->fail_msg);
		wake_all(c, false);
		return;
	}
	if (how == LT_DONE_TIMEOUT && !c->closed) { /* treat as a dead link: reconnect */
		lt_log(LT_LOG_WARN, "%s: no answer to public/auth; reconnecting", c->url);
		lt_ws_drop(c->ws);
	}
}

static void send_auth(lt_client *c, bool refresh)
{
	lt_auth *a = c->auth;
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	b.sensitive = true;
	int64_t id = lt_rpc_alloc_id(c->rpc);
	const lt_method *m = lt_method_find("public/auth");
	lt_grant g = refresh && a->refresh_token ? LT_GRANT_REFRESH : a->grant;
	a->refreshing = g == LT_GRANT_REFRESH;
	lt_rl_reserve(&c->rl, LT_POOL_NON_ME, 500, lt_now_us());
	int rc = lt_auth_request(&b, id, g, a->client_id,
				 g == LT_GRANT_REFRESH ? a->refresh_token : a->secret, a->scope,
				 lt_wall_ms());
	if (!rc)
		rc = lt_rpc_request(c->rpc, id, &b, m ? m->result : NULL, a->auth_timeout_ms,
				    on_auth_done, c);
	lt_buf_free(&b); /* sensitive: cleansed; the copy queued for sending is cleansed too */
	if (rc)
		lt_log(LT_LOG_ERROR, "%s: could not send public/auth", c->url);
	a->state = LT_AUTH_PENDING;
}

/* ---- tier = "auto": read the account's limits after authentication (deribit-api.md §7) ---- */

static double num_at(lua_State *L, int idx, const char *const *path)
{
	lua_pushvalue(L, idx);
	for (; *path; path++) {
		if (!lua_istable(L, -1)) {
			lua_pop(L, 1);
			return -1;
		}
		lua_getfield(L, -1, *path);
		lua_remove(L, -2);
	}
	double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
	lua_pop(L, 1);
	return v;
}

static void on_limits(void *ud, lt_done how, lua_State *L)
{
	lt_client *c = ud;
	if (how != LT_DONE_RESULT && how != LT_DONE_ERROR)
		return;
	if (how == LT_DONE_RESULT) {
		static const char *const me_rate[] = {"limits", "matching_engine", "trading", "total",
						      "rate", NULL};
		static const char *const me_burst[] = {"limits", "matching_engine", "trading",
						       "total", "burst", NULL};
		static const char *const ne_rate[] = {"limits", "non_matching_engine", "rate", NULL};
		static const char *const ne_burst[] = {"limits", "non_matching_engine", "burst", NULL};
		double r = num_at(L, -1, me_rate), b = num_at(L, -1, me_burst);
		double nr = num_at(L, -1, ne_rate), nb = num_at(L, -1, ne_burst);
		int64_t now = lt_now_us();
		if (r > 0 && b > 0)
			lt_rl_set_bucket(&c->rl, LT_POOL_ME, b, r, now);
		if (nr > 0 && nb > 0)
			lt_rl_set_bucket(&c->rl, LT_POOL_NON_ME, nb * 500, nr * 500, now);
		lt_log(LT_LOG_INFO, "%s: rate limits from the account: matching engine %g/s burst "
		       "%g, other requests %g/s burst %g", c->url, r, b, nr, nb);
	} else
		lt_log(LT_LOG_WARN, "%s: could not read the account's limits; keeping tier %d",
		       c->url, c->tier);
	lua_pop(L, 1);
}

static void read_limits(lt_client *c)
{
	lua_State *L = c->rt->L;
	const lt_method *m = lt_method_find("private/get_account_summary");
	lua_createtable(L, 0, 2);
	lua_pushliteral(L, "BTC");
	lua_setfield(L, -2, "currency");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "extended");
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0, ""};
	int64_t id = lt_rpc_alloc_id(c->rpc);
	if (m && !lt_method_encode(L, -1, m, id, &b, &err)) {
		lt_rl_reserve(&c->rl, m->pool, m->cost, lt_now_us());
		lt_rpc_request(c->rpc, id, &b, m->result, c->auth->auth_timeout_ms, on_limits, c);
	}
	lt_buf_free(&b);
	lua_pop(L, 1);
}

static void after_auth(lt_client *c)
{
	if (c->tier == 0)
		read_limits(c);
	lt_subs_restore(c->rt->L, c);
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void opt_str(lua_State *L, int idx, const char *name, char *out, size_t cap)
{
	lua_getfield(L, idx, name);
	if (!lua_isnil(L, -1)) {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		if (!s || n == 0 || n >= cap)
			luaL_error(L, "private: option '%s' must be a non-empty string under %d bytes",
				   name, (int)cap);
		memcpy(out, s, n + 1);
	}
	lua_pop(L, 1);
}

void lt_private_setup(lua_State *L, lt_client *c, int idx)
{
	lt_auth *a = calloc(1, sizeof *a);
	if (!a)
		luaL_error(L, "private: out of memory");
	c->auth = a;
	a->c = c;
	a->refresh_fraction = 0.8;
	a->auth_timeout_ms = 10000;
	opt_str(L, idx, "client_id", a->client_id, sizeof a->client_id);
	if (!a->client_id[0])
		luaL_error(L, "private: client_id is required");
	lua_getfield(L, idx, "client_secret");
	if (lua_isnil(L, -1))
		luaL_error(L, "private: client_secret is required (lt.secret.env(NAME) or "
			   "lt.secret.file(PATH))");
	a->secret = lt_lua_secret_copy(L, -1, "client_secret");
	lua_pop(L, 1);
	if (!a->secret)
		luaL_error(L, "private: client_secret must be a secret (lt.secret.env / "
			   "lt.secret.file) or a string");
	opt_str(L, idx, "scope", a->scope, sizeof a->scope);
	char grant[32] = "client_signature";
	opt_str(L, idx, "grant", grant, sizeof grant);
	if (strcmp(grant, "client_signature") == 0)
		a->grant = LT_GRANT_SIGNATURE;
	else if (strcmp(grant, "client_credentials") == 0)
		a->grant = LT_GRANT_CREDENTIALS;
	else
		luaL_error(L, "private: grant must be \"client_signature\" or \"client_credentials\"");
	lua_getfield(L, idx, "refresh_fraction");
	if (!lua_isnil(L, -1)) {
		double f = lua_tonumber(L, -1);
		if (!(f >= 0.1 && f <= 0.95))
			luaL_error(L, "private: refresh_fraction must be between 0.1 and 0.95");
		a->refresh_fraction = f;
	}
	lua_getfield(L, idx, "auth_timeout");
	if (!lua_isnil(L, -1)) {
		double t = lua_tonumber(L, -1);
		if (!(t > 0 && t <= 300))
			luaL_error(L, "private: auth_timeout must be between 0 and 300 seconds");
		a->auth_timeout_ms = (int64_t)(t * 1000);
	}
	lua_pop(L, 2);
}

void lt_private_free(lua_State *L, lt_client *c)
{
	(void)L;
	lt_auth *a = c->auth;
	if (!a)
		return;
	lws_sul_cancel(&a->refresh_sul);
	if (a->waiters)
		wake_all(c, false);
	lt_secret_free(a->secret);
	lt_secret_free(a->access_token);
	lt_secret_free(a->refresh_token);
	free(a);
	c->auth = NULL;
}

void lt_private_on_open(lt_client *c)
{
	if (c->auth && c->auth->state != LT_AUTH_FAILED)
		send_auth(c, false);
}

void lt_private_on_drop(lt_client *c)
{
	lt_auth *a = c->auth;
	if (!a)
		return;
	lws_sul_cancel(&a->refresh_sul);
	if (a->state != LT_AUTH_FAILED)
		a->state = LT_AUTH_NONE; /* connection-scope tokens die with the connection */
	a->refreshing = false;
}

void lt_private_counts(const lt_client *c, unsigned long long *auths,
		       unsigned long long *refreshes)
{
	*auths = c->auth ? c->auth->auths : 0;
	*refreshes = c->auth ? c->auth->refreshes : 0;
}

int lt_private_state(const lt_client *c) { return c->auth ? c->auth->state : LT_AUTH_NONE; }

const char *lt_private_state_name(const lt_client *c)
{
	static const char *const names[] = {"unauthenticated", "authenticating", "authenticated",
					     "auth_failed"};
	return names[lt_private_state(c) & 3];
}

/* ---- logout ------------------------------------------------------------------------------ */

static int k_logout(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	lua_pop(L, 2); /* [how, value]: the venue closes the socket instead of answering */
	lt_client *c = lt_client_check(L, 1);
	lt_client_close(L, c);
	lua_pushboolean(L, 1);
	return 1;
}

int lt_private_logout(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lt_task *t = lt_task_require(L, "logout");
	if (!c->auth)
		return luaL_error(L, "logout: only a private client can log out");
	lua_settop(L, 2);
	lua_createtable(L, 0, 1);
	lua_pushboolean(L, lua_isnil(L, 2) ? 1 : lua_toboolean(L, 2));
	lua_setfield(L, -2, "invalidate_token");
	c->logging_out = true;
	return lt_client_request(L, c, t, lt_method_find("private/logout"), "private/logout", 3,
				 3000, k_logout, 0);
}
