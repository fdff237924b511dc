/* lua_client.c — luatrade.Client: construction, one awaitable Lua method per codec, the
 * generic client:call, error objects, close. The public client is this object made without
 * credentials (the constructor refuses any). */
#include "lua_client.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "lua_private.h"

/* ---- error objects ----------------------------------------------------------------------- */

int lt_push_error(lua_State *L, int64_t code, const char *message, int data_idx,
		  double retry_after)
{
	if (data_idx)
		data_idx = lua_absindex(L, data_idx);
	lt_errinfo info = lt_error_info(code);
	lua_pushnil(L);
	lua_createtable(L, 0, 7);
	lua_pushinteger(L, code);
	lua_setfield(L, -2, "code");
	lua_pushstring(L, info.name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, message ? message : info.name);
	lua_setfield(L, -2, "message");
	lua_pushstring(L, info.kind);
	lua_setfield(L, -2, "kind");
	lua_pushboolean(L, info.retryable);
	lua_setfield(L, -2, "retryable");
	if (data_idx && !lua_isnoneornil(L, data_idx)) {
		lua_pushvalue(L, data_idx);
		lua_setfield(L, -2, "data");
	}
	if (retry_after > 0) {
		lua_pushnumber(L, retry_after);
		lua_setfield(L, -2, "retry_after");
	}
	luaL_setmetatable(L, LT_ERROR_MT);
	return 2;
}

static int error_tostring(lua_State *L)
{
	lua_getfield(L, 1, "name");
	lua_getfield(L, 1, "code");
	lua_getfield(L, 1, "kind");
	lua_getfield(L, 1, "message");
	lua_pushfstring(L, "%s (%s, %s): %s", lua_tostring(L, 2), lua_tostring(L, 3),
			lua_tostring(L, 4), lua_tostring(L, 5));
	return 1;
}

/* ---- awaited requests -------------------------------------------------------------------- */

typedef struct throttle_box {   /* a request waiting for the limiter, across the yield */
	lt_waiter w;                /* on c->throttled until its turn (or the client closes) */
	lt_buf b;
	int64_t id, timeout_ms;
	const lt_schema *schema;
	lua_KFunction k;
	lua_KContext ctx;
} throttle_box;

static int box_gc(lua_State *L)
{
	throttle_box *box = lua_touserdata(L, 1);
	lt_buf_free(&box->b);
	return 0;
}

lt_client *lt_client_check(lua_State *L, int idx)
{
	lt_client *c = luaL_testudata(L, idx, LT_CLIENT_MT);
	if (!c)
		c = luaL_testudata(L, idx, LT_PRIVATE_MT);
	if (!c)
		luaL_typeerror(L, idx, "luatrade client");
	return c;
}

int64_t lt_call_timeout(lua_State *L, int idx, const lt_client *c)
{
	double s;
	if (lua_isnoneornil(L, idx))
		return c->timeout_ms;
	if (lua_type(L, idx) == LUA_TNUMBER)
		s = lua_tonumber(L, idx);
	else if (lua_istable(L, idx)) {
		lua_getfield(L, idx, "timeout");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			return c->timeout_ms;
		}
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "timeout: expected a number of seconds");
		s = lua_tonumber(L, -1);
		lua_pop(L, 1);
	} else
		return luaL_error(L, "options: expected a timeout in seconds or a table");
	if (!(s > 0) || s > 86400)
		luaL_error(L, "timeout: must be > 0 and at most 86400 seconds");
	return (int64_t)ceil(s * 1000);
}

static void on_done(void *ud, lt_done how, lua_State *L)
{
	lt_task *t = ud;
	if (how == LT_DONE_RESULT || how == LT_DONE_ERROR) {
		lua_pushinteger(L, how);
		lua_insert(L, -2);
		lt_task_wake(t, L, 2);
	} else {
		lua_State *co = lt_task_thread(t);
		lua_pushinteger(co, how);
		lua_pushnil(co);
		lt_task_wake(t, co, 2);
	}
}

