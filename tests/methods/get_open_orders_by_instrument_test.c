/* get_open_orders_by_instrument_test.c — private/get_open_orders_by_instrument codec
 * (src/methods/get_open_orders_by_instrument.c): request text, instrument_name required, the
 * type enum (deribit-api.md §5 "Queries"), and decoding of an array of orders
 * (tests/methods/order_lists.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/order_lists.h"

#define M "private/get_open_orders_by_instrument"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_open_orders_by_instrument_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_open_orders_by_instrument", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_orders);
}

static void get_open_orders_by_instrument_request(void **state)
{
	(void)state;
	static const char *const types[] = {"all",          "limit",        "trigger_all",
					    "stop_all",     "stop_limit",   "stop_market",
					    "take_all",     "take_limit",   "take_market",
					    "trailing_all", "trailing_stop"};
	static const mt_case plain = {"{ instrument_name = 'BTC-PERPETUAL' }",
				      REQ "{\"instrument_name\":\"BTC-PERPETUAL\"}}"};
	mt_encode_ok(M, &plain, 1);
	for (size_t i = 0; i < MT_N(types); i++) {
		char src[96], want[256];
		snprintf(src, sizeof src, "{ type = '%s', instrument_name = 'X' }", types[i]);
		snprintf(want, sizeof want, REQ "{\"instrument_name\":\"X\",\"type\":\"%s\"}}",
			 types[i]);
		mt_case c = {src, want};
		mt_encode_ok(M, &c, 1);
	}
}

#define TYPES                                                                                      \
	"type: must be one of all, limit, trigger_all, stop_all, stop_limit, "                     \
	"stop_market, take_all, take_limit, take_market, trailing_all, trailing_stop"

static void get_open_orders_by_instrument_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{ type = 'all' }", "instrument_name: required"},
		{"{ instrument_name = true }", "instrument_name: expected string, got boolean"},
		{"{ instrument_name = 'X', type = 'stop' }", TYPES},
		{"{ instrument_name = 'X', type = 'market' }", TYPES},
		{"{ instrument_name = 'X', label = 'a' }", "unknown parameter 'label' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_open_orders_by_instrument_decodes(void **state)
{
	(void)state;
	ol_decodes_orders(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_open_orders_by_instrument_descriptor),
		cmocka_unit_test(get_open_orders_by_instrument_request),
		cmocka_unit_test(get_open_orders_by_instrument_validation),
		cmocka_unit_test(get_open_orders_by_instrument_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
