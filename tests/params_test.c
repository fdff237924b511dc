/* params_test.c — lt_method_encode (src/params.c), the declarative parameter validator and
 * request writer, exercised through test-only descriptors that use every lt_ptype, flag and
 * bound: exact request text (declaration order, params omitted when empty, integers vs floats),
 * one case per validation rule with its exact message, buffer and stack left unchanged on
 * error, the cross-field check hook, and no metamethod ever consulted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

static const char *const colours[] = {"red", "green", "blue", NULL};
static const char *const depths[] = {"1", "5", "10", NULL};

static const lt_param all_params[] = {
	{.name = "name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "label", .type = LT_P_STRING, .max = 8},
	{.name = "code", .type = LT_P_STRING, .min = 2, .max = 4},
	{.name = "colour", .type = LT_P_ENUM, .enums = colours},
	{.name = "count", .type = LT_P_INT, .min = 1, .max = 100},
	{.name = "depth", .type = LT_P_INT, .enums = depths},
	{.name = "offset", .type = LT_P_INT},
	{.name = "price", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "interval", .type = LT_P_NUMBER, .min = 10},
	{.name = "ratio", .type = LT_P_NUMBER, .min = -1, .max = 1},
	{.name = "post_only", .type = LT_P_BOOL},
	{.name = "channels", .type = LT_P_STRING_ARRAY, .min = 1, .max = 3},
	{.name = "tags", .type = LT_P_STRING_ARRAY},
	{.name = "extra", .type = LT_P_ANY},
	{0},
};

static const lt_method all = {.name = "test/all", .lua_name = "all", .params = all_params};

static const lt_method none = {.name = "test/none", .lua_name = "none"};

#define HEAD "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"test/all\",\"params\":{"

static void encodes_in_declaration_order(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ name = 'n' }", HEAD "\"name\":\"n\"}}"},
		{"{ extra = { 1 }, post_only = false, price = 0.1, depth = 10, colour = 'red', "
		 "code = 'ab', label = '', name = 'n', channels = { 'a', 'b' }, count = 100, "
		 "interval = 10, ratio = -1, offset = -7, tags = {} }",
		 HEAD
		 "\"name\":\"n\",\"label\":\"\",\"code\":\"ab\",\"colour\":\"red\",\"count\":100,"
		 "\"depth\":10,\"offset\":-7,\"price\":0.1,\"interval\":10,\"ratio\":-1,"
		 "\"post_only\":false,\"channels\":[\"a\",\"b\"],\"tags\":[],\"extra\":[1]}}"},
		/* floats keep their value, integers stay integers, integral floats are INT */
		{"{ name = 'n', price = 93201.5, interval = 1e300, ratio = 1e-8, count = 5.0 }",
		 HEAD "\"name\":\"n\",\"count\":5,\"price\":93201.5,\"interval\":1e+300,"
		      "\"ratio\":1e-08}}"},
		{"{ name = 'n', price = 100.0, offset = 9007199254740993 }",
		 HEAD "\"name\":\"n\",\"offset\":9007199254740993,\"price\":100}}"},
		/* label counts characters, not bytes: 8 characters in 13 bytes */
		{"{ name = 'q\"\\\\\\n', label = 'caf\\u{E9}\\u{E9}\\u{E9}\\u{E9}\\u{E9}' }",
		 HEAD "\"name\":\"q\\\"\\\\\\n\",\"label\":\"caf\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		      "\xc3\xa9\"}}"},
		{"{ name = 'n', extra = { k = 'v' } }",
		 HEAD "\"name\":\"n\",\"extra\":{\"k\":\"v\"}}}"},
	};
	mt_encode_ok_m(&all, cases, MT_N(cases));
}

static void omits_params_when_none(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"test/none\"}"},
		{"{}", "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"test/none\"}"},
	};
	mt_encode_ok_m(&none, cases, MT_N(cases));
}