static void cancel_request(void *obj, int64_t id)
{
	lt_client *c = obj;
	if (!c->closed)
		lt_rpc_cancel(c->rpc, id);
}

static int send_and_wait(lua_State *L, lt_client *c, lt_task *t, lt_buf *b, int64_t id,
			 const lt_schema *schema, int64_t timeout_ms, lua_KFunction k,
			 lua_KContext ctx)
{
	if (c->closed) {
		lt_buf_free(b);
		lua_pushinteger(L, LT_DONE_LOST);
		lua_pushnil(L);
		return k(L, LUA_OK, ctx);
	}
	int rc = lt_rpc_request(c->rpc, id, b, schema, timeout_ms, on_done, t);
	lt_buf_free(b);
	if (rc) {
		lua_pushinteger(L, LT_DONE_LOST);
		lua_pushnil(L);
		return k(L, LUA_OK, ctx);
	}
	return lt_task_await(L, t, cancel_request, c, id, k, ctx);
}

static int k_throttled(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	bool closed = lua_isboolean(L, -1) && !lua_toboolean(L, -1); /* nil: our turn came */
	lua_pop(L, 1);
	throttle_box *box = luaL_checkudata(L, -1, "luatrade.Throttled");
	lt_client *c = lt_client_check(L, 1);
	lt_buf b = box->b;
	lt_buf_init(&box->b, LWS_PRE);
	lua_KFunction k = box->k;
	lua_KContext kctx = box->ctx;
	int64_t id = box->id, timeout = box->timeout_ms;
	const lt_schema *schema = box->schema;
	lua_pop(L, 1);
	if (closed) {
		lt_buf_free(&b);
		lua_pushinteger(L, LT_DONE_LOST);
		lua_pushnil(L);
		return k(L, LUA_OK, kctx);
	}
	return send_and_wait(L, c, lt_task_of(L), &b, id, schema, timeout, k, kctx);
}

