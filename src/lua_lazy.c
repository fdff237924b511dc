/* lua_lazy.c — what Lua sees of a lazy object (json_lazy.h): a table whose fields are read
 * from its tape, written, iterated with pairs and measured with # as on the table of the full
 * decode; and lt.plain.
 *
 * The object holds its tape userdata under a private key. Reads of the tape's keys look in
 * the overlay first (the tape's user value: writes, tombstones for fields set to nil, nested
 * containers decoded on their first read), then in the tape. pairs gives the tape's keys in
 * the venue's order, then the keys the strategy stored in the table itself.
 */
#include <lauxlib.h>

#include "json_decode_internal.h"
#include "json_lazy.h"

static const char mt_key = 'z';   /* registry key of the metatable: its address */
static const char tape_key = 'k'; /* the object's key of its tape: its address */
static const char tomb_key = 't'; /* the tombstone: a light userdata of its address */
#define TOMB ((void *)&tomb_key)

/* The tape of the table at idx if its metatable is the value at mt (an absolute or pseudo
 * index), else NULL. */
static lt_lazy *tape_of(lua_State *L, int idx, int mt)
{
	if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
		return NULL;
	bool ours = lua_rawequal(L, -1, mt);
	lua_pop(L, 1);
	if (!ours)
		return NULL;
	lt_lazy *z = lua_rawgetp(L, idx, &tape_key) == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
	lua_pop(L, 1);
	return z;
}

/* Contract in json_lazy.h. */
lt_lazy *lt_lazy_test(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &mt_key);
	lt_lazy *z = tape_of(L, idx, lua_gettop(L));
	lua_pop(L, 1);
	return z;
}

/* The tape of the object at 1, in a metamethod (whose upvalue 1 is the metatable). Raises
 * when 1 is not a lazy object (a metamethod called by hand, or a tape key overwritten through
 * next and rawset). */
static lt_lazy *check(lua_State *L)
{
	lt_lazy *z = tape_of(L, 1, lua_upvalueindex(1));
	if (!z)
		luaL_typeerror(L, 1, LT_LAZY_MT);
	return z;
}

/* Push the overlay of the object at 1 (its tape's user value); with create, make it if there
 * is none. True when a table was pushed (else nil was). */
static bool push_overlay(lua_State *L, bool create)
{
	lua_rawgetp(L, 1, &tape_key);
	bool has = lua_getiuservalue(L, -1, 1) == LUA_TTABLE;
	if (!has && create) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, -3, 1);
		has = true;
	}
	lua_remove(L, -2);
	return has;
}

/* Push entry i's value (the object at 1, its key at key_idx). Numbers are typed by the field's
 * schema; a nested container is decoded in full and kept in the overlay, so later reads give
 * the same table. Raises only on a memory error. */
static void push_value(lua_State *L, lt_lazy *z, uint32_t i, int key_idx)
{
	const lt_lazy_ent *e = &z->ent[i];
	size_t vlen;
	const char *t = lt_lazy_value(z, i, &vlen);
	const lt_schema *s = lt_lazy_field_schema(z, i);
	lt_err err;
	switch (lt_lazy_ent_kind(e)) {
	case LZ_NULL:
		lua_pushlightuserdata(L, NULL);
		return;
	case LZ_TRUE:
	case LZ_FALSE:
		lua_pushboolean(L, lt_lazy_ent_kind(e) == LZ_TRUE);
		return;
	case LZ_NUM:
		s = lt_jd_typed(s);
		if (!lt_jnum_push(L, t, vlen, s ? s->type : LT_T_ANY))
			lua_pushnil(L); /* cannot happen: the parse read it as a number */
		return;
	case LZ_STR:
		lua_pushlstring(L, t, vlen);
		return;
	default: /* LZ_OBJ, LZ_ARR (LZ_DEAD is never found) */
		if (lt_json_decode(L, t, vlen, s, &err))
			luaL_error(L, LT_LAZY_MT ": %s", err.msg);
		push_overlay(L, true);
		lua_pushvalue(L, key_idx);
		lua_pushvalue(L, -3);
		lua_rawset(L, -3);
		lua_pop(L, 1);
	}
}

/* The tape entry of the key at idx, or -1 (a key that is not a string is never in it). */
static int tape_entry(lua_State *L, lt_lazy *z, int idx)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		return -1;
	size_t len;
	const char *k = lua_tolstring(L, idx, &len);
	return lt_lazy_find(z, k, len);
}

/* __index(o, k), for a key o does not hold itself. */
static int lz_index(lua_State *L)
{
	lt_lazy *z = check(L);
	int i = tape_entry(L, z, 2);
	if (i < 0) {
		lua_pushnil(L);
		return 1;
	}
	if (push_overlay(L, false)) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, -2) != LUA_TNIL) {
			if (lua_touserdata(L, -1) == TOMB)
				lua_pushnil(L);
			return 1;
		}
	}
	push_value(L, z, (uint32_t)i, 2);
	return 1;
}