static void rejects_each_rule(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "name: required"},
		{"{ label = 'x' }", "name: required"},
		{"{ name = 1 }", "name: expected string, got number"},
		{"{ name = '' }", "name: must not be empty"},
		{"{ name = 'a\\xFFb' }", "name: invalid UTF-8"},
		{"{ name = 'n', label = '123456789' }", "label: at most 8 characters"},
		{"{ name = 'n', label = 'caf\\u{E9}\\u{E9}\\u{E9}\\u{E9}\\u{E9}\\u{E9}' }",
		 "label: at most 8 characters"},
		{"{ name = 'n', code = 'a' }", "code: at least 2 characters"},
		{"{ name = 'n', code = 'abcde' }", "code: at most 4 characters"},
		{"{ name = 'n', colour = 'pink' }", "colour: must be one of red, green, blue"},
		{"{ name = 'n', colour = 'RED' }", "colour: must be one of red, green, blue"},
		{"{ name = 'n', colour = 'red\\0' }", "colour: must be one of red, green, blue"},
		{"{ name = 'n', colour = 1 }", "colour: expected string, got number"},
		{"{ name = 'n', count = '5' }", "count: expected integer, got string"},
		{"{ name = 'n', count = 5.5 }", "count: expected integer, got 5.5"},
		{"{ name = 'n', count = 2^63 }",
		 "count: expected integer, got 9.223372036854776e+18"},
		{"{ name = 'n', count = 0/0 }", "count: expected integer, got null"},
		{"{ name = 'n', count = 0 }", "count: must be >= 1"},
		{"{ name = 'n', count = 101 }", "count: must be <= 100"},
		{"{ name = 'n', depth = 2 }", "depth: must be one of 1, 5, 10"},
		{"{ name = 'n', depth = 100 }", "depth: must be one of 1, 5, 10"},
		{"{ name = 'n', price = 0 }", "price: must be > 0"},
		{"{ name = 'n', price = -0.5 }", "price: must be > 0"},
		{"{ name = 'n', price = '1' }", "price: expected number, got string"},
		{"{ name = 'n', price = math.huge }", "price: must be a finite number"},
		{"{ name = 'n', price = 0/0 }", "price: must be a finite number"},
		{"{ name = 'n', interval = 9.999 }", "interval: must be >= 10"},
		{"{ name = 'n', ratio = 1.5 }", "ratio: must be <= 1"},
		{"{ name = 'n', ratio = -2 }", "ratio: must be >= -1"},
		{"{ name = 'n', post_only = 1 }", "post_only: expected boolean, got number"},
		{"{ name = 'n', channels = 'a' }",
		 "channels: expected array of strings, got string"},
		{"{ name = 'n', channels = { x = 'a' } }",
		 "channels: expected array of strings, got table"},
		{"{ name = 'n', channels = { [1] = 'a', [3] = 'c' } }",
		 "channels: expected array of strings, got table"},
		{"{ name = 'n', channels = {} }", "channels: at least 1 entry"},
		{"{ name = 'n', channels = { 'a', 'b', 'c', 'd' } }",
		 "channels: at most 3 entries"},
		{"{ name = 'n', channels = { 'a', 2 } }",
		 "channels[2]: expected string, got number"},
		{"{ name = 'n', channels = { 'a', '' } }", "channels[2]: must not be empty"},
		{"{ name = 'n', channels = { '\\xC3' } }", "channels[1]: invalid UTF-8"},
		{"{ name = 'n', extra = { f = print } }",
		 "extra.f: cannot encode a function as JSON"},
		{"{ name = 'n', extra = print }", "extra: cannot encode a function as JSON"},
		{"{ name = 'n', foo = 1 }", "unknown parameter 'foo' for test/all"},
		{"{ name = 'n', Name = 'x' }", "unknown parameter 'Name' for test/all"},
		{"{ name = 'n', 'positional' }",
		 "unknown parameter [1] for test/all (parameters are named)"},
		{"{ name = 'n', [true] = 1 }", "unknown parameter of type boolean for test/all"},
		{"'n'", "test/all: parameters must be a table, got string"},
	};
	mt_encode_err_m(&all, cases, MT_N(cases));
	static const mt_case none_cases[] = {
		{"{ x = 1 }", "unknown parameter 'x' for test/none"},
		{"42", "test/none: parameters must be a table, got number"},
	};
	mt_encode_err_m(&none, none_cases, MT_N(none_cases));
}

