/* get_cancel_on_disconnect_test.c — private/get_cancel_on_disconnect codec
 * (src/methods/get_cancel_on_disconnect.c): request text, the scope enum, and decoding of
 * {scope, enabled} and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/get_cancel_on_disconnect"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\""

static void get_cancel_on_disconnect_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_cancel_on_disconnect", LT_POOL_NON_ME, 500);
	assert_int_equal(m->result->type, LT_T_OBJECT);
}

static void get_cancel_on_disconnect_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ "}"},
		{"{ scope = 'account' }", REQ ",\"params\":{\"scope\":\"account\"}}"},
		{"{ scope = 'connection' }", REQ ",\"params\":{\"scope\":\"connection\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_cancel_on_disconnect_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ scope = 'all' }", "scope: must be one of connection, account"},
		{"{ scope = 1 }", "scope: expected string, got number"},
		{"{ currency = 'BTC' }", "unknown parameter 'currency' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_cancel_on_disconnect_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	tt_reply(L, m, "{\"scope\":\"connection\",\"enabled\":true}");
	mt_str(L, -1, "scope", "connection");
	mt_bool(L, -1, "enabled", true);
	lua_close(L);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_cancel_on_disconnect_descriptor),
		cmocka_unit_test(get_cancel_on_disconnect_request),
		cmocka_unit_test(get_cancel_on_disconnect_validation),
		cmocka_unit_test(get_cancel_on_disconnect_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
