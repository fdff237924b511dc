/* disable_cancel_on_disconnect_test.c — private/disable_cancel_on_disconnect codec
 * (src/methods/disable_cancel_on_disconnect.c): request text without and with scope, the scope
 * enum (connection, account), and decoding of the "ok" result and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/disable_cancel_on_disconnect"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\""

static void disable_cancel_on_disconnect_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "disable_cancel_on_disconnect", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_string);
}

static void disable_cancel_on_disconnect_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ "}"},
		{"{ scope = 'connection' }", REQ ",\"params\":{\"scope\":\"connection\"}}"},
		{"{ scope = 'account' }", REQ ",\"params\":{\"scope\":\"account\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void disable_cancel_on_disconnect_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ scope = 'session' }", "scope: must be one of connection, account"},
		{"{ scope = true }", "scope: expected string, got boolean"},
		{"{ enabled = true }", "unknown parameter 'enabled' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void disable_cancel_on_disconnect_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	tt_reply(L, m, "\"ok\"");
	mt_str(L, -1, "", "ok");
	lua_close(L);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(disable_cancel_on_disconnect_descriptor),
		cmocka_unit_test(disable_cancel_on_disconnect_request),
		cmocka_unit_test(disable_cancel_on_disconnect_validation),
		cmocka_unit_test(disable_cancel_on_disconnect_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
