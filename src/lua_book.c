/* lua_book.c — core.book_new: the Lua face of the local order book (lbook.h). A luatrade.Book
 * userdata owns one lt_lbook; apply(msg) reads a decoded book.* notification (the table the
 * subscription handler gets, deribit-api.md §4) straight into the sorted arrays, without a Lua
 * table per level; the queries read the arrays. lua/luatrade/book.lua builds lt.book (the
 * subscription, gap and crossed-book resyncs, callbacks) on top of it.
 *
 *     local bk = core.book_new(10000)          -- levels per side at most
 *     local st, why = bk:apply(msg)            -- "ok" | "gap", why | "crossed" | nil, err
 *     local price, amount = bk:best_bid()      -- nil when the side is empty
 *     for price, amount in bk:levels("asks", 5) do ... end
 *     bk:close()                               -- also __close / __gc; idempotent
 *
 * Errors: a malformed message (not a table, a missing or mistyped change_id, a level that is
 * not [action, price, amount] / [price, amount] with numbers, an unknown action or type)
 * returns nil and a message naming the field (e.g. "bids[3][2] (price): expected a number")
 * and leaves the book unchanged; misuse (a wrong side name, a closed book) raises. No rate
 * limit applies: nothing here does I/O. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbook.h"

#define BOOK_MT "luatrade.Book"
#define MSG_LEVELS_MAX 1000000 /* levels of one side in one message */

typedef struct lt_lua_book {
	lt_lbook b;
	lt_lbook_level *scratch; /* the levels of the message being applied */
	size_t scratch_cap;
	bool open;
	unsigned long long updates;
} lt_lua_book;

static lt_lua_book *check_book(lua_State *L)
{
	lt_lua_book *k = luaL_checkudata(L, 1, BOOK_MT);
	if (!k->open)
		luaL_error(L, "book: the book is closed");
	return k;
}

static int check_side(lua_State *L, int idx)
{
	static const char *const names[] = {"bids", "asks", NULL};
	return luaL_checkoption(L, idx, NULL, names);
}

/* ---- reading a notification -------------------------------------------------------------- */

typedef struct reader {
	lua_State *L;
	const char *side;
	char msg[160];
} reader;

static int fail(reader *r, const char *fmt, lua_Integer i, const char *what)
{
	snprintf(r->msg, sizeof r->msg, fmt, r->side, (long long)i, what);
	return -1;
}

/* The level table on top, element i of its side: fill *out. 0 or -1 (r->msg). Leaves the
 * stack as it was. */
static int read_level(reader *r, lua_Integer i, lt_lbook_level *out)
{
	lua_State *L = r->L;
	if (!lua_istable(L, -1))
		return fail(r, "%s[%lld]: expected a level table%s", i, "");
	lua_Unsigned len = lua_rawlen(L, -1);
	int base = len == 3 ? 1 : 0;
	if (len != 2 && len != 3)
		return fail(r, "%s[%lld]: expected [action, price, amount] or [price, amount]%s", i,
			    "");
	bool del = false;
	if (base) {
		size_t n;
		lua_rawgeti(L, -1, 1);
		const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
		lua_pop(L, 1);
		if (!a ||
		    !((n == 3 && !memcmp(a, "new", 3)) || (n == 6 && !memcmp(a, "change", 6)) ||
		      (del = n == 6 && !memcmp(a, "delete", 6))))
			return fail(r,
				    "%s[%lld][1] (action): expected \"new\", \"change\" or "
				    "\"delete\"%s",
				    i, "");
	}
	lua_rawgeti(L, -1, base + 1);
	lua_rawgeti(L, -2, base + 2);
	int isp = lua_type(L, -2) == LUA_TNUMBER, isa = lua_type(L, -1) == LUA_TNUMBER;
	out->price = lua_tonumber(L, -2);
	out->amount = del ? 0 : lua_tonumber(L, -1);
	lua_pop(L, 2);
	if (!isp)
		return fail(r, "%s[%lld][%s] (price): expected a number", i, base ? "2" : "1");
	if (!isa)
		return fail(r, "%s[%lld][%s] (amount): expected a number", i, base ? "3" : "2");
	return 0;
}

