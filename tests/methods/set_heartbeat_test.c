/* set_heartbeat_test.c — public/set_heartbeat codec (src/methods/set_heartbeat.c): request
 * text for integer and float intervals, validation (required, number, >= 10, finite), the
 * WebSocket-only flag, and decoding of an error reply. (No fixture holds its "ok" result.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void set_heartbeat_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/set_heartbeat", "set_heartbeat", LT_POOL_NON_ME, 500);
	const lt_method *m = mt_method("public/set_heartbeat");
	assert_ptr_equal(m->result, &lt_s_string);
}

static void set_heartbeat_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ interval = 30 }", REQ("public/set_heartbeat") ",\"params\":{\"interval\":30}}"},
		{"{ interval = 10 }", REQ("public/set_heartbeat") ",\"params\":{\"interval\":10}}"},
		{"{ interval = 12.5 }",
		 REQ("public/set_heartbeat") ",\"params\":{\"interval\":12.5}}"},
		{"{ interval = 60.0 }",
		 REQ("public/set_heartbeat") ",\"params\":{\"interval\":60}}"},
	};
	mt_encode_ok("public/set_heartbeat", cases, MT_N(cases));
}

static void set_heartbeat_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "interval: required"},
		{"{}", "interval: required"},
		{"{ interval = '30' }", "interval: expected number, got string"},
		{"{ interval = 9 }", "interval: must be >= 10"},
		{"{ interval = 9.99 }", "interval: must be >= 10"},
		{"{ interval = 0 }", "interval: must be >= 10"},
		{"{ interval = -30 }", "interval: must be >= 10"},
		{"{ interval = math.huge }", "interval: must be a finite number"},
		{"{ interval = 0/0 }", "interval: must be a finite number"},
		{"{ interval = 30, type = 'x' }",
		 "unknown parameter 'type' for public/set_heartbeat"},
	};
	mt_encode_err("public/set_heartbeat", cases, MT_N(cases));
}

static void set_heartbeat_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/set_heartbeat"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_heartbeat_descriptor),
		cmocka_unit_test(set_heartbeat_request),
		cmocka_unit_test(set_heartbeat_validation),
		cmocka_unit_test(set_heartbeat_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
