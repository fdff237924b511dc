/* json_encode.c — Lua values to JSON text (codec.h): lt_json_encode_value for client:call
 * parameters and LT_P_ANY / string parameters, and lt_generic_encode, the JSON-RPC request
 * envelope for methods without a codec (deribit-api.md §1 "Request").
 *
 * Nothing here raises: tables are walked with lua_next / lua_rawgeti (no metamethods), strings
 * are read only from values known to be strings, numbers are formatted by lt_jw_int /
 * lt_jw_double, and the Lua stack is grown with lua_checkstack. Errors name the key path of the
 * offending value ("params.orders[2].label: invalid UTF-8").
 */
#include "codec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define JE_MAX_DEPTH 32

/* Walk state: the output, the error, and the key path of the value being encoded. */
typedef struct je {
	lua_State *L;
	lt_buf *b;
	lt_err *err;
	char path[200];
	size_t plen;
} je;

/* Length of the valid UTF-8 prefix of s[0..n): n when the whole string is valid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF (RFC 3629). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else
			return i;
		if (n - i <= k)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

/* Append text to the key path, marking truncation with "..." when it no longer fits. */
static void path_push(je *w, const char *s, size_t n)
{
	size_t room = sizeof w->path - 1 - w->plen;
	if (n > room) {
		n = room;
		if (n >= 3) {
			memcpy(w->path + w->plen, s, n - 3);
			memcpy(w->path + w->plen + n - 3, "...", 3);
			w->plen += n;
			w->path[w->plen] = '\0';
			return;
		}
	}
	memcpy(w->path + w->plen, s, n);
	w->plen += n;
	w->path[w->plen] = '\0';
}

static void path_pop(je *w, size_t plen)
{
	w->plen = plen;
	w->path[plen] = '\0';
}

static int fail(je *w, const char *rule)
{
	return lt_err_set(w->err, LT_EINVAL, "%s: %s", w->path, rule);
}

static int encode_any(je *w, int idx, int depth);

/* Write a string value (or key), validating UTF-8. */
static int encode_string(je *w, int idx, const char *what)
{
	size_t n;
	const char *s = lua_tolstring(w->L, idx, &n); /* known to be a string */
	if (utf8_valid_prefix((const unsigned char *)s, n) != n)
		return fail(w, what);
	lt_jw_string(w->b, s, n);
	return 0;
}

static int encode_number(je *w, int idx)
{
	if (lua_isinteger(w->L, idx)) {
		lt_jw_int(w->b, (int64_t)lua_tointeger(w->L, idx));
		return 0;
	}
	double v = (double)lua_tonumber(w->L, idx);
	if (!isfinite(v))
		return fail(w, "number is not finite (NaN and infinity are not JSON)");
	lt_jw_double(w->b, v);
	return 0;
}

/* Count the keys of the table at idx; *is_array tells whether they are exactly 1..count. */
static size_t table_shape(lua_State *L, int idx, bool *is_array)
{
	size_t count = 0;
	lua_Integer max = 0;
	bool ints = true;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1)
			ints = false;
		else if (lua_tointeger(L, -2) > max)
			max = lua_tointeger(L, -2);
		lua_pop(L, 1);
	}
	/* distinct integer keys >= 1 are exactly 1..count when none exceeds count */
	*is_array = ints && count > 0 && (size_t)max == count;
	return count;
}

static int encode_array(je *w, int idx, size_t n, int depth)
{
	size_t plen = w->plen;
	lt_buf_add(w->b, "[", 1);
	for (size_t i = 1; i <= n; i++) {
		char ix[32];
		int m = snprintf(ix, sizeof ix, "[%zu]", i);
		if (i > 1)
			lt_buf_add(w->b, ",", 1);
		path_push(w, ix, (size_t)m);
		lua_rawgeti(w->L, idx, (lua_Integer)i);
		int rc = encode_any(w, lua_gettop(w->L), depth + 1);
		lua_pop(w->L, 1);
		path_pop(w, plen);
		if (rc)
			return rc;
	}
	lt_buf_add(w->b, "]", 1);
	return 0;
}

/* An object: every key must be a string (integer keys that are not exactly 1..n mean a
 * sparse or mixed table, which has no faithful JSON form and is rejected). */