/* msg[name] (at idx) is an array of levels: read it into lv (room checked by the caller). */
static int read_side(reader *r, int idx, lt_lbook_level *lv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(r->L, idx, (lua_Integer)i + 1);
		int rc = read_level(r, (lua_Integer)i + 1, &lv[i]);
		lua_pop(r->L, 1);
		if (rc)
			return -1;
	}
	return 0;
}

/* msg.<name> as an integer into *v; absent (nil or null) gives *present = false. */
static int read_int(reader *r, int msg, const char *name, int64_t *v, bool *present)
{
	lua_State *L = r->L;
	lua_getfield(L, msg, name);
	*present = !lua_isnil(L, -1) && !(lua_islightuserdata(L, -1) && !lua_touserdata(L, -1));
	int ok = lua_isinteger(L, -1);
	*v = ok ? (int64_t)lua_tointeger(L, -1) : 0;
	lua_pop(L, 1);
	if (*present && !ok) {
		snprintf(r->msg, sizeof r->msg, "%s: expected an integer", name);
		return -1;
	}
	return 0;
}

/* Room for n levels in the scratch array. */
static int scratch(lt_lua_book *k, size_t n)
{
	if (n <= k->scratch_cap)
		return 0;
	size_t cap = k->scratch_cap ? k->scratch_cap : 256;
	while (cap < n)
		cap *= 2;
	lt_lbook_level *s = realloc(k->scratch, cap * sizeof *s);
	if (!s)
		return -1;
	k->scratch = s;
	k->scratch_cap = cap;
	return 0;
}

/* Fill u from the message at 2: 1 snapshot, 0 change, -1 error (r->msg). */
static int read_msg(lt_lua_book *k, reader *r, lt_lbook_update *u)
{
	lua_State *L = r->L;
	if (!lua_istable(L, 2))
		return snprintf(r->msg, sizeof r->msg, "message: expected a table, got %s",
				luaL_typename(L, 2)),
		       -1;
	int tt = lua_getfield(L, 2, "type"); /* absent in grouped books: a snapshot */
	const char *type = tt == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	int snap = tt == LUA_TNIL              ? 1
		   : !type                     ? -1
		   : !strcmp(type, "snapshot") ? 1
		   : !strcmp(type, "change")   ? 0
					       : -1;
	lua_pop(L, 1);
	if (snap < 0)
		return snprintf(r->msg, sizeof r->msg, "type: expected \"snapshot\" or \"change\""),
		       -1;
	bool have_id, have_ts;
	if (read_int(r, 2, "change_id", &u->change_id, &have_id) ||
	    read_int(r, 2, "prev_change_id", &u->prev_change_id, &u->has_prev) ||
	    read_int(r, 2, "timestamp", &u->timestamp, &have_ts))
		return -1;
	if (!have_id)
		return snprintf(r->msg, sizeof r->msg, "change_id: missing"), -1;
	if (snap)
		u->has_prev = false;
	else if (!u->has_prev)
		return snprintf(r->msg, sizeof r->msg, "prev_change_id: missing in a change"), -1;
	size_t n[2];
	static const char *const names[2] = {"bids", "asks"};
	for (int s = 0; s < 2; s++) {
		lua_getfield(L, 2, names[s]); /* 3 bids, 4 asks */
		if (!lua_istable(L, -1))
			return snprintf(r->msg, sizeof r->msg, "%s: expected an array of levels",
					names[s]),
			       -1;
		lua_Unsigned len = lua_rawlen(L, -1);
		if (len > MSG_LEVELS_MAX)
			return snprintf(r->msg, sizeof r->msg, "%s: more than %d levels", names[s],
					MSG_LEVELS_MAX),
			       -1;
		n[s] = (size_t)len;
	}
	if (scratch(k, n[0] + n[1]))
		return snprintf(r->msg, sizeof r->msg, "out of memory"), -1;
	for (int s = 0; s < 2; s++) {
		r->side = names[s];
		u->lv[s] = k->scratch + (s ? n[0] : 0);
		u->n[s] = n[s];
		if (read_side(r, 3 + s, k->scratch + (s ? n[0] : 0), n[s]))
			return -1;
	}
	return snap;
}

