/* book_bench.c — the cost of keeping a local order book (lt.book; src/lbook.c, src/lua_book.c),
 * against a peer measured in the same run: the same book kept the way a strategy does it by
 * hand in plain Lua (strategies/book_watch.lua before lt.book: a table per side keyed by
 * price, the best price found by a scan).
 *
 * The book holds DEPTH levels a side (default 1,000); each change has 10 level updates (5 a
 * side) near the top of the book (within the best 40 ticks; one in five a delete), chained by
 * prev_change_id. Printed, as the median of 5 runs:
 *   change, C core           lt_lbook_change alone (ns per change)
 *   change, lt.book apply    bk:apply(msg) from Lua, msg the decoded notification table
 *   change, decode + apply   lt_json_decode_envelope of the notification text, then apply:
 *                            the whole path of one book notification in the runtime
 *   change + best bid/ask    apply, then best_bid() and best_ask() from Lua
 *   peer: Lua tables         the same changes into price-keyed tables; + best: scans
 *   snapshot, C core / lt.book apply / decode + apply / peer: Lua tables   (µs per snapshot
 *                            of DEPTH levels a side)
 * and the ratios peer / lt.book. Targets (issue 9): a 10-level change under 2 µs, a 1,000-level
 * snapshot under 200 µs; the apply lines are what they refer to.
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that time the process spends
 * waiting for a core on a loaded machine does not count; cache effects of other processes do.
 * Usage: book_bench [N_CHANGES [DEPTH]] (defaults 100000, 1000; N_CHANGES / 1000 snapshots and
 * N_CHANGES / 100 peer scans per run). Exit status 1 when a target is missed.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "lbook.h"

void lt_book_open(lua_State *L);

#define K 4096 /* distinct changes, applied in a cycle (their ids chain around it) */
#define PER 5  /* level updates per side per change */
#define RUNS 5

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID,
		      &ts); /* CPU time: a loaded machine's waits do not count */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static lt_lbook_level chg[K][2][PER];
static lt_lbook_level *snap[2];
static char *texts[K];
static size_t text_len[K];
static char *snap_text;
static size_t snap_text_len;

static double price_of(int side, size_t tick)
{
	return side ? 50000.5 + 0.5 * (double)tick : 50000.0 - 0.5 * (double)tick;
}

/* ids: the snapshot has change_id K; change i (0-based) has i + 1 and prev i (K for i = 0). */
static int64_t prev_of(int i) { return i == 0 ? K : i; }

static void add_levels(lt_buf *b, const lt_lbook_level *lv, size_t n, bool change)
{
	lt_buf_add(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			lt_buf_add(b, ",", 1);
		lt_buf_add(b, "[", 1);
		if (change)
			lt_jw_string(b, lv[i].amount > 0 ? "change" : "delete",
				     lv[i].amount > 0 ? 6 : 6);
		else
			lt_jw_string(b, "new", 3);
		lt_buf_add(b, ",", 1);
		lt_jw_double(b, lv[i].price);
		lt_buf_add(b, ",", 1);
		lt_jw_double(b, lv[i].amount);
		lt_buf_add(b, "]", 1);
	}
	lt_buf_add(b, "]", 1);
}

