/* disable_heartbeat_test.c — public/disable_heartbeat codec (src/methods/disable_heartbeat.c):
 * the request has no params, any key is rejected, the method is WebSocket-only with an "ok"
 * string result, and an error reply decodes. (No fixture holds its "ok" result.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void disable_heartbeat_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/disable_heartbeat", "disable_heartbeat", LT_POOL_NON_ME, 500);
	const lt_method *m = mt_method("public/disable_heartbeat");
	assert_ptr_equal(m->result, &lt_s_string);
}

static void disable_heartbeat_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ("public/disable_heartbeat") "}"},
		{"{}", REQ("public/disable_heartbeat") "}"},
	};
	mt_encode_ok("public/disable_heartbeat", cases, MT_N(cases));
}

static void disable_heartbeat_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ interval = 10 }", "unknown parameter 'interval' for public/disable_heartbeat"},
		{"{ 'x' }",
		 "unknown parameter [1] for public/disable_heartbeat (parameters are named)"},
		{"'x'", "public/disable_heartbeat: parameters must be a table, got string"},
	};
	mt_encode_err("public/disable_heartbeat", cases, MT_N(cases));
}

static void disable_heartbeat_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/disable_heartbeat"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(disable_heartbeat_descriptor),
		cmocka_unit_test(disable_heartbeat_request),
		cmocka_unit_test(disable_heartbeat_validation),
		cmocka_unit_test(disable_heartbeat_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
