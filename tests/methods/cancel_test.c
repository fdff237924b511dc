/* cancel_test.c — private/cancel codec (src/methods/cancel.c): request text, the order_id rules
 * (required, a string: order ids are strings), and decoding of tests/fixtures/
 * ws_order_cancel_response.json (the cancelled order), truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"private/cancel\",\"params\":"

static void cancel_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private("private/cancel", "cancel", LT_POOL_ME, 1);
	assert_ptr_equal(m->result, &lt_s_order);
}

static void cancel_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ order_id = 'USDC-104819327443' }", REQ "{\"order_id\":\"USDC-104819327443\"}}"},
		{"{ order_id = '63018852741' }", REQ "{\"order_id\":\"63018852741\"}}"},
	};
	mt_encode_ok("private/cancel", cases, MT_N(cases));
}

static void cancel_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "order_id: required"},
		{"{}", "order_id: required"},
		{"{ order_id = 63018852741 }", "order_id: expected string, got number"},
		{"{ order_id = '' }", "order_id: must not be empty"},
		{"{ order_id = 'X', label = 'l' }", "unknown parameter 'label' for private/cancel"},
	};
	mt_encode_err("private/cancel", cases, MT_N(cases));
}

static void cancel_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_cancel_response.json", mt_method("private/cancel"), LT_MSG_RESULT,
		  &env);
	assert_int_equal(env.id, 11);
	mt_str(L, -1, "order_id", "USDC-104819327443");
	mt_str(L, -1, "order_state", "cancelled");
	mt_str(L, -1, "cancel_reason", "user_request");
	mt_float(L, -1, "price", 3067.2);
	mt_float(L, -1, "filled_amount", 0.0);
	mt_float(L, -1, "contracts", 1.0);
	mt_int(L, -1, "last_update_timestamp", 1767978373490);
	mt_int(L, -1, "user_id", 96103);
	mt_bool(L, -1, "replaced", true);
	mt_bool(L, -1, "is_liquidation", false);
	lua_close(L);
}

static void cancel_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_order_cancel_response.json", mt_method("private/cancel"));
}

static void cancel_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("private/cancel"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cancel_descriptor),
		cmocka_unit_test(cancel_request),
		cmocka_unit_test(cancel_validation),
		cmocka_unit_test(cancel_decodes_fixture),
		cmocka_unit_test(cancel_rejects_truncated),
		cmocka_unit_test(cancel_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
