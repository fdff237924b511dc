/* lbook_test.c — the local order book (src/lbook.c) and its Lua binding (src/lua_book.c):
 * insert, change and delete at the front, middle and back of both sides; snapshots in every
 * order; the prev_change_id chain (gaps); crossed books; the level cap; bad input leaves the
 * book unchanged; a random sequence checked against a naive reference model; and the venue's
 * fixtures (tests/fixtures/ws_book_*.json) decoded by the real decoder (codec.h) and applied
 * whole, then every truncated prefix of them (the decoder refuses it, the book stays as it
 * was, nothing crashes), then malformed notifications through the binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "lbook.h"
#include "support/lua_helpers.h"

void lt_book_open(lua_State *L);

#define B LT_LBOOK_BID
#define A LT_LBOOK_ASK
#define L_(p, a) ((lt_lbook_level){(p), (a)})

/* ---- helpers ----------------------------------------------------------------------------- */

static lt_lbook_update upd(const lt_lbook_level *bids, size_t nb, const lt_lbook_level *asks,
			   size_t na, int64_t id, int64_t prev)
{
	lt_lbook_update u = {{bids, asks}, {nb, na}, id, prev, prev != 0, 1000 + id};
	return u;
}

/* Assert a side, best first, equals prices[i] x amounts[i]. */
static void assert_side(const lt_lbook *b, int side, const double *prices, const double *amounts,
			size_t n)
{
	assert_int_equal(lt_lbook_count(b, side), n);
	for (size_t i = 0; i < n; i++) {
		const lt_lbook_level *l = lt_lbook_at(b, side, i);
		assert_non_null(l);
		assert_true(l->price == prices[i]);
		assert_true(l->amount == amounts[i]);
	}
	assert_null(lt_lbook_at(b, side, n));
}

/* A book with bids 100, 99, 98 and asks 101, 102, 103 (amounts 1, 2, 3), change_id 10. */
static void base_book(lt_lbook *b)
{
	assert_int_equal(lt_lbook_init(b, 0), 0);
	lt_lbook_level bids[] = {L_(100, 1), L_(99, 2), L_(98, 3)};
	lt_lbook_level asks[] = {L_(101, 1), L_(102, 2), L_(103, 3)};
	lt_lbook_update u = upd(bids, 3, asks, 3, 10, 0);
	lt_err err = {0, ""};
	assert_int_equal(lt_lbook_snapshot(b, &u, &err), 0);
}

static int apply1(lt_lbook *b, int side, double price, double amount, int64_t id, int64_t prev)
{
	lt_lbook_level l = L_(price, amount);
	lt_lbook_update u =
		side == B ? upd(&l, 1, NULL, 0, id, prev) : upd(NULL, 0, &l, 1, id, prev);
	lt_err err = {0, ""};
	return lt_lbook_change(b, &u, &err);
}

/* ---- structure --------------------------------------------------------------------------- */

static void test_init_caps(void **state)
{
	(void)state;
	lt_lbook b;
	assert_int_equal(lt_lbook_init(&b, 0), 0);
	assert_int_equal(b.max_levels, LT_LBOOK_DEFAULT_LEVELS);
	assert_int_equal(lt_lbook_init(&b, LT_LBOOK_MAX_LEVELS + 1), LT_EINVAL);
	assert_int_equal(lt_lbook_init(&b, 5), 0);
	assert_false(b.has_snapshot);
	double p, a;
	assert_false(lt_lbook_best(&b, B, &p, &a));
	assert_false(lt_lbook_crossed(&b));
	lt_lbook_free(&b);
	lt_lbook_free(&b); /* idempotent */
	lt_lbook_free(NULL);
}