int lt_client_request(lua_State *L, lt_client *c, lt_task *t, const lt_method *m,
		      const char *name, int params_idx, int64_t timeout_ms, lua_KFunction k,
		      lua_KContext ctx)
{
	if (c->closed)
		return lt_push_error(L, LT_CODE_NOT_CONNECTED, "client is closed", 0, 0);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0, ""};
	int64_t id = lt_rpc_alloc_id(c->rpc);
	int rc = m ? lt_method_encode(L, params_idx, m, id, &b, &err)
		   : lt_generic_encode(L, params_idx, name, id, &b, &err);
	if (rc) {
		lt_buf_free(&b);
		return luaL_error(L, "%s: %s", name, err.msg);
	}
	if (c->auth && lt_private_state(c) != LT_AUTH_OK) {
		lt_buf_free(&b);
		int g = lt_private_gate(L, c, t, m, name, params_idx, timeout_ms, k, ctx);
		if (g >= 0)
			return g;
		lt_buf_init(&b, LWS_PRE);
		rc = m ? lt_method_encode(L, params_idx, m, id, &b, &err)
		       : lt_generic_encode(L, params_idx, name, id, &b, &err);
	}
	lt_pool pool = m ? m->pool : LT_POOL_NON_ME;
	int cost = m ? m->cost : 500;
	int64_t now = lt_now_us(), delay = c->rl_off ? 0 : lt_rl_delay(&c->rl, pool, cost, now);
	if (delay > 0 && (c->policy_error || delay / 1000 >= timeout_ms)) {
		lt_buf_free(&b);
		char msg[160];
		snprintf(msg, sizeof msg, "%s: local rate limit reached, retry after %.3f s", name,
			 (double)delay / 1e6);
		return lt_push_error(L, LT_CODE_RATE_LIMIT, msg, 0, (double)delay / 1e6);
	}
	delay = c->rl_off ? 0 : lt_rl_reserve(&c->rl, pool, cost, now);
	if (delay <= 0)
		return send_and_wait(L, c, t, &b, id, m ? m->result : NULL, timeout_ms, k, ctx);
	throttle_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	box->b = b;
	box->id = id;
	box->timeout_ms = timeout_ms - delay / 1000;
	box->schema = m ? m->result : NULL;
	box->k = k;
	box->ctx = ctx;
	if (luaL_newmetatable(L, "luatrade.Throttled")) {
		lua_pushcfunction(L, box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return lt_waiter_await(L, t, &box->w, &c->throttled, (delay + 999) / 1000, k_throttled, 0);
}

/* The venue answered 10028: drain the method's pool so following requests wait for a refill,
 * and count it. The client is argument 1 of every awaitable method. */
static void venue_rate_limited(lua_State *L, const char *name)
{
	lt_client *c = luaL_testudata(L, 1, LT_CLIENT_MT);
	if (!c)
		c = luaL_testudata(L, 1, LT_PRIVATE_MT);
	if (!c || c->closed)
		return;
	const lt_method *m = lt_method_find(name);
	lt_rl_drain(&c->rl, m ? m->pool : LT_POOL_NON_ME, lt_now_us());
	lt_ws_hold_off(c->ws, 5000); /* if the venue ends the session, come back after a refill */
	c->venue_rate_limited++;
	lt_log(LT_LOG_WARN, "%s: the venue answered too_many_requests to %s; backing off",
	       c->url, name);
}

int lt_call_result(lua_State *L, const char *name)
{
	lt_done how = (lt_done)lua_tointeger(L, -2); /* [how, value-or-nil] */
	char msg[200];
	switch (how) {
	case LT_DONE_RESULT:
		return 1;
	case LT_DONE_ERROR: {
		int e = lua_gettop(L);
		lua_getfield(L, e, "code");
		if (lua_tointeger(L, -1) == 10028) /* the venue's limit: back off locally (§7) */
			venue_rate_limited(L, name);
		lua_getfield(L, e, "message");
		lua_getfield(L, e, "data");
		return lt_push_error(L, lua_tointeger(L, e + 1), lua_tostring(L, e + 2), e + 3, 0);
	}
	case LT_DONE_TIMEOUT:
		snprintf(msg, sizeof msg, "no answer to %s within the timeout", name);
		return lt_push_error(L, LT_CODE_TIMEOUT, msg, 0, 0);
	default:
		snprintf(msg, sizeof msg, "connection lost before the answer to %s arrived; the "
			 "request may have been executed (it is never re-sent)", name);
		return lt_push_error(L, LT_CODE_CONNECTION_LOST, msg, 0, 0);
	}
}

/* pub:<method>(params [, timeout]) for every codec (upvalue 1: the lt_method). */
static int k_method(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	return lt_call_result(L, ((const lt_method *)ctx)->name);
}

static int l_method(lua_State *L)
{
	const lt_method *m = lua_touserdata(L, lua_upvalueindex(1));
	lt_client *c = lt_client_check(L, 1);
	lt_task *t = lt_task_require(L, m->lua_name);
	lua_settop(L, 3);
	int64_t timeout = lt_call_timeout(L, 3, c);
	return lt_client_request(L, c, t, m, m->name, 2, timeout, k_method, (lua_KContext)m);
}

/* client:call(method, params [, timeout]) — any method; typed when it has a codec. */
static int k_call(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lt_call_result(L, lua_tostring(L, 2));
}

static int l_call(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lt_task *t = lt_task_require(L, "call");
	lua_settop(L, 4);
	int64_t timeout = lt_call_timeout(L, 4, c);
	return lt_client_request(L, c, t, lt_method_find(name), name, 3, timeout, k_call, 0);
}

/* ---- connection events ------------------------------------------------------------------- */

static void on_state(void *ud, lt_ws_state st, const char *reason)
{
	lt_client *c = ud;
	lua_State *L = c->rt->L;
	switch (st) {
	case LT_WS_OPEN:
		lt_log(LT_LOG_INFO, "connected to %s", c->url);
		lt_private_on_open(c); /* private: authenticate first; subscriptions after that */
		if (c->heartbeat_s > 0) {
			lua_createtable(L, 0, 1);
			lua_pushinteger(L, c->heartbeat_s);
			lua_setfield(L, -2, "interval");
			lt_fire(L, c, lt_method_find("public/set_heartbeat"), -1);
			lua_pop(L, 1);
		}
		if (c->was_open && !c->auth)
			lt_subs_restore(L, c);
		c->was_open = true;
		break;
	case LT_WS_RECONNECTING:
	case LT_WS_CLOSED:
		if (c->was_open || lt_rpc_pending_count(c->rpc))
			lt_log(LT_LOG_WARN, "%s: %s; %d request(s) in flight fail with connection_lost",
			       c->url, reason ? reason : "connection lost",
			       lt_rpc_pending_count(c->rpc));
		lt_fire_cancel_all(c);
		lt_private_on_drop(c);
		lt_rpc_fail_all(c->rpc);
		break;
	case LT_WS_CONNECTING:
		break;
	}
	if (!(st == LT_WS_OPEN && c->auth)) /* a private client reports "authenticated" instead */
		lt_client_emit_state(c, lt_ws_state_name(st), reason);
}

typedef struct state_event {
	lt_client *c;
	const char *state, *reason;
} state_event;

static int emit_protected(lua_State *L)
{
	state_event *e = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->c->state_ref);
	lua_pushstring(L, e->state);
	if (e->reason)
		lua_pushstring(L, e->reason);
	else
		lua_pushnil(L);
	lt_task_spawn(e->c->rt, L, lua_gettop(L) - 2, 2);
	return 0;
}

