/* get_position_test.c — private/get_position codec (src/methods/get_position.c): request
 * text, instrument_name required, and decoding of one position (the position of
 * tests/fixtures/http_get_positions.json; integer text declared float becomes a float) and
 * of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/get_position"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_position_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_position", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_position);
}

static void get_position_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ instrument_name = 'BTC-PERPETUAL' }",
		 REQ "{\"instrument_name\":\"BTC-PERPETUAL\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_position_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{}", "instrument_name: required"},
		{"{ instrument_name = 1 }", "instrument_name: expected string, got number"},
		{"{ instrument_name = 'X', currency = 'BTC' }",
		 "unknown parameter 'currency' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_position_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	char *pos = tt_unwrap(tt_fixture_value("http_get_positions.json", "result"));
	tt_reply(L, m, pos);
	free(pos);
	mt_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	mt_float(L, -1, "size", 50.0);
	mt_float(L, -1, "floating_profit_loss", 0.0);
	mt_float(L, -1, "total_profit_loss", 0.000032781);
	mt_float(L, -1, "settlement_price", 7476.65);
	mt_int(L, -1, "user_id", 1234);
	mt_null(L, -1, "estimated_liquidation_price");
	lua_close(L);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_position_descriptor),
		cmocka_unit_test(get_position_request),
		cmocka_unit_test(get_position_validation),
		cmocka_unit_test(get_position_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
