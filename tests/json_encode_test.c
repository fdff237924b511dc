/* json_encode_test.c — lt_json_encode_value and lt_generic_encode (src/json_encode.c): numbers
 * round-trip exactly, strings are escaped and UTF-8 checked, tables become arrays or objects,
 * luatrade.null is null, and everything that has no JSON form is rejected with its key path
 * and without touching the output buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

/* Encode the Lua expression src and return the text (valid until the next call). */
static const char *enc(const char *src)
{
	static char out[4096];
	lua_State *L = mt_lua();
	mt_push(L, src);
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	int rc = lt_json_encode_value(L, -1, &b, &err);
	if (rc)
		fail_msg("%s: unexpected error: %s", src, err.msg);
	assert_int_equal(lua_gettop(L), 1);
	snprintf(out, sizeof out, "%s", lt_buf_text(&b));
	lt_buf_free(&b);
	lua_close(L);
	return out;
}

/* Encode src, which must fail with msg and leave the buffer as it was. */
static void enc_fails(const char *src, const char *msg)
{
	lua_State *L = mt_lua();
	mt_push(L, src);
	lt_buf b;
	lt_buf_init(&b, 8);
	lt_buf_add(&b, "[1,", 3);
	lt_err err = {0};
	int rc = lt_json_encode_value(L, -1, &b, &err);
	if (rc != LT_EINVAL)
		fail_msg("%s: expected LT_EINVAL, got %d: %s", src, rc, lt_buf_text(&b));
	if (strcmp(err.msg, msg) != 0)
		fail_msg("%s:\n got  %s\n want %s", src, err.msg, msg);
	assert_string_equal(lt_buf_text(&b), "[1,");
	assert_int_equal(lua_gettop(L), 1);
	lt_buf_free(&b);
	lua_close(L);
}

static void numbers_round_trip(void **state)
{
	(void)state;
	static const double v[] = {0.1,
				   93201.5,
				   1e-8,
				   100.0,
				   -0.0,
				   2.68e-07,
				   1e300,
				   5e-324,
				   0.0028213400122472977,
				   1132329370.0,
				   123456789.123456789};
	lua_State *L = mt_lua();
	for (size_t i = 0; i < MT_N(v); i++) {
		lua_pushnumber(L, v[i]);
		lt_buf b;
		lt_buf_init(&b, 0);
		assert_int_equal(lt_json_encode_value(L, -1, &b, NULL), 0);
		double back = strtod(lt_buf_text(&b), NULL);
		if (memcmp(&back, &v[i], sizeof back) != 0) /* bitwise: keeps the sign of -0.0 */
			fail_msg("%.17g encoded as %s", v[i], lt_buf_text(&b));
		lt_buf_free(&b);
		lua_pop(L, 1);
	}
	lua_close(L);
	assert_string_equal(enc("93201.5"), "93201.5");
	assert_string_equal(enc("0.1"), "0.1");
	assert_string_equal(enc("1e-8"), "1e-08");
	assert_string_equal(enc("-0.0"), "-0");
}

static void integers_stay_integers(void **state)
{
	(void)state;
	assert_string_equal(enc("9007199254740993"), "9007199254740993"); /* 2^53 + 1 */
	assert_string_equal(enc("math.maxinteger"), "9223372036854775807");
	assert_string_equal(enc("math.mininteger"), "-9223372036854775808");
	assert_string_equal(enc("0"), "0");
	assert_string_equal(enc("-42"), "-42");
}

