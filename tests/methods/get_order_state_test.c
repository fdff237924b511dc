/* get_order_state_test.c — private/get_order_state codec (src/methods/get_order_state.c):
 * request text, order_id required (a string), and decoding of one order (the order of
 * tests/fixtures/ws_order_cancel_response.json; the stop market order without
 * filled_amount), truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/get_order_state"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_order_state_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_order_state", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_order);
}

static void get_order_state_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ order_id = 'ETH-584849853' }", REQ "{\"order_id\":\"ETH-584849853\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_order_state_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "order_id: required"},
		{"{ order_id = 584849853 }", "order_id: expected string, got number"},
		{"{ order_id = '' }", "order_id: must not be empty"},
		{"{ order_id = 'x', label = 'y' }", "unknown parameter 'label' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_order_state_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_cancel_response.json", m, LT_MSG_RESULT, &env);
	mt_str(L, -1, "order_state", "cancelled");
	mt_float(L, -1, "average_price", 0.0);
	mt_int(L, -1, "creation_timestamp", 1767978363493);
	lua_pop(L, 1);
	char *order = tt_fixture_value("ws_order_stop_market_no_filled_amount.json", "order");
	tt_reply(L, m, order);
	free(order);
	mt_str(L, -1, "order_state", "untriggered");
	mt_str(L, -1, "price", "market_price");
	tt_absent(L, -1, "filled_amount");
	mt_float(L, -1, "contracts", 10.0);
	lua_close(L);
	mt_truncated_rejected("ws_order_cancel_response.json", m);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_order_state_descriptor),
		cmocka_unit_test(get_order_state_request),
		cmocka_unit_test(get_order_state_validation),
		cmocka_unit_test(get_order_state_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
