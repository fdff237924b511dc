/* hello_test.c — public/hello codec (src/methods/hello.c): request text, validation of
 * client_name / client_version, and decoding of a {version} result (tests/fixtures/
 * http_test.json has the same result shape as hello) and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void hello_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/hello", "hello", LT_POOL_NON_ME, 500);
}

static void hello_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ client_name = 'luatrade', client_version = '0.1.0' }",
		 REQ("public/hello") ",\"params\":{\"client_name\":\"luatrade\","
				     "\"client_version\":\"0.1.0\"}}"},
		{"{ client_version = '1.2', client_name = 'my \"bot\"' }", /* declaration order */
		 REQ("public/hello") ",\"params\":{\"client_name\":\"my \\\"bot\\\"\","
				     "\"client_version\":\"1.2\"}}"},
	};
	mt_encode_ok("public/hello", cases, MT_N(cases));
}

static void hello_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "client_name: required"},
		{"{ client_version = '0.1.0' }", "client_name: required"},
		{"{ client_name = 'luatrade' }", "client_version: required"},
		{"{ client_name = 1, client_version = '0.1.0' }",
		 "client_name: expected string, got number"},
		{"{ client_name = 'luatrade', client_version = 0.1 }",
		 "client_version: expected string, got number"},
		{"{ client_name = '', client_version = '0.1.0' }",
		 "client_name: must not be empty"},
		{"{ client_name = 'lt', client_version = '' }",
		 "client_version: must not be empty"},
		{"{ client_name = 'lt\\xFF', client_version = '1' }", "client_name: invalid UTF-8"},
		{"{ client_name = 'lt', client_version = '1', version = '2' }",
		 "unknown parameter 'version' for public/hello"},
	};
	mt_encode_err("public/hello", cases, MT_N(cases));
}

static void hello_decodes_version(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_test.json", mt_method("public/hello"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 1);
	mt_str(L, -1, "version", "1.2.26");
	lua_close(L);
}

static void hello_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_test.json", mt_method("public/hello"));
}

static void hello_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/hello"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello_descriptor),        cmocka_unit_test(hello_request),
		cmocka_unit_test(hello_validation),        cmocka_unit_test(hello_decodes_version),
		cmocka_unit_test(hello_rejects_truncated), cmocka_unit_test(hello_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
