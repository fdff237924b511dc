/* lua_call.c — awaitable calls and background requests: check the arguments, encode, submit
 * to the client's lifecycle (client.c), await the completion, turn it into values or nil, err.
 * One awaitable Lua method per codec and the generic client:call live here too. */
#include <lauxlib.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "lua_client.h"

/* What a completion must do besides waking its task (the tag's high bits). */
enum { TAG_COD_ON = 1, TAG_COD_OFF = 2 };

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

static bool is_private_method(const lt_method *m, const char *name)
{
	return (m && (m->flags & LT_MF_PRIVATE)) || strncmp(name, "private/", 8) == 0;
}

/* The answer of an awaited request: wake its task (if it is still alive) with [how, value]. */
static void call_done(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_client *c = ud;
	uint64_t tag = lt_req_tag(r);
	lt_task *t = lt_task_find(c->rt, (unsigned)(tag & 0xffffffffu));
	bool answered = e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR;
	if (!t) { /* the task ended: drop the completion */
		if (answered)
			lua_pop(e->L, 1);
		return;
	}
	char msg[300];
	if (e->how == LT_DONE_RESULT) {
		if ((tag >> 32) == TAG_COD_ON || (tag >> 32) == TAG_COD_OFF)
			if (c->priv)
				lt_priv_want_cod(c->priv, (tag >> 32) == TAG_COD_ON);
		lua_pushinteger(e->L, LT_DONE_RESULT);
		lua_insert(e->L, -2);
		lt_task_wake(t, e->L, 2);
	} else if (e->how == LT_DONE_ERROR) {
		lua_State *L = e->L;
		int tbl = lua_gettop(L);
		lua_pushinteger(L, LT_DONE_ERROR);
		lua_getfield(L, tbl, "message");
		lua_getfield(L, tbl, "data");
		lt_push_error_obj(L, e->code, lua_tostring(L, -2), -1, 0, true);
		lua_replace(L, tbl);
		lua_pop(L, 2);
		lua_insert(L, -2);
		lt_task_wake(t, L, 2);
	} else {
		lua_State *co = lt_task_thread(t);
		int64_t code = e->how == LT_DONE_TIMEOUT ? LT_CODE_TIMEOUT
			       : e->how == LT_DONE_LOST  ? LT_CODE_CONNECTION_LOST
							 : e->code;
		snprintf(msg, sizeof msg, "%s: %s", lt_req_method(r), e->msg ? e->msg : "failed");
		lua_pushinteger(co, e->how);
		lt_push_error_obj(co, code, msg, 0, e->retry_after, e->sent);
		lt_task_wake(t, co, 2);
	}
}

static void withdraw(void *obj, int64_t id)
{
	(void)id;
	lt_req_withdraw(obj);
}

static uint64_t cod_tag(lua_State *L, int params_idx, const char *name)
{
	bool on = strcmp(name, "private/enable_cancel_on_disconnect") == 0;
	if (!on && strcmp(name, "private/disable_cancel_on_disconnect") != 0)
		return 0;
	if (lua_istable(L, params_idx)) {
		lua_getfield(L, params_idx, "scope");
		bool account = lua_type(L, -1) == LUA_TSTRING &&
			       strcmp(lua_tostring(L, -1), "account") == 0;
		lua_pop(L, 1);
		if (account)
			return 0; /* the account keeps it across connections by itself */
	}
	return on ? TAG_COD_ON : TAG_COD_OFF;
}

/* Encode params at idx with id 0 (the id is set when it is written), raising on bad input. */
static void encode(lua_State *L, lt_client *c, const lt_method *m, const char *name, int idx,
		   lt_buf *b)
{
	if (!c->priv && (is_private_method(m, name) || strcmp(name, "public/auth") == 0))
		luaL_error(L,
			   "%s: the public client cannot authenticate or call private methods; "
			   "use lt.private",
			   name);
	lt_buf_init(b, LWS_PRE);
	lt_err err = {0, ""};
	int rc = m ? lt_method_encode(L, idx, m, 0, b, &err)
		   : lt_generic_encode(L, idx, name, 0, b, &err);
	if (rc) {
		lt_buf_free(b);
		luaL_error(L, "%s: %s", name, err.msg);
	}
}

