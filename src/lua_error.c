/* lua_error.c — luatrade.Error: the error objects every awaitable returns as its second value
 * (code, name, message, kind, retryable, sent, and sometimes data and retry_after). */
#include <lauxlib.h>

#include "errors.h"
#include "lua_client.h"

void lt_push_error_obj(lua_State *L, int64_t code, const char *message, int data_idx,
		       double retry_after, bool sent)
{
	if (data_idx)
		data_idx = lua_absindex(L, data_idx);
	lt_errinfo info = lt_error_info(code);
	lua_createtable(L, 0, 8);
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
	lua_pushboolean(L, sent);
	lua_setfield(L, -2, "sent");
	if (data_idx && !lua_isnoneornil(L, data_idx)) {
		lua_pushvalue(L, data_idx);
		lua_setfield(L, -2, "data");
	}
	if (retry_after > 0) {
		lua_pushnumber(L, retry_after);
		lua_setfield(L, -2, "retry_after");
	}
	luaL_setmetatable(L, LT_ERROR_MT);
}

int lt_push_error(lua_State *L, int64_t code, const char *message, int data_idx, double retry_after)
{
	if (data_idx)
		data_idx = lua_absindex(L, data_idx);
	lua_pushnil(L);
	lt_push_error_obj(L, code, message, data_idx, retry_after, false);
	return 2;
}

/* tostring(err): "name (code, kind): message". */
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

void lt_error_open(lua_State *L)
{
	if (luaL_newmetatable(L, LT_ERROR_MT)) {
		lua_pushcfunction(L, error_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pushliteral(L, LT_ERROR_MT);
		lua_setfield(L, -2, "__name");
	}
	lua_pop(L, 1);
}