/* bk:apply(msg) -> "ok" | "gap", why | "crossed" | nil, err. A snapshot (type "snapshot", or
 * no type: a grouped book) replaces the book; a change is applied when its prev_change_id is
 * the book's change_id ("gap" otherwise, nothing applied); "crossed": applied, and the best
 * bid is at or above the best ask. nil, err: malformed, nothing applied. */
static int l_apply(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	lua_settop(L, 2);
	reader r = {L, "", ""};
	lt_lbook_update u;
	memset(&u, 0, sizeof u);
	int snap = read_msg(k, &r, &u);
	lua_settop(L, 2);
	if (snap < 0) {
		lua_pushnil(L);
		lua_pushstring(L, r.msg);
		return 2;
	}
	lt_err err = {0, ""};
	int rc = snap ? lt_lbook_snapshot(&k->b, &u, &err) : lt_lbook_change(&k->b, &u, &err);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err.msg);
		return 2;
	}
	if (rc != LT_LBOOK_GAP)
		k->updates++;
	lua_pushstring(L, rc == LT_LBOOK_GAP ? "gap" : rc == LT_LBOOK_CROSSED ? "crossed" : "ok");
	if (rc != LT_LBOOK_GAP)
		return 1;
	lua_pushstring(L, err.msg);
	return 2;
}

/* ---- queries ----------------------------------------------------------------------------- */

static int push_best(lua_State *L, int side)
{
	lt_lua_book *k = check_book(L);
	double p, a;
	if (!lt_lbook_best(&k->b, side, &p, &a)) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushnumber(L, p);
	lua_pushnumber(L, a);
	return 2;
}

static int l_best_bid(lua_State *L) { return push_best(L, LT_LBOOK_BID); }
static int l_best_ask(lua_State *L) { return push_best(L, LT_LBOOK_ASK); }

/* bk:mid() / bk:spread(): nil unless both sides have a level. */
static int mid_or_spread(lua_State *L, bool mid)
{
	lt_lua_book *k = check_book(L);
	double bp, ba, ap, aa;
	if (!lt_lbook_best(&k->b, LT_LBOOK_BID, &bp, &ba) ||
	    !lt_lbook_best(&k->b, LT_LBOOK_ASK, &ap, &aa))
		lua_pushnil(L);
	else
		lua_pushnumber(L, mid ? (bp + ap) / 2 : ap - bp);
	return 1;
}

static int l_mid(lua_State *L) { return mid_or_spread(L, true); }
static int l_spread(lua_State *L) { return mid_or_spread(L, false); }

/* bk:depth_at(side, price) -> amount at exactly that price (0 when none). */
static int l_depth_at(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	int side = check_side(L, 2);
	lua_pushnumber(L, lt_lbook_depth_at(&k->b, side, luaL_checknumber(L, 3)));
	return 1;
}

static int l_count(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	lua_pushinteger(L, (lua_Integer)lt_lbook_count(&k->b, check_side(L, 2)));
	return 1;
}

/* The iterator of bk:levels: upvalues book, side, next index, limit. */
static int levels_next(lua_State *L)
{
	lt_lua_book *k = lua_touserdata(L, lua_upvalueindex(1));
	int side = (int)lua_tointeger(L, lua_upvalueindex(2));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));
	lua_Integer lim = lua_tointeger(L, lua_upvalueindex(4));
	const lt_lbook_level *l = k->open && i < lim ? lt_lbook_at(&k->b, side, (size_t)i) : NULL;
	if (!l)
		return 0;
	lua_pushinteger(L, i + 1);
	lua_replace(L, lua_upvalueindex(3));
	lua_pushnumber(L, l->price);
	lua_pushnumber(L, l->amount);
	return 2;
}

/* bk:levels(side [, n]) -> iterator of price, amount from the best level, at most n. */
static int l_levels(lua_State *L)
{
	check_book(L);
	int side = check_side(L, 2);
	lua_Integer n = luaL_optinteger(L, 3, LUA_MAXINTEGER);
	luaL_argcheck(L, n >= 0, 3, "n must be >= 0");
	lua_settop(L, 1);
	lua_pushinteger(L, side);
	lua_pushinteger(L, 0);
	lua_pushinteger(L, n);
	lua_pushcclosure(L, levels_next, 4);
	return 1;
}