/* __newindex(o, k, v), for a key o does not hold itself: a tape key's value goes to the
 * overlay (nil leaves a tombstone there); any other key is stored in o, as in a table (raises
 * for a nil or NaN key, as a table does). */
static int lz_newindex(lua_State *L)
{
	lt_lazy *z = check(L);
	lua_settop(L, 3);
	if (tape_entry(L, z, 2) < 0) {
		lua_rawset(L, 1);
		return 0;
	}
	push_overlay(L, true);
	lua_pushvalue(L, 2);
	if (lua_isnil(L, 3))
		lua_pushlightuserdata(L, TOMB);
	else
		lua_pushvalue(L, 3);
	lua_rawset(L, -3);
	return 0;
}

/* The iterator pairs(o) returns: next(o, k). The tape's keys in order (each read as lz_index
 * reads it), then the keys o holds itself (not its tape's). */
static int lz_next(lua_State *L)
{
	lt_lazy *z = check(L);
	lua_settop(L, 2);
	bool overlay = push_overlay(L, false); /* at 3 */
	int at = lua_isnil(L, 2) ? -1 : tape_entry(L, z, 2);
	if (lua_isnil(L, 2) || at >= 0) {
		for (uint32_t i = (uint32_t)(at + 1); i < z->n; i++) {
			if (lt_lazy_ent_kind(&z->ent[i]) == LZ_DEAD)
				continue;
			size_t len;
			const char *k = lt_lazy_key(z, i, &len);
			lua_pushlstring(L, k, len); /* at 4 */
			z->hint = i;                /* the next call finds this key at once */
			if (overlay) {
				lua_pushvalue(L, 4);
				if (lua_rawget(L, 3) != LUA_TNIL) {
					if (lua_touserdata(L, -1) != TOMB)
						return 2;
					lua_settop(L, 3);
					continue;
				}
				lua_pop(L, 1);
			}
			push_value(L, z, i, 4);
			return 2;
		}
		lua_pushnil(L);
	} else {
		lua_pushvalue(L, 2);
	}
	while (lua_next(L, 1)) {
		if (lua_touserdata(L, -2) != &tape_key)
			return 2;
		lua_pop(L, 1);
	}
	return 0;
}

/* __pairs(o). */
static int lz_pairs(lua_State *L)
{
	check(L);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushcclosure(L, lz_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* Contract in json_lazy.h. */
void lt_lazy_attach(lua_State *L)
{
	static const luaL_Reg mt[] = {{"__index", lz_index},
				      {"__newindex", lz_newindex},
				      {"__pairs", lz_pairs},
				      {NULL, NULL}};
	lua_rawsetp(L, -2, &tape_key);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &mt_key) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_createtable(L, 0, 4);
		lua_pushvalue(L, -1);
		luaL_setfuncs(L, mt, 1); /* each metamethod holds the metatable (check) */
		lua_pushliteral(L, LT_LAZY_MT);
		lua_setfield(L, -2, "__name");
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &mt_key);
	}
	lua_setmetatable(L, -2);
}

#define PLAIN_DEPTH 64

/* The value at idx as plain tables: a lazy object becomes a table of its pairs, and so does
 * every lazy object its fields hold; anything else is pushed as it is. */
static void push_plain(lua_State *L, int idx, int depth)
{
	if (!lt_lazy_test(L, idx)) {
		lua_pushvalue(L, idx);
		return;
	}
	if (depth > PLAIN_DEPTH)
		luaL_error(L, "lt.plain: lazy objects nested deeper than %d (a cycle?)",
			   PLAIN_DEPTH);
	luaL_checkstack(L, 8, "lt.plain");
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	int t = lua_gettop(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &mt_key); /* lz_next's upvalue, as in lz_pairs */
	lua_pushcclosure(L, lz_next, 1);
	lua_pushnil(L); /* t, next, k */
	for (;;) {
		lua_pushvalue(L, t + 1);
		lua_pushvalue(L, idx);
		lua_pushvalue(L, -3);
		lua_call(L, 2, 2); /* t, next, k, k2, v */
		if (lua_isnil(L, -2)) {
			lua_settop(L, t);
			return;
		}
		lua_remove(L, t + 2); /* t, next, k2, v */
		push_plain(L, -1, depth + 1);
		lua_remove(L, -2);
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, t); /* t, next, k2 */
	}
}

/* lt.plain(v): v as plain Lua tables (for cjson.encode, table.sort, next, rawget). A lazy
 * object (a subscription's message) becomes a table with the same pairs, and so does every
 * lazy object among its fields; any other value is returned as it is. Raises for lazy objects
 * nested deeper than 64 (a cycle made by the strategy). No rate limit applies. Example:
 * `local t = lt.plain(msg); print(cjson.encode(t))`. */
int lt_lua_plain(lua_State *L)
{
	luaL_checkany(L, 1);
	push_plain(L, 1, 0);
	return 1;
}
