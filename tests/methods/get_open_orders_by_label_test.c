/* get_open_orders_by_label_test.c — private/get_open_orders_by_label codec
 * (src/methods/get_open_orders_by_label.c): request text, currency required (enum), label at
 * most 64 characters, and decoding of an array of orders (tests/methods/order_lists.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/order_lists.h"

#define M "private/get_open_orders_by_label"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_open_orders_by_label_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_open_orders_by_label", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_orders);
}

static void get_open_orders_by_label_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC' }", REQ "{\"currency\":\"BTC\"}}"},
		{"{ label = 'mm-bid', currency = 'USDT' }",
		 REQ "{\"currency\":\"USDT\",\"label\":\"mm-bid\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_open_orders_by_label_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "currency: required"},
		{"{ label = 'a' }", "currency: required"},
		{"{ currency = 'any' }", "currency: must be one of BTC, ETH, USDC, USDT, EURR"},
		{"{ currency = 'BTC', label = string.rep('x', 65) }",
		 "label: at most 64 characters"},
		{"{ currency = 'BTC', label = '' }", "label: at least 1 characters"},
		{"{ currency = 'BTC', label = {} }", "label: expected string, got table"},
		{"{ currency = 'BTC', kind = 'future' }", "unknown parameter 'kind' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_open_orders_by_label_decodes(void **state)
{
	(void)state;
	ol_decodes_orders(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_open_orders_by_label_descriptor),
		cmocka_unit_test(get_open_orders_by_label_request),
		cmocka_unit_test(get_open_orders_by_label_validation),
		cmocka_unit_test(get_open_orders_by_label_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
