/* params.c — lt_method_encode (codec.h): validates a Lua parameter table against a method's
 * declared lt_param list and writes the JSON-RPC request text (deribit-api.md §1 "Request":
 * named params only, "params" omitted when empty, optional params left out rather than null).
 *
 * Bounds (lt_param.min / max): when both are 0 there is no bound (an LT_P_STRING must then be
 * non-empty); otherwise min is a lower bound and max an upper bound when max > min (so
 * {min = 10} alone means ">= 10"). An LT_P_INT with enums lists its allowed values as decimal
 * text ({"1", "5", ...}). The method's cross-field check runs after the per-field checks, and
 * only when a table was given. On error the buffer is truncated back to its length on entry
 * and the message names the parameter and the rule.
 * Nothing here raises (raw table access, no metamethods, no number-to-string conversion).
 */
#include "codec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool has_bounds(const lt_param *p) { return p->min != 0 || p->max != 0; }
static bool has_max(const lt_param *p) { return has_bounds(p) && p->max > p->min; }

static const char *num_text(char buf[32], double v)
{
	lt_fmt_double(buf, v);
	return buf;
}

/* lt_json_encode_value names the encoded value "value" in its messages; say `name` instead. */
static int rename_err(lt_err *err, int rc, const char *name)
{
	if (err && strncmp(err->msg, "value", 5) == 0) {
		char tmp[sizeof err->msg];
		snprintf(tmp, sizeof tmp, "%s%s", name, err->msg + 5);
		memcpy(err->msg, tmp, sizeof tmp);
	}
	return rc;
}

static int type_err(lua_State *L, int vi, const char *name, const char *want, lt_err *err)
{
	return lt_err_set(err, LT_EINVAL, "%s: expected %s, got %s", name, want,
			  luaL_typename(L, vi));
}

/* "must be one of a, b, c" from a NULL-terminated list. */
static int enum_err(const char *name, const char *const *enums, lt_err *err)
{
	char list[200];
	size_t n = 0;
	list[0] = '\0';
	for (const char *const *e = enums; *e && n < sizeof list; e++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", e == enums ? "" : ", ",
				      *e);
	return lt_err_set(err, LT_EINVAL, "%s: must be one of %s", name, list);
}

static bool in_enums(const char *s, size_t n, const char *const *enums)
{
	for (const char *const *e = enums; *e; e++)
		if (strlen(*e) == n && memcmp(*e, s, n) == 0)
			return true;
	return false;
}

/* A string value at vi: UTF-8 checked and written by lt_json_encode_value; length in
 * characters bounded by p (none given: non-empty). */
static int put_string(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	if (lua_type(L, vi) != LUA_TSTRING)
		return type_err(L, vi, p->name, "string", err);
	size_t n, chars = 0;
	const unsigned char *s = (const unsigned char *)lua_tolstring(L, vi, &n);
	int rc = lt_json_encode_value(L, vi, b, err);
	if (rc)
		return rename_err(err, rc, p->name);
	for (size_t i = 0; i < n; i++)
		chars += (s[i] & 0xC0) != 0x80; /* valid UTF-8: count lead bytes */
	char t[32];
	if (!has_bounds(p) && n == 0)
		return lt_err_set(err, LT_EINVAL, "%s: must not be empty", p->name);
	if (has_bounds(p) && (double)chars < p->min)
		return lt_err_set(err, LT_EINVAL, "%s: at least %s characters", p->name,
				  num_text(t, p->min));
	if (has_max(p) && (double)chars > p->max)
		return lt_err_set(err, LT_EINVAL, "%s: at most %s characters", p->name,
				  num_text(t, p->max));
	return 0;
}

static int put_enum(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	if (lua_type(L, vi) != LUA_TSTRING)
		return type_err(L, vi, p->name, "string", err);
	size_t n;
	const char *s = lua_tolstring(L, vi, &n);
	if (!p->enums || !in_enums(s, n, p->enums))
		return enum_err(p->name, p->enums, err);
	lt_jw_string(b, s, n);
	return 0;
}

/* Range and sign checks shared by LT_P_INT and LT_P_NUMBER. */
static int check_range(const lt_param *p, double v, lt_err *err)
{
	char t[32];
	if ((p->flags & LT_PF_POSITIVE) && !(v > 0))
		return lt_err_set(err, LT_EINVAL, "%s: must be > 0", p->name);
	if (has_bounds(p) && v < p->min)
		return lt_err_set(err, LT_EINVAL, "%s: must be >= %s", p->name,
				  num_text(t, p->min));
	if (has_max(p) && v > p->max)
		return lt_err_set(err, LT_EINVAL, "%s: must be <= %s", p->name,
				  num_text(t, p->max));
	return 0;
}