static int encode_object(je *w, int idx, int depth)
{
	lua_State *L = w->L;
	size_t plen = w->plen;
	bool first = true;
	lt_buf_add(w->b, "{", 1);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int rc = 0;
		if (lua_type(L, -2) != LUA_TSTRING) {
			rc = fail(
				w,
				lua_isinteger(L, -2)
					? "mixed or sparse table (keys must be 1..n or all strings)"
					: "object key is not a string");
		} else {
			size_t kn;
			const char *k = lua_tolstring(L, -2, &kn);
			if (!first)
				lt_buf_add(w->b, ",", 1);
			first = false;
			rc = encode_string(w, -2, "invalid UTF-8 in key");
			lt_buf_add(w->b, ":", 1);
			path_push(w, ".", 1);
			path_push(w, k, strlen(k) < kn ? strlen(k) : kn);
			if (!rc)
				rc = encode_any(w, lua_gettop(L), depth + 1);
			path_pop(w, plen);
		}
		if (rc) {
			lua_pop(L, 2);
			return rc;
		}
		lua_pop(L, 1);
	}
	lt_buf_add(w->b, "}", 1);
	return 0;
}

static int encode_table(je *w, int idx, int depth)
{
	if (depth >= JE_MAX_DEPTH)
		return fail(w, "nesting deeper than 32 (a cycle?)");
	if (!lua_checkstack(w->L, 4))
		return lt_err_set(w->err, LT_ENOMEM, "%s: Lua stack exhausted", w->path);
	bool is_array;
	size_t n = table_shape(w->L, idx, &is_array);
	if (n == 0) {
		lt_buf_add(w->b, "{}", 2);
		return 0;
	}
	return is_array ? encode_array(w, idx, n, depth) : encode_object(w, idx, depth);
}

/* Encode the value at the absolute index idx; depth counts enclosing tables. */
static int encode_any(je *w, int idx, int depth)
{
	lua_State *L = w->L;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		lt_buf_add(w->b, "null", 4);
		return 0;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			lt_buf_add(w->b, "true", 4);
		else
			lt_buf_add(w->b, "false", 5);
		return 0;
	case LUA_TNUMBER:
		return encode_number(w, idx);
	case LUA_TSTRING:
		return encode_string(w, idx, "invalid UTF-8");
	case LUA_TTABLE:
		return encode_table(w, idx, depth);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == NULL) { /* luatrade.null */
			lt_buf_add(w->b, "null", 4);
			return 0;
		}
		return fail(w, "cannot encode a light userdata as JSON");
	default: {
		char rule[64];
		snprintf(rule, sizeof rule, "cannot encode a %s as JSON", luaL_typename(L, idx));
		return fail(w, rule);
	}
	}
}

/* Encode the value at idx, naming it `root` in error paths; on failure b is truncated back to
 * its length on entry. */
static int encode_root(lua_State *L, int idx, lt_buf *b, const char *root, lt_err *err)
{
	je w = {.L = L, .b = b, .err = err};
	size_t start = b->len;
	int top = lua_gettop(L);
	path_push(&w, root, strlen(root));
	int rc = encode_any(&w, lua_absindex(L, idx), 0);
	lua_settop(L, top);
	if (!rc && b->oom)
		rc = lt_err_set(err, LT_ENOMEM, "%s: out of memory", root);
	if (rc && b->data) {
		b->len = start;
		b->data[b->pre + start] = '\0';
	}
	return rc;
}

int lt_json_encode_value(lua_State *L, int idx, lt_buf *b, lt_err *err)
{
	return encode_root(L, idx, b, "value", err);
}

int lt_generic_encode(lua_State *L, int idx, const char *method, int64_t id, lt_buf *b, lt_err *err)
{
	size_t mlen = method ? strlen(method) : 0;
	if (mlen == 0 || utf8_valid_prefix((const unsigned char *)method, mlen) != mlen)
		return lt_err_set(err, LT_EINVAL, "method: expected a non-empty UTF-8 name");
	int t = lua_type(L, idx);
	bool is_array = false;
	size_t n = 0;
	if (t == LUA_TTABLE)
		n = table_shape(L, lua_absindex(L, idx), &is_array);
	else if (t != LUA_TNIL && t != LUA_TNONE)
		return lt_err_set(err, LT_EINVAL, "params: expected table, got %s",
				  luaL_typename(L, idx));
	if (is_array)
		return lt_err_set(err, LT_EINVAL,
				  "params: expected named parameters (a table with string keys)");
	size_t start = b->len;
	lt_buf_add(b, "{\"jsonrpc\":\"2.0\",\"id\":", 22);
	lt_jw_int(b, id);
	lt_buf_add(b, ",\"method\":", 10);
	lt_jw_string(b, method, mlen);
	int rc = 0;
	if (n > 0) {
		lt_buf_add(b, ",\"params\":", 10);
		rc = encode_root(L, idx, b, "params", err);
	}
	lt_buf_add(b, "}", 1);
	if (!rc && b->oom)
		rc = lt_err_set(err, LT_ENOMEM, "out of memory encoding %s", method);
	if (rc && b->data) {
		b->len = start;
		b->data[b->pre + start] = '\0';
	}
	return rc;
}