/* bk:change_id(), bk:timestamp(): of the last applied update; nil before the first snapshot. */
static int l_change_id(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	if (k->b.has_snapshot)
		lua_pushinteger(L, (lua_Integer)k->b.change_id);
	else
		lua_pushnil(L);
	return 1;
}

static int l_timestamp(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	if (k->b.has_snapshot)
		lua_pushinteger(L, (lua_Integer)k->b.timestamp);
	else
		lua_pushnil(L);
	return 1;
}

static int l_has_snapshot(lua_State *L)
{
	lua_pushboolean(L, check_book(L)->b.has_snapshot);
	return 1;
}

static int l_crossed(lua_State *L)
{
	lua_pushboolean(L, lt_lbook_crossed(&check_book(L)->b));
	return 1;
}

static int l_clear(lua_State *L)
{
	lt_lbook_clear(&check_book(L)->b);
	return 0;
}

/* bk:stats() -> {bids, asks, max_levels, truncated, updates}. */
static int l_stats(lua_State *L)
{
	lt_lua_book *k = check_book(L);
	lua_createtable(L, 0, 5);
	lua_Integer v[] = {(lua_Integer)k->b.side[0].n, (lua_Integer)k->b.side[1].n,
			   (lua_Integer)k->b.max_levels, (lua_Integer)k->b.truncated,
			   (lua_Integer)k->updates};
	static const char *const names[] = {"bids", "asks", "max_levels", "truncated", "updates"};
	for (int i = 0; i < 5; i++) {
		lua_pushinteger(L, v[i]);
		lua_setfield(L, -2, names[i]);
	}
	return 1;
}

static int l_close(lua_State *L)
{
	lt_lua_book *k = luaL_checkudata(L, 1, BOOK_MT);
	if (k->open) {
		k->open = false;
		lt_lbook_free(&k->b);
		free(k->scratch);
		k->scratch = NULL;
		k->scratch_cap = 0;
	}
	return 0;
}

static int l_tostring(lua_State *L)
{
	lt_lua_book *k = luaL_checkudata(L, 1, BOOK_MT);
	if (!k->open)
		lua_pushliteral(L, "luatrade.Book(closed)");
	else
		lua_pushfstring(L, "luatrade.Book(%d bids, %d asks, change_id %I)",
				(int)k->b.side[0].n, (int)k->b.side[1].n,
				(lua_Integer)k->b.change_id);
	return 1;
}

/* core.book_new([max_levels]) -> an empty luatrade.Book keeping at most max_levels levels per
 * side (1 .. 1,000,000; default 10,000). Raises for a cap out of range. */
static int l_book_new(lua_State *L)
{
	lua_Integer cap = luaL_optinteger(L, 1, LT_LBOOK_DEFAULT_LEVELS);
	luaL_argcheck(L, cap >= 1 && cap <= LT_LBOOK_MAX_LEVELS, 1,
		      "max_levels must be from 1 to 1000000");
	lt_lua_book *k = lua_newuserdatauv(L, sizeof *k, 0);
	memset(k, 0, sizeof *k);
	luaL_setmetatable(L, BOOK_MT);
	lt_lbook_init(&k->b, (size_t)cap);
	k->open = true;
	return 1;
}

/* Register core.book_new and the luatrade.Book metatable on the module table on top. */
void lt_book_open(lua_State *L)
{
	static const luaL_Reg meths[] = {{"apply", l_apply},
					 {"best_bid", l_best_bid},
					 {"best_ask", l_best_ask},
					 {"mid", l_mid},
					 {"spread", l_spread},
					 {"depth_at", l_depth_at},
					 {"count", l_count},
					 {"levels", l_levels},
					 {"change_id", l_change_id},
					 {"timestamp", l_timestamp},
					 {"has_snapshot", l_has_snapshot},
					 {"crossed", l_crossed},
					 {"clear", l_clear},
					 {"stats", l_stats},
					 {"close", l_close},
					 {NULL, NULL}};
	if (luaL_newmetatable(L, BOOK_MT)) {
		luaL_newlib(L, meths);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, l_book_new);
	lua_setfield(L, -2, "book_new");
}