static char *render(const lt_lbook_level *const lv[2], const size_t n[2], bool change, int64_t id,
		    int64_t prev, size_t *len)
{
	lt_buf b;
	lt_buf_init(&b, 0);
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{"
				   "\"channel\":\"book.BTC-PERPETUAL.100ms\",\"data\":{\"type\":";
	lt_buf_add(&b, head, sizeof head - 1);
	lt_jw_string(&b, change ? "change" : "snapshot", change ? 6 : 8);
	static const char ins[] =
		",\"instrument_name\":\"BTC-PERPETUAL\",\"timestamp\":1700000000000,"
		"\"change_id\":";
	lt_buf_add(&b, ins, sizeof ins - 1);
	lt_jw_int(&b, id);
	if (change) {
		lt_buf_add(&b, ",\"prev_change_id\":", 18);
		lt_jw_int(&b, prev);
	}
	lt_buf_add(&b, ",\"bids\":", 8);
	add_levels(&b, lv[0], n[0], change);
	lt_buf_add(&b, ",\"asks\":", 8);
	add_levels(&b, lv[1], n[1], change);
	lt_buf_add(&b, "}}}", 3);
	*len = b.len;
	char *s = malloc(b.len + 1);
	memcpy(s, lt_buf_text(&b), b.len);
	s[b.len] = '\0';
	lt_buf_free(&b);
	return s;
}

static void generate(size_t depth)
{
	for (int side = 0; side < 2; side++) {
		snap[side] = malloc(depth * sizeof *snap[side]);
		for (size_t i = 0; i < depth; i++)
			snap[side][i] = (lt_lbook_level){price_of(side, i),
							 (double)(rnd() % 1000 + 1) * 10};
	}
	const lt_lbook_level *sl[2] = {snap[0], snap[1]};
	size_t sn[2] = {depth, depth};
	snap_text = render(sl, sn, false, K, 0, &snap_text_len);
	for (int i = 0; i < K; i++) {
		for (int side = 0; side < 2; side++)
			for (int j = 0; j < PER; j++) {
				double a = rnd() % 5 == 0 ? 0 : (double)(rnd() % 1000 + 1) * 10;
				chg[i][side][j] = (lt_lbook_level){price_of(side, rnd() % 40), a};
			}
		const lt_lbook_level *cl[2] = {chg[i][0], chg[i][1]};
		size_t cn[2] = {PER, PER};
		texts[i] = render(cl, cn, true, i + 1, prev_of(i), &text_len[i]);
	}
}

/* ---- C core --------------------------------------------------------------------------- */

static lt_lbook_update change_update(int i)
{
	lt_lbook_update u = {{chg[i][0], chg[i][1]}, {PER, PER}, i + 1, prev_of(i), true, 0};
	return u;
}

static void c_snapshot(lt_lbook *b, size_t depth)
{
	lt_lbook_update u = {{snap[0], snap[1]}, {depth, depth}, K, 0, false, 0};
	lt_err err;
	if (lt_lbook_snapshot(b, &u, &err) < 0) {
		fprintf(stderr, "snapshot: %s\n", err.msg);
		exit(2);
	}
}

static double c_change_ns(long n, size_t depth)
{
	lt_lbook b;
	lt_lbook_init(&b, 0);
	c_snapshot(&b, depth);
	lt_err err;
	double t0 = now_s();
	for (long k = 0; k < n; k++) {
		lt_lbook_update u = change_update((int)(k % K));
		if (lt_lbook_change(&b, &u, &err) != 0) {
			fprintf(stderr, "change %ld: %d %s\n", k, lt_lbook_change(&b, &u, &err),
				err.msg);
			exit(2);
		}
	}
	double dt = now_s() - t0;
	lt_lbook_free(&b);
	return dt / (double)n * 1e9;
}

static double c_snapshot_us(long n, size_t depth)
{
	lt_lbook b;
	lt_lbook_init(&b, 0);
	double t0 = now_s();
	for (long k = 0; k < n; k++)
		c_snapshot(&b, depth);
	double dt = now_s() - t0;
	lt_lbook_free(&b);
	return dt / (double)n * 1e6;
}

/* ---- Lua: lt.book's binding and the plain-Lua peer -------------------------------------- */

static const char lua_side[] =
	"local M = {}\n"
	"function M.lua_apply(book, msg)\n" /* the peer: price-keyed tables */
	"  if msg.type == 'snapshot' then book.bids, book.asks = {}, {} end\n"
	"  local bids, asks = book.bids, book.asks\n"
	"  for _, l in ipairs(msg.bids) do\n"
	"    if l[1] == 'delete' or l[3] == 0 then bids[l[2]] = nil else bids[l[2]] = l[3] end "
	"end\n"
	"  for _, l in ipairs(msg.asks) do\n"
	"    if l[1] == 'delete' or l[3] == 0 then asks[l[2]] = nil else asks[l[2]] = l[3] end "
	"end\n"
	"  book.change_id = msg.change_id\n"
	"end\n"
	"function M.lua_best(book)\n"
	"  local b, a\n"
	"  for p in pairs(book.bids) do if b == nil or p > b then b = p end end\n"
	"  for p in pairs(book.asks) do if a == nil or p < a then a = p end end\n"
	"  return b, a\n"
	"end\n"
	/* run(kind, msgs, n, snapshot): seconds for n applications; kind picks what is timed */
	"function M.run(kind, msgs, n, snap, clock)\n"
	"  local K = #msgs\n"
	"  if kind == 'c' or kind == 'c_best' then\n"
	"    local bk = core.book_new()\n"
	"    assert(bk:apply(snap) == 'ok')\n"
	"    local best = kind == 'c_best'\n"
	"    local t0 = clock()\n"
	"    for k = 0, n - 1 do\n"
	"      local st = bk:apply(msgs[k % K + 1])\n"
	"      if best then local b, a = bk:best_bid(), bk:best_ask() end\n"
	"    end\n"
	"    local dt = clock() - t0\n"
	"    assert(bk:apply(msgs[n % K + 1]) == 'ok')\n"
	"    return dt\n"
	"  elseif kind == 'lua' or kind == 'lua_best' then\n"
	"    local book, apply, bestf = {}, M.lua_apply, M.lua_best\n"
	"    apply(book, snap)\n"
	"    local best = kind == 'lua_best'\n"
	"    local t0 = clock()\n"
	"    for k = 0, n - 1 do\n"
	"      apply(book, msgs[k % K + 1])\n"
	"      if best then local b, a = bestf(book) end\n"
	"    end\n"
	"    return clock() - t0\n"
	"  elseif kind == 'c_snap' then\n"
	"    local bk = core.book_new()\n"
	"    local t0 = clock()\n"
	"    for _ = 1, n do bk:apply(snap) end\n"
	"    return clock() - t0\n"
	"  elseif kind == 'lua_snap' then\n"
	"    local book, apply = {}, M.lua_apply\n"
	"    local t0 = clock()\n"
	"    for _ = 1, n do apply(book, snap) end\n"
	"    return clock() - t0\n"
	"  end\n"
	"end\n"
	"return M\n";

static int l_clock(lua_State *L)
{
	lua_pushnumber(L, now_s());
	return 1;
}

static const lt_schema *res_data(void *ud, const char *ch, size_t len)
{
	(void)ud;
	return lt_channel_schema(ch, len);
}

static const lt_schema *res_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

static int decode(lua_State *L, const char *text, size_t len)
{
	lt_resolver res = {res_result, res_data, NULL};
	lt_envelope env;
	lt_err err;
	if (lt_json_decode_envelope(L, text, len, &res, &env, &err)) {
		fprintf(stderr, "decode: %s\n", err.msg);
		exit(2);
	}
	return 0;
}

/* Time one Lua kind: M.run(kind, msgs, n, snap, clock) -> seconds. */
static double lua_run(lua_State *L, const char *kind, long n)
{
	lua_getfield(L, 1, "run");
	lua_pushstring(L, kind);
	lua_pushvalue(L, 2);
	lua_pushinteger(L, n);
	lua_pushvalue(L, 3);
	lua_pushcfunction(L, l_clock);
	if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
		fprintf(stderr, "%s: %s\n", kind, lua_tostring(L, -1));
		exit(2);
	}
	double s = lua_tonumber(L, -1);
	lua_pop(L, 1);
	return s;
}

