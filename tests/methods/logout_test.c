/* logout_test.c — private/logout codec (src/methods/logout.c): request text without and with
 * invalidate_token, its boolean rule, no result schema (the venue sends no response, it closes
 * the socket), and an error reply still decoding as an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/logout"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\""

static void logout_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "logout", LT_POOL_NON_ME, 500);
	assert_null(m->result);
}

static void logout_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ "}"},
		{"{ invalidate_token = false }", REQ ",\"params\":{\"invalidate_token\":false}}"},
		{"{ invalidate_token = true }", REQ ",\"params\":{\"invalidate_token\":true}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void logout_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ invalidate_token = 'false' }",
		 "invalidate_token: expected boolean, got string"},
		{"{ invalidate_token = 0 }", "invalidate_token: expected boolean, got number"},
		{"{ invalid_token = false }", "unknown parameter 'invalid_token' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void logout_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logout_descriptor),
		cmocka_unit_test(logout_request),
		cmocka_unit_test(logout_validation),
		cmocka_unit_test(logout_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
