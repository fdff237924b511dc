/* get_instrument_test.c — public/get_instrument codec (src/methods/get_instrument.c):
 * request text, instrument_name validation, and decoding of tests/fixtures/
 * http_get_instrument.json (a perpetual) and http_get_instrument_option.json (an option), plus
 * an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void get_instrument_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/get_instrument", "get_instrument", LT_POOL_NON_ME, 500);
	assert_ptr_equal(mt_method("public/get_instrument")->result, &lt_s_instrument);
}

static void get_instrument_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ instrument_name = 'BTC-PERPETUAL' }",
		 REQ("public/get_instrument") ",\"params\":{\"instrument_name\":\"BTC-PERPETUAL\"}"
					      "}"},
		{"{ instrument_name = 'XRP_USDC-30JUN23-0d625-C' }",
		 REQ("public/get_instrument") ",\"params\":{\"instrument_name\":"
					      "\"XRP_USDC-30JUN23-0d625-C\"}}"},
	};
	mt_encode_ok("public/get_instrument", cases, MT_N(cases));
}

static void get_instrument_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{}", "instrument_name: required"},
		{"{ instrument_name = 124972 }", "instrument_name: expected string, got number"},
		{"{ instrument_name = {} }", "instrument_name: expected string, got table"},
		{"{ instrument_name = '' }", "instrument_name: must not be empty"},
		{"{ instrument_name = 'BTC-PERPETUAL', currency = 'BTC' }",
		 "unknown parameter 'currency' for public/get_instrument"},
	};
	mt_encode_err("public/get_instrument", cases, MT_N(cases));
}

static void get_instrument_decodes_perpetual(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_instrument.json", mt_method("public/get_instrument"), LT_MSG_RESULT,
		  &env);
	assert_int_equal(env.us_in, 1765297564479569);
	mt_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	mt_str(L, -1, "settlement_period", "perpetual");
	mt_str(L, -1, "instrument_type", "reversed");
	mt_int(L, -1, "instrument_id", 124972);
	mt_int(L, -1, "max_leverage", 50);
	mt_int(L, -1, "expiration_timestamp", 32503708800000);
	mt_float(L, -1, "tick_size", 0.5);
	mt_float(L, -1, "contract_size", 10.0);
	mt_float(L, -1, "maker_commission", 0.0);
	mt_float(L, -1, "block_trade_min_trade_amount", 200000.0);
	mt_bool(L, -1, "is_active", true);
	lua_close(L);
}

static void get_instrument_decodes_option(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_instrument_option.json", mt_method("public/get_instrument"),
		  LT_MSG_RESULT, &env);
	mt_str(L, -1, "instrument_name", "BTC-27DEC24-100000-C");
	mt_str(L, -1, "kind", "option");
	mt_str(L, -1, "option_type", "call");
	mt_float(L, -1, "strike", 100000.0);
	mt_float(L, -1, "tick_size", 0.0005);
	mt_float(L, -1, "contract_size", 1.0);
	mt_float(L, -1, "min_trade_amount", 0.1);
	mt_float(L, -1, "block_trade_min_trade_amount", 25.0);
	mt_int(L, -1, "instrument_id", 345678);
	mt_int(L, -1, "expiration_timestamp", 1735300800000);
	lua_close(L);
}

static void get_instrument_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_instrument.json", mt_method("public/get_instrument"));
	mt_truncated_rejected("http_get_instrument_option.json",
			      mt_method("public/get_instrument"));
}

static void get_instrument_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/get_instrument"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_instrument_descriptor),
		cmocka_unit_test(get_instrument_request),
		cmocka_unit_test(get_instrument_validation),
		cmocka_unit_test(get_instrument_decodes_perpetual),
		cmocka_unit_test(get_instrument_decodes_option),
		cmocka_unit_test(get_instrument_rejects_truncated),
		cmocka_unit_test(get_instrument_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