static int put_int(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	if (lua_type(L, vi) != LUA_TNUMBER)
		return type_err(L, vi, p->name, "integer", err);
	int64_t v;
	if (lua_isinteger(L, vi)) {
		v = (int64_t)lua_tointeger(L, vi);
	} else {
		double d = (double)lua_tonumber(L, vi);
		char t[32];
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
			return lt_err_set(err, LT_EINVAL, "%s: expected integer, got %s", p->name,
					  num_text(t, d));
		v = (int64_t)d;
	}
	int rc = check_range(p, (double)v, err);
	if (rc)
		return rc;
	if (p->enums) {
		char t[24];
		int n = snprintf(t, sizeof t, "%lld", (long long)v);
		if (!in_enums(t, (size_t)n, p->enums))
			return enum_err(p->name, p->enums, err);
	}
	lt_jw_int(b, v);
	return 0;
}

static int put_number(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	if (lua_type(L, vi) != LUA_TNUMBER)
		return type_err(L, vi, p->name, "number", err);
	bool isint = lua_isinteger(L, vi);
	double d = isint ? (double)lua_tointeger(L, vi) : (double)lua_tonumber(L, vi);
	if (!isfinite(d))
		return lt_err_set(err, LT_EINVAL, "%s: must be a finite number", p->name);
	int rc = check_range(p, d, err);
	if (rc)
		return rc;
	if (isint)
		lt_jw_int(b, (int64_t)lua_tointeger(L, vi));
	else
		lt_jw_double(b, d);
	return 0;
}

/* Number of elements when the table at vi is a sequence 1..n (0 for {}), or -1. */
static lua_Integer seq_len(lua_State *L, int vi)
{
	lua_Integer count = 0, max = 0;
	bool ok = true;
	lua_pushnil(L);
	while (lua_next(L, vi)) {
		count++;
		if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1)
			ok = false;
		else if (lua_tointeger(L, -2) > max)
			max = lua_tointeger(L, -2);
		lua_pop(L, 1);
	}
	return ok && max == count ? count : -1;
}

static int put_string_array(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	lua_Integer n = lua_type(L, vi) == LUA_TTABLE ? seq_len(L, vi) : -1;
	if (n < 0)
		return type_err(L, vi, p->name, "array of strings", err);
	char t[32];
	if (has_bounds(p) && (double)n < p->min)
		return lt_err_set(err, LT_EINVAL, "%s: at least %s %s", p->name,
				  num_text(t, p->min), p->min == 1 ? "entry" : "entries");
	if (has_max(p) && (double)n > p->max)
		return lt_err_set(err, LT_EINVAL, "%s: at most %s entries", p->name,
				  num_text(t, p->max));
	lt_buf_add(b, "[", 1);
	for (lua_Integer i = 1; i <= n; i++) {
		int rc = 0;
		if (i > 1)
			lt_buf_add(b, ",", 1);
		int ty = lua_rawgeti(L, vi, i);
		if (ty != LUA_TSTRING)
			rc = lt_err_set(err, LT_EINVAL, "%s[%lld]: expected string, got %s",
					p->name, (long long)i, lua_typename(L, ty));
		else if (lua_rawlen(L, -1) == 0)
			rc = lt_err_set(err, LT_EINVAL, "%s[%lld]: must not be empty", p->name,
					(long long)i);
		else if ((rc = lt_json_encode_value(L, -1, b, err)) != 0)
			lt_err_set(err, rc, "%s[%lld]: invalid UTF-8", p->name, (long long)i);
		lua_pop(L, 1);
		if (rc)
			return rc;
	}
	lt_buf_add(b, "]", 1);
	return 0;
}

