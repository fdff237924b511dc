/* sell_test.c — private/sell codec (src/methods/sell.c): the same parameter table and rules as
 * private/buy (tests/methods/order_cases.h, run here against private/sell), and decoding of
 * tests/fixtures/ws_order_sell_response.json, of the reduce-only stop market fixture, of
 * truncated prefixes and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/order_cases.h"

#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"private/sell\",\"params\":"

static void sell_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private("private/sell", "sell", LT_POOL_ME, 1);
	const lt_method *buy = mt_method("private/buy");
	assert_ptr_equal(m->result, &lt_s_order_result);
	assert_ptr_equal(m->params, buy->params); /* one table, not a copy */
	assert_ptr_equal(m->check, buy->check);
}

static void sell_request(void **state)
{
	(void)state;
	const lt_method *m = mt_method("private/sell");
	for (size_t i = 0; i < MT_N(order_ok_params); i++) {
		char want[2048];
		snprintf(want, sizeof want, REQ "%s}", order_ok_params[i].want);
		mt_case c = {order_ok_params[i].params, want};
		mt_encode_ok_m(m, &c, 1);
	}
}

static void sell_validation(void **state)
{
	(void)state;
	mt_encode_err("private/sell", order_invalid, MT_N(order_invalid));
	static const mt_case more[] = {
		{"{ instrument_name = 'X', amount = 10, price = 1, direction = 'sell' }",
		 "unknown parameter 'direction' for private/sell"},
	};
	mt_encode_err("private/sell", more, MT_N(more));
}

static void sell_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_sell_response.json", mt_method("private/sell"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 4);
	assert_int_equal(env.us_out, 1767978363499768);
	mt_str(L, -1, "order.order_id", "USDC-104819327458");
	mt_str(L, -1, "order.direction", "sell");
	mt_str(L, -1, "order.label", "O-19700101-000000-001-001-2");
	mt_float(L, -1, "order.price", 3286.7);
	mt_float(L, -1, "order.amount", 0.001);
	mt_float(L, -1, "order.contracts", 1.0);
	mt_float(L, -1, "order.filled_amount", 0.0);
	mt_int(L, -1, "order.creation_timestamp", 1767978363496);
	mt_int(L, -1, "order.user_id", 96103);
	mt_bool(L, -1, "order.post_only", true);
	mt_bool(L, -1, "order.web", false);
	assert_int_equal(mt_len(L, -1, "trades"), 0);
	lua_pop(L, 1);
	/* a reduce-only stop market sell: "market_price" stays a string */
	mt_decode(L, "ws_order_stop_market_response.json", mt_method("private/sell"), LT_MSG_RESULT,
		  &env);
	mt_str(L, -1, "order.direction", "sell");
	mt_str(L, -1, "order.price", "market_price");
	mt_float(L, -1, "order.average_price", 0.0);
	mt_bool(L, -1, "order.risk_reducing", true);
	lua_close(L);
}

static void sell_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_order_sell_response.json", mt_method("private/sell"));
}

static void sell_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("private/sell"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sell_descriptor),        cmocka_unit_test(sell_request),
		cmocka_unit_test(sell_validation),        cmocka_unit_test(sell_decodes_fixture),
		cmocka_unit_test(sell_rejects_truncated), cmocka_unit_test(sell_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
