/* get_account_summary_test.c — private/get_account_summary codec
 * (src/methods/get_account_summary.c): request text, currency required (enum), subaccount_id
 * an integer, extended a boolean, and decoding of tests/fixtures/http_get_account_summaries.json
 * (the account fields of extended = true with a summaries list of account summaries: every
 * amount a float even from integer text, id / creation_timestamp integers, limits' rate and
 * burst integers, fees typed) and of the user.portfolio fixtures' data through the same
 * schema; truncated prefixes and an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/get_account_summary"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void get_account_summary_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, "get_account_summary", LT_POOL_NON_ME, 500);
	assert_ptr_equal(m->result, &lt_s_account_summary);
}

static void get_account_summary_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ currency = 'BTC' }", REQ "{\"currency\":\"BTC\"}}"},
		{"{ extended = true, subaccount_id = 10, currency = 'USDC' }",
		 REQ "{\"currency\":\"USDC\",\"subaccount_id\":10,\"extended\":true}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void get_account_summary_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "currency: required"},
		{"{ extended = true }", "currency: required"},
		{"{ currency = 'any' }", "currency: must be one of BTC, ETH, USDC, USDT, EURR"},
		{"{ currency = 'btc' }", "currency: must be one of BTC, ETH, USDC, USDT, EURR"},
		{"{ currency = 'BTC', subaccount_id = 2.5 }",
		 "subaccount_id: expected integer, got 2.5"},
		{"{ currency = 'BTC', extended = 1 }", "extended: expected boolean, got number"},
		{"{ currency = 'BTC', kind = 'future' }", "unknown parameter 'kind' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void get_account_summary_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_account_summaries.json", mt_method(M), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 2515);
	mt_int(L, -1, "id", 10);
	mt_int(L, -1, "creation_timestamp", 1687352432143);
	mt_str(L, -1, "username", "user");
	mt_str(L, -1, "type", "main");
	mt_null(L, -1, "referrer_id");
	mt_bool(L, -1, "mmp_enabled", false);
	mt_bool(L, -1, "block_rfq_self_match_prevention", true);
	assert_int_equal(mt_len(L, -1, "summaries"), 2);
	mt_str(L, -1, "summaries.1.currency", "BTC");
	mt_float(L, -1, "summaries.1.margin_balance", 302.62729214);
	mt_float(L, -1, "summaries.1.equity", 302.61869214);
	mt_float(L, -1, "summaries.1.options_session_rpl", 0.0); /* integer text */
	mt_float(L, -1, "summaries.1.fee_balance", 0.0);
	mt_float(L, -1, "summaries.1.spot_reserve", 0.0);
	mt_float(L, -1, "summaries.1.futures_session_rpl", -0.03258105);
	mt_float(L, -1, "summaries.1.estimated_liquidation_ratio", 0.10098722);
	mt_float(L, -1, "summaries.1.options_gamma", 0.00001);
	mt_float(L, -1, "summaries.1.delta_total_map.btc_usd", 31.594357699); /* map: lexical */
	mt_bool(L, -1, "summaries.1.limits.limits_per_currency", false);
	mt_int(L, -1, "summaries.1.limits.non_matching_engine.burst", 1500);
	mt_int(L, -1, "summaries.1.limits.non_matching_engine.rate", 1000);
	mt_int(L, -1, "summaries.1.limits.matching_engine.trading.total.rate", 200);
	mt_int(L, -1, "summaries.1.limits.matching_engine.trading.total.burst", 250);
	mt_int(L, -1, "summaries.1.limits.matching_engine.cancel_all.rate", 200);
	mt_int(L, -1, "summaries.1.limits.matching_engine.guaranteed_quotes.burst", 2);
	assert_int_equal(mt_len(L, -1, "summaries.1.fees"), 3);
	mt_str(L, -1, "summaries.1.fees.1.kind", "perpetual");
	mt_str(L, -1, "summaries.1.fees.1.value.default.type", "fixed");
	mt_float(L, -1, "summaries.1.fees.1.value.default.taker", 0.00035);
	mt_float(L, -1, "summaries.1.fees.1.value.default.maker", -0.0001);
	mt_float(L, -1, "summaries.1.fees.2.value.block_trade", 0.625);
	mt_str(L, -1, "summaries.2.currency", "ETH");
	mt_float(L, -1, "summaries.2.balance", 100.0);
	mt_float(L, -1, "summaries.2.equity", 100.0);
	mt_float(L, -1, "summaries.2.margin_balance", 100.0);
	mt_float(L, -1, "summaries.2.options_gamma", 0.0);
	mt_float(L, -1, "summaries.2.available_funds", 99.999598);
	mt_float(L, -1, "summaries.2.fees.3.value.block_trade", 0.2);
	mt_int(L, -1, "summaries.2.limits.matching_engine.max_quotes.rate", 10);
	lua_close(L);
}

/* user.portfolio.* data is the same object (deribit-api.md §4). */
static void get_account_summary_decodes_portfolio(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_portfolio.json", m, LT_MSG_NOTIFY, &env);
	assert_string_equal(env.channel, "user.portfolio.any");
	mt_str(L, -1, "currency", "USDT");
	mt_float(L, -1, "balance", 55.00055);
	mt_float(L, -1, "total_equity_usd", 54.924283065);
	mt_float(L, -1, "locked_balance", 0.0);
	mt_str(L, -1, "margin_model", "cross_sm");
	mt_bool(L, -1, "cross_collateral_enabled", true);
	lua_pop(L, 1);
	mt_decode(L, "ws_portfolio_exact.json", m, LT_MSG_NOTIFY, &env);
	mt_float(L, -1, "equity", strtod("1000000000.12345679", NULL));
	mt_float(L, -1, "available_funds", strtod("1000000000.12345678", NULL));
	mt_float(L, -1, "maintenance_margin", 5.551115123125783e-17);
	lua_close(L);
}

static void get_account_summary_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("http_get_account_summaries.json", mt_method(M));
	mt_truncated_rejected("ws_portfolio_exact.json", mt_method(M));
}

static void get_account_summary_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_account_summary_descriptor),
		cmocka_unit_test(get_account_summary_request),
		cmocka_unit_test(get_account_summary_validation),
		cmocka_unit_test(get_account_summary_decodes_fixture),
		cmocka_unit_test(get_account_summary_decodes_portfolio),
		cmocka_unit_test(get_account_summary_rejects_truncated),
		cmocka_unit_test(get_account_summary_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