static void test_insert_every_position(void **state)
{
	(void)state;
	lt_lbook b;
	base_book(&b);
	/* bids: front (best), middle, back (worst) */
	assert_int_equal(apply1(&b, B, 100.5, 9, 11, 10), 0);
	assert_int_equal(apply1(&b, B, 99.5, 8, 12, 11), 0);
	assert_int_equal(apply1(&b, B, 97, 7, 13, 12), 0);
	/* asks: front (best), middle, back (worst) */
	assert_int_equal(apply1(&b, A, 100.75, 9, 14, 13), 0);
	assert_int_equal(apply1(&b, A, 101.5, 8, 15, 14), 0);
	assert_int_equal(apply1(&b, A, 104, 7, 16, 15), 0);
	const double bp[] = {100.5, 100, 99.5, 99, 98, 97}, ba[] = {9, 1, 8, 2, 3, 7};
	const double ap[] = {100.75, 101, 101.5, 102, 103, 104}, aa[] = {9, 1, 8, 2, 3, 7};
	assert_side(&b, B, bp, ba, 6);
	assert_side(&b, A, ap, aa, 6);
	assert_int_equal(b.change_id, 16);
	assert_int_equal(b.timestamp, 1016);
	lt_lbook_free(&b);
}

static void test_change_every_position(void **state)
{
	(void)state;
	lt_lbook b;
	base_book(&b);
	int64_t id = 10;
	for (int side = 0; side < 2; side++)
		for (int i = 0; i < 3; i++) {
			double price = side == B ? 100 - i : 101 + i;
			assert_int_equal(apply1(&b, side, price, 50 + i, id + 1, id), 0);
			id++;
		}
	const double bp[] = {100, 99, 98}, ap[] = {101, 102, 103}, amt[] = {50, 51, 52};
	assert_side(&b, B, bp, amt, 3);
	assert_side(&b, A, ap, amt, 3);
	assert_true(lt_lbook_depth_at(&b, B, 99) == 51);
	assert_true(lt_lbook_depth_at(&b, A, 103) == 52);
	assert_true(lt_lbook_depth_at(&b, A, 99) == 0);
	lt_lbook_free(&b);
}

static void test_delete_every_position(void **state)
{
	(void)state;
	static const double bp[3][2] = {{99, 98}, {100, 98}, {100, 99}};
	static const double ba[3][2] = {{2, 3}, {1, 3}, {1, 2}};
	static const double ap[3][2] = {{102, 103}, {101, 103}, {101, 102}};
	for (int i = 0; i < 3; i++) { /* front, middle, back */
		lt_lbook b;
		base_book(&b);
		assert_int_equal(apply1(&b, B, 100 - i, 0, 11, 10), 0);
		assert_int_equal(apply1(&b, A, 101 + i, 0, 12, 11), 0);
		assert_side(&b, B, bp[i], ba[i], 2);
		assert_side(&b, A, ap[i], ba[i], 2);
		/* deleting a price that is not there changes nothing */
		assert_int_equal(apply1(&b, B, 50, 0, 13, 12), 0);
		assert_side(&b, B, bp[i], ba[i], 2);
		lt_lbook_free(&b);
	}
	/* delete everything: empty sides, no best */
	lt_lbook b;
	base_book(&b);
	lt_lbook_level del[] = {L_(100, 0), L_(99, 0), L_(98, 0)};
	lt_lbook_update u = upd(del, 3, NULL, 0, 11, 10);
	lt_err err = {0, ""};
	assert_int_equal(lt_lbook_change(&b, &u, &err), 0);
	double p, a;
	assert_false(lt_lbook_best(&b, B, &p, &a));
	assert_true(lt_lbook_best(&b, A, &p, &a));
	assert_true(p == 101 && a == 1);
	lt_lbook_free(&b);
}

