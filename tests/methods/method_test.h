/* method_test.h — helpers shared by the per-method codec tests (tests/methods/<method>_test.c) and
 * tests/params_test.c: build a parameter table from Lua source text, assert the exact request
 * text or the exact validation message, and decode a fixture's result through
 * lt_json_decode_envelope with a method's result schema (plus every truncated prefix of it).
 * All functions are static inline so each test uses only what it needs. Include after cmocka.h.
 */
#ifndef LT_METHOD_TEST_H
#define LT_METHOD_TEST_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* A request-encoding case: Lua source of the parameter table (or "nil") and the exact
 * request text (id 42) or the exact error message. */
typedef struct mt_case {
	const char *params;
	const char *want;
} mt_case;

static inline lua_State *mt_lua(void)
{
	lua_State *L = luaL_newstate();
	assert_non_null(L);
	luaL_openlibs(L);
	return L;
}

/* Push the value of the Lua expression src. */
static inline void mt_push(lua_State *L, const char *src)
{
	char chunk[8192];
	snprintf(chunk, sizeof chunk, "return %s", src);
	if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
		fail_msg("bad Lua in test: %s", lua_tostring(L, -1));
}

static inline const lt_method *mt_method(const char *name)
{
	const lt_method *m = lt_method_find(name);
	if (!m)
		fail_msg("no codec registered for %s", name);
	return m;
}

/* Encode the params of every case for m (id 42) and assert the exact request text. */
static inline void mt_encode_ok_m(const lt_method *m, const mt_case *cases, size_t n)
{
	const char *method = m->name;
	for (size_t i = 0; i < n; i++) {
		lua_State *L = mt_lua();
		mt_push(L, cases[i].params);
		int top = lua_gettop(L);
		lt_buf b;
		lt_buf_init(&b, 16);
		lt_err err = {0};
		int rc = lt_method_encode(L, -1, m, 42, &b, &err);
		if (rc != 0)
			fail_msg("%s %s: unexpected error %d: %s", method, cases[i].params, rc,
				 err.msg);
		if (strcmp(lt_buf_text(&b), cases[i].want) != 0)
			fail_msg("%s %s:\n got  %s\n want %s", method, cases[i].params,
				 lt_buf_text(&b), cases[i].want);
		assert_int_equal(lua_gettop(L), top);
		lt_buf_free(&b);
		lua_close(L);
	}
}

/* Assert each case's params are rejected with LT_EINVAL and exactly the message want, that the
 * buffer keeps what it held before, and that the Lua stack is unchanged. */
static inline void mt_encode_err_m(const lt_method *m, const mt_case *cases, size_t n)
{
	const char *method = m->name;
	for (size_t i = 0; i < n; i++) {
		lua_State *L = mt_lua();
		mt_push(L, cases[i].params);
		int top = lua_gettop(L);
		lt_buf b;
		lt_buf_init(&b, 16);
		lt_buf_add(&b, "prior", 5);
		lt_err err = {0};
		int rc = lt_method_encode(L, -1, m, 42, &b, &err);
		if (rc != LT_EINVAL)
			fail_msg("%s %s: expected LT_EINVAL, got %d (%s)", method, cases[i].params,
				 rc, lt_buf_text(&b));
		if (strcmp(err.msg, cases[i].want) != 0)
			fail_msg("%s %s:\n got  %s\n want %s", method, cases[i].params, err.msg,
				 cases[i].want);
		assert_string_equal(lt_buf_text(&b), "prior");
		assert_int_equal(b.len, 5);
		assert_int_equal(lua_gettop(L), top);
		lt_buf_free(&b);
		lua_close(L);
	}
}

/* The same two, for a method found in the registry by its JSON-RPC name. */
static inline void mt_encode_ok(const char *method, const mt_case *cases, size_t n)
{
	mt_encode_ok_m(mt_method(method), cases, n);
}

static inline void mt_encode_err(const char *method, const mt_case *cases, size_t n)
{
	mt_encode_err_m(mt_method(method), cases, n);
}

/* Read LT_FIXTURES/name into a malloc'd NUL-terminated buffer. */
static inline char *mt_fixture(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", LT_FIXTURES, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(n >= 0);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline const lt_schema *mt_resolve_result(void *ud, int64_t id)
{
	(void)id;
	return ((const lt_method *)ud)->result;
}

static inline const lt_schema *mt_resolve_data(void *ud, const char *channel, size_t len)
{
	(void)channel;
	(void)len;
	return ((const lt_method *)ud)->result;
}

/* Decode fixture name as a reply to method m (the result schema also types a notification's
 * data), assert the message kind and leave the decoded value on the stack. */
static inline void mt_decode(lua_State *L, const char *name, const lt_method *m, lt_msg_kind kind,
			     lt_envelope *env)
{
	size_t len;
	char *text = mt_fixture(name, &len);
	lt_resolver res = {mt_resolve_result, mt_resolve_data, (void *)m};
	lt_err err = {0};
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, text, len, &res, env, &err);
	free(text);
	if (rc != 0)
		fail_msg("%s: decode failed: %s", name, err.msg);
	assert_int_equal(env->kind, kind);
	assert_int_equal(lua_gettop(L), top + 1);
}

