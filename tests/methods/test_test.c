/* test_test.c — public/test codec (src/methods/test.c): request text with and without
 * expected_result, its enum validation, and decoding of tests/fixtures/http_test.json and of an
 * error reply (what expected_result = "exception" provokes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void test_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/test", "test", LT_POOL_NON_ME, 500);
}

static void test_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ("public/test") "}"},
		{"{}", REQ("public/test") "}"},
		{"{ expected_result = 'exception' }",
		 REQ("public/test") ",\"params\":{\"expected_result\":\"exception\"}}"},
	};
	mt_encode_ok("public/test", cases, MT_N(cases));
}

static void test_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ expected_result = 'error' }", "expected_result: must be one of exception"},
		{"{ expected_result = 'Exception' }", "expected_result: must be one of exception"},
		{"{ expected_result = '' }", "expected_result: must be one of exception"},
		{"{ expected_result = true }", "expected_result: expected string, got boolean"},
		{"{ expected = 'exception' }", "unknown parameter 'expected' for public/test"},
		{"'exception'", "public/test: parameters must be a table, got string"},
	};
	mt_encode_err("public/test", cases, MT_N(cases));
}

static void test_decodes_version(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_test.json", mt_method("public/test"), LT_MSG_RESULT, &env);
	assert_true(env.has_id);
	assert_int_equal(env.id, 1);
	mt_str(L, -1, "version", "1.2.26");
	lua_close(L);
}

static void test_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_test.json", mt_method("public/test"));
}

static void test_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),        cmocka_unit_test(test_request),
		cmocka_unit_test(test_validation),        cmocka_unit_test(test_decodes_version),
		cmocka_unit_test(test_rejects_truncated), cmocka_unit_test(test_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
