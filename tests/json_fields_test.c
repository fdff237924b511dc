/* json_fields_test.c — projections (codec.h: lt_fields, LT_T_ONLY; src/json_fields.c and the
 * skip path of src/json_decode.c): a projected decode keeps exactly the listed keys of the
 * data object (or of each object of a data array), typed as the full decode types them; the
 * skipped keys and values are still parsed and UTF-8-checked (every corruption of a fixture
 * fails or succeeds exactly as the full decode does), cost no Lua allocation, and every
 * truncated prefix fails cleanly. Fixtures: tests/fixtures (ws_ticker.json, ws_trades.json).
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
#include "support/lua_helpers.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Resolver: channels through lt_channel_schema, projected onto f when f is set. */
typedef struct proj_ctx {
	const lt_fields *f;
	lt_schema proj;
	int data_calls;
} proj_ctx;

static const lt_schema *no_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

static const lt_schema *proj_data(void *ud, const char *channel, size_t len)
{
	proj_ctx *c = ud;
	c->data_calls++;
	const lt_schema *s = lt_channel_schema(channel, len);
	if (!c->f)
		return s;
	c->proj = lt_fields_schema(c->f, s);
	return &c->proj;
}

/* f from a NULL-terminated list of names; fails the test on an error. */
static void fields_of(lt_fields *f, const char *const *names)
{
	lt_err err = {0};
	lt_fields_init(f);
	for (; *names; names++)
		if (lt_fields_add(f, *names, strlen(*names), &err))
			fail_msg("lt_fields_add(%s): %s", *names, err.msg);
}

/* Envelope decode of text[0..len) projected onto f (NULL = no projection): the status; on
 * success the data is on top, on failure the stack is as it was and err holds the reason. */
static int decode(lua_State *L, const char *text, size_t len, const lt_fields *f, lt_err *err)
{
	proj_ctx ctx = {.f = f};
	lt_resolver res = {no_result, proj_data, &ctx};
	lt_envelope env;
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, text, len, &res, &env, err);
	assert_int_equal(lua_gettop(L), rc ? top : top + 1);
	if (rc == 0)
		assert_int_equal(env.kind, LT_MSG_NOTIFY);
	return rc;
}

static void decode_ok(lua_State *L, const char *text, size_t len, const lt_fields *f)
{
	lt_err err = {0};
	if (decode(L, text, len, f, &err))
		fail_msg("decode failed: %s", err.msg);
}

/* Plain decode of a NUL-terminated text with the projection of schema onto f. */
static int plain(lua_State *L, const char *text, const lt_fields *f, const lt_schema *schema,
		 lt_err *err)
{
	lt_schema proj = lt_fields_schema(f, schema);
	int top = lua_gettop(L);
	int rc = lt_json_decode(L, text, strlen(text), &proj, err);
	assert_int_equal(lua_gettop(L), rc ? top : top + 1);
	return rc;
}

/* Number of keys of the table at idx (pairs). */
static int nkeys(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	int n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		lua_pop(L, 1);
	}
	return n;
}

/* The object at proj has exactly the keys of names, each deeply equal (types included) to the
 * same key of the object at full. */
static void assert_projection(lua_State *L, int proj, int full, const char *const *names)
{
	proj = lua_absindex(L, proj);
	full = lua_absindex(L, full);
	int n = 0;
	for (; names[n]; n++) {
		lua_getfield(L, proj, names[n]);
		lua_getfield(L, full, names[n]);
		if (lua_isnil(L, -2) && !lua_isnil(L, -1))
			fail_msg("projection lacks '%s'", names[n]);
		lt_test_assert_same(L, -2, -1);
		lua_pop(L, 2);
	}
	assert_int_equal(nkeys(L, proj), n);
}

/* Where the top-level value of a fixture ends (just after its closing brace). */
static size_t json_end(const char *text, size_t len)
{
	while (len > 0 && text[len - 1] != '}')
		len--;
	return len;
}

static const char *const ticker_keep[] = {"best_bid_price",  "best_ask_price", "timestamp",
					  "instrument_name", "stats",          NULL};
static const char *const trade_keep[] = {"price", "amount", "trade_seq", "direction", NULL};

/* ---- kept keys --------------------------------------------------------------------------- */

/* Ticker: exactly the kept keys, equal to (and typed as) the full decode's; integers stay
 * integers, floats floats, the nested stats object whole. */
