/* json_lazy_test.c — lazy objects (codec.h lt_lazy_schema; src/json_lazy.c, src/lua_lazy.c):
 * on every notification fixture the lazy object reads, iterates and types exactly as the full
 * decode; nested containers are one table; writes, deletes and repeated keys behave as on the
 * full decode's table; a kept object outlives its input; every truncated prefix and every
 * corruption fails exactly as the full decode does; it allocates less than the full decode;
 * misuse raises instead of crashing; and no channel schema holds a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json_lazy.h"
#include "support/lua_helpers.h"

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct res_ctx {
	bool lazy;
	lt_schema s;
} res_ctx;

static const lt_schema *no_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

/* As rpc.c's resolver: the channel's schema, made lazy when asked. */
static const lt_schema *data_schema(void *ud, const char *channel, size_t len)
{
	res_ctx *c = ud;
	const lt_schema *s = lt_channel_schema(channel, len);
	if (!c->lazy)
		return s;
	c->s = lt_lazy_schema(s);
	return &c->s;
}

/* Envelope decode; on success the data is on top, on failure the stack is unchanged. */
static int decode(lua_State *L, const char *text, size_t len, bool lazy, lt_err *err)
{
	res_ctx ctx = {.lazy = lazy};
	lt_resolver res = {no_result, data_schema, &ctx};
	lt_envelope env;
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, text, len, &res, &env, err);
	assert_int_equal(lua_gettop(L), rc ? top : top + 1);
	return rc;
}

static void decode_ok(lua_State *L, const char *text, size_t len, bool lazy)
{
	lt_err err = {0};
	if (decode(L, text, len, lazy, &err))
		fail_msg("decode failed: %s", err.msg);
}

/* A state with luatrade.core's lt.plain as the global `plain` and `count(t)`, the number of
 * pairs t gives. Lazy and full decodes are compared with lt_test_assert_same, which walks both
 * with pairs and compares math types. */
static lua_State *state(void)
{
	lua_State *L = lt_test_lua_new();
	if (luaL_dostring(L, "function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end "
			     "return n end"))
		fail_msg("%s", lua_tostring(L, -1));
	lua_pushcfunction(L, lt_lua_plain);
	lua_setglobal(L, "plain");
	return L;
}

/* Run Lua code with the value at idx as `m`; fails the test with its error. */
static void run_with(lua_State *L, int idx, const char *code)
{
	idx = lua_absindex(L, idx);
	lua_pushvalue(L, idx);
	lua_setglobal(L, "m");
	if (luaL_dostring(L, code))
		fail_msg("%s: %s", code, lua_tostring(L, -1));
}

/* Decode the ticker fixture lazily and run code with it as `m`. */
static void with_ticker(lua_State *L, const char *code)
{
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	decode_ok(L, text, len, true);
	run_with(L, -1, code);
	lua_pop(L, 1);
	free(text);
}

static const char *const notifications[] = {"ws_ticker.json",
					    "ws_trades.json",
					    "ws_book_snapshot.json",
					    "ws_book_delta.json",
					    "ws_book_grouped_snapshot.json",
					    "ws_quote.json",
					    "ws_chart.json",
					    "ws_portfolio.json",
					    "ws_book_delta_exact.json",
					    "ws_book_snapshot_exact.json",
					    "ws_portfolio_exact.json",
					    NULL};

/* ---- reads ------------------------------------------------------------------------------- */

/* Every notification fixture: the lazy object has the full decode's pairs, values and math
 * types (nested containers included), and lt.plain gives an equal plain table. */
static void test_every_fixture_reads_as_the_full_decode(void **state_)
{
	(void)state_;
	lua_State *L = state();
	for (int i = 0; notifications[i]; i++) {
		size_t len;
		char *text = lt_test_fixture(notifications[i], &len);
		decode_ok(L, text, len, false);
		decode_ok(L, text, len, true);
		lt_test_assert_same(L, -1, -2);
		lt_test_assert_same(L, -2, -1);
		lua_getglobal(L, "plain");
		lua_pushvalue(L, -2);
		lua_call(L, 1, 1);
		lt_test_assert_same(L, -1, -3);
		if (lua_istable(L, -1))
			assert_false(lua_getmetatable(L, -1));
		lua_pop(L, 3);
		free(text);
	}
	lua_close(L);
}