/* Decode each notification text and apply it with bk:apply (the runtime's path). */
static double decode_apply(lua_State *L, long n, bool snapshot)
{
	if (luaL_dostring(L, "return core.book_new()")) {
		fprintf(stderr, "book_new: %s\n", lua_tostring(L, -1));
		exit(2);
	}
	int bk = lua_gettop(L);
	if (!snapshot) { /* start from the snapshot */
		decode(L, snap_text, snap_text_len);
		lua_getfield(L, bk, "apply");
		lua_insert(L, -2);
		lua_pushvalue(L, bk);
		lua_insert(L, -2);
		lua_pcall(L, 2, 0, 0);
	}
	lua_getfield(L, bk, "apply");
	int apply = lua_gettop(L);
	double t0 = now_s();
	for (long k = 0; k < n; k++) {
		lua_pushvalue(L, apply);
		lua_pushvalue(L, bk);
		if (snapshot)
			decode(L, snap_text, snap_text_len);
		else
			decode(L, texts[k % K], text_len[k % K]);
		if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
			fprintf(stderr, "decode+apply: %s\n", lua_tostring(L, -1));
			exit(2);
		}
		lua_pop(L, 1);
	}
	double dt = now_s() - t0;
	lua_settop(L, bk - 1);
	return dt;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof *v, cmp);
	return v[RUNS / 2];
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	size_t depth = argc > 2 ? (size_t)atol(argv[2]) : 1000;
	if (n < K || depth < 40 || depth > LT_LBOOK_DEFAULT_LEVELS) {
		fprintf(stderr, "usage: book_bench [N_CHANGES >= %d [DEPTH 40..%d]]\n", K,
			LT_LBOOK_DEFAULT_LEVELS);
		return 2;
	}
	generate(depth);
	long ns = n / 1000 > 10 ? n / 1000 : 10; /* snapshots per run */
	long nb = n / 100 > 100 ? n / 100 : 100; /* peer changes + scans per run */

	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	lua_newtable(L);
	lt_book_open(L);
	lua_setglobal(L, "core");
	if (luaL_loadstring(L, lua_side) || lua_pcall(L, 0, 1, 0)) {
		fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
		return 2;
	}                         /* 1: M */
	lua_createtable(L, K, 0); /* 2: the decoded change tables */
	for (int i = 0; i < K; i++) {
		decode(L, texts[i], text_len[i]);
		lua_rawseti(L, 2, i + 1);
	}
	decode(L, snap_text, snap_text_len); /* 3: the decoded snapshot */

	enum { C_CHG, B_CHG, D_CHG, B_BEST, P_CHG, P_BEST, C_SNAP, B_SNAP, D_SNAP, P_SNAP, NM };
	double r[NM][RUNS];
	for (int run = 0; run < RUNS; run++) {
		r[C_CHG][run] = c_change_ns(n, depth);
		r[B_CHG][run] = lua_run(L, "c", n) / (double)n * 1e9;
		r[D_CHG][run] = decode_apply(L, n, false) / (double)n * 1e9;
		r[B_BEST][run] = lua_run(L, "c_best", n) / (double)n * 1e9;
		r[P_CHG][run] = lua_run(L, "lua", n) / (double)n * 1e9;
		r[P_BEST][run] = lua_run(L, "lua_best", nb) / (double)nb * 1e9;
		r[C_SNAP][run] = c_snapshot_us(ns, depth);
		r[B_SNAP][run] = lua_run(L, "c_snap", ns) / (double)ns * 1e6;
		r[D_SNAP][run] = decode_apply(L, ns, true) / (double)ns * 1e6;
		r[P_SNAP][run] = lua_run(L, "lua_snap", ns) / (double)ns * 1e6;
		lua_gc(L, LUA_GCCOLLECT);
	}
	double m[NM];
	for (int i = 0; i < NM; i++)
		m[i] = median(r[i]);
	printf("book bench: %zu levels a side, changes of %d level updates (%d a side, near the "
	       "top),"
	       " %ld changes, %ld snapshots per run; median of %d runs; CPU time\n",
	       depth, 2 * PER, PER, n, ns, RUNS);
	printf("  %-36s %10.0f ns\n", "change, C core (lt_lbook_change)", m[C_CHG]);
	printf("  %-36s %10.0f ns   target < 2000 ns %s\n", "change, lt.book apply (decoded msg)",
	       m[B_CHG], m[B_CHG] < 2000 ? "met" : "MISSED");
	printf("  %-36s %10.0f ns\n", "change, JSON decode + apply", m[D_CHG]);
	printf("  %-36s %10.0f ns\n", "change + best bid/ask, lt.book", m[B_BEST]);
	printf("  %-36s %10.0f ns   peer/lt.book %.2f\n", "change, peer: Lua tables", m[P_CHG],
	       m[P_CHG] / m[B_CHG]);
	printf("  %-36s %10.0f ns   peer/lt.book %.2f\n", "change + best bid/ask, peer (scan)",
	       m[P_BEST], m[P_BEST] / m[B_BEST]);
	printf("  %-36s %10.1f µs\n", "snapshot, C core (lt_lbook_snapshot)", m[C_SNAP]);
	printf("  %-36s %10.1f µs   target < 200 µs %s\n", "snapshot, lt.book apply (decoded)",
	       m[B_SNAP], m[B_SNAP] < 200 ? "met" : "MISSED");
	printf("  %-36s %10.1f µs\n", "snapshot, JSON decode + apply", m[D_SNAP]);
	printf("  %-36s %10.1f µs   peer/lt.book %.2f\n", "snapshot, peer: Lua tables", m[P_SNAP],
	       m[P_SNAP] / m[B_SNAP]);
	printf("RESULT book change_ns=%.0f apply_ns=%.0f decode_apply_ns=%.0f peer_ns=%.0f "
	       "snapshot_us=%.1f apply_snapshot_us=%.1f peer_snapshot_us=%.1f\n",
	       m[C_CHG], m[B_CHG], m[D_CHG], m[P_CHG], m[C_SNAP], m[B_SNAP], m[P_SNAP]);
	lua_close(L);
	for (int i = 0; i < K; i++)
		free(texts[i]);
	free(snap_text);
	free(snap[0]);
	free(snap[1]);
	return m[B_CHG] < 2000 && m[B_SNAP] < 200 ? 0 : 1;
}