/* Every proper prefix of the fixture (up to its last non-blank byte) is rejected with
 * LT_EJSON and leaves nothing on the stack. */
static inline void mt_truncated_rejected(const char *name, const lt_method *m)
{
	size_t len;
	char *text = mt_fixture(name, &len);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	lua_State *L = mt_lua();
	lt_resolver res = {mt_resolve_result, mt_resolve_data, (void *)m};
	for (size_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
		assert_non_null(copy);
		memcpy(copy, text, n);
		lt_envelope env;
		lt_err err = {0};
		int rc = lt_json_decode_envelope(L, copy, n, &res, &env, &err);
		free(copy);
		if (rc != LT_EJSON)
			fail_msg("%s: prefix of %zu bytes gave %d, want LT_EJSON", name, n, rc);
		assert_int_equal(lua_gettop(L), 0);
	}
	lua_close(L);
	free(text);
}

/* Push the value at a dotted path below the table at idx ("stats.high", "bids.1.2"; numeric
 * segments index arrays). */
static inline void mt_get(lua_State *L, int idx, const char *path)
{
	char seg[128];
	idx = lua_absindex(L, idx);
	lua_pushvalue(L, idx);
	while (*path) {
		size_t n = strcspn(path, ".");
		assert_true(n < sizeof seg);
		memcpy(seg, path, n);
		seg[n] = '\0';
		if (!lua_istable(L, -1))
			fail_msg("%s: not a table before '%s'", path, seg);
		char *end;
		long long i = strtoll(seg, &end, 10);
		if (*end == '\0' && n > 0)
			lua_geti(L, -1, (lua_Integer)i);
		else
			lua_getfield(L, -1, seg);
		lua_remove(L, -2);
		path += n + (path[n] == '.');
	}
}

/* Assert the value at path is a Lua integer equal to want. */
static inline void mt_int(lua_State *L, int idx, const char *path, long long want)
{
	mt_get(L, idx, path);
	if (!lua_isinteger(L, -1))
		fail_msg("%s: expected an integer, got %s %s", path, luaL_typename(L, -1),
			 lua_isnumber(L, -1) ? "(float)" : "");
	assert_int_equal(lua_tointeger(L, -1), want);
	lua_pop(L, 1);
}

/* Assert the value at path is a Lua float (not integer) exactly equal to want. */
static inline void mt_float(lua_State *L, int idx, const char *path, double want)
{
	mt_get(L, idx, path);
	if (lua_type(L, -1) != LUA_TNUMBER || lua_isinteger(L, -1))
		fail_msg("%s: expected a float, got %s%s", path, luaL_typename(L, -1),
			 lua_isinteger(L, -1) ? " (integer)" : "");
	double got = (double)lua_tonumber(L, -1);
	if (got != want)
		fail_msg("%s: got %.17g, want %.17g", path, got, want);
	lua_pop(L, 1);
}

static inline void mt_str(lua_State *L, int idx, const char *path, const char *want)
{
	mt_get(L, idx, path);
	if (lua_type(L, -1) != LUA_TSTRING)
		fail_msg("%s: expected a string, got %s", path, luaL_typename(L, -1));
	assert_string_equal(lua_tostring(L, -1), want);
	lua_pop(L, 1);
}

static inline void mt_bool(lua_State *L, int idx, const char *path, bool want)
{
	mt_get(L, idx, path);
	if (lua_type(L, -1) != LUA_TBOOLEAN)
		fail_msg("%s: expected a boolean, got %s", path, luaL_typename(L, -1));
	assert_int_equal(lua_toboolean(L, -1), want);
	lua_pop(L, 1);
}

/* Assert the value at path is luatrade.null (lightuserdata NULL). */
static inline void mt_null(lua_State *L, int idx, const char *path)
{
	mt_get(L, idx, path);
	if (lua_type(L, -1) != LUA_TLIGHTUSERDATA || lua_touserdata(L, -1) != NULL)
		fail_msg("%s: expected luatrade.null, got %s", path, luaL_typename(L, -1));
	lua_pop(L, 1);
}

/* Length of the sequence at path. */
static inline lua_Integer mt_len(lua_State *L, int idx, const char *path)
{
	mt_get(L, idx, path);
	lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
	lua_pop(L, 1);
	return n;
}

/* Decode ws_error.json as the reply to method m: an error table, whatever the result schema. */
static inline void mt_error_reply(const lt_method *m)
{
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_error.json", m, LT_MSG_ERROR, &env);
	assert_true(env.has_id);
	assert_int_equal(env.id, 1);
	assert_int_equal(env.error_code, 10028);
	mt_int(L, -1, "code", 10028);
	mt_str(L, -1, "message", "too_many_requests");
	mt_null(L, -1, "data");
	lua_close(L);
}

/* The registry finds m under both names, and m declares the given pool and cost. */
static inline void mt_descriptor(const char *name, const char *lua_name, lt_pool pool, int cost)
{
	const lt_method *m = mt_method(name);
	assert_ptr_equal(lt_method_find_lua(lua_name), m);
	assert_string_equal(m->lua_name, lua_name);
	assert_int_equal(m->pool, pool);
	assert_int_equal(m->cost, cost);
}

#define MT_N(a) (sizeof(a) / sizeof((a)[0]))

#endif