void lt_client_emit_state(lt_client *c, const char *state, const char *reason)
{
	if (c->state_ref == LUA_NOREF || c->state_ref == 0 || c->closed || !c->rt->running)
		return;
	lua_State *L = c->rt->L;
	state_event e = {c, state, reason};
	int top = lua_gettop(L);
	lua_pushcfunction(L, emit_protected);
	lua_pushlightuserdata(L, &e);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK)
		lt_log(LT_LOG_ERROR, "%s: could not run the state handler: %s", c->url,
		       lua_tostring(L, -1));
	lua_settop(L, top);
	lt_loop_wake(c->rt->loop);
}

/* client:on_state(fn): fn(state, reason) runs as a task after every change of connection or
 * authentication state (connecting, open, reconnecting, closed, authenticated, auth_failed).
 * A typical use: reconcile open orders after "authenticated" following a "reconnecting".
 * fn = nil removes the handler. */
static int l_on_state(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	luaL_unref(L, LUA_REGISTRYINDEX, c->state_ref);
	c->state_ref = lua_isnil(L, 2) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static void on_message(void *ud, const char *msg, size_t len)
{
	lt_client *c = ud;
	lt_rpc_on_message(c->rpc, msg, len);
}

static int rpc_send(void *ud, lt_buf *msg)
{
	lt_client *c = ud;
	return lt_ws_send(c->ws, msg);
}

static void on_notify(void *ud, const char *channel, lua_State *L)
{
	lt_client *c = ud;
	if (lt_subs_deliver(c, channel, L))
		c->unrouted++;
}

/* ---- construction and close -------------------------------------------------------------- */

static const char *const credential_fields[] = {
	"client_id", "client_secret", "secret", "access_token", "refresh_token", "key", NULL};

static const char *opt_string(lua_State *L, int idx, const char *name)
{
	lua_getfield(L, idx, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "option '%s' must be a string", name);
	const char *s = lua_tostring(L, -1);
	lua_pop(L, 1); /* the options table keeps the string alive */
	return s;
}

static double opt_number(lua_State *L, int idx, const char *name, double def, double lo,
			 double hi)
{
	lua_getfield(L, idx, name);
	double v = def;
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "option '%s' must be a number", name);
		v = lua_tonumber(L, -1);
		if (!(v >= lo && v <= hi))
			luaL_error(L, "option '%s' must be between %g and %g", name, lo, hi);
	}
	lua_pop(L, 1);
	return v;
}