static void test_snapshot_orders(void **state)
{
	(void)state;
	const double bp[] = {100, 99, 98, 97}, ba[] = {1, 2, 3, 4};
	lt_lbook_level best_first[] = {L_(100, 1), L_(99, 2), L_(98, 3), L_(97, 4)};
	lt_lbook_level worst_first[] = {L_(97, 4), L_(98, 3), L_(99, 2), L_(100, 1)};
	lt_lbook_level shuffled[] = {L_(98, 3), L_(100, 1), L_(97, 4), L_(99, 2)};
	lt_lbook_level repeated[] = {L_(98, 30), L_(100, 1), L_(97, 4), L_(99, 2), L_(98, 3)};
	lt_lbook_level zeros[] = {L_(100, 1), L_(96, 0), L_(99, 2), L_(98, 3), L_(97, 4)};
	const lt_lbook_level *in[] = {best_first, worst_first, shuffled, repeated, zeros};
	size_t n[] = {4, 4, 4, 5, 5};
	for (size_t k = 0; k < 5; k++) {
		lt_lbook b;
		assert_int_equal(lt_lbook_init(&b, 0), 0);
		lt_lbook_update u = upd(in[k], n[k], NULL, 0, 7, 0);
		lt_err err = {0, ""};
		assert_int_equal(lt_lbook_snapshot(&b, &u, &err), 0);
		assert_side(&b, B, bp, ba, 4);
		/* the asks side, worst first given as bids' mirror */
		lt_lbook_update v = upd(NULL, 0, in[k], n[k], 8, 0);
		assert_int_equal(lt_lbook_snapshot(&b, &v, &err), 0);
		const double ap[] = {97, 98, 99, 100}, aa[] = {4, 3, 2, 1};
		assert_side(&b, A, ap, aa, 4);
		assert_int_equal(lt_lbook_count(&b, B), 0); /* a snapshot replaces both sides */
		lt_lbook_free(&b);
	}
}

static void test_gap(void **state)
{
	(void)state;
	lt_lbook b;
	assert_int_equal(lt_lbook_init(&b, 0), 0);
	/* a change before any snapshot */
	assert_int_equal(apply1(&b, B, 100, 1, 11, 10), LT_LBOOK_GAP);
	assert_int_equal(lt_lbook_count(&b, B), 0);
	lt_lbook_free(&b);
	base_book(&b);
	lt_err err = {0, ""};
	lt_lbook_level l = L_(100.5, 5);
	lt_lbook_update u = upd(&l, 1, NULL, 0, 12, 11); /* last is 10 */
	assert_int_equal(lt_lbook_change(&b, &u, &err), LT_LBOOK_GAP);
	assert_non_null(strstr(err.msg, "prev_change_id 11"));
	assert_non_null(strstr(err.msg, "change_id 10"));
	assert_int_equal(b.change_id, 10);
	assert_int_equal(lt_lbook_count(&b, B), 3);
	assert_true(lt_lbook_depth_at(&b, B, 100.5) == 0);
	/* the right chain applies; ids need not be consecutive */
	assert_int_equal(apply1(&b, B, 100.5, 5, 25, 10), 0);
	assert_int_equal(apply1(&b, B, 100.5, 6, 31, 25), 0);
	assert_int_equal(apply1(&b, B, 100.5, 7, 40, 25), LT_LBOOK_GAP); /* replayed prev */
	assert_true(lt_lbook_depth_at(&b, B, 100.5) == 6);
	/* after clear (a resync) changes are gaps until the next snapshot */
	lt_lbook_clear(&b);
	assert_int_equal(apply1(&b, B, 100.5, 5, 32, 31), LT_LBOOK_GAP);
	lt_lbook_free(&b);
}

static void test_crossed(void **state)
{
	(void)state;
	lt_lbook b;
	base_book(&b);
	assert_false(lt_lbook_crossed(&b));
	assert_int_equal(apply1(&b, B, 101, 1, 11, 10), LT_LBOOK_CROSSED); /* bid = ask: crossed */
	assert_true(lt_lbook_crossed(&b));
	assert_int_equal(b.change_id, 11);                  /* applied */
	assert_int_equal(apply1(&b, A, 101, 0, 12, 11), 0); /* the ask goes: no longer crossed */
	assert_false(lt_lbook_crossed(&b));
	lt_lbook_level bids[] = {L_(105, 1)}, asks[] = {L_(104, 1)};
	lt_lbook_update u = upd(bids, 1, asks, 1, 20, 0);
	lt_err err = {0, ""};
	assert_int_equal(lt_lbook_snapshot(&b, &u, &err), LT_LBOOK_CROSSED);
	lt_lbook_free(&b);
}

