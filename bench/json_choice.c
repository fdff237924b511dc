/* json_choice.c — the measurement behind the C-side JSON library choice (README "Why yajl").
 *
 * Decodes the real-shaped ticker notification (tests/fixtures/ws_ticker.json, ~700 bytes) N
 * times each way, into what the runtime needs (a Lua table a handler can read), and prints
 * microseconds per message and the ratio against the first line:
 *   yajl stream -> Lua  : lt_json_decode_envelope, every field a Lua value (one pass, typed)
 *   lazy                : the same with the channel's schema made lazy (lt_lazy_schema: what
 *                         a subscription without `fields` gets): a tape, fields decoded when
 *                         read
 *   yajl tree + walk    : yajl_tree_parse, then push the tree into Lua tables (two passes)
 *   lua-cjson           : cjson.decode from Lua (generic typing: no int/float per field)
 *   yajl stream, no Lua : bench/ticker_fields.h, the C peers' handler work (parse, two fields,
 *                         no Lua values): the floor for any yajl-based decoder
 *   fields: ...         : lt_json_decode_envelope with a projection (subscribe's `fields`:
 *                         lt_fields_schema), 2 and 5 kept keys; each stream line also prints
 *                         the Lua memory one message allocates (garbage per notification)
 * Usage: json_choice FIXTURE [N]
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl_tree.h>

#include "codec.h"
#include "ticker_fields.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- projections (subscribe's `fields`) ---------------------------------------------------- */

/* One way to decode: projection f (NULL: none), or lazy. */
typedef struct cand {
	const char *label;
	const lt_fields *f;
	bool lazy;
} cand;

typedef struct proj_res {
	const cand *c;
	lt_schema proj;
} proj_res;

static const lt_schema *res_proj(void *ud, const char *ch, size_t len)
{
	proj_res *p = ud;
	const lt_schema *s = lt_channel_schema(ch, len);
	if (p->c->lazy)
		p->proj = lt_lazy_schema(s);
	else if (p->c->f)
		p->proj = lt_fields_schema(p->c->f, s);
	else
		return s;
	return &p->proj;
}

/* Lua bytes one decode allocates (GC stopped, mean of 1000) the way c decodes. */
static double garbage_per_msg(lua_State *L, const char *buf, size_t len, const cand *c)
{
	proj_res p = {c, {0}};
	lt_resolver res = {NULL, res_proj, &p};
	lt_envelope env;
	lt_err err;
	lua_gc(L, LUA_GCCOLLECT);
	lua_gc(L, LUA_GCSTOP);
	double b0 = lua_gc(L, LUA_GCCOUNT) * 1024.0 + lua_gc(L, LUA_GCCOUNTB);
	for (int i = 0; i < 1000; i++) {
		if (lt_json_decode_envelope(L, buf, len, &res, &env, &err) == 0)
			lua_pop(L, 1);
	}
	double b1 = lua_gc(L, LUA_GCCOUNT) * 1024.0 + lua_gc(L, LUA_GCCOUNTB);
	lua_gc(L, LUA_GCRESTART);
	lua_gc(L, LUA_GCCOLLECT);
	return (b1 - b0) / 1000.0;
}

/* f from a NULL-terminated list of names. */
static void fields_of(lt_fields *f, const char *const *names)
{
	lt_err err;
	lt_fields_init(f);
	for (; *names; names++)
		if (lt_fields_add(f, *names, strlen(*names), &err))
			fprintf(stderr, "fields: %s\n", err.msg), exit(1);
}

/* Microseconds per message of n envelope decodes the way c decodes, reading best_bid_price and
 * best_ask_price as the handler does. */
static double stream_round(lua_State *L, const char *buf, size_t len, const cand *c, long n)
{
	proj_res p = {c, {0}};
	lt_resolver res = {NULL, res_proj, &p};
	lt_envelope env;
	lt_err err;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (lt_json_decode_envelope(L, buf, len, &res, &env, &err))
			fprintf(stderr, "decode: %s\n", err.msg), exit(1);
		lua_getfield(L, -1, "best_bid_price");
		lua_getfield(L, -2, "best_ask_price");
		lua_pop(L, 3);
	}
	return (now_s() - t0) / (double)n * 1e6;
}