static bool in_list(const char *const *list, const char *k)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], k) == 0)
			return true;
	return false;
}

/* Unknown options raise; the public client refuses every credential field. */
static void check_options(lua_State *L, int idx, bool private)
{
	static const char *const common[] = {"url", "ca_file", "insecure_loopback", "timeout",
		"max_message", "heartbeat", "rate_limit", "reconnect", "answer_test_request",
		"venue", "tier", NULL};
	static const char *const priv[] = {"client_id", "client_secret", "grant", "scope",
		"refresh_fraction", "auth_timeout", NULL};
	for (int i = 0; !private && credential_fields[i]; i++) {
		lua_getfield(L, idx, credential_fields[i]);
		if (!lua_isnil(L, -1))
			luaL_error(L, "public: the public client takes no credentials (got '%s'); "
				   "use lt.private for authenticated calls", credential_fields[i]);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (!in_list(common, k) && !(private && in_list(priv, k)))
			luaL_error(L, "%s: unknown option '%s'", private ? "private" : "public",
				   luaL_tolstring(L, -1, NULL));
	}
}

static bool opt_bool(lua_State *L, int idx, const char *name, bool def)
{
	lua_getfield(L, idx, name);
	bool v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

/* tier: 1..4, or "auto" (0) to read the account's limits after authentication. */
static int opt_tier(lua_State *L, int idx, lt_client *c)
{
	lua_getfield(L, idx, "tier");
	int tier = 4;
	if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0) {
		if (!c->auth)
			luaL_error(L, "public: tier = \"auto\" needs an account (lt.private)");
		tier = 0;
	} else if (!lua_isnil(L, -1)) {
		lua_Integer t = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (t < 1 || t > 4)
			luaL_error(L, "option 'tier' must be 1, 2, 3, 4 or \"auto\"");
		tier = (int)t;
	}
	lua_pop(L, 1);
	return tier;
}

static void set_policy(lua_State *L, lt_client *c, const char *policy, const char *url)
{
	if (policy && strcmp(policy, "wait") && strcmp(policy, "error") && strcmp(policy, "off"))
		luaL_error(L, "option 'rate_limit' must be \"wait\", \"error\" or \"off\"");
	if (policy && strcmp(policy, "off") == 0 && !lt_ws_url_is_loopback(url))
		luaL_error(L, "rate_limit = \"off\" is only for servers on a loopback address "
			   "(benchmarks); a real venue ends sessions that exceed its limits");
	c->policy_error = policy && strcmp(policy, "error") == 0;
	c->rl_off = policy && strcmp(policy, "off") == 0;
}

/* Anchor an open client: its channel map, the registry reference, the runtime's list. */
static void client_register(lua_State *L, lt_client *c)
{
	lt_rt *rt = c->rt;
	c->closed = false;
	lua_newtable(L);
	lua_pushvalue(L, -1);
	c->subs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_setiuservalue(L, -2, 1);
	lua_pushvalue(L, -1);
	c->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	c->next = rt->clients;
	if (rt->clients)
		rt->clients->prev = c;
	rt->clients = c;
}

