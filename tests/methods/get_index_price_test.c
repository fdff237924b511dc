/* get_index_price_test.c — public/get_index_price codec (src/methods/get_index_price.c):
 * request text, index_name validation, its result schema (both prices floats), and decoding of
 * an error reply. (No fixture holds a get_index_price result.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void get_index_price_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/get_index_price", "get_index_price", LT_POOL_NON_ME, 500);
	const lt_schema *s = mt_method("public/get_index_price")->result;
	assert_non_null(s);
	assert_int_equal(s->type, LT_T_OBJECT);
	assert_string_equal(s->fields[0].name, "index_price");
	assert_int_equal(s->fields[0].schema->type, LT_T_FLOAT);
	assert_string_equal(s->fields[1].name, "estimated_delivery_price");
	assert_int_equal(s->fields[1].schema->type, LT_T_FLOAT);
	assert_null(s->fields[2].name);
}

static void get_index_price_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ index_name = 'btc_usd' }",
		 REQ("public/get_index_price") ",\"params\":{\"index_name\":\"btc_usd\"}}"},
		{"{ index_name = 'eth_usdc' }",
		 REQ("public/get_index_price") ",\"params\":{\"index_name\":\"eth_usdc\"}}"},
	};
	mt_encode_ok("public/get_index_price", cases, MT_N(cases));
}

static void get_index_price_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "index_name: required"},
		{"{}", "index_name: required"},
		{"{ index_name = 1 }", "index_name: expected string, got number"},
		{"{ index_name = '' }", "index_name: must not be empty"},
		{"{ index_name = 'btc_usd', currency = 'BTC' }",
		 "unknown parameter 'currency' for public/get_index_price"},
	};
	mt_encode_err("public/get_index_price", cases, MT_N(cases));
}

static void get_index_price_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/get_index_price"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_index_price_descriptor),
		cmocka_unit_test(get_index_price_request),
		cmocka_unit_test(get_index_price_validation),
		cmocka_unit_test(get_index_price_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
