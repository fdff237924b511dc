/* get_time_test.c — public/get_time codec (src/methods/get_time.c): the request has no
 * params, any key is rejected, and tests/fixtures/http_get_time.json decodes to a Lua integer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void get_time_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/get_time", "get_time", LT_POOL_NON_ME, 500);
}

static void get_time_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ("public/get_time") "}"},
		{"{}", REQ("public/get_time") "}"},
	};
	mt_encode_ok("public/get_time", cases, MT_N(cases));
}

static void get_time_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC' }", "unknown parameter 'currency' for public/get_time"},
		{"{ 1 }", "unknown parameter [1] for public/get_time (parameters are named)"},
		{"true", "public/get_time: parameters must be a table, got boolean"},
	};
	mt_encode_err("public/get_time", cases, MT_N(cases));
}

static void get_time_decodes_integer(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_time.json", mt_method("public/get_time"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 1);
	assert_true(lua_isinteger(L, -1));
	assert_int_equal(lua_tointeger(L, -1), 1733338800000);
	lua_close(L);
}

static void get_time_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_time.json", mt_method("public/get_time"));
}

static void get_time_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/get_time"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_time_descriptor),
		cmocka_unit_test(get_time_request),
		cmocka_unit_test(get_time_validation),
		cmocka_unit_test(get_time_decodes_integer),
		cmocka_unit_test(get_time_rejects_truncated),
		cmocka_unit_test(get_time_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
