/* cancel_by_label_test.c — private/cancel_by_label codec (src/methods/cancel_by_label.c):
 * request text, label required (1..64 characters), the currency enum, and decoding of the
 * count (an integer), truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/cancel_by_label"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"
#define L64 "'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'"

static void cancel_by_label_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "cancel_by_label", LT_POOL_ME, 1);
	assert_ptr_equal(m->result, &lt_s_int);
}

static void cancel_by_label_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ label = 'mm-bid' }", REQ "{\"label\":\"mm-bid\"}}"},
		{"{ currency = 'EURR', label = " L64 " }", REQ
		 "{\"label\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\","
		 "\"currency\":\"EURR\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void cancel_by_label_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "label: required"},
		{"{ currency = 'BTC' }", "label: required"},
		{"{ label = '' }", "label: at least 1 characters"},
		{"{ label = " L64 " .. 'x' }", "label: at most 64 characters"},
		{"{ label = 5 }", "label: expected string, got number"},
		{"{ label = 'a', currency = 'any' }",
		 "currency: must be one of BTC, ETH, USDC, USDT, EURR"},
		{"{ label = 'a', kind = 'future' }", "unknown parameter 'kind' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void cancel_by_label_decodes(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	tt_reply(L, m, "3");
	mt_int(L, -1, "", 3);
	lua_close(L);
	mt_truncated_rejected("http_get_time.json", m);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cancel_by_label_descriptor),
		cmocka_unit_test(cancel_by_label_request),
		cmocka_unit_test(cancel_by_label_validation),
		cmocka_unit_test(cancel_by_label_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
