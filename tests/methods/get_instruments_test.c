/* get_instruments_test.c — public/get_instruments codec (src/methods/get_instruments.c):
 * request text (currency only; currency, kind and expired), the currency / kind enums and the
 * expired boolean, its own rate-limit pool, and decoding of tests/fixtures/
 * http_get_instruments.json (integer ids and timestamps, float sizes) and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void get_instruments_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/get_instruments", "get_instruments", LT_POOL_INSTRUMENTS, 10000);
	assert_ptr_equal(mt_method("public/get_instruments")->result, &lt_s_instruments);
}

static void get_instruments_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC' }",
		 REQ("public/get_instruments") ",\"params\":{\"currency\":\"BTC\"}}"},
		{"{ expired = true, kind = 'option_combo', currency = 'any' }",
		 REQ("public/get_instruments") ",\"params\":{\"currency\":\"any\","
					       "\"kind\":\"option_combo\",\"expired\":true}}"},
		{"{ currency = 'EURR', expired = false }",
		 REQ("public/get_instruments") ",\"params\":{\"currency\":\"EURR\",\"expired\":"
					       "false}}"},
	};
	mt_encode_ok("public/get_instruments", cases, MT_N(cases));
	static const char *const currencies[] = {"BTC", "ETH", "USDC", "USDT", "EURR", "any"};
	static const char *const kinds[] = {"future", "option", "spot", "future_combo",
					    "option_combo"};
	for (size_t i = 0; i < MT_N(currencies); i++) {
		char src[64], want[256];
		snprintf(src, sizeof src, "{ currency = '%s', kind = '%s' }", currencies[i],
			 kinds[i % MT_N(kinds)]);
		snprintf(want, sizeof want,
			 REQ("public/get_instruments") ",\"params\":{\"currency\":\"%s\",\"kind\":"
						       "\"%s\"}}",
			 currencies[i], kinds[i % MT_N(kinds)]);
		mt_case c = {src, want};
		mt_encode_ok("public/get_instruments", &c, 1);
	}
}

static void get_instruments_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "currency: required"},
		{"{ kind = 'future' }", "currency: required"},
		{"{ currency = 'btc' }",
		 "currency: must be one of BTC, ETH, USDC, USDT, EURR, any"},
		{"{ currency = 'SOL' }",
		 "currency: must be one of BTC, ETH, USDC, USDT, EURR, any"},
		{"{ currency = 1 }", "currency: expected string, got number"},
		{"{ currency = 'BTC', kind = 'perpetual' }",
		 "kind: must be one of future, option, spot, future_combo, option_combo"},
		{"{ currency = 'BTC', kind = 'combo' }",
		 "kind: must be one of future, option, spot, future_combo, option_combo"},
		{"{ currency = 'BTC', expired = 'false' }",
		 "expired: expected boolean, got string"},
		{"{ currency = 'BTC', expired = 0 }", "expired: expected boolean, got number"},
		{"{ currency = 'BTC', include_spots = true }",
		 "unknown parameter 'include_spots' for public/get_instruments"},
	};
	mt_encode_err("public/get_instruments", cases, MT_N(cases));
}

static void get_instruments_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_instruments.json", mt_method("public/get_instruments"),
		  LT_MSG_RESULT, &env);
	assert_int_equal(mt_len(L, -1, ""), 4);
	mt_str(L, -1, "1.instrument_name", "BTC-PERPETUAL");
	mt_str(L, -1, "1.kind", "future");
	mt_int(L, -1, "1.instrument_id", 124972);
	mt_int(L, -1, "1.expiration_timestamp", 32503708800000);
	mt_int(L, -1, "1.creation_timestamp", 1534167754000);
	mt_float(L, -1, "1.tick_size", 0.5);
	mt_float(L, -1, "1.contract_size", 10.0);
	mt_float(L, -1, "1.min_trade_amount", 10.0);
	mt_float(L, -1, "1.maker_commission", 0.0);
	mt_float(L, -1, "1.taker_commission", 0.0005);
	mt_bool(L, -1, "1.is_active", true);
	assert_int_equal(mt_len(L, -1, "1.tick_size_steps"), 0);
	mt_str(L, -1, "3.instrument_name", "BTC-27DEC24-100000-C");
	mt_str(L, -1, "3.option_type", "call");
	mt_float(L, -1, "3.strike", 100000.0);
	mt_float(L, -1, "3.tick_size", 0.0005);
	mt_float(L, -1, "3.min_trade_amount", 0.1);
	mt_str(L, -1, "3.quote_currency", "BTC");
	mt_str(L, -1, "4.kind", "future_combo");
	mt_int(L, -1, "4.instrument_id", 456789);
	lua_close(L);
}

static void get_instruments_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_instruments.json", mt_method("public/get_instruments"));
}

static void get_instruments_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/get_instruments"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_instruments_descriptor),
		cmocka_unit_test(get_instruments_request),
		cmocka_unit_test(get_instruments_validation),
		cmocka_unit_test(get_instruments_decodes_fixture),
		cmocka_unit_test(get_instruments_rejects_truncated),
		cmocka_unit_test(get_instruments_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