/* core.public(opts) / core.private(opts) — see lua/luatrade/init.lua for the documentation. */
static int client_new(lua_State *L, bool private)
{
	const char *who = private ? "private" : "public";
	luaL_checktype(L, 1, LUA_TTABLE);
	lt_rt *rt = lt_rt_get(L);
	if (!rt->running)
		return luaL_error(L, "%s: create clients inside lt.run(function() ... end)", who);
	check_options(L, 1, private);
	lt_ws_opts wo = {0};
	wo.url = opt_string(L, 1, "url");
	if (!wo.url)
		return luaL_error(L, "%s: option 'url' (or venue = \"sim\") is required", who);
	wo.ca_file = opt_string(L, 1, "ca_file");
	wo.insecure_loopback = opt_bool(L, 1, "insecure_loopback", false);
	wo.max_message = (size_t)opt_number(L, 1, "max_message", 8 << 20, 1024, 1 << 30);
	wo.no_reconnect = !opt_bool(L, 1, "reconnect", true);

	lt_client *c = lua_newuserdatauv(L, sizeof *c, 1);
	memset(c, 0, sizeof *c);
	c->self_ref = c->subs_ref = c->state_ref = LUA_NOREF;
	c->closed = true; /* until fully set up: __gc has nothing to release */
	luaL_setmetatable(L, private ? LT_PRIVATE_MT : LT_CLIENT_MT);
	c->rt = rt;
	if (private)
		lt_private_setup(L, c, 1); /* owned by c from here: __gc cleanses it */
	set_policy(L, c, opt_string(L, 1, "rate_limit"), wo.url);
	c->timeout_ms = (int64_t)(opt_number(L, 1, "timeout", 10, 0.001, 86400) * 1000);
	c->heartbeat_s = (int)opt_number(L, 1, "heartbeat", 0, 0, 3600);
	c->tier = opt_tier(L, 1, c);
	snprintf(c->url, sizeof c->url, "%s", wo.url);
	lt_rl_init(&c->rl, lt_now_us());
	if (c->tier)
		lt_rl_set_tier(&c->rl, c->tier, lt_now_us());
	lt_err err = {0, ""};
	lt_rpc_cbs rc = {rpc_send, on_notify};
	if (lt_rpc_new(L, lt_rt_loop(L, rt), &rc, c, &c->rpc, &err))
		return luaL_error(L, "%s: %s", who, err.msg);
	lt_rpc_set_answer_test_request(c->rpc, opt_bool(L, 1, "answer_test_request", true));
	lt_ws_cbs wc = {on_state, on_message};
	if (lt_ws_new(rt->loop, &wo, &wc, c, &c->ws, &err)) {
		lt_rpc_free(c->rpc);
		c->rpc = NULL;
		return luaL_error(L, "%s: %s", who, err.msg);
	}
	client_register(L, c);
	return 1;
}

static int l_public(lua_State *L) { return client_new(L, false); }
static int l_private(lua_State *L) { return client_new(L, true); }

void lt_client_close(lua_State *L, lt_client *c)
{
	if (c->closed) {
		lt_private_free(L, c); /* a half-built private client */
		return;
	}
	lt_subs_close_all(L, c);
	c->closed = true;
	lt_waiters_wake(&c->throttled, false); /* calls waiting for the limiter fail at once */
	lt_fire_cancel_all(c);
	lt_rpc_free(c->rpc); /* pending calls end with connection_lost */
	c->rpc = NULL;
	lt_ws_close(c->ws);
	c->ws = NULL;
	lt_private_free(L, c);
	lt_rt *rt = c->rt;
	if (c->prev)
		c->prev->next = c->next;
	else
		rt->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	luaL_unref(L, LUA_REGISTRYINDEX, c->subs_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->self_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->state_ref);
	c->subs_ref = c->self_ref = c->state_ref = LUA_NOREF;
}

void lt_clients_close_all(lt_rt *rt)
{
	while (rt->clients)
		lt_client_close(rt->L, rt->clients);
}

static int l_close(lua_State *L)
{
	lt_client_close(L, lt_client_check(L, 1));
	return 0;
}

static const char *state_name(const lt_client *c)
{
	if (c->closed)
		return "closed";
	lt_ws_state st = lt_ws_get_state(c->ws);
	if (st == LT_WS_OPEN && c->auth)
		return lt_private_state_name(c);
	return lt_ws_state_name(st);
}

/* client:state(): connecting, open, reconnecting, closed; a private client that is open says
 * unauthenticated, authenticating, authenticated or auth_failed instead of open. */
static int l_state(lua_State *L)
{
	lua_pushstring(L, state_name(lt_client_check(L, 1)));
	return 1;
}

static int l_tostring(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lua_pushfstring(L, "%s(%s, %s)", c->auth ? LT_PRIVATE_MT : LT_CLIENT_MT, c->url,
			state_name(c));
	return 1;
}