static void test_level_cap(void **state)
{
	(void)state;
	lt_lbook b;
	assert_int_equal(lt_lbook_init(&b, 3), 0);
	lt_lbook_level best_first[] = {L_(100, 1), L_(99, 2), L_(98, 3), L_(97, 4), L_(96, 5)};
	lt_lbook_level worst_first[] = {L_(96, 5), L_(97, 4), L_(98, 3), L_(99, 2), L_(100, 1)};
	lt_lbook_level shuffled[] = {L_(97, 4), L_(100, 1), L_(96, 5), L_(98, 3), L_(99, 2)};
	const lt_lbook_level *in[] = {best_first, worst_first, shuffled};
	const double bp[] = {100, 99, 98}, ba[] = {1, 2, 3};
	lt_err err = {0, ""};
	for (int k = 0; k < 3; k++) {
		b.truncated = 0;
		lt_lbook_update u = upd(in[k], 5, NULL, 0, 10, 0);
		assert_int_equal(lt_lbook_snapshot(&b, &u, &err), 0);
		assert_side(&b, B, bp, ba, 3);
		assert_int_equal(b.truncated, 2);
	}
	/* a better level displaces the worst; a worse one is not stored */
	assert_int_equal(apply1(&b, B, 99.5, 9, 11, 10), 0);
	const double bp2[] = {100, 99.5, 99}, ba2[] = {1, 9, 2};
	assert_side(&b, B, bp2, ba2, 3);
	assert_int_equal(apply1(&b, B, 90, 9, 12, 11), 0);
	assert_side(&b, B, bp2, ba2, 3);
	assert_int_equal(apply1(&b, B, 101, 9, 13, 12), 0);
	const double bp3[] = {101, 100, 99.5}, ba3[] = {9, 1, 9};
	assert_side(&b, B, bp3, ba3, 3);
	assert_int_equal(b.truncated, 5);
	/* a full side still changes and deletes in place */
	assert_int_equal(apply1(&b, B, 100, 0, 14, 13), 0);
	assert_int_equal(lt_lbook_count(&b, B), 2);
	lt_lbook_free(&b);
}

