/* lua_helpers.c — see lua_helpers.h: fixture loading and Lua value assertions for C tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lua_helpers.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *lt_test_read_file(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

lua_State *lt_test_lua_new(void)
{
	lua_State *L = luaL_newstate();
	assert_non_null(L);
	luaL_openlibs(L);
	return L;
}

int lt_test_push_path(lua_State *L, int idx, const char *path)
{
	idx = lua_absindex(L, idx);
	lua_pushvalue(L, idx);
	const char *p = path;
	while (*p) {
		size_t n = strcspn(p, ".");
		if (!lua_istable(L, -1)) {
			lua_pop(L, 1);
			lua_pushnil(L);
			return LUA_TNIL;
		}
		char part[128];
		snprintf(part, sizeof part, "%.*s", (int)n, p);
		char *end;
		long long i = strtoll(part, &end, 10);
		if (n > 0 && *end == '\0')
			lua_geti(L, -1, i);
		else {
			lua_getfield(L, -1, part);
		}
		lua_remove(L, -2);
		p += n;
		if (*p == '.')
			p++;
	}
	return lua_type(L, -1);
}

const char *lt_test_math_type(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return NULL;
	return lua_isinteger(L, idx) ? "integer" : "float";
}

static const char *describe(lua_State *L, int idx)
{
	const char *mt = lt_test_math_type(L, idx);
	return mt ? mt : luaL_typename(L, idx);
}

void lt_test_assert_int(lua_State *L, int idx, const char *path, lua_Integer v)
{
	lt_test_push_path(L, idx, path);
	if (!lua_isinteger(L, -1))
		fail_msg("%s: expected integer %lld, got %s %s", path, (long long)v,
			 describe(L, -1), luaL_tolstring(L, -1, NULL));
	if (lua_tointeger(L, -1) != v)
		fail_msg("%s: expected %lld, got %lld", path, (long long)v,
			 (long long)lua_tointeger(L, -1));
	lua_pop(L, 1);
}

void lt_test_assert_float(lua_State *L, int idx, const char *path, double v)
{
	lt_test_push_path(L, idx, path);
	if (lua_type(L, -1) != LUA_TNUMBER || lua_isinteger(L, -1))
		fail_msg("%s: expected float %.17g, got %s %s", path, v, describe(L, -1),
			 luaL_tolstring(L, -1, NULL));
	double got = lua_tonumber(L, -1);
	if (memcmp(&got, &v, sizeof v) != 0)
		fail_msg("%s: expected %.17g, got %.17g", path, v, got);
	lua_pop(L, 1);
}

void lt_test_assert_str(lua_State *L, int idx, const char *path, const char *s)
{
	lt_test_push_path(L, idx, path);
	if (lua_type(L, -1) != LUA_TSTRING)
		fail_msg("%s: expected string \"%s\", got %s", path, s, describe(L, -1));
	size_t n;
	const char *got = lua_tolstring(L, -1, &n);
	if (n != strlen(s) || memcmp(got, s, n) != 0)
		fail_msg("%s: expected \"%s\", got \"%s\"", path, s, got);
	lua_pop(L, 1);
}

void lt_test_assert_bool(lua_State *L, int idx, const char *path, int b)
{
	lt_test_push_path(L, idx, path);
	if (!lua_isboolean(L, -1))
		fail_msg("%s: expected boolean, got %s", path, describe(L, -1));
	if (!lua_toboolean(L, -1) != !b)
		fail_msg("%s: expected %s", path, b ? "true" : "false");
	lua_pop(L, 1);
}

void lt_test_assert_null(lua_State *L, int idx, const char *path)
{
	lt_test_push_path(L, idx, path);
	if (!lua_islightuserdata(L, -1) || lua_touserdata(L, -1) != NULL)
		fail_msg("%s: expected the null sentinel, got %s", path, describe(L, -1));
	lua_pop(L, 1);
}

void lt_test_assert_absent(lua_State *L, int idx, const char *path)
{
	lt_test_push_path(L, idx, path);
	if (!lua_isnil(L, -1))
		fail_msg("%s: expected no value, got %s", path, describe(L, -1));
	lua_pop(L, 1);
}

/* next(t, k) as a function, for a table without __pairs. */
static int raw_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, 1))
		return 2;
	lua_pushnil(L);
	return 1;
}

/* Push the iterator function, state and first key pairs(t) gives for the table at t. */
static void push_pairs(lua_State *L, int t)
{
	if (luaL_getmetafield(L, t, "__pairs") != LUA_TNIL) {
		lua_pushvalue(L, t);
		lua_call(L, 1, 3);
		return;
	}
	lua_pushcfunction(L, raw_next);
	lua_pushvalue(L, t);
	lua_pushnil(L);
}

/* Contract in lua_helpers.h; a and b are absolute indexes. */
static bool same(lua_State *L, int a, int b, char *why, size_t whylen, int depth)
{
	int ta = lua_type(L, a);
	if (ta != lua_type(L, b)) {
		snprintf(why, whylen, "%s vs %s", describe(L, a), describe(L, b));
		return false;
	}
	if (ta == LUA_TNUMBER && lua_isinteger(L, a) != lua_isinteger(L, b)) {
		snprintf(why, whylen, "%s vs %s", describe(L, a), describe(L, b));
		return false;
	}
	if (ta != LUA_TTABLE) {
		if (!lua_rawequal(L, a, b)) {
			snprintf(why, whylen, "%s vs %s", luaL_tolstring(L, a, NULL),
				 luaL_tolstring(L, b, NULL));
			lua_pop(L, 2);
			return false;
		}
		return true;
	}
	if (depth > 100)
		return true;
	luaL_checkstack(L, 8, NULL);
	for (int pass = 0; pass < 2; pass++) { /* every key of a in b, then of b in a */
		int x = pass ? b : a, y = pass ? a : b;
		int it = lua_gettop(L) + 1;
		push_pairs(L, x); /* it: f, s, k */
		for (;;) {
			lua_pushvalue(L, it);
			lua_pushvalue(L, it + 1);
			lua_pushvalue(L, it + 2);
			lua_call(L, 2, 2); /* k, v at it + 3, it + 4 */
			if (lua_isnil(L, it + 3))
				break;
			lua_pushvalue(L, it + 3);
			lua_gettable(L, y); /* y[k] at it + 5 */
			bool ok = pass ? !lua_isnil(L, it + 5)
				       : same(L, it + 4, it + 5, why, whylen, depth + 1);
			if (!ok) {
				if (pass)
					snprintf(why, whylen, "extra key %s",
						 luaL_tolstring(L, it + 3, NULL));
				lua_settop(L, it - 1);
				return false;
			}
			lua_copy(L, it + 3, it + 2);
			lua_settop(L, it + 2);
		}
		lua_settop(L, it - 1);
	}
	return true;
}

bool lt_test_same(lua_State *L, int a, int b, char *why, size_t whylen)
{
	a = lua_absindex(L, a);
	b = lua_absindex(L, b);
	int top = lua_gettop(L);
	bool ok = same(L, a, b, why, whylen, 0);
	lua_settop(L, top);
	return ok;
}

void lt_test_assert_same(lua_State *L, int a, int b)
{
	char why[256] = "";
	if (!lt_test_same(L, a, b, why, sizeof why))
		fail_msg("values differ: %s", why);
}