static void strings_are_escaped(void **state)
{
	(void)state;
	assert_string_equal(enc("'say \"hi\"'"), "\"say \\\"hi\\\"\"");
	assert_string_equal(enc("'a\\\\b'"), "\"a\\\\b\"");
	assert_string_equal(enc("'l1\\nl2\\r\\t'"), "\"l1\\nl2\\r\\t\"");
	assert_string_equal(enc("'\\0\\1\\31'"), "\"\\u0000\\u0001\\u001f\"");
	assert_string_equal(enc("'caf\\u{E9} \\u{20AC} \\u{1F600}'"),
			    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	assert_string_equal(enc("''"), "\"\"");
	assert_string_equal(enc("'/'"), "\"/\"");
}

static void invalid_utf8_is_rejected(void **state)
{
	(void)state;
	enc_fails("'\\255'", "value: invalid UTF-8");
	enc_fails("'ab\\xC3'", "value: invalid UTF-8");              /* truncated sequence */
	enc_fails("'\\xC0\\xAF'", "value: invalid UTF-8");           /* overlong '/' */
	enc_fails("'\\xE0\\x80\\xAF'", "value: invalid UTF-8");      /* overlong, 3 bytes */
	enc_fails("'\\xED\\xA0\\x80'", "value: invalid UTF-8");      /* surrogate U+D800 */
	enc_fails("'\\xF4\\x90\\x80\\x80'", "value: invalid UTF-8"); /* above U+10FFFF */
	enc_fails("'\\xE2\\x82'", "value: invalid UTF-8");
	enc_fails("{ label = 'x\\xFFy' }", "value.label: invalid UTF-8");
	enc_fails("{ ['k\\xFF'] = 1 }", "value: invalid UTF-8 in key");
	enc_fails("{ a = { 'ok', 'bad\\xFE' } }", "value.a[2]: invalid UTF-8");
}

static void tables_become_arrays_or_objects(void **state)
{
	(void)state;
	assert_string_equal(enc("{}"), "{}");
	assert_string_equal(enc("{ 1, 2.5, 'x', true, false }"), "[1,2.5,\"x\",true,false]");
	assert_string_equal(enc("{ a = 1 }"), "{\"a\":1}");
	assert_string_equal(enc("{ { 1, { 2, { 3 } } }, {} }"), "[[1,[2,[3]]],{}]");
	assert_string_equal(enc("{ a = { b = { c = { 1, 2 } } } }"),
			    "{\"a\":{\"b\":{\"c\":[1,2]}}}");
	assert_string_equal(enc("{ [1] = 'a', [2] = 'b', [3] = 'c' }"), "[\"a\",\"b\",\"c\"]");
	assert_string_equal(enc("{ ['q\"k'] = 'v' }"), "{\"q\\\"k\":\"v\"}");
	assert_string_equal(enc("true"), "true");
	assert_string_equal(enc("nil"), "null");
	/* an object with several keys: check each member is there once */
	const char *o = enc("{ x = 1, y = 'two', z = { 3 } }");
	assert_int_equal(strlen(o), strlen("{\"x\":1,\"y\":\"two\",\"z\":[3]}"));
	assert_non_null(strstr(o, "\"x\":1"));
	assert_non_null(strstr(o, "\"y\":\"two\""));
	assert_non_null(strstr(o, "\"z\":[3]"));
}

static int push_null(lua_State *L)
{
	lua_pushlightuserdata(L, NULL);
	return 1;
}

static void null_sentinel_is_null(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lua_createtable(L, 2, 0);
	lua_pushinteger(L, 1);
	lua_rawseti(L, -2, 1);
	push_null(L);
	lua_rawseti(L, -2, 2);
	lt_buf b;
	lt_buf_init(&b, 0);
	assert_int_equal(lt_json_encode_value(L, -1, &b, NULL), 0);
	assert_string_equal(lt_buf_text(&b), "[1,null]");
	lt_buf_reset(&b);
	static int other;
	lua_pushlightuserdata(L, &other);
	lt_err err = {0};
	assert_int_equal(lt_json_encode_value(L, -1, &b, &err), LT_EINVAL);
	assert_string_equal(err.msg, "value: cannot encode a light userdata as JSON");
	assert_int_equal(b.len, 0);
	lt_buf_free(&b);
	lua_close(L);
}

static void unencodable_values_are_rejected(void **state)
{
	(void)state;
	enc_fails("{ cb = print }", "value.cb: cannot encode a function as JSON");
	enc_fails("{ a = { 1, print } }", "value.a[2]: cannot encode a function as JSON");
	enc_fails("coroutine.create(print)", "value: cannot encode a thread as JSON");
	enc_fails("io.stdout", "value: cannot encode a userdata as JSON");
	enc_fails("{ x = 0/0 }", "value.x: number is not finite (NaN and infinity are not JSON)");
	enc_fails("{ 1, math.huge }",
		  "value[2]: number is not finite (NaN and infinity are not JSON)");
	enc_fails("{ [true] = 1 }", "value: object key is not a string");
	enc_fails("{ [1.5] = 1 }", "value: object key is not a string");
	enc_fails("{ [1] = 'a', [3] = 'c' }",
		  "value: mixed or sparse table (keys must be 1..n or all strings)");
	enc_fails("{ [0] = 'a' }",
		  "value: mixed or sparse table (keys must be 1..n or all strings)");
}

static void cycles_and_depth_are_rejected(void **state)
{
	(void)state;
	/* 32 nested tables are fine, 33 are not */
	char src[512] = "";
	for (int i = 0; i < 32; i++)
		strcat(src, "{");
	for (int i = 0; i < 32; i++)
		strcat(src, "}");
	char want[512] = "";
	for (int i = 0; i < 31; i++)
		strcat(want, "[");
	strcat(want, "{}"); /* the innermost table is empty; each outer one holds one element */
	for (int i = 0; i < 31; i++)
		strcat(want, "]");
	assert_string_equal(enc(src), want);
	lua_State *L = mt_lua();
	mt_push(L, "(function() local t = {} t.self = t return t end)()");
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	assert_int_equal(lt_json_encode_value(L, -1, &b, &err), LT_EINVAL);
	assert_non_null(strstr(err.msg, "nesting deeper than 32 (a cycle?)"));
	assert_memory_equal(err.msg, "value.self.self.self", 20);
	assert_int_equal(b.len, 0);
	assert_int_equal(lua_gettop(L), 1);
	lt_buf_free(&b);
	lua_close(L);
	char deep[512] = "";
	for (int i = 0; i < 33; i++)
		strcat(deep, "{");
	for (int i = 0; i < 33; i++)
		strcat(deep, "}");
	L = mt_lua();
	mt_push(L, deep);
	lt_buf_init(&b, 0);
	assert_int_equal(lt_json_encode_value(L, -1, &b, &err), LT_EINVAL);
	assert_string_equal(err.msg, "value[1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1]"
				     "[1][1][1][1][1][1][1][1][1][1][1][1][1][1]: nesting deeper "
				     "than 32 (a cycle?)");
	lt_buf_free(&b);
	lua_close(L);
}

static void generic_request(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_buf b;
	lt_buf_init(&b, 16);
	lt_err err = {0};
	mt_push(L, "{ currency = 'BTC' }");
	assert_int_equal(
		lt_generic_encode(L, -1, "public/get_book_summary_by_currency", 7, &b, &err), 0);
	assert_string_equal(lt_buf_text(&b), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
					     "\"public/get_book_summary_by_currency\","
					     "\"params\":{\"currency\":\"BTC\"}}");
	lt_buf_reset(&b);
	lua_pushnil(L);
	assert_int_equal(lt_generic_encode(L, -1, "public/get_currencies", 8, &b, &err), 0);
	assert_string_equal(lt_buf_text(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"public/get_currencies\"}");
	lt_buf_reset(&b);
	assert_int_equal(lt_generic_encode(L, 100, "public/get_currencies", 9, &b, &err),
			 0); /* none */
	mt_push(L, "{}");
	lt_buf_reset(&b);
	assert_int_equal(lt_generic_encode(L, -1, "public/get_currencies", 9, &b, &err), 0);
	assert_string_equal(lt_buf_text(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"public/get_currencies\"}");
	lt_buf_free(&b);
	lua_close(L);
}

static void generic_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *params, *method, *msg;
	} cases[] = {
		{"{ label = 'a\\xFF' }", "private/buy", "params.label: invalid UTF-8"},
		{"{ f = print }", "public/x", "params.f: cannot encode a function as JSON"},
		{"{ 1, 2 }", "public/x",
		 "params: expected named parameters (a table with string keys)"},
		{"'str'", "public/x", "params: expected table, got string"},
		{"{}", "", "method: expected a non-empty UTF-8 name"},
		{"{}", "public/\xff", "method: expected a non-empty UTF-8 name"},
	};
	for (size_t i = 0; i < MT_N(cases); i++) {
		lua_State *L = mt_lua();
		mt_push(L, cases[i].params);
		lt_buf b;
		lt_buf_init(&b, 0);
		lt_buf_add(&b, "x", 1);
		lt_err err = {0};
		assert_int_equal(lt_generic_encode(L, -1, cases[i].method, 1, &b, &err), LT_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		assert_string_equal(lt_buf_text(&b), "x");
		assert_int_equal(lua_gettop(L), 1);
		lt_buf_free(&b);
		lua_close(L);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_round_trip),
		cmocka_unit_test(integers_stay_integers),
		cmocka_unit_test(strings_are_escaped),
		cmocka_unit_test(invalid_utf8_is_rejected),
		cmocka_unit_test(tables_become_arrays_or_objects),
		cmocka_unit_test(null_sentinel_is_null),
		cmocka_unit_test(unencodable_values_are_rejected),
		cmocka_unit_test(cycles_and_depth_are_rejected),
		cmocka_unit_test(generic_request),
		cmocka_unit_test(generic_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