static void test_bad_levels(void **state)
{
	(void)state;
	lt_lbook b;
	base_book(&b);
	struct {
		lt_lbook_level l;
		const char *msg;
	} bad[] = {
		{L_(NAN, 1), "price is not a finite"}, {L_(INFINITY, 1), "price is not a finite"},
		{L_(100, -1), "amount must be"},       {L_(100, NAN), "amount must be"},
		{L_(100, INFINITY), "amount must be"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* the bad level comes second: the first must not be applied either */
		lt_lbook_level lv[] = {L_(100.5, 4), bad[i].l};
		lt_err err = {0, ""};
		lt_lbook_update u = upd(NULL, 0, lv, 2, 11, 10);
		assert_int_equal(lt_lbook_change(&b, &u, &err), LT_EINVAL);
		assert_non_null(strstr(err.msg, "asks[2]"));
		assert_non_null(strstr(err.msg, bad[i].msg));
		assert_int_equal(lt_lbook_snapshot(&b, &u, &err), LT_EINVAL);
		assert_int_equal(b.change_id, 10);
		assert_int_equal(lt_lbook_count(&b, A), 3);
		assert_int_equal(lt_lbook_count(&b, B), 3);
		assert_true(lt_lbook_depth_at(&b, A, 100.5) == 0);
	}
	lt_lbook_free(&b);
}

/* ---- a random sequence against a naive model --------------------------------------------- */

typedef struct model {
	double amount[2][64]; /* by tick 0..63: price = 1000 + tick / 2 */
} model;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void assert_model(const lt_lbook *b, const model *m)
{
	for (int side = 0; side < 2; side++) {
		size_t i = 0;
		for (int k = 0; k < 64; k++) {
			int t = side == B ? 63 - k : k; /* best first */
			if (m->amount[side][t] == 0)
				continue;
			const lt_lbook_level *l = lt_lbook_at(b, side, i++);
			assert_non_null(l);
			assert_true(l->price == 1000 + t / 2.0);
			assert_true(l->amount == m->amount[side][t]);
		}
		assert_int_equal(lt_lbook_count(b, side), i);
	}
}

static void test_random_against_model(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	lt_lbook b;
	assert_int_equal(lt_lbook_init(&b, 0), 0);
	model m;
	memset(&m, 0, sizeof m);
	lt_lbook_update snap = upd(NULL, 0, NULL, 0, 1, 0);
	lt_err err = {0, ""};
	assert_int_equal(lt_lbook_snapshot(&b, &snap, &err), 0);
	for (int64_t step = 1; step <= 5000; step++) {
		lt_lbook_level lv[2][10];
		size_t n[2] = {rnd(&seed) % 11, rnd(&seed) % 11};
		for (int side = 0; side < 2; side++)
			for (size_t i = 0; i < n[side]; i++) {
				int t = (int)(rnd(&seed) % 64);
				double a =
					rnd(&seed) % 3 == 0 ? 0 : (double)(rnd(&seed) % 1000 + 1);
				lv[side][i] = L_(1000 + t / 2.0, a);
				m.amount[side][t] = a;
			}
		lt_lbook_update u = upd(lv[0], n[0], lv[1], n[1], step + 1, step);
		int rc = lt_lbook_change(&b, &u, &err);
		assert_true(rc == 0 || rc == LT_LBOOK_CROSSED);
		assert_model(&b, &m);
	}
	lt_lbook_free(&b);
}

/* ---- fixtures through the real decoder and the Lua binding ------------------------------- */

static const lt_schema *no_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

static const lt_schema *no_data(void *ud, const char *channel, size_t len)
{
	(void)ud;
	(void)channel;
	(void)len;
	return NULL;
}

/* Decode a notification untyped (every schema ANY) and push its data; LT_EJSON (nothing
 * pushed) for bad JSON. */
static int decode(lua_State *L, const char *buf, size_t len)
{
	lt_resolver res = {no_result, no_data, NULL};
	lt_envelope env;
	lt_err err = {0, ""};
	int rc = lt_json_decode_envelope(L, buf, len, &res, &env, &err);
	if (rc == 0 && env.kind != LT_MSG_NOTIFY) {
		lua_pop(L, 1);
		return LT_EJSON;
	}
	return rc;
}

static const lt_schema *channel_data(void *ud, const char *channel, size_t len)
{
	(void)ud;
	return lt_channel_schema(channel, len);
}

/* Decode as the client does: the channel's schema (codec.h lt_channel_schema). */
static int decode_typed(lua_State *L, const char *buf, size_t len)
{
	lt_resolver res = {no_result, channel_data, NULL};
	lt_envelope env;
	lt_err err = {0, ""};
	int rc = lt_json_decode_envelope(L, buf, len, &res, &env, &err);
	if (rc == 0 && env.kind != LT_MSG_NOTIFY) {
		lua_pop(L, 1);
		return LT_EJSON;
	}
	return rc;
}

/* A Lua state with the global `core` holding book_new. */
static lua_State *book_state(void)
{
	lua_State *L = lt_test_lua_new();
	lua_newtable(L);
	lt_book_open(L);
	lua_setglobal(L, "core");
	return L;
}

/* Call bk:apply(data) with the book at bk and the data on top (popped); push status, detail. */
static void apply_lua(lua_State *L, int bk)
{
	lua_getfield(L, bk, "apply");
	lua_insert(L, -2);
	lua_pushvalue(L, bk);
	lua_insert(L, -2);
	assert_int_equal(lua_pcall(L, 2, 2, 0), LUA_OK);
}

/* Run a Lua chunk with the book at global `bk`; it returns true or an error string. */
static void run_lua(lua_State *L, const char *chunk)
{
	if (luaL_dostring(L, chunk) != LUA_OK)
		fail_msg("lua: %s", lua_tostring(L, -1));
	if (lua_type(L, -1) == LUA_TSTRING)
		fail_msg("lua: %s", lua_tostring(L, -1));
	assert_true(lua_toboolean(L, -1));
	lua_pop(L, 1);
}

static void test_fixture_feed(void **state)
{
	(void)state;
	lua_State *L = book_state();
	assert_int_equal(luaL_dostring(L, "bk = core.book_new() return bk"), LUA_OK);
	int bk = lua_gettop(L);
	size_t len;
	char *snap = lt_test_fixture("ws_book_snapshot.json", &len);
	assert_int_equal(decode_typed(L, snap, len), 0);
	apply_lua(L, bk);
	assert_string_equal(lua_tostring(L, -2), "ok");
	lua_pop(L, 2);
	free(snap);
	run_lua(L, "local p, a = bk:best_bid() assert(p == 42500.0 and a == 1000.0)\n"
		   "p, a = bk:best_ask() assert(p == 42501.0 and a == 800.0)\n"
		   "assert(bk:count('bids') == 5 and bk:count('asks') == 5)\n"
		   "assert(bk:change_id() == 123456789 and bk:timestamp() == 1699999999000)\n"
		   "assert(bk:mid() == 42500.5 and bk:spread() == 1.0)\n"
		   "return true");
	char *delta = lt_test_fixture("ws_book_delta.json", &len);
	assert_int_equal(decode_typed(L, delta, len), 0);
	apply_lua(L, bk);
	assert_string_equal(lua_tostring(L, -2), "ok");
	lua_pop(L, 2);
	/* bids: change 42500 -> 950, new 42498.5 (already there) -> 300; asks: delete 42501,
	 * change 42501.5 -> 700 */
	run_lua(L, "local want = { bids = {{42500, 950}, {42499.5, 500}, {42499, 750},\n"
		   "  {42498.5, 300}, {42498, 800}}, asks = {{42501.5, 700}, {42502, 400},\n"
		   "  {42502.5, 900}, {42503, 550}} }\n"
		   "for side, lv in pairs(want) do local i = 0\n"
		   "  for p, a in bk:levels(side) do i = i + 1\n"
		   "    if p ~= lv[i][1] or a ~= lv[i][2] then return side .. i end end\n"
		   "  if i ~= #lv then return side .. ' count ' .. i end end\n"
		   "assert(bk:change_id() == 123456790 and bk:depth_at('asks', 42501) == 0)\n"
		   "local n = 0 for _ in bk:levels('bids', 2) do n = n + 1 end assert(n == 2)\n"
		   "return true");
	/* the same delta again is a gap: its prev_change_id is no longer the last change_id */
	assert_int_equal(decode_typed(L, delta, len), 0);
	apply_lua(L, bk);
	assert_string_equal(lua_tostring(L, -2), "gap");
	assert_non_null(strstr(lua_tostring(L, -1), "123456789"));
	lua_pop(L, 2);
	free(delta);
	/* a grouped snapshot: [price, amount] levels, no type */
	char *grouped = lt_test_fixture("ws_book_grouped_snapshot.json", &len);
	assert_int_equal(decode_typed(L, grouped, len), 0);
	apply_lua(L, bk);
	assert_string_equal(lua_tostring(L, -2), "ok");
	lua_pop(L, 2);
	free(grouped);
	run_lua(L, "local p, a = bk:best_bid() assert(p == 89532.5 and a == 254900.0)\n"
		   "p, a = bk:best_ask() assert(p == 89533.0 and a == 91570.0)\n"
		   "assert(bk:count('bids') == 10 and bk:count('asks') == 10)\n"
		   "local last for p in bk:levels('asks') do last = p end assert(last == 89545.5)\n"
		   "return bk:change_id() == 136725664747");
	lua_close(L);
}

static void test_fixture_exact(void **state)
{
	(void)state;
	lua_State *L = book_state();
	assert_int_equal(luaL_dostring(L, "bk = core.book_new() return bk"), LUA_OK);
	int bk = lua_gettop(L);
	size_t len;
	char *snap = lt_test_fixture("ws_book_snapshot_exact.json", &len);
	char *delta = lt_test_fixture("ws_book_delta_exact.json", &len);
	size_t slen = strlen(snap);
	assert_int_equal(decode_typed(L, snap, slen), 0);
	apply_lua(L, bk);
	/* bid 100000000.123456789 and ask 100000000.123456788 are one double: crossed */
	assert_string_equal(lua_tostring(L, -2), "crossed");
	lua_pop(L, 2);
	assert_int_equal(decode_typed(L, delta, len), 0);
	apply_lua(L, bk);
	assert_string_equal(lua_tostring(L, -2), "crossed");
	lua_pop(L, 2);
	run_lua(L, "local p, a = bk:best_bid() assert(p == 100000000.123456789)\n"
		   "assert(a == 0.12345678901234567890123456789)\n"
		   "return bk:depth_at('asks', 100000000.123456788) == "
		   "1.2345678901234567890123456789e-5");
	free(snap);
	free(delta);
	lua_close(L);
}

/* Every proper prefix of every book fixture: the decoder refuses it, so nothing reaches the
 * book; the whole text still applies afterwards. The untyped decoder too (ANY schema). */
static void test_fixture_prefixes(void **state)
{
	(void)state;
	static const char *const names[] = {
		"ws_book_snapshot.json", "ws_book_delta.json", "ws_book_grouped_snapshot.json",
		"ws_book_snapshot_exact.json", "ws_book_delta_exact.json"};
	lua_State *L = book_state();
	assert_int_equal(luaL_dostring(L, "bk = core.book_new() return bk"), LUA_OK);
	int bk = lua_gettop(L);
	for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
		size_t len;
		char *text = lt_test_fixture(names[f], &len);
		for (size_t cut = 0; cut < len; cut++) {
			int top = lua_gettop(L);
			int rc = decode_typed(L, text, cut);
			if (rc == 0) { /* only whitespace was cut: a complete message */
				apply_lua(L, bk);
				lua_pop(L, 2);
			} else
				assert_int_equal(lua_gettop(L), top);
			rc = decode(L, text, cut);
			if (rc == 0)
				lua_pop(L, 1);
		}
		assert_int_equal(decode(L, text, len), 0);
		apply_lua(L, bk);
		assert_true(lua_isstring(L, -2)); /* ok, gap or crossed: never an error */
		lua_pop(L, 2);
		free(text);
	}
	lua_close(L);
}