static void set_count(lua_State *L, const char *k, unsigned long long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

static int l_stats(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lua_createtable(L, 0, 16);
	if (c->closed)
		return 1;
	const lt_ws_stats *w = lt_ws_get_stats(c->ws);
	const lt_rpc_stats *r = lt_rpc_get_stats(c->rpc);
	set_count(L, "messages_in", w->msgs_in);
	set_count(L, "bytes_in", w->bytes_in);
	set_count(L, "messages_out", w->msgs_out);
	set_count(L, "dropped_oversize", w->dropped_oversize);
	set_count(L, "dropped_binary", w->dropped_binary);
	set_count(L, "reconnects", w->reconnects);
	set_count(L, "results", r->results);
	set_count(L, "errors", r->errors);
	set_count(L, "notifications", r->notifications);
	set_count(L, "heartbeats", r->heartbeats);
	set_count(L, "timeouts", r->timeouts);
	set_count(L, "lost", r->lost);
	set_count(L, "unknown_ids", r->unknown_ids);
	set_count(L, "malformed", r->malformed);
	set_count(L, "unrouted", c->unrouted);
	set_count(L, "venue_rate_limited", c->venue_rate_limited);
	if (c->auth) {
		unsigned long long auths, refreshes;
		lt_private_counts(c, &auths, &refreshes);
		set_count(L, "authentications", auths);
		set_count(L, "token_refreshes", refreshes);
	}
	set_count(L, "pending", (unsigned long long)lt_rpc_pending_count(c->rpc));
	return 1;
}

static int l_rate_limit_status(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	static const char *const names[] = {"non_matching_engine", "matching_engine", "subscribe",
					     "get_instruments"};
	int64_t now = lt_now_us();
	lua_createtable(L, 0, 6);
	for (int p = 0; p < 4; p++) {
		lt_rl_delay(&c->rl, (lt_pool)p, 0, now); /* refill to now */
		lua_pushnumber(L, c->rl.pool[p].level);
		lua_setfield(L, -2, names[p]);
	}
	set_count(L, "waited", c->rl.waited);
	lua_pushnumber(L, c->rl.waited_s);
	lua_setfield(L, -2, "waited_seconds");
	return 1;
}

/* Test hook: drop the transport as a network failure would (reconnect logic then runs). */
static int l_drop_connection(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	if (!c->closed)
		lt_ws_drop(c->ws);
	return 0;
}

/* One client metatable: every codec method the client may call (public ones only for the
 * public client), then the hand-written methods, which win over same-named codec methods. */
static void client_metatable(lua_State *L, const char *name, bool private)
{
	static const luaL_Reg meths[] = {
		{"call", l_call}, {"close", l_close}, {"state", l_state}, {"stats", l_stats},
		{"rate_limit_status", l_rate_limit_status}, {"subscribe", lt_client_subscribe},
		{"_drop_connection", l_drop_connection}, {"on_state", l_on_state}, {NULL, NULL}};
	if (!luaL_newmetatable(L, name)) {
		lua_pop(L, 1);
		return;
	}
	lua_createtable(L, 0, 48);
	for (int i = 0; lt_methods[i]; i++) {
		const lt_method *m = lt_methods[i];
		if (!m->lua_name || (!private && (m->flags & LT_MF_PRIVATE)))
			continue;
		lua_pushlightuserdata(L, (void *)m);
		lua_pushcclosure(L, l_method, 1);
		lua_setfield(L, -2, m->lua_name);
	}
	luaL_setfuncs(L, meths, 0);
	if (private) {
		lua_pushcfunction(L, lt_private_logout);
		lua_setfield(L, -2, "logout");
	}
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, l_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}

void lt_client_open(lua_State *L)
{
	client_metatable(L, LT_CLIENT_MT, false);
	client_metatable(L, LT_PRIVATE_MT, true);
	if (luaL_newmetatable(L, LT_ERROR_MT)) {
		lua_pushcfunction(L, error_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, l_public);
	lua_setfield(L, -2, "public");
	lua_pushcfunction(L, l_private);
	lua_setfield(L, -2, "private");
}