static void push_tree(lua_State *L, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		lua_createtable(L, 0, (int)v->u.object.len);
		for (size_t i = 0; i < v->u.object.len; i++) {
			push_tree(L, v->u.object.values[i]);
			lua_setfield(L, -2, v->u.object.keys[i]);
		}
	} else if (YAJL_IS_ARRAY(v)) {
		lua_createtable(L, (int)v->u.array.len, 0);
		for (size_t i = 0; i < v->u.array.len; i++) {
			push_tree(L, v->u.array.values[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	} else if (YAJL_IS_INTEGER(v))
		lua_pushinteger(L, YAJL_GET_INTEGER(v));
	else if (YAJL_IS_NUMBER(v))
		lua_pushnumber(L, YAJL_GET_DOUBLE(v));
	else if (YAJL_IS_STRING(v))
		lua_pushstring(L, YAJL_GET_STRING(v));
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		lua_pushboolean(L, YAJL_IS_TRUE(v));
	else
		lua_pushlightuserdata(L, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: json_choice FIXTURE [N]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 200000;
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	static char buf[65536];
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = 0;
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	/* the full decode, the lazy one and two projections, interleaved in 5 rounds, best round
	 * each: on a loaded machine the minimum is the figure that compares */
	lt_fields f2, f5;
	fields_of(&f2, (const char *const[]){"best_bid_price", "best_ask_price", NULL});
	fields_of(&f5, (const char *const[]){"best_bid_price", "best_ask_price", "best_bid_amount",
					     "best_ask_amount", "timestamp", NULL});
	const cand cands[] = {{"yajl stream -> Lua", NULL, false},
			      {"lazy", NULL, true},
			      {"fields: 2 keys", &f2, false},
			      {"fields: 5 keys", &f5, false}};
	enum { NC = sizeof cands / sizeof cands[0] };
	double best[NC];
	for (int c = 0; c < NC; c++)
		best[c] = 1e30;
	for (int r = 0; r < 5; r++)
		for (int c = 0; c < NC; c++) {
			double t = stream_round(L, buf, len, &cands[c], n / 5 > 0 ? n / 5 : 1);
			best[c] = t < best[c] ? t : best[c];
		}
	double base = best[0], t0;
	for (int c = 0; c < NC; c++)
		printf("%-22s %7.2f us/msg  ratio %.2f  garbage %5.0f B/msg\n", cands[c].label,
		       best[c], best[c] / base, garbage_per_msg(L, buf, len, &cands[c]));

	char ebuf[128];
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		yajl_val v = yajl_tree_parse(buf, ebuf, sizeof ebuf);
		if (!v)
			return fprintf(stderr, "yajl_tree: %s\n", ebuf), 1;
		push_tree(L, v);
		yajl_tree_free(v);
		lua_pop(L, 1);
	}
	double t = (now_s() - t0) / (double)n * 1e6;
	printf("%-22s %7.2f us/msg  ratio %.2f\n", "yajl tree + walk", t, t / base);

	lua_pushlstring(L, buf, len);
	lua_setglobal(L, "MSG");
	lua_pushinteger(L, n);
	lua_setglobal(L, "N");
	if (luaL_dostring(
		    L, "local ok, cjson = pcall(require, 'cjson'); if not ok then return -1 end "
		       "local d, m = cjson.decode, MSG; local c = os.clock() "
		       "for i = 1, N do local x = d(m); local b = x.params.data.best_bid_price end "
		       "return os.clock() - c")) {
		fprintf(stderr, "%s\n", lua_tostring(L, -1));
		return 1;
	}
	t = lua_tonumber(L, -1) / (double)n * 1e6;
	if (t >= 0)
		printf("%-22s %7.2f us/msg  ratio %.2f\n", "lua-cjson decode", t, t / base);

	t0 = now_s();
	double sum = 0;
	for (long i = 0; i < n; i++) {
		bt_msg m;
		if (bt_parse((const unsigned char *)buf, len, &m))
			return fprintf(stderr, "bt_parse: invalid JSON\n"), 1;
		sum += m.bid;
	}
	t = (now_s() - t0) / (double)n * 1e6;
	if (sum > 0)
		printf("%-22s %7.2f us/msg  ratio %.2f\n", "yajl stream, no Lua", t, t / base);
	lua_close(L);
	return 0;
}