static int put_value(lua_State *L, int vi, const lt_param *p, lt_buf *b, lt_err *err)
{
	switch (p->type) {
	case LT_P_STRING:
		return put_string(L, vi, p, b, err);
	case LT_P_ENUM:
		return put_enum(L, vi, p, b, err);
	case LT_P_INT:
		return put_int(L, vi, p, b, err);
	case LT_P_NUMBER:
		return put_number(L, vi, p, b, err);
	case LT_P_BOOL:
		if (lua_type(L, vi) != LUA_TBOOLEAN)
			return type_err(L, vi, p->name, "boolean", err);
		lt_buf_add(b, lua_toboolean(L, vi) ? "true" : "false",
			   lua_toboolean(L, vi) ? 4 : 5);
		return 0;
	case LT_P_STRING_ARRAY:
		return put_string_array(L, vi, p, b, err);
	case LT_P_ANY:
		return rename_err(err, lt_json_encode_value(L, vi, b, err), p->name);
	}
	return lt_err_set(err, LT_EINVAL, "%s: bad parameter declaration", p->name);
}

/* Reject keys of the table at ti that m does not declare. */
static int check_unknown(lua_State *L, int ti, const lt_method *m, lt_err *err)
{
	lua_pushnil(L);
	while (lua_next(L, ti)) {
		bool known = false;
		if (lua_type(L, -2) == LUA_TSTRING) {
			size_t n;
			const char *k = lua_tolstring(L, -2, &n);
			for (const lt_param *p = m->params; p && p->name && !known; p++)
				known = strlen(p->name) == n && memcmp(p->name, k, n) == 0;
			if (!known) {
				lt_err_set(err, LT_EINVAL, "unknown parameter '%.64s' for %s", k,
					   m->name);
			}
		} else if (lua_isinteger(L, -2)) {
			lt_err_set(err, LT_EINVAL,
				   "unknown parameter [%lld] for %s (parameters are named)",
				   (long long)lua_tointeger(L, -2), m->name);
		} else {
			lt_err_set(err, LT_EINVAL, "unknown parameter of type %s for %s",
				   luaL_typename(L, -2), m->name);
		}
		lua_pop(L, 1);
		if (!known) {
			lua_pop(L, 1);
			return LT_EINVAL;
		}
	}
	return 0;
}

/* Write every declared parameter present in the table at ti (ti = 0: none given). */
static int put_params(lua_State *L, int ti, const lt_method *m, lt_buf *b, lt_err *err)
{
	bool any = false;
	for (const lt_param *p = m->params; p && p->name; p++) {
		int ty = LUA_TNIL;
		if (ti) {
			lua_pushstring(L, p->name);
			ty = lua_rawget(L, ti);
		}
		int rc = 0;
		if (ty == LUA_TNIL) {
			if (p->flags & LT_PF_REQUIRED)
				rc = lt_err_set(err, LT_EINVAL, "%s: required", p->name);
		} else {
			lt_buf_add(b, any ? "," : ",\"params\":{", any ? 1 : 11);
			any = true;
			lt_jw_string(b, p->name, strlen(p->name));
			lt_buf_add(b, ":", 1);
			rc = put_value(L, lua_gettop(L), p, b, err);
		}
		if (ti)
			lua_pop(L, 1);
		if (rc)
			return rc;
	}
	if (any)
		lt_buf_add(b, "}", 1);
	return 0;
}

int lt_method_encode(lua_State *L, int idx, const lt_method *m, int64_t id, lt_buf *b, lt_err *err)
{
	int t = lua_type(L, idx), ti = 0, rc = 0;
	if (t == LUA_TTABLE)
		ti = lua_absindex(L, idx);
	else if (t != LUA_TNIL && t != LUA_TNONE)
		return lt_err_set(err, LT_EINVAL, "%s: parameters must be a table, got %s", m->name,
				  luaL_typename(L, idx));
	if (!lua_checkstack(L, 6))
		return lt_err_set(err, LT_ENOMEM, "%s: Lua stack exhausted", m->name);
	if (ti && (rc = check_unknown(L, ti, m, err)) != 0)
		return rc;
	size_t start = b->len;
	lt_buf_add(b, "{\"jsonrpc\":\"2.0\",\"id\":", 22);
	lt_jw_int(b, id);
	lt_buf_add(b, ",\"method\":", 10);
	lt_jw_string(b, m->name, strlen(m->name));
	rc = put_params(L, ti, m, b, err);
	if (!rc && ti && m->check)
		rc = m->check(L, ti, err);
	lt_buf_add(b, "}", 1);
	if (!rc && b->oom)
		rc = lt_err_set(err, LT_ENOMEM, "out of memory encoding %s", m->name);
	if (rc && b->data) {
		b->len = start;
		b->data[b->pre + start] = '\0';
	}
	return rc;
}
