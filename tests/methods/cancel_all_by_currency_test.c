/* cancel_all_by_currency_test.c — private/cancel_all_by_currency codec
 * (src/methods/cancel_all_by_currency.c): request text (deribit-api.md §10 sample 13), the
 * currency / kind / type enums, the booleans, and decoding of a count and of detailed reports
 * (tests/methods/cancel_counts.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"
#include "methods/cancel_counts.h"

#define M "private/cancel_all_by_currency"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void cancel_all_by_currency_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "cancel_all_by_currency", LT_POOL_ME, 1);
	assert_ptr_equal(m->result->elem, &lt_s_order_result);
}

static void cancel_all_by_currency_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC', kind = 'future' }",
		 REQ "{\"currency\":\"BTC\",\"kind\":\"future\"}}"},
		{"{ freeze_quotes = false, detailed = true, type = 'trigger_all', kind = 'any', "
		 "currency = 'USDC' }",
		 REQ "{\"currency\":\"USDC\",\"kind\":\"any\",\"type\":\"trigger_all\","
		     "\"detailed\":true,\"freeze_quotes\":false}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
	static const char *const currencies[] = {"BTC", "ETH", "USDC", "USDT", "EURR"};
	static const char *const kinds[] = {"future",       "option", "spot", "future_combo",
					    "option_combo", "combo",  "any"};
	static const char *const types[] = {"all",  "limit",         "trigger_all", "stop",
					    "take", "trailing_stop", "all"};
	for (size_t i = 0; i < MT_N(kinds); i++) {
		const char *c = currencies[i % MT_N(currencies)];
		char src[128], want[256];
		snprintf(src, sizeof src, "{ currency = '%s', kind = '%s', type = '%s' }", c,
			 kinds[i], types[i]);
		snprintf(want, sizeof want,
			 REQ "{\"currency\":\"%s\",\"kind\":\"%s\",\"type\":\"%s\"}}", c, kinds[i],
			 types[i]);
		mt_case k = {src, want};
		mt_encode_ok(M, &k, 1);
	}
}

#define CCYS "currency: must be one of BTC, ETH, USDC, USDT, EURR"
#define KINDS "kind: must be one of future, option, spot, future_combo, option_combo, combo, any"
#define TYPES "type: must be one of all, limit, trigger_all, stop, take, trailing_stop"

static void cancel_all_by_currency_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "currency: required"},
		{"{ kind = 'future' }", "currency: required"},
		{"{ currency = 'btc' }", CCYS},
		{"{ currency = 'any' }", CCYS},
		{"{ currency = 'BTC', kind = 'perpetual' }", KINDS},
		{"{ currency = 'BTC', type = 'market' }", TYPES},
		{"{ currency = 'BTC', detailed = 1 }", "detailed: expected boolean, got number"},
		{"{ currency = 'BTC', freeze_quotes = 'x' }",
		 "freeze_quotes: expected boolean, got string"},
		{"{ currency = 'BTC', include_combos = true }",
		 "unknown parameter 'include_combos' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void cancel_all_by_currency_decodes(void **state)
{
	(void)state;
	cc_decodes_count_and_reports(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cancel_all_by_currency_descriptor),
		cmocka_unit_test(cancel_all_by_currency_request),
		cmocka_unit_test(cancel_all_by_currency_validation),
		cmocka_unit_test(cancel_all_by_currency_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
