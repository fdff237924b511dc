/* cancel_all_test.c — private/cancel_all codec (src/methods/cancel_all.c): request text with
 * and without parameters, the boolean rules, and decoding of a count (integer) and of
 * detailed reports (tests/methods/cancel_counts.h), truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/cancel_counts.h"

#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"private/cancel_all\""

static void cancel_all_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private("private/cancel_all", "cancel_all", LT_POOL_ME, 1);
	assert_int_equal(m->result->type, LT_T_ARRAY);
	assert_ptr_equal(m->result->elem, &lt_s_order_result);
}

static void cancel_all_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ "}"},
		{"{}", REQ "}"},
		{"{ freeze_quotes = false, detailed = true }",
		 REQ ",\"params\":{\"detailed\":true,\"freeze_quotes\":false}}"},
	};
	mt_encode_ok("private/cancel_all", cases, MT_N(cases));
}

static void cancel_all_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ detailed = 'true' }", "detailed: expected boolean, got string"},
		{"{ freeze_quotes = 1 }", "freeze_quotes: expected boolean, got number"},
		{"{ currency = 'BTC' }", "unknown parameter 'currency' for private/cancel_all"},
	};
	mt_encode_err("private/cancel_all", cases, MT_N(cases));
}

static void cancel_all_decodes(void **state)
{
	(void)state;
	cc_decodes_count_and_reports(mt_method("private/cancel_all"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cancel_all_descriptor),
		cmocka_unit_test(cancel_all_request),
		cmocka_unit_test(cancel_all_validation),
		cmocka_unit_test(cancel_all_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
