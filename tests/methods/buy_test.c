/* buy_test.c — private/buy codec (src/methods/buy.c, src/methods/order_params.c): the request
 * text of every order type, every rule of the shared order parameters (tests/methods/
 * order_cases.h), and decoding of tests/fixtures/ws_order_buy_response.json ({order, trades};
 * string ids, integer timestamps, float prices and sizes), of an immediate fill, of the stop
 * market fixtures (price "market_price" stays a string, a missing filled_amount stays nil),
 * truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/order_cases.h"

#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"private/buy\",\"params\":"

static void buy_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private("private/buy", "buy", LT_POOL_ME, 1);
	assert_ptr_equal(m->result, &lt_s_order_result);
	assert_non_null(m->check);
}

static void buy_request(void **state)
{
	(void)state;
	const lt_method *m = mt_method("private/buy");
	for (size_t i = 0; i < MT_N(order_ok_params); i++) {
		char want[2048];
		snprintf(want, sizeof want, REQ "%s}", order_ok_params[i].want);
		mt_case c = {order_ok_params[i].params, want};
		mt_encode_ok_m(m, &c, 1);
	}
}

static void buy_validation(void **state)
{
	(void)state;
	mt_encode_err("private/buy", order_invalid, MT_N(order_invalid));
	static const mt_case more[] = {
		{"{ instrument_name = 'X', amount = 10, price = 1, max_show = 1 }",
		 "unknown parameter 'max_show' for private/buy"},
		{"'BTC-PERPETUAL'", "private/buy: parameters must be a table, got string"},
	};
	mt_encode_err("private/buy", more, MT_N(more));
}

static void buy_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_buy_response.json", mt_method("private/buy"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 3);
	assert_false(env.testnet);
	assert_int_equal(env.us_in, 1767978363485278);
	mt_str(L, -1, "order.order_id", "USDC-104819327443");
	mt_str(L, -1, "order.label", "O-19700101-000000-001-001-1");
	mt_str(L, -1, "order.direction", "buy");
	mt_str(L, -1, "order.order_state", "open");
	mt_str(L, -1, "order.order_type", "limit");
	mt_str(L, -1, "order.time_in_force", "good_til_cancelled");
	mt_str(L, -1, "order.instrument_name", "ETH_USDC-PERPETUAL");
	mt_float(L, -1, "order.price", 2973.55);
	mt_float(L, -1, "order.amount", 0.001);
	mt_float(L, -1, "order.contracts", 1.0);
	mt_float(L, -1, "order.filled_amount", 0.0);
	mt_float(L, -1, "order.average_price", 0.0);
	mt_int(L, -1, "order.user_id", 96103);
	mt_int(L, -1, "order.creation_timestamp", 1767978363493);
	mt_int(L, -1, "order.last_update_timestamp", 1767978363493);
	mt_bool(L, -1, "order.post_only", true);
	mt_bool(L, -1, "order.reject_post_only", false);
	mt_bool(L, -1, "order.api", true);
	mt_bool(L, -1, "order.replaced", false);
	mt_bool(L, -1, "order.risk_reducing", false);
	tt_absent(L, -1, "order.cancel_reason");
	mt_get(L, -1, "trades");
	assert_int_equal(lua_type(L, -1), LUA_TTABLE);
	assert_int_equal(lua_rawlen(L, -1), 0);
	lua_close(L);
}

/* Fills made while placing come back in trades: user trades, typed. Integer text where floats
 * are declared still gives floats. */
static void buy_decodes_fill(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	size_t len;
	char *text = tt_fixture_edited(
		"ws_order_buy_response.json", "\"trades\": []",
		"\"trades\": [{\"trade_id\": \"331870615\", \"trade_seq\": 201559114, "
		"\"instrument_name\": \"ETH_USDC-PERPETUAL\", \"timestamp\": 1767978363493, "
		"\"order_id\": \"USDC-104819327443\", \"order_type\": \"limit\", \"direction\": "
		"\"buy\", \"price\": 2973, \"amount\": 0.001, \"contracts\": 1, \"fee\": 2.68e-7, "
		"\"fee_currency\": \"USDC\", \"liquidity\": \"T\", \"state\": \"filled\", "
		"\"index_price\": 2972.1, \"mark_price\": 2973.2, \"tick_direction\": 2, "
		"\"matching_id\": null}]",
		&len);
	tt_decode_text(L, text, len, mt_method("private/buy"), LT_MSG_RESULT);
	free(text);
	assert_int_equal(mt_len(L, -1, "trades"), 1);
	mt_str(L, -1, "trades.1.trade_id", "331870615");
	mt_int(L, -1, "trades.1.trade_seq", 201559114);
	mt_int(L, -1, "trades.1.timestamp", 1767978363493);
	mt_int(L, -1, "trades.1.tick_direction", 2);
	mt_float(L, -1, "trades.1.price", 2973.0);
	mt_float(L, -1, "trades.1.contracts", 1.0);
	mt_float(L, -1, "trades.1.fee", 2.68e-7);
	mt_float(L, -1, "trades.1.index_price", 2972.1);
	mt_null(L, -1, "trades.1.matching_id");
	mt_str(L, -1, "trades.1.liquidity", "T");
	lua_close(L);
}

/* An untriggered stop-market order: price is the string "market_price"; one capture has no
 * filled_amount at all, which stays absent. */
static void buy_decodes_stop_market(void **state)
{
	(void)state;
	const lt_method *m = mt_method("private/buy");
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_stop_market_response.json", m, LT_MSG_RESULT, &env);
	assert_true(env.testnet);
	mt_str(L, -1, "order.price", "market_price");
	mt_str(L, -1, "order.order_type", "stop_market");
	mt_str(L, -1, "order.order_state", "untriggered");
	mt_str(L, -1, "order.trigger", "mark_price");
	mt_float(L, -1, "order.trigger_price", 2228.0);
	mt_float(L, -1, "order.amount", 0.01);
	mt_float(L, -1, "order.contracts", 10.0);
	mt_float(L, -1, "order.filled_amount", 0.0);
	mt_bool(L, -1, "order.reduce_only", true);
	mt_int(L, -1, "order.creation_timestamp", 1776960375531);
	lua_pop(L, 1);
	mt_decode(L, "ws_order_stop_market_no_filled_amount.json", m, LT_MSG_RESULT, &env);
	mt_str(L, -1, "order.price", "market_price");
	mt_str(L, -1, "order.order_id", "USDC-SLMB-19641");
	tt_absent(L, -1, "order.filled_amount");
	tt_absent(L, -1, "order.average_price");
	mt_float(L, -1, "order.trigger_price", 2228.0);
	mt_int(L, -1, "order.last_update_timestamp", 1777923420773);
	lua_close(L);
}

static void buy_rejects_truncated(void **state)
{
	(void)state;
	const lt_method *m = mt_method("private/buy");
	mt_truncated_rejected("ws_order_buy_response.json", m);
	mt_truncated_rejected("ws_order_stop_market_no_filled_amount.json", m);
}

static void buy_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("private/buy"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buy_descriptor),        cmocka_unit_test(buy_request),
		cmocka_unit_test(buy_validation),        cmocka_unit_test(buy_decodes_fixture),
		cmocka_unit_test(buy_decodes_fill),      cmocka_unit_test(buy_decodes_stop_market),
		cmocka_unit_test(buy_rejects_truncated), cmocka_unit_test(buy_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
