/* get_order_book_test.c — public/get_order_book codec (src/methods/get_order_book.c):
 * request text with and without depth, the depth integer enum, and decoding of tests/fixtures/
 * http_get_order_book.json ([price, amount] float levels, integer change_id and timestamp) and
 * of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void get_order_book_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/get_order_book", "get_order_book", LT_POOL_NON_ME, 500);
	assert_ptr_equal(mt_method("public/get_order_book")->result, &lt_s_order_book);
}

static void get_order_book_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ instrument_name = 'BTC-PERPETUAL' }",
		 REQ("public/get_order_book") ",\"params\":{\"instrument_name\":\"BTC-PERPETUAL\"}"
					      "}"},
		{"{ depth = 5, instrument_name = 'BTC-PERPETUAL' }",
		 REQ("public/get_order_book") ",\"params\":{\"instrument_name\":\"BTC-PERPETUAL\","
					      "\"depth\":5}}"},
		{"{ instrument_name = 'ETH-PERPETUAL', depth = 20.0 }", /* integral float */
		 REQ("public/get_order_book") ",\"params\":{\"instrument_name\":\"ETH-PERPETUAL\","
					      "\"depth\":20}}"},
	};
	mt_encode_ok("public/get_order_book", cases, MT_N(cases));
	static const int depths[] = {1, 5, 10, 20, 50, 100, 1000, 10000};
	for (size_t i = 0; i < MT_N(depths); i++) {
		char src[64], want[256];
		snprintf(src, sizeof src, "{ instrument_name = 'X', depth = %d }", depths[i]);
		snprintf(want, sizeof want,
			 REQ("public/get_order_book") ",\"params\":{\"instrument_name\":\"X\","
						      "\"depth\":%d}}",
			 depths[i]);
		mt_case c = {src, want};
		mt_encode_ok("public/get_order_book", &c, 1);
	}
}

#define DEPTHS "depth: must be one of 1, 5, 10, 20, 50, 100, 1000, 10000"

static void get_order_book_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{ depth = 5 }", "instrument_name: required"},
		{"{ instrument_name = 5 }", "instrument_name: expected string, got number"},
		{"{ instrument_name = 'X', depth = 0 }", DEPTHS},
		{"{ instrument_name = 'X', depth = 2 }", DEPTHS},
		{"{ instrument_name = 'X', depth = 25 }", DEPTHS},
		{"{ instrument_name = 'X', depth = 10001 }", DEPTHS},
		{"{ instrument_name = 'X', depth = -5 }", DEPTHS},
		{"{ instrument_name = 'X', depth = 5.5 }", "depth: expected integer, got 5.5"},
		{"{ instrument_name = 'X', depth = '5' }", "depth: expected integer, got string"},
		{"{ instrument_name = 'X', depth = 5, group = 1 }",
		 "unknown parameter 'group' for public/get_order_book"},
	};
	mt_encode_err("public/get_order_book", cases, MT_N(cases));
}

static void get_order_book_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_order_book.json", mt_method("public/get_order_book"), LT_MSG_RESULT,
		  &env);
	assert_int_equal(env.id, 3);
	assert_false(env.testnet);
	mt_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	mt_int(L, -1, "change_id", 133112427566);
	mt_int(L, -1, "timestamp", 1766554855140);
	assert_int_equal(mt_len(L, -1, "bids"), 20);
	assert_int_equal(mt_len(L, -1, "asks"), 20);
	mt_float(L, -1, "bids.1.1", 87002.5);
	mt_float(L, -1, "bids.1.2", 199190.0);
	mt_float(L, -1, "bids.20.1", 86980.0);
	mt_float(L, -1, "asks.1.1", 87003.0);
	mt_float(L, -1, "asks.20.2", 32930.0);
	mt_float(L, -1, "best_bid_price", 87002.5);
	mt_float(L, -1, "best_ask_amount", 125090.0);
	mt_float(L, -1, "open_interest", 1139551440.0); /* integer text, declared float */
	mt_float(L, -1, "funding_8h", 6.55e-6);
	mt_float(L, -1, "stats.price_change", -0.8292);
	lua_close(L);
}

static void get_order_book_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_order_book.json", mt_method("public/get_order_book"));
}

static void get_order_book_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/get_order_book"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_order_book_descriptor),
		cmocka_unit_test(get_order_book_request),
		cmocka_unit_test(get_order_book_validation),
		cmocka_unit_test(get_order_book_decodes_fixture),
		cmocka_unit_test(get_order_book_rejects_truncated),
		cmocka_unit_test(get_order_book_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
