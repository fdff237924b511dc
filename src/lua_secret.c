/* lua_secret.c — luatrade.Secret, the Lua face of secret.c: lt.secret.env(NAME) (which
 * removes NAME from the environment), lt.secret.file(PATH). A secret's value cannot be read
 * from Lua: tostring gives "<secret>", it has no fields, and its memory is cleansed when it is
 * collected or wiped. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lua_secret.h"

#define SECRET_MT "luatrade.Secret"

typedef struct secret_box {
	lt_secret *s;
} secret_box;

static void push_metatable(lua_State *L);

/* Push a new, empty secret box (created before the secret it will hold, so that a memory
 * error raised here leaks nothing). Raises only on a memory error. */
static secret_box *new_box(lua_State *L)
{
	secret_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	box->s = NULL;
	push_metatable(L); /* made on first use: decoders push secrets in any Lua state */
	lua_setmetatable(L, -2);
	return box;
}

const lt_secret *lt_lua_secret(lua_State *L, int idx)
{
	secret_box *box = luaL_testudata(L, idx, SECRET_MT);
	return box ? box->s : NULL;
}

lt_secret *lt_lua_secret_copy(lua_State *L, int idx, const char *what)
{
	const lt_secret *s = lt_lua_secret(L, idx);
	size_t n;
	if (s) {
		const char *p = lt_secret_expose(s, &n);
		return lt_secret_new(p, n);
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *p = lua_tolstring(L, idx, &n);
		lt_log(LT_LOG_WARN,
		       "%s was given as a plain string: it was moved into a secret, but "
		       "the string stays in the Lua heap; use lt.secret.env or lt.secret.file",
		       what);
		return lt_secret_new(p, n);
	}
	return NULL;
}

/* lt.secret.env(NAME) -> secret; raises if the variable is unset or empty. Reading consumes
 * the variable: it is removed from the environment (unsetenv) once its value is copied into
 * the secret, so it no longer lingers in the process environment (getenv, os.getenv) and is
 * not inherited by child processes (os.execute, io.popen). Later calls with the same NAME in
 * this Lua state return the same secret object (upvalue 1 maps names to what they gave),
 * unless it was wiped; then they raise like an unset variable. The kernel's copy of the
 * environment the process started with (/proc/PID/environ) is not changed. */
static int l_env(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *v = getenv(name);
	if (!v || !*v) {
		lua_settop(L, 1);
		lua_rawget(L, lua_upvalueindex(1));
		if (lt_lua_secret(L, -1))
			return 1;
		return luaL_error(L, "secret.env: environment variable %s is not set", name);
	}
	secret_box *box = new_box(L);
	box->s = lt_secret_new(v, strlen(v));
	if (!box->s)
		return luaL_error(L, "secret.env: out of memory");
	if (unsetenv(name) != 0)
		return luaL_error(L, "secret.env: cannot remove %s from the environment", name);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, -2);
	lua_rawset(L, lua_upvalueindex(1));
	return 1;
}

/* lt.secret.file(PATH) -> secret; raises if the file is readable by group or others. */
static int l_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lt_err err = {0, ""};
	secret_box *box = new_box(L);
	if (lt_secret_from_file(path, &box->s, &err))
		return luaL_error(L, "secret.file: %s", err.msg);
	return 1;
}

int lt_lua_secret_push(lua_State *L, const char *bytes, size_t n)
{
	secret_box *box = new_box(L);
	box->s = lt_secret_new(bytes, n);
	if (!box->s)
		return luaL_error(L, "secret: empty or out of memory");
	return 1;
}

static int l_wipe(lua_State *L)
{
	secret_box *box = luaL_checkudata(L, 1, SECRET_MT);
	lt_secret_free(box->s);
	box->s = NULL;
	return 0;
}

static int l_tostring(lua_State *L)
{
	lua_pushliteral(L, "<secret>");
	return 1;
}

static int l_index(lua_State *L)
{
	const char *k = lua_tostring(L, 2);
	if (k && strcmp(k, "wipe") == 0) {
		lua_pushcfunction(L, l_wipe);
		return 1;
	}
	return luaL_error(L, "a secret has no readable fields");
}

static void push_metatable(lua_State *L)
{
	if (luaL_newmetatable(L, SECRET_MT)) {
		lua_pushcfunction(L, l_wipe);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_wipe);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pushcfunction(L, l_index);
		lua_setfield(L, -2, "__index");
		lua_pushliteral(L, "<secret>");
		lua_setfield(L, -2, "__name");
		lua_pushliteral(L, "<secret>");
		lua_setfield(L, -2, "__metatable");
	}
}

void lt_lua_secret_open(lua_State *L)
{
	static const luaL_Reg fns[] = {{"file", l_file}, {NULL, NULL}};
	push_metatable(L);
	lua_pop(L, 1);
	luaL_newlib(L, fns);
	lua_newtable(L); /* env's secrets by variable name */
	lua_pushcclosure(L, l_env, 1);
	lua_setfield(L, -2, "env");
	lua_setfield(L, -2, "secret");
}