/* The ticker is a lazy object (a table with the luatrade.object metatable); integers stay
 * integers, floats floats; stats is decoded once, so every read gives the same table. */
static void test_ticker_types_and_nested_identity(void **state_)
{
	(void)state_;
	lua_State *L = state();
	with_ticker(L, "assert(type(m) == 'table')\n"
		       "assert(tostring(m):match('^luatrade.object: '))\n"
		       "assert(math.type(m.timestamp) == 'integer')\n"
		       "assert(math.type(m.best_bid_price) == 'float')\n"
		       "assert(m.instrument_name == 'BTC-PERPETUAL')\n"
		       "assert(type(m.stats) == 'table' and m.stats == m.stats)\n"
		       "assert(m.no_such_field == nil and m[1] == nil and #m == 0)\n");
	lua_close(L);
}

/* Unknown keys (no schema), escapes in keys and values, null, booleans, nested arrays. */
static void test_unknown_channel_escapes_and_literals(void **state_)
{
	(void)state_;
	lua_State *L = state();
	static const char msg[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":"
		"\"nope.x\",\"data\":{\"a\\\"b\":\"c\\u00e9\\n\",\"n\":null,\"t\":true,\"f\":false,"
		"\"i\":12,\"x\":1.5,\"arr\":[1,[2,{\"k\":\"}\"}]],\"o\":{}}}}";
	decode_ok(L, msg, sizeof msg - 1, false);
	decode_ok(L, msg, sizeof msg - 1, true);
	lt_test_assert_same(L, -1, -2);
	run_with(L, -1,
		 "assert(m['a\"b'] == 'c\\195\\169\\n')\n"
		 "assert(m.n ~= nil and type(m.n) == 'userdata')\n"
		 "assert(m.t == true and m.f == false)\n"
		 "assert(math.type(m.i) == 'integer' and m.x == 1.5)\n"
		 "assert(m.arr[2][2].k == '}' and count(m.o) == 0)\n"
		 "assert(count(m) == 8)\n");
	lua_pop(L, 2);
	lua_close(L);
}

/* Data before the channel: the second pass (json_retype.c) is lazy too. Data that is not an
 * object (user.trades: an array) is decoded as usual. */
static void test_second_pass_and_non_objects(void **state_)
{
	(void)state_;
	lua_State *L = state();
	static const char msg[] =
		"{\"params\":{\"data\":{\"best_bid_price\":1,\"timestamp\":5},\"channel\":"
		"\"ticker.BTC-PERPETUAL.raw\"},\"method\":\"subscription\",\"jsonrpc\":\"2.0\"}";
	decode_ok(L, msg, sizeof msg - 1, true);
	run_with(L, -1,
		 "assert(tostring(m):match('^luatrade.object'))\n"
		 "assert(math.type(m.best_bid_price) == 'float' and m.timestamp == 5)\n");
	lua_pop(L, 1);
	size_t len;
	char *text = lt_test_fixture("ws_trades.json", &len);
	decode_ok(L, text, len, true);
	assert_false(lua_getmetatable(L, -1)); /* an array: a plain table */
	lua_pop(L, 1);
	free(text);
	lua_close(L);
}

/* ---- writes, repeated keys, lifetime ----------------------------------------------------- */

static void test_writes_deletes_and_pairs(void **state_)
{
	(void)state_;
	lua_State *L = state();
	with_ticker(
		L, "local n = count(m)\n"
		   "m.best_bid_price = nil\n"
		   "assert(m.best_bid_price == nil and count(m) == n - 1)\n"
		   "m.best_bid_price = 7\n"
		   "assert(m.best_bid_price == 7 and count(m) == n)\n"
		   "local seen = 0\n"
		   "for k, v in pairs(m) do if k == 'best_bid_price' then seen = seen + 1 assert(v "
		   "== 7) end end\n"
		   "assert(seen == 1)\n"
		   "m.mine = 'x'; m[1] = 'a'; m[2] = 'b'\n"
		   "assert(m.mine == 'x' and #m == 2 and count(m) == n + 3)\n"
		   "m.stats.volume = 42\n"
		   "assert(m.stats.volume == 42)\n"
		   "local p = plain(m)\n"
		   "assert(p.best_bid_price == 7 and p.mine == 'x' and p[2] == 'b' and "
		   "p.stats.volume == 42)\n"
		   "assert(not pcall(function() m[nil] = 1 end))\n");
	lua_close(L);
}

/* A repeated key keeps its last value and is iterated once, known (schema) keys and unknown. */
static void test_repeated_keys_keep_the_last(void **state_)
{
	(void)state_;
	lua_State *L = state();
	static const char msg[] = "{\"params\":{\"channel\":\"ticker.BTC-PERPETUAL.raw\",\"data\":"
				  "{\"best_bid_price\":1,\"zz\":1,\"best_bid_price\":2,\"zz\":3,"
				  "\"zz\":4}},\"method\":\"subscription\"}";
	decode_ok(L, msg, sizeof msg - 1, false);
	decode_ok(L, msg, sizeof msg - 1, true);
	lt_test_assert_same(L, -1, -2);
	run_with(L, -1, "assert(m.best_bid_price == 2 and m.zz == 4 and count(m) == 2)");
	lua_pop(L, 2);
	lua_close(L);
}

/* The object owns its text: the input freed and overwritten, a full GC, later decodes that
 * reuse the scratch: the kept object still reads the same. */
static void test_kept_object_outlives_its_input(void **state_)
{
	(void)state_;
	lua_State *L = state();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	decode_ok(L, text, len, true);
	lua_setglobal(L, "kept");
	memset(text, ' ', len);
	free(text);
	text = lt_test_fixture("ws_book_snapshot.json", &len);
	for (int i = 0; i < 50; i++) {
		decode_ok(L, text, len, true);
		lua_pop(L, 1);
	}
	lua_gc(L, LUA_GCCOLLECT);
	if (luaL_dostring(L, "assert(kept.instrument_name == 'BTC-PERPETUAL')\n"
			     "assert(math.type(kept.timestamp) == 'integer')\n"
			     "assert(kept.stats.high ~= nil and count(kept) == 19)"))
		fail_msg("%s", lua_tostring(L, -1));
	free(text);
	lua_close(L);
}

/* ---- bad input ---------------------------------------------------------------------------- */

/* Every truncated prefix, and every single-byte corruption of the ticker, succeeds or fails
 * exactly as the full decode (the lazy parse skips nothing yajl and the UTF-8 check see). */
static void test_prefixes_and_corruptions_fail_as_the_full_decode(void **state_)
{
	(void)state_;
	lua_State *L = state();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	lt_err err;
	while (len > 0 && text[len - 1] != '}')
		len--;
	for (size_t n = 0; n < len; n++)
		assert_int_equal(decode(L, text, n, true, &err), LT_EJSON);
	static const char bytes[] = {'"', '{', '}', '[', ']', ',', ':', 'x', '\xff', '\\', '\0'};
	for (size_t at = 0; at < len; at++) {
		for (size_t b = 0; b < sizeof bytes; b++) {
			char keep = text[at];
			text[at] = bytes[b];
			int full = decode(L, text, len, false, &err);
			if (full == 0)
				lua_pop(L, 1);
			int lazy = decode(L, text, len, true, &err);
			if (lazy == 0)
				lua_pop(L, 1);
			if (full != lazy)
				fail_msg("byte %zu set to 0x%02x: full %d, lazy %d", at,
					 (unsigned char)bytes[b], full, lazy);
			text[at] = keep;
		}
	}
	free(text);
	lua_close(L);
}

/* Metamethods called by hand on another table, or a tape key overwritten through next, raise
 * a clear error; nothing crashes. */
static void test_misuse_raises(void **state_)
{
	(void)state_;
	lua_State *L = state();
	with_ticker(L, "local mt = getmetatable(m)\n"
		       "local ok, e = pcall(mt.__index, {}, 'x')\n"
		       "assert(not ok and e:match('luatrade.object expected'), e)\n"
		       "assert(not pcall(mt.__pairs, 5))\n"
		       "local k = next(m)\n"
		       "rawset(m, k, nil)\n"
		       "ok, e = pcall(function() return m.best_bid_price end)\n"
		       "assert(not ok and e:match('luatrade.object expected'), e)\n");
	lua_close(L);
}

/* ---- cost and safety ---------------------------------------------------------------------- */

/* Bytes the Lua heap grows by over 100 decodes with the collector stopped. */
static size_t garbage(lua_State *L, const char *text, size_t len, bool lazy)
{
	lua_gc(L, LUA_GCCOLLECT);
	lua_gc(L, LUA_GCSTOP);
	size_t k0 = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
	for (int i = 0; i < 100; i++) {
		decode_ok(L, text, len, lazy);
		lua_getfield(L, -1, "best_bid_price"); /* what the bench's handler reads */
		lua_getfield(L, -2, "best_ask_price");
		lua_pop(L, 3);
	}
	size_t k1 = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
	lua_gc(L, LUA_GCRESTART);
	return (k1 - k0) / 100;
}

static void test_lazy_allocates_less_than_the_full_decode(void **state_)
{
	(void)state_;
	lua_State *L = state();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	decode_ok(L, text, len, true); /* warm: box, metatable, field names */
	decode_ok(L, text, len, false);
	lua_pop(L, 2);
	size_t full = garbage(L, text, len, false), lazy = garbage(L, text, len, true);
	print_message("bytes per ticker: full %zu, lazy %zu\n", full, lazy);
	assert_true(lazy * 10 < full * 8); /* at least a fifth less */
	free(text);
	lua_close(L);
}

/* Schemas already walked by holds_secret: the schemas form a graph that shares (and may
 * repeat) nodes, so each is looked at once. */
typedef struct seen_set {
	const lt_schema *s[512];
	int n;
} seen_set;

/* True when s holds an LT_T_SECRET anywhere. */
static bool holds_secret(const lt_schema *s, seen_set *seen)
{
	if (!s)
		return false;
	for (int i = 0; i < seen->n; i++)
		if (seen->s[i] == s)
			return false;
	assert_true(seen->n < 512);
	seen->s[seen->n++] = s;
	if (s->type == LT_T_SECRET)
		return true;
	if (s->type == LT_T_OBJECT && s->fields)
		for (const lt_field *f = s->fields; f->name; f++)
			if (holds_secret(f->schema, seen))
				return true;
	return holds_secret(s->elem, seen);
}

/* lt_lazy_schema's precondition, for every channel family the runtime subscribes to. */
static void test_no_channel_schema_holds_a_secret(void **state_)
{
	(void)state_;
	static const char *const channels[] = {"ticker.BTC-PERPETUAL.100ms",
					       "incremental_ticker.BTC-PERPETUAL",
					       "book.BTC-PERPETUAL.100ms",
					       "book.BTC-PERPETUAL.none.10.100ms",
					       "trades.BTC-PERPETUAL.100ms",
					       "quote.BTC-PERPETUAL",
					       "deribit_price_index.btc_usd",
					       "deribit_volatility_index.btc_usd",
					       "instrument.state.any.any",
					       "chart.trades.BTC-PERPETUAL.1",
					       "user.orders.any.any.raw",
					       "user.trades.any.any.raw",
					       "user.portfolio.btc",
					       "user.changes.BTC-PERPETUAL.100ms",
					       "platform_state",
					       NULL};
	/* the walk finds a secret nested in an array of objects */
	static const lt_field inner[] = {{"access_token", &lt_s_secret}, {NULL, NULL}};
	static const lt_schema obj = {LT_T_OBJECT, inner, NULL, 0};
	static const lt_schema arr = {LT_T_ARRAY, NULL, &obj, 0};
	static const lt_field outer[] = {{"n", &lt_s_int}, {"list", &arr}, {NULL, NULL}};
	static const lt_schema top = {LT_T_OBJECT, outer, NULL, 0};
	assert_true(holds_secret(&top, &(seen_set){.n = 0}));
	for (int i = 0; channels[i]; i++)
		if (holds_secret(lt_channel_schema(channels[i], strlen(channels[i])),
				 &(seen_set){.n = 0}))
			fail_msg("%s: its schema holds a secret", channels[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_fixture_reads_as_the_full_decode),
		cmocka_unit_test(test_ticker_types_and_nested_identity),
		cmocka_unit_test(test_unknown_channel_escapes_and_literals),
		cmocka_unit_test(test_second_pass_and_non_objects),
		cmocka_unit_test(test_writes_deletes_and_pairs),
		cmocka_unit_test(test_repeated_keys_keep_the_last),
		cmocka_unit_test(test_kept_object_outlives_its_input),
		cmocka_unit_test(test_prefixes_and_corruptions_fail_as_the_full_decode),
		cmocka_unit_test(test_misuse_raises),
		cmocka_unit_test(test_lazy_allocates_less_than_the_full_decode),
		cmocka_unit_test(test_no_channel_schema_holds_a_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
