/* json_retype.c — retyping a value decoded before its schema was known
 * (json_decode_internal.h). An envelope payload that arrives before the id or channel that
 * selects its schema is decoded as ANY; once the parse is over, lt_jretype gives it the types
 * the schema declares, so the outcome does not depend on key order (codec.h).
 */
#include "json_decode_internal.h"
#include "lua_secret.h"

static bool retype_needed(const lt_schema *s)
{
	return s && (s->type == LT_T_INT || s->type == LT_T_FLOAT || s->type == LT_T_SECRET ||
		     (s->type == LT_T_OBJECT && s->fields) || (s->type == LT_T_ARRAY && s->elem));
}

/* Give the value at the top of the stack the types schema s declares, as a direct decode with
 * s would have: INT turns integral floats within int64 into integers, FLOAT turns integers
 * into floats, SECRET turns a non-empty string into a luatrade.Secret, objects and arrays
 * recurse (tables change in place, a scalar is replaced at the top). Values of another type
 * than declared are left alone. */
static void retype(lua_State *L, const lt_schema *s, int depth)
{
	lua_Integer iv;
	if (!retype_needed(s) || depth > LT_JD_MAX_DEPTH || !lua_checkstack(L, 3))
		return;
	int t = lua_type(L, -1);
	if (s->type == LT_T_INT && t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
		if (lt_jnum_integral(lua_tonumber(L, -1), &iv)) {
			lua_pop(L, 1);
			lua_pushinteger(L, iv);
		}
	} else if (s->type == LT_T_SECRET && t == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
		size_t n;
		const char *p = lua_tolstring(L, -1, &n);
		lt_lua_secret_push(L, p, n);
		lua_remove(L, -2);
	} else if (s->type == LT_T_FLOAT && lua_isinteger(L, -1)) {
		iv = lua_tointeger(L, -1);
		lua_pop(L, 1);
		lua_pushnumber(L, (lua_Number)iv);
	} else if (s->type == LT_T_OBJECT && t == LUA_TTABLE) {
		for (const lt_field *f = s->fields; f->name; f++) {
			if (!retype_needed(f->schema))
				continue;
			lua_pushstring(L, f->name);
			lua_pushvalue(L, -1);
			if (lua_rawget(L, -3) == LUA_TNIL) {
				lua_pop(L, 2);
				continue;
			}
			retype(L, f->schema, depth + 1);
			lua_rawset(L, -3);
		}
	} else if (s->type == LT_T_ARRAY && t == LUA_TTABLE) {
		lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, i);
			retype(L, s->elem, depth + 1);
			lua_rawseti(L, -2, i);
		}
	}
}

void lt_jretype(lua_State *L, const lt_schema *s)
{
	retype(L, s, 0);
}
