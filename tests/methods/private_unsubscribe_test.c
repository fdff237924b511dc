/* private_unsubscribe_test.c — private/unsubscribe codec (src/methods/private_unsubscribe.c):
 * no Lua name (closing a subscription sends it), request text, every rule on channels
 * (required, array, 1..500 non-empty strings), the subscribe pool, and decoding of the
 * removed channel list (tests/fixtures/ws_subscribe_response.json), truncated prefixes and an
 * error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/unsubscribe"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void private_unsubscribe_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, NULL, LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_string_array);
	assert_ptr_equal(lt_method_find_lua("unsubscribe"), mt_method("public/unsubscribe"));
}

static void private_unsubscribe_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ channels = { 'user.orders.BTC-PERPETUAL.raw', 'user.trades.any.any.raw' } }",
		 REQ "{\"channels\":[\"user.orders.BTC-PERPETUAL.raw\","
		     "\"user.trades.any.any.raw\"]}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void private_unsubscribe_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "channels: required"},
		{"{ channels = { x = 'user.portfolio.any' } }",
		 "channels: expected array of strings, got table"},
		{"{ channels = {} }", "channels: at least 1 entry"},
		{"{ channels = (function() local c = {} for i = 1, 501 do c[i] = 'x' .. i end "
		 "return c end)() }",
		 "channels: at most 500 entries"},
		{"{ channels = { 1 } }", "channels[1]: expected string, got number"},
		{"{ channels = { '' } }", "channels[1]: must not be empty"},
		{"{ channels = { 'x' }, label = 'l' }", "unknown parameter 'label' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void private_unsubscribe_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_subscribe_response.json", m, LT_MSG_RESULT, &env);
	mt_str(L, -1, "2", "book.BTC-PERPETUAL.100ms");
	lua_close(L);
	mt_truncated_rejected("ws_subscribe_response.json", m);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(private_unsubscribe_descriptor),
		cmocka_unit_test(private_unsubscribe_request),
		cmocka_unit_test(private_unsubscribe_validation),
		cmocka_unit_test(private_unsubscribe_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
