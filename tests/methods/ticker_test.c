/* ticker_test.c — public/ticker codec (src/methods/ticker.c): request text, validation of
 * instrument_name, and decoding of a real-shaped ticker (the data of tests/fixtures/
 * ws_ticker.json has the same shape as the public/ticker result) and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

static void ticker_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/ticker", "ticker", LT_POOL_NON_ME, 500);
	assert_ptr_equal(mt_method("public/ticker")->result, &lt_s_ticker);
}

static void ticker_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ instrument_name = 'BTC-PERPETUAL' }",
		 "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"public/ticker\","
		 "\"params\":{\"instrument_name\":\"BTC-PERPETUAL\"}}"},
		{"{ instrument_name = 'BTC-27DEC24-100000-C' }",
		 "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"public/ticker\","
		 "\"params\":{\"instrument_name\":\"BTC-27DEC24-100000-C\"}}"},
	};
	mt_encode_ok("public/ticker", cases, MT_N(cases));
}

static void ticker_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{}", "instrument_name: required"},
		{"{ instrument_name = 42 }", "instrument_name: expected string, got number"},
		{"{ instrument_name = true }", "instrument_name: expected string, got boolean"},
		{"{ instrument_name = '' }", "instrument_name: must not be empty"},
		{"{ instrument_name = 'BTC\\255' }", "instrument_name: invalid UTF-8"},
		{"{ instrument_name = 'BTC-PERPETUAL', foo = 1 }",
		 "unknown parameter 'foo' for public/ticker"},
		{"{ 'BTC-PERPETUAL' }",
		 "unknown parameter [1] for public/ticker (parameters are named)"},
		{"'BTC-PERPETUAL'", "public/ticker: parameters must be a table, got string"},
	};
	mt_encode_err("public/ticker", cases, MT_N(cases));
}

static void ticker_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_ticker.json", mt_method("public/ticker"), LT_MSG_NOTIFY, &env);
	assert_string_equal(env.channel, "ticker.BTC-PERPETUAL.100ms");
	mt_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	mt_str(L, -1, "state", "open");
	mt_int(L, -1, "timestamp", 1765541474086);
	mt_float(L, -1, "best_bid_price", 92283.5);
	mt_float(L, -1, "best_ask_price", 92284.0);
	mt_float(L, -1, "best_bid_amount", 117660.0);
	mt_float(L, -1, "best_ask_amount", 186520.0);
	mt_float(L, -1, "last_price", 92283.5);
	mt_float(L, -1, "mark_price", 92281.78);
	mt_float(L, -1, "index_price", 92263.55);
	mt_float(L, -1, "open_interest", 1132329370.0);
	mt_float(L, -1, "current_funding", 0.0);
	mt_float(L, -1, "funding_8h", 0.00001742);
	mt_float(L, -1, "interest_value", 0.0028213400122472977);
	mt_float(L, -1, "stats.high", 93612.0);
	mt_float(L, -1, "stats.low", 89277.5);
	mt_float(L, -1, "stats.price_change", 2.3275);
	mt_float(L, -1, "stats.volume", 11897.27640428);
	lua_close(L);
}

static void ticker_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_ticker.json", mt_method("public/ticker"));
}

static void ticker_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/ticker"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ticker_descriptor),
		cmocka_unit_test(ticker_request),
		cmocka_unit_test(ticker_validation),
		cmocka_unit_test(ticker_decodes_fixture),
		cmocka_unit_test(ticker_rejects_truncated),
		cmocka_unit_test(ticker_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