/* Cross-field rule: exactly one of amount or contracts. */
static int one_of_check(lua_State *L, int idx, lt_err *err)
{
	lua_pushstring(L, "amount");
	bool a = lua_rawget(L, idx) != LUA_TNIL;
	lua_pushstring(L, "contracts");
	bool c = lua_rawget(L, idx) != LUA_TNIL;
	lua_pop(L, 2);
	if (a == c)
		return lt_err_set(err, LT_EINVAL, "amount: exactly one of amount or contracts");
	return 0;
}

static const lt_param order_params[] = {
	{.name = "amount", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{.name = "contracts", .type = LT_P_NUMBER, .flags = LT_PF_POSITIVE},
	{0},
};

static const lt_method order = {
	.name = "test/order", .lua_name = "order", .params = order_params, .check = one_of_check};

static void runs_the_check_hook(void **state)
{
	(void)state;
	static const mt_case ok[] = {
		{"{ amount = 10 }", "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"test/order\","
				    "\"params\":{\"amount\":10}}"},
	};
	mt_encode_ok_m(&order, ok, MT_N(ok));
	static const mt_case bad[] = {
		{"{ amount = 10, contracts = 1 }", "amount: exactly one of amount or contracts"},
		{"{}", "amount: exactly one of amount or contracts"},
		{"{ amount = -1 }", "amount: must be > 0"}, /* per-field rules come first */
	};
	mt_encode_err_m(&order, bad, MT_N(bad));
}

/* Appends after what the buffer holds, at any stack index, with any id; ignores metatables. */
static void appends_and_ignores_metatables(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	mt_push(L, "{ name = 'n' }");
	lua_pushinteger(L, 7); /* params are not on top */
	lt_buf b;
	lt_buf_init(&b, 16);
	lt_buf_add(&b, "X", 1);
	lt_err err = {0};
	assert_int_equal(lt_method_encode(L, 1, &all, INT64_MAX, &b, &err), 0);
	assert_string_equal(lt_buf_text(&b),
			    "X{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,"
			    "\"method\":\"test/all\",\"params\":{\"name\":\"n\"}}");
	assert_int_equal(lua_gettop(L), 2);
	lt_buf_reset(&b);
	/* a parameter visible only through __index does not count; __index is never called */
	mt_push(L, "setmetatable({}, { __index = function() error('called') end })");
	assert_int_equal(lt_method_encode(L, -1, &all, -1, &b, &err), LT_EINVAL);
	assert_string_equal(err.msg, "name: required");
	mt_push(L, "setmetatable({ name = 'n' }, { __index = function() error('called') end, "
		   "__pairs = function() error('called') end })");
	assert_int_equal(lt_method_encode(L, -1, &all, -1, &b, &err), 0);
	assert_string_equal(lt_buf_text(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":-1,\"method\":\"test/all\","
			    "\"params\":{\"name\":\"n\"}}");
	lt_buf_free(&b);
	lua_close(L);
}

/* Numbers given to string parameters are not converted in place (the table is unchanged). */
static void leaves_values_untouched(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	mt_push(L, "{ name = 'n', channels = { 'a', 5 } }");
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	assert_int_equal(lt_method_encode(L, -1, &all, 1, &b, &err), LT_EINVAL);
	lua_getfield(L, -1, "channels");
	lua_rawgeti(L, -1, 2);
	assert_int_equal(lua_type(L, -1), LUA_TNUMBER);
	lt_buf_free(&b);
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_in_declaration_order),
		cmocka_unit_test(omits_params_when_none),
		cmocka_unit_test(rejects_each_rule),
		cmocka_unit_test(runs_the_check_hook),
		cmocka_unit_test(appends_and_ignores_metatables),
		cmocka_unit_test(leaves_values_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