/* Malformed notifications: nil and a message naming the field; the book keeps its state. */
static void test_binding_bad_input(void **state)
{
	(void)state;
	lua_State *L = book_state();
	run_lua(L,
		"bk = core.book_new()\n"
		"assert(bk:apply{type = 'snapshot', change_id = 5, timestamp = 1,\n"
		"  bids = {{'new', 100.0, 1.0}}, asks = {{'new', 101.0, 2.0}}} == 'ok')\n"
		"local cases = {\n"
		"  {42, 'message: expected a table'},\n"
		"  {{type = 'x', change_id = 6, bids = {}, asks = {}}, 'type: expected'},\n"
		"  {{type = {}, change_id = 6, bids = {}, asks = {}}, 'type: expected'},\n"
		"  {{type = 7, change_id = 6, bids = {}, asks = {}}, 'type: expected'},\n"
		"  {{type = 'change', prev_change_id = 5, bids = {}, asks = {}}, 'change_id: "
		"missing'},\n"
		"  {{type = 'change', change_id = 6.5, prev_change_id = 5, bids = {}, asks = {}}, "
		"'change_id: expected an integer'},\n"
		"  {{type = 'change', change_id = '6', prev_change_id = 5, bids = {}, asks = {}}, "
		"'change_id: expected an integer'},\n"
		"  {{type = 'change', change_id = 6, bids = {}, asks = {}}, 'prev_change_id: "
		"missing'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, asks = {}}, 'bids: "
		"expected an array'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {}, asks = 'x'}, "
		"'asks: expected an array'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {{'new', 99.0, "
		"1.0}, 7}, asks = {}}, 'bids[2]: expected a level table'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {{'new'}}, asks = "
		"{}}, 'bids[1]: expected [action, price, amount] or [price, amount]'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {{'add', 99.0, "
		"1.0}}, asks = {}}, 'bids[1][1] (action)'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {{1, 99.0, 1.0}}, "
		"asks = {}}, 'bids[1][1] (action)'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {}, asks = "
		"{{'new', '99', 1.0}}}, 'asks[1][2] (price): expected a number'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {}, asks = "
		"{{'new', 99.0, false}}}, 'asks[1][3] (amount): expected a number'},\n"
		"  {{change_id = 6, bids = {{99.0, 'x'}}, asks = {}}, 'bids[1][2] (amount): "
		"expected a number'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {{'new', 0/0, "
		"1.0}}, asks = {}}, 'bids[1]: price is not a finite number'},\n"
		"  {{type = 'change', change_id = 6, prev_change_id = 5, bids = {}, asks = "
		"{{'change', 102.0, -1.0}}}, 'asks[1]: amount must be'},\n"
		"}\n"
		"for i, c in ipairs(cases) do\n"
		"  local st, err = bk:apply(c[1])\n"
		"  if st ~= nil then return 'case ' .. i .. ': ' .. tostring(st) end\n"
		"  if not err:find(c[2], 1, true) then return 'case ' .. i .. ': ' .. err end\n"
		"  local p, a = bk:best_bid()\n"
		"  if p ~= 100.0 or a ~= 1.0 or bk:count('bids') ~= 1 or bk:change_id() ~= 5 then\n"
		"    return 'case ' .. i .. ' changed the book' end\n"
		"end\n"
		"-- delete ignores the amount; a null prev_change_id in a snapshot is fine\n"
		"assert(bk:apply{type = 'change', change_id = 6, prev_change_id = 5,\n"
		"  bids = {{'delete', 100.0, 123.0}}, asks = {}} == 'ok')\n"
		"assert(bk:best_bid() == nil and bk:count('bids') == 0)\n"
		"assert(bk:apply{type = 'snapshot', change_id = 9, prev_change_id = core.null,\n"
		"  bids = {}, asks = {}} == 'ok')\n"
		"-- misuse raises\n"
		"assert(not pcall(bk.depth_at, bk, 'bid', 1))\n"
		"assert(not pcall(bk.levels, bk, 'asks', -1))\n"
		"assert(not pcall(core.book_new, 0))\n"
		"assert(not pcall(core.book_new, 1000001))\n"
		"assert(tostring(bk):find('luatrade.Book', 1, true))\n"
		"local it = bk:levels('asks')\n"
		"bk:close(); bk:close()\n"
		"assert(it() == nil)\n"
		"assert(tostring(bk) == 'luatrade.Book(closed)')\n"
		"local ok, e = pcall(bk.best_bid, bk)\n"
		"assert(not ok and e:find('closed', 1, true))\n"
		"return true");
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_caps),
		cmocka_unit_test(test_insert_every_position),
		cmocka_unit_test(test_change_every_position),
		cmocka_unit_test(test_delete_every_position),
		cmocka_unit_test(test_snapshot_orders),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_crossed),
		cmocka_unit_test(test_level_cap),
		cmocka_unit_test(test_bad_levels),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_fixture_feed),
		cmocka_unit_test(test_fixture_exact),
		cmocka_unit_test(test_fixture_prefixes),
		cmocka_unit_test(test_binding_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