static void test_ticker_keeps_exactly_the_fields(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	lt_fields f;
	fields_of(&f, ticker_keep);
	decode_ok(L, text, len, NULL);
	decode_ok(L, text, len, &f);
	assert_true(nkeys(L, 1) > 15);
	assert_projection(L, 2, 1, ticker_keep);
	lt_test_assert_int(L, 2, "timestamp", 1765541474086);
	assert_string_equal(lt_test_math_type(L, (lt_test_push_path(L, 2, "best_bid_price"), -1)),
			    "float");
	lua_pop(L, 1);
	lt_test_assert_float(L, 2, "stats.high", 93612.0);
	lt_test_assert_str(L, 2, "instrument_name", "BTC-PERPETUAL");
	lt_test_assert_absent(L, 2, "mark_price");
	lt_test_assert_absent(L, 2, "state");
	free(text);
	lua_close(L);
}

/* Trades (array data): every element keeps exactly the kept keys; trade_seq is an integer. */
static void test_trades_project_each_element(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_trades.json", &len);
	lt_fields f;
	fields_of(&f, trade_keep);
	decode_ok(L, text, len, NULL);
	decode_ok(L, text, len, &f);
	assert_int_equal(lua_rawlen(L, 2), lua_rawlen(L, 1));
	assert_true(lua_rawlen(L, 2) >= 2);
	for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, 2); i++) {
		lua_rawgeti(L, 2, i);
		lua_rawgeti(L, 1, i);
		assert_projection(L, -2, -1, trade_keep);
		lua_getfield(L, -2, "trade_seq");
		assert_string_equal(lt_test_math_type(L, -1), "integer");
		lua_pop(L, 3);
	}
	free(text);
	lua_close(L);
}

/* A payload before its channel is decoded in a second pass: projected there too. */
static void test_second_pass_is_projected(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	const char *late = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"data\":"
			   "{\"best_bid_price\":1,\"mark_price\":2.5,\"timestamp\":7,\"x\":[{}]},"
			   "\"channel\":\"ticker.BTC-PERPETUAL.100ms\"}}";
	lt_fields f;
	fields_of(&f, (const char *const[]){"best_bid_price", "timestamp", NULL});
	decode_ok(L, late, strlen(late), &f);
	assert_int_equal(nkeys(L, -1), 2);
	lt_test_assert_float(L, -1, "best_bid_price", 1.0); /* typed by the ticker schema */
	lt_test_assert_int(L, -1, "timestamp", 7);
	lua_close(L);
}

/* A kept name the schema does not know decodes as ANY; a name absent from the message is just
 * absent; a data value that is no object is not projected. */
static void test_unknown_and_absent_fields(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	lt_fields f;
	fields_of(&f, (const char *const[]){"foo", "best_bid_price", "nothere", NULL});
	lt_err err = {0};
	assert_int_equal(
		plain(L, "{\"foo\":1.5,\"best_bid_price\":3,\"bar\":2}", &f, &lt_s_ticker, &err),
		0);
	assert_int_equal(nkeys(L, -1), 2);
	lt_test_assert_float(L, -1, "foo", 1.5);
	lt_test_assert_float(L, -1, "best_bid_price", 3.0);
	lua_pop(L, 1);
	assert_int_equal(plain(L, "42", &f, &lt_s_ticker, &err), 0);
	assert_int_equal(lua_tointeger(L, -1), 42);
	lua_pop(L, 1);
	/* an array: its objects are projected, its other elements and nested arrays are not */
	assert_int_equal(plain(L, "[{\"foo\":1,\"bar\":2},3,[{\"bar\":4}]]", &f, NULL, &err), 0);
	lua_rawgeti(L, -1, 1);
	assert_int_equal(nkeys(L, -1), 1);
	lua_rawgeti(L, -2, 3);
	lua_rawgeti(L, -1, 1);
	lt_test_assert_int(L, -1, "bar", 4);
	lua_close(L);
}

/* ---- skipped values ---------------------------------------------------------------------- */

/* Skipped values of every shape (nested objects and arrays, escapes, unicode escapes, deep
 * nesting, empty containers, null/bools) leave nothing behind and do not disturb the kept ones;
 * nested objects inside a kept value are not projected. */