static lt_req_spec spec_for(const lt_client *c, const lt_method *m, const char *name)
{
	lt_req_spec s = lt_req_spec_of(m, name);
	if (c->priv && is_private_method(m, name))
		s.flags |= LT_REQ_GATED;
	return s;
}

static int refused(lua_State *L, lt_client *c, const lt_err *err)
{
	double retry = 0;
	int64_t code = lt_cl_refusal(c->cl, &retry);
	return lt_push_error(L, code, err->msg, 0, retry);
}

int lt_client_request(lua_State *L, lt_client *c, lt_task *t, const lt_method *m, const char *name,
		      int params_idx, int64_t timeout_ms, lua_KFunction k, lua_KContext ctx)
{
	if (c->closed)
		return lt_push_error(L, LT_CODE_NOT_CONNECTED, "client is closed; not sent", 0, 0);
	params_idx = lua_absindex(L, params_idx);
	lt_buf b;
	encode(L, c, m, name, params_idx, &b);
	lt_req_spec s = spec_for(c, m, name);
	uint64_t tag = lt_task_id(t) | (cod_tag(L, params_idx, name) << 32);
	lt_err err = {0, ""};
	lt_req *r;
	if (lt_cl_submit(c->cl, &s, &b, timeout_ms, call_done, c, tag, &r, &err))
		return refused(L, c, &err);
	return lt_task_await(L, t, withdraw, r, 0, k, ctx);
}

int lt_call_result(lua_State *L)
{
	if (lua_tointeger(L, -2) == LT_DONE_RESULT)
		return 1;
	lua_pushnil(L);
	lua_replace(L, -3);
	return 2;
}

/* ---- background requests ----------------------------------------------------------------- */

int lt_fire(lua_State *L, lt_client *c, const lt_method *m, int params_idx)
{
	if (c->closed || !m)
		return LT_ESTATE;
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0, ""};
	if (lt_method_encode(L, params_idx, m, 0, &b, &err)) {
		lt_log(LT_LOG_ERROR, "%s: %s", m->name, err.msg);
		lt_buf_free(&b);
		return err.code;
	}
	lt_req_spec s = spec_for(c, m, m->name);
	int rc = lt_cl_submit(c->cl, &s, &b, 30000, lt_cl_log_outcome, c->cl, 0, NULL, &err);
	if (rc)
		lt_log(LT_LOG_WARN, "%s: %s", c->url, err.msg);
	return rc;
}

/* ---- the Lua methods --------------------------------------------------------------------- */

/* pub:<method>(params [, timeout]) for every codec (upvalue 1: the lt_method). */
static int k_method(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return lt_call_result(L);
}

int lt_l_method(lua_State *L)
{
	const lt_method *m = lua_touserdata(L, lua_upvalueindex(1));
	lt_client *c = lt_client_check(L, 1);
	lt_task *t = lt_task_require(L, m->lua_name);
	lua_settop(L, 3);
	int64_t timeout = lt_call_timeout(L, 3, c);
	return lt_client_request(L, c, t, m, m->name, 2, timeout, k_method, 0);
}

/* client:call(method, params [, timeout]) — any method; typed when it has a codec. */
int lt_l_call(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	size_t n;
	const char *name = luaL_checklstring(L, 2, &n);
	if (n == 0 || n >= 64)
		return luaL_error(L, "call: method name must be 1 to 63 characters");
	lt_task *t = lt_task_require(L, "call");
	lua_settop(L, 4);
	int64_t timeout = lt_call_timeout(L, 4, c);
	return lt_client_request(L, c, t, lt_method_find(name), name, 3, timeout, k_method, 0);
}
