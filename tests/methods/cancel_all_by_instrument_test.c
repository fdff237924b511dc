/* cancel_all_by_instrument_test.c — private/cancel_all_by_instrument codec
 * (src/methods/cancel_all_by_instrument.c): request text, instrument_name required, the type
 * enum (all, limit, trigger_all, stop, take, trailing_stop), the booleans, and decoding of a
 * count and of detailed reports (tests/methods/cancel_counts.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/cancel_counts.h"

#define M "private/cancel_all_by_instrument"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void cancel_all_by_instrument_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "cancel_all_by_instrument", LT_POOL_ME, 1);
	assert_ptr_equal(m->result->elem, &lt_s_order_result);
}

static void cancel_all_by_instrument_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ instrument_name = 'BTC-PERPETUAL' }",
		 REQ "{\"instrument_name\":\"BTC-PERPETUAL\"}}"},
		{"{ freeze_quotes = true, include_combos = true, detailed = false, type = 'all', "
		 "instrument_name = 'ETH-PERPETUAL' }",
		 REQ "{\"instrument_name\":\"ETH-PERPETUAL\",\"type\":\"all\",\"detailed\":false,"
		     "\"include_combos\":true,\"freeze_quotes\":true}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
	static const char *const types[] = {"all",  "limit", "trigger_all",
					    "stop", "take",  "trailing_stop"};
	for (size_t i = 0; i < MT_N(types); i++) {
		char src[96], want[256];
		snprintf(src, sizeof src, "{ instrument_name = 'X', type = '%s' }", types[i]);
		snprintf(want, sizeof want, REQ "{\"instrument_name\":\"X\",\"type\":\"%s\"}}",
			 types[i]);
		mt_case c = {src, want};
		mt_encode_ok(M, &c, 1);
	}
}

#define TYPES "type: must be one of all, limit, trigger_all, stop, take, trailing_stop"

static void cancel_all_by_instrument_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "instrument_name: required"},
		{"{ type = 'all' }", "instrument_name: required"},
		{"{ instrument_name = 1 }", "instrument_name: expected string, got number"},
		{"{ instrument_name = 'X', type = 'market' }", TYPES},
		{"{ instrument_name = 'X', type = 'stop_all' }", TYPES},
		{"{ instrument_name = 'X', detailed = 'yes' }",
		 "detailed: expected boolean, got string"},
		{"{ instrument_name = 'X', include_combos = 0 }",
		 "include_combos: expected boolean, got number"},
		{"{ instrument_name = 'X', freeze_quotes = 'no' }",
		 "freeze_quotes: expected boolean, got string"},
		{"{ instrument_name = 'X', kind = 'future' }", "unknown parameter 'kind' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void cancel_all_by_instrument_decodes(void **state)
{
	(void)state;
	cc_decodes_count_and_reports(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cancel_all_by_instrument_descriptor),
		cmocka_unit_test(cancel_all_by_instrument_request),
		cmocka_unit_test(cancel_all_by_instrument_validation),
		cmocka_unit_test(cancel_all_by_instrument_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