static void test_skipped_values_of_every_shape(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	lt_fields f;
	fields_of(&f, (const char *const[]){"a", "b", "c", "k", NULL});
	const char *text =
		"{\"s1\":{\"x\":[1,{\"y\":\"q\\\"\\\\\\u00e9\\ud83d\\ude00\"}],\"z\":[],\"w\":{}},"
		"\"a\":1,\"s2\":[[[[\"deep\",{\"a\":2}]]]],\"b\":\"\\u00e9\\n\",\"s3\":null,"
		"\"s4\":true,\"s5\":-1.5e3,\"s6\":\"\\\"}]\",\"c\":[{\"a\":1,\"zz\":2}],"
		"\"k\":{\"a\":1,\"zz\":2},\"s7\":false}";
	lt_err err = {0};
	assert_int_equal(plain(L, text, &f, NULL, &err), 0);
	assert_int_equal(nkeys(L, -1), 4);
	lt_test_assert_int(L, -1, "a", 1);
	lt_test_assert_str(L, -1, "b", "\xc3\xa9\n");
	lt_test_assert_int(L, -1, "c.1.zz", 2); /* inside a kept value: everything */
	lt_test_assert_int(L, -1, "k.zz", 2);
	lua_close(L);
}

/* Invalid UTF-8 or malformed JSON inside a skipped value or key is still an error. */
static void test_skipped_values_are_still_validated(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	lt_fields f;
	fields_of(&f, (const char *const[]){"a", NULL});
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"{\"a\":1,\"skip\":\"\xc3\x28\"}", "invalid UTF8 in string"},
		{"{\"a\":1,\"skip\":{\"k\":[\"ok\",\"\xff\"]}}", "invalid UTF8 in string"},
		{"{\"a\":1,\"skip\":\"\xe0\x80\xaf\"}", "invalid UTF8 in string"}, /* overlong */
		{"{\"a\":1,\"\xff\":1}", "invalid UTF8 in key"},
		{"{\"a\":1,\"skip\":{\"\xc0\xaf\":1}}", "invalid UTF8 in key"},
		{"{\"a\":1,\"skip\":[1,,2]}", "error"},
		{"{\"a\":1,\"skip\":tru}", "error"},
		{"{\"a\":1,\"skip\":{\"x\":1]}", "error"},
		{"{\"a\":1,\"skip\":\"\\x\"}", "error"},
		{"{\"a\":1,\"skip\":01}", "error"},
		{"{\"a\":1,\"skip\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		 "[[[[["
		 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		 "nesting deeper than 64"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		lt_err err = {0};
		if (plain(L, bad[i].text, &f, NULL, &err) != LT_EJSON)
			fail_msg("accepted <%s>", bad[i].text);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("<%s>: \"%s\" lacks \"%s\"", bad[i].text, err.msg, bad[i].want);
	}
	assert_int_equal(lua_gettop(L), 0);
	lua_close(L);
}

/* Every proper prefix of the ticker and trades fixtures fails cleanly when projected; the
 * whole message decodes. */
static void test_every_prefix_fails_cleanly(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const char *const names[] = {"ws_ticker.json", "ws_trades.json"};
	lt_fields f;
	fields_of(&f, ticker_keep);
	for (size_t k = 0; k < 2; k++) {
		size_t len;
		char *text = lt_test_fixture(names[k], &len);
		size_t end = json_end(text, len);
		for (size_t n = 0; n < end; n++) {
			lt_err err = {0};
			assert_int_equal(decode(L, text, n, &f, &err), LT_EJSON);
		}
		decode_ok(L, text, end, &f);
		lua_pop(L, 1);
		free(text);
	}
	lua_close(L);
}

/* Overwrite every byte of the fixtures with bytes that break them: the projected decode
 * succeeds exactly when the full decode does (skipping validates what decoding validates),
 * never crashes, and leaves the stack clean on failure. */
static void test_corruption_fails_as_the_full_decode(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const char *const names[] = {"ws_ticker.json", "ws_trades.json"};
	static const char repl[] = {'x', '\xff', '\xc3', '"', '}',  ']', '{',
				    ',', ':',    '\0',   '9', '\\', '-'};
	lt_fields f;
	fields_of(&f, (const char *const[]){"best_bid_price", "price", "stats", NULL});
	for (size_t k = 0; k < 2; k++) {
		size_t len;
		char *text = lt_test_fixture(names[k], &len);
		char *t = malloc(len);
		assert_non_null(t);
		for (size_t i = 0; i < len; i++)
			for (size_t r = 0; r < sizeof repl; r++) {
				memcpy(t, text, len);
				t[i] = repl[r];
				lt_err e1 = {0}, e2 = {0};
				int full = decode(L, t, len, NULL, &e1);
				int proj = decode(L, t, len, &f, &e2);
				if ((full == 0) != (proj == 0))
					fail_msg("%s byte %zu -> 0x%02x: full %d (%s), projected "
						 "%d (%s)",
						 names[k], i, (unsigned char)repl[r], full, e1.msg,
						 proj, e2.msg);
				lua_settop(L, 0);
			}
		free(t);
		free(text);
	}
	lua_close(L);
}

/* ---- cost -------------------------------------------------------------------------------- */

typedef struct count_alloc {
	size_t calls, bytes;
} count_alloc;

static void *counting(void *ud, void *ptr, size_t osize, size_t nsize)
{
	count_alloc *a = ud;
	(void)osize;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	a->calls++;
	a->bytes += nsize;
	return realloc(ptr, nsize);
}

/* Skipped keys and values cost no Lua allocation: a message with a long skipped string, a
 * skipped object and a skipped array allocates exactly what the message without them does. */
static void test_skipped_values_allocate_nothing(void **state)
{
	(void)state;
	count_alloc a = {0};
	lua_State *L = lua_newstate(counting, &a);
	assert_non_null(L);
	lua_gc(L, LUA_GCSTOP);
	lt_fields f;
	fields_of(&f, (const char *const[]){"a", NULL});
	const char *with =
		"{\"skip_me_key_that_is_long\":\"a long skipped string value, 48 bytes\","
		"\"a\":1,\"o\":{\"x\":[1,2,\"y\"],\"z\":{\"w\":null}},\"arr\":[1.5,\"q\"]}";
	const char *without = "{\"a\":1}";
	lt_err err = {0};
	assert_int_equal(plain(L, without, &f, NULL, &err), 0); /* warm up: the decoder's box */
	lua_pop(L, 1);
	count_alloc before = a;
	assert_int_equal(plain(L, without, &f, NULL, &err), 0);
	size_t calls0 = a.calls - before.calls, bytes0 = a.bytes - before.bytes;
	lua_pop(L, 1);
	before = a;
	assert_int_equal(plain(L, with, &f, NULL, &err), 0);
	assert_int_equal(a.calls - before.calls, calls0);
	assert_int_equal(a.bytes - before.bytes, bytes0);
	assert_int_equal(nkeys(L, -1), 1);
	lua_pop(L, 1);
	/* and without the projection the same message does allocate (the check can fail) */
	before = a;
	assert_int_equal(lt_json_decode(L, with, strlen(with), NULL, &err), 0);
	assert_true(a.calls - before.calls > calls0);
	lua_close(L);
}

/* ---- building a projection --------------------------------------------------------------- */

static void test_fields_bounds(void **state)
{
	(void)state;
	lt_fields f;
	lt_err err = {0};
	lt_fields_init(&f);
	assert_int_equal(lt_fields_add(&f, "", 0, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	char name[LT_FIELD_NAME_MAX + 2];
	memset(name, 'n', sizeof name);
	assert_int_equal(lt_fields_add(&f, name, LT_FIELD_NAME_MAX + 1, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "longer than 64"));
	assert_int_equal(lt_fields_add(&f, name, LT_FIELD_NAME_MAX, &err), 0);
	assert_int_equal(lt_fields_add(&f, name, LT_FIELD_NAME_MAX, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "listed twice"));
	assert_int_equal(lt_fields_add(&f, "a\0b", 3, &err), LT_EINVAL);
	for (int i = 1; i < LT_FIELDS_MAX; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		assert_int_equal(lt_fields_add(&f, k, strlen(k), &err), 0);
	}
	assert_int_equal(f.n, LT_FIELDS_MAX);
	assert_int_equal(lt_fields_add(&f, "one_more", 8, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "more than 64"));
	assert_true(lt_fields_has(&f, "k63"));
	assert_false(lt_fields_has(&f, "k64"));
	assert_false(lt_fields_has(&f, "k0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ticker_keeps_exactly_the_fields),
		cmocka_unit_test(test_trades_project_each_element),
		cmocka_unit_test(test_second_pass_is_projected),
		cmocka_unit_test(test_unknown_and_absent_fields),
		cmocka_unit_test(test_skipped_values_of_every_shape),
		cmocka_unit_test(test_skipped_values_are_still_validated),
		cmocka_unit_test(test_every_prefix_fails_cleanly),
		cmocka_unit_test(test_corruption_fails_as_the_full_decode),
		cmocka_unit_test(test_skipped_values_allocate_nothing),
		cmocka_unit_test(test_fields_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
