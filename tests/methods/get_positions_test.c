/* get_positions_test.c — private/get_positions codec (src/methods/get_positions.c): request
 * text, the currency (with any) and kind enums, subaccount_id an integer, and decoding of
 * tests/fixtures/http_get_positions.json (integer text declared float becomes a float: size 50
 * -> 50.0; user_id an integer; a null liquidation price), truncated prefixes and an error
 * reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/get_positions"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_positions_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_positions", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_positions);
	assert_ptr_equal(lt_s_positions.elem, &lt_s_position);
}

static void get_positions_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC' }", REQ "{\"currency\":\"BTC\"}}"},
		{"{ subaccount_id = 7, kind = 'option', currency = 'any' }",
		 REQ "{\"currency\":\"any\",\"kind\":\"option\",\"subaccount_id\":7}}"},
		{"{ currency = 'EURR', kind = 'option_combo', subaccount_id = 12.0 }",
		 REQ "{\"currency\":\"EURR\",\"kind\":\"option_combo\",\"subaccount_id\":12}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_positions_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "currency: required"},
		{"{ kind = 'future' }", "currency: required"},
		{"{ currency = 'SOL' }",
		 "currency: must be one of BTC, ETH, USDC, USDT, EURR, any"},
		{"{ currency = 'BTC', kind = 'combo' }",
		 "kind: must be one of future, option, spot, future_combo, option_combo"},
		{"{ currency = 'BTC', subaccount_id = 1.5 }",
		 "subaccount_id: expected integer, got 1.5"},
		{"{ currency = 'BTC', subaccount_id = '7' }",
		 "subaccount_id: expected integer, got string"},
		{"{ currency = 'BTC', subaccount_id = 0 }", "subaccount_id: must be > 0"},
		{"{ currency = 'BTC', extended = true }", "unknown parameter 'extended' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_positions_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_positions.json", mt_method(M), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 2236);
	assert_int_equal(mt_len(L, -1, ""), 1);
	mt_str(L, -1, "1.instrument_name", "BTC-PERPETUAL");
	mt_str(L, -1, "1.kind", "future");
	mt_str(L, -1, "1.direction", "buy");
	mt_float(L, -1, "1.size", 50.0);
	mt_float(L, -1, "1.floating_profit_loss", 0.0);
	mt_float(L, -1, "1.average_price", 7440.18);
	mt_float(L, -1, "1.delta", 0.006687487);
	mt_float(L, -1, "1.size_currency", 0.006687487);
	mt_float(L, -1, "1.leverage", 35.639422);
	mt_float(L, -1, "1.realized_funding", -1e-8);
	mt_float(L, -1, "1.realized_profit_loss", -9e-9);
	mt_float(L, -1, "1.interest_value", 1.7362511643080387);
	mt_float(L, -1, "1.mark_price", 7476.65);
	mt_int(L, -1, "1.user_id", 1234);
	mt_null(L, -1, "1.estimated_liquidation_price");
	lua_close(L);
}

static void get_positions_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_positions.json", mt_method(M));
}

static void get_positions_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_positions_descriptor),
		cmocka_unit_test(get_positions_request),
		cmocka_unit_test(get_positions_validation),
		cmocka_unit_test(get_positions_decodes_fixture),
		cmocka_unit_test(get_positions_rejects_truncated),
		cmocka_unit_test(get_positions_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
