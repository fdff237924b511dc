/* errors_test.c — src/errors.c: the venue error table of deribit-api.md §8 and the runtime's own
 * codes (errors.h), looked up through lt_error_info, the only way the runtime reads them.
 *
 * The venue rows below are §8's table, one per code, with the name and kind errors.c gives
 * and the doc's class (R retry, A re-authenticate, F request bug, S business reject, W wait).
 * Beyond the row-by-row check: a scan of every code from -33000 to 14000 must find exactly the
 * codes of this file (none missing, none the doc does not have), each under one name nobody
 * else uses: an entry with a mistyped code, or a second entry that takes over a code, shows up
 * (a later duplicate is unreachable through lt_error_info, so harmless). Class R codes are
 * retryable, A codes are kind auth, and nothing but R and W codes is retryable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

typedef struct row {
	int64_t code;
	const char *name;
	const char *kind;
	bool retryable;
	const char *doc_class; /* §8: the class column, first letter counts */
} row;

/* deribit-api.md §8, every row of its table (both halves), in the doc's order. */
static const row venue[] = {
	{-32700, "parse_error", "venue", false, "F"},
	{-32600, "request_entity_too_large", "venue", false, "F"},
	{-32601, "method_not_found", "venue", false, "F"},
	{-32602, "invalid_params", "venue", false, "F"},
	{-32603, "internal_error", "venue", true, "R"},
	{-32000, "missing_params", "venue", false, "F"},
	{10000, "authorization_required", "auth", false, "A"},
	{10001, "error", "venue", true, "R once"},
	{10002, "qty_too_low", "venue", false, "S"},
	{10003, "order_overlap", "venue", false, "S"},
	{10004, "order_not_found", "venue", false, "S->reconcile"},
	{10005, "price_too_low", "venue", false, "S"},
	{10006, "price_too_low4idx", "venue", false, "S"},
	{10007, "price_too_high", "venue", false, "S"},
	{10009, "not_enough_funds", "venue", false, "S"},
	{10010, "already_closed", "venue", false, "S->reconcile"},
	{10011, "price_not_allowed", "venue", false, "S"},
	{10012, "book_closed", "venue", false, "S"},
	{10019, "locked_by_admin", "venue", false, "W"},
	{10020, "invalid_or_unsupported_instrument", "venue", false, "F"},
	{10021, "invalid_amount", "venue", false, "F"},
	{10023, "invalid_price", "venue", false, "F"},
	{10025, "invalid_order_id", "venue", false, "F"},
	{10026, "price_precision_exceeded", "venue", false, "F"},
	{10027, "non_integer_contract_amount", "venue", false, "F"},
	{10028, "too_many_requests", "rate_limit", true, "R after refill"},
	{10029, "not_owner_of_order", "venue", false, "F"},
	{10030, "must_be_websocket_request", "venue", false, "F"},
	{10031, "invalid_args_for_instrument", "venue", false, "F"},
	{10032, "whole_cost_too_low", "venue", false, "S"},
	{10034, "trigger_price_too_high", "venue", false, "S"},
	{10035, "trigger_price_too_low", "venue", false, "S"},
	{10040, "retry", "venue", true, "R"},
	{10041, "settlement_in_progress", "venue", true, "R (1-5 s)"},
	{10043, "price_wrong_tick", "venue", false, "F"},
	{10044, "trigger_price_wrong_tick", "venue", false, "F"},
	{10045, "can_not_cancel_liquidation_order", "venue", false, "S"},
	{10046, "can_not_edit_liquidation_order", "venue", false, "S"},
	{10047, "matching_engine_queue_full", "venue", true, "R"},
	{10049, "cancel_on_disconnect_failed", "venue", true, "R/W"},
	{10066, "too_many_concurrent_requests", "rate_limit", true, "R (slow down)"},
	{11029, "invalid_arguments", "venue", false, "F"},
	{11030, "other_reject", "venue", false, "S"},
	{11031, "other_error", "venue", true, "R"},
	{11035, "no_more_triggers", "venue", false, "S"},
	{11036, "invalid_trigger_price", "venue", false, "S"},
	{11044, "not_open_order", "venue", false, "S->reconcile"},
	{11050, "bad_request", "venue", false, "F"},
	{11051, "system_maintenance", "venue", true, "W"},
	{11052, "subscribe_error_unsubscribed", "venue", false, "F"},
	{11054, "post_only_reject", "venue", false, "S"},
	{11055, "post_only_not_allowed", "venue", false, "F"},
	{11056, "unauthenticated_public_requests_temporarily_disabled", "auth", false, "A"},
	{11094, "internal_server_error", "venue", true, "R (few), report"},
	{11098, "account_locked", "venue", false, "W"},
	{13004, "invalid_credentials", "auth", false, "F (stop)"},
	{13009, "unauthorized", "auth", false, "A"},
	{13010, "value_required", "validation", false, "F"},
	{13011, "value_too_short", "validation", false, "F"},
	{13012, "unavailable_in_subaccount", "venue", false, "F"},
	{13020, "not_found", "venue", false, "F"},
	{13021, "forbidden", "auth", false, "F"},
	{13025, "method_switched_off_by_admin", "venue", false, "W"},
	{13028, "temporarily_unavailable", "venue", true, "R"},
	{13030, "mmp_trigger", "venue", false, "S"},
	{13031, "verification_required", "auth", false, "F"},
	{13032, "non_unique_order_label", "venue", false, "F"},
	{13042, "cod_not_enabled", "venue", false, "F"},
	{13043, "quotes_frozen", "venue", true, "R later"},
	{13403, "scope_exceeded", "auth", false, "F"},
	{13503, "unavailable", "venue", true, "R"},
	{13666, "request_cancelled_by_user", "venue", false, "S (expected)"},
	{13668, "security_key_authorization_error", "auth", false, "F"},
	{13777, "replaced", "venue", false, "S"},
	{13778, "raw_subscriptions_not_available_for_unauthorized", "auth", false, "A/F"},
	{13780, "move_positions_over_limit", "venue", true, "R"},
	{13888, "timed_out", "venue", false, "S"},
	{13901, "no_more_oto_orders", "venue", false, "S"},
	{11008, "already_filled", "venue", false, "S->reconcile"},
	{12998, "security_key_authorization_over_limit", "auth", false, "W"},
};
#define NVENUE (sizeof venue / sizeof venue[0])

/* The runtime's own codes (errors.h) with what README "Failures return nil, err" says of them:
 * a timeout or a lost connection may be retried after reconciling (outcome unknown, never
 * re-sent automatically), not_sent never left so may be sent again, the local limiter's refusal
 * passes with time; a closed client, a request over 32 kB (kind validation), an overflowed or a
 * rejected subscription do not get better by retrying. */
static const row runtime[] = {
	{LT_CODE_TIMEOUT, "timeout", "timeout", true, NULL},
	{LT_CODE_CONNECTION_LOST, "connection_lost", "transport", true, NULL},
	{LT_CODE_NOT_CONNECTED, "not_connected", "transport", false, NULL},
	{LT_CODE_RATE_LIMIT, "rate_limited", "rate_limit", true, NULL},
	{LT_CODE_NOT_SENT, "not_sent", "transport", true, NULL},
	{LT_CODE_SUB_REJECTED, "subscription_rejected", "venue", false, NULL},
	{LT_CODE_TOO_LARGE, "request_too_large", "validation", false, NULL},
	{LT_CODE_OVERFLOW, "subscription_overflow", "transport", false, NULL},
};
#define NRUNTIME (sizeof runtime / sizeof runtime[0])

static const char *const kinds[] = {"venue",      "transport", "timeout",
				    "rate_limit", "auth",      "validation"};

static bool is_kind(const char *k)
{
	for (size_t i = 0; k && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(k, kinds[i]) == 0)
			return true;
	return false;
}

static void assert_row(const row *r)
{
	lt_errinfo e = lt_error_info(r->code);
	if (e.code != r->code)
		fail_msg("%lld: info carries code %lld", (long long)r->code, (long long)e.code);
	if (!e.name || strcmp(e.name, r->name) != 0)
		fail_msg("%lld: name %s, expected %s", (long long)r->code, e.name ? e.name : "NULL",
			 r->name);
	if (!e.kind || strcmp(e.kind, r->kind) != 0)
		fail_msg("%lld %s: kind %s, expected %s", (long long)r->code, r->name,
			 e.kind ? e.kind : "NULL", r->kind);
	if (e.retryable != r->retryable)
		fail_msg("%lld %s: retryable %d, expected %d", (long long)r->code, r->name,
			 e.retryable, r->retryable);
}

static void test_every_runtime_code_has_its_name_kind_and_retry_flag(void **state)
{
	(void)state;
	for (size_t i = 0; i < NRUNTIME; i++) {
		assert_row(&runtime[i]);
		assert_true(is_kind(runtime[i].kind));
	}
}

/* errors.h: "negative codes outside the JSON-RPC range", so no venue code can be taken for
 * one; all distinct in value and in name. */
static void test_runtime_codes_are_distinct_and_outside_the_json_rpc_range(void **state)
{
	(void)state;
	for (size_t i = 0; i < NRUNTIME; i++) {
		int64_t c = runtime[i].code;
		assert_true(c < 0);
		assert_false(c >= -32768 && c <= -32000);
		for (size_t j = 0; j < NVENUE; j++)
			assert_true(venue[j].code != c);
		for (size_t j = i + 1; j < NRUNTIME; j++) {
			if (runtime[j].code == c)
				fail_msg("%s and %s share code %lld", runtime[i].name,
					 runtime[j].name, (long long)c);
			assert_string_not_equal(lt_error_info(c).name,
						lt_error_info(runtime[j].code).name);
		}
	}
}

static void test_every_venue_code_of_the_doc_has_its_name_kind_and_retry_flag(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVENUE; i++)
		assert_row(&venue[i]);
}

/* The codes the runtime itself branches on or documents. */
static void test_the_codes_the_runtime_relies_on(void **state)
{
	(void)state;
	static const row relied[] = {
		{10028, "too_many_requests", "rate_limit", true, NULL}, /* private.c retries auth */
		{13009, "unauthorized", "auth", false, NULL},           /* auth_failed default */
		{13004, "invalid_credentials", "auth", false, NULL},
		{10000, "authorization_required", "auth", false, NULL},
		{10009, "not_enough_funds", "venue", false, NULL},
		{11044, "not_open_order", "venue", false, NULL},
		{-32602, "invalid_params", "venue", false, NULL},
		{-32600, "request_entity_too_large", "venue", false, NULL},
		{10066, "too_many_concurrent_requests", "rate_limit", true, NULL},
		{10004, "order_not_found", "venue", false, NULL},
		{13666, "request_cancelled_by_user", "venue", false, NULL},
	};
	for (size_t i = 0; i < sizeof relied / sizeof relied[0]; i++)
		assert_row(&relied[i]);
}

/* §8's classes against the flags: R is retryable, A is an auth kind, and only R and W codes
 * (W: "wait", e.g. system_maintenance) are retryable at all. */
static void test_flags_agree_with_the_doc_classes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVENUE; i++) {
		const row *r = &venue[i];
		lt_errinfo e = lt_error_info(r->code);
		char cls = r->doc_class[0];
		if (cls == 'R' && !e.retryable)
			fail_msg("%lld %s is class %s but not retryable", (long long)r->code,
				 r->name, r->doc_class);
		if (e.retryable && cls != 'R' && cls != 'W')
			fail_msg("%lld %s is class %s but retryable", (long long)r->code, r->name,
				 r->doc_class);
		if (cls == 'A' && strcmp(e.kind, "auth") != 0)
			fail_msg("%lld %s is class %s but kind %s", (long long)r->code, r->name,
				 r->doc_class, e.kind);
		assert_true(is_kind(e.kind));
	}
}

static void assert_unknown(int64_t code)
{
	lt_errinfo e = lt_error_info(code);
	assert_int_equal(e.code, code);
	assert_string_equal(e.name, "unknown_error");
	assert_string_equal(e.kind, "venue");
	assert_false(e.retryable);
}

static void test_an_unknown_code_is_a_venue_error_not_retryable(void **state)
{
	(void)state;
	/* 10024: CCRXT's "rate limit", which §8 says to ignore; 10050: cited in §8's sources but
	 * not in its table; the rest are gaps, ends of the range and the int64 extremes. */
	static const int64_t unknown[] = {0,     1,     -1,     10008,     10024,
					  10050, 11000, 13000,  14000,     -32604,
					  -1000, -1009, -33000, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		assert_unknown(unknown[i]);
}

static const row *expected_row(int64_t code)
{
	for (size_t i = 0; i < NVENUE; i++)
		if (venue[i].code == code)
			return &venue[i];
	for (size_t i = 0; i < NRUNTIME; i++)
		if (runtime[i].code == code)
			return &runtime[i];
	return NULL;
}

/* Every code from -33000 to 14000: the known ones are exactly this file's rows, and no two of
 * them share a name (a doc code lost from the table, or one the doc does not have, shows up
 * here). */
static void test_a_scan_finds_exactly_the_documented_codes_under_distinct_names(void **state)
{
	(void)state;
	enum { MAXK = 256 };
	int64_t codes[MAXK];
	const char *names[MAXK];
	size_t n = 0;
	for (int64_t c = -33000; c <= 14000; c++) {
		lt_errinfo e = lt_error_info(c);
		if (strcmp(e.name, "unknown_error") == 0) {
			assert_string_equal(e.kind, "venue");
			assert_false(e.retryable);
			continue;
		}
		assert_int_equal(e.code, c);
		if (!expected_row(c))
			fail_msg("errors.c knows %lld (%s), which deribit-api.md §8 and errors.h "
				 "do not",
				 (long long)c, e.name);
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], e.name) == 0)
				fail_msg("codes %lld and %lld share the name %s",
					 (long long)codes[i], (long long)c, e.name);
		assert_true(n < MAXK);
		codes[n] = c;
		names[n++] = e.name;
	}
	for (size_t i = 0; i < NVENUE; i++) {
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = codes[j] == venue[i].code;
		if (!seen)
			fail_msg("§8 code %lld (%s) is unknown to errors.c",
				 (long long)venue[i].code, venue[i].name);
	}
	assert_int_equal(n, NVENUE + NRUNTIME);
}

/* The expectations themselves: one row per code, one name per row. */
static void test_the_expected_rows_are_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVENUE; i++)
		for (size_t j = i + 1; j < NVENUE; j++) {
			assert_true(venue[i].code != venue[j].code);
			assert_string_not_equal(venue[i].name, venue[j].name);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_expected_rows_are_distinct),
		cmocka_unit_test(test_every_runtime_code_has_its_name_kind_and_retry_flag),
		cmocka_unit_test(test_runtime_codes_are_distinct_and_outside_the_json_rpc_range),
		cmocka_unit_test(test_every_venue_code_of_the_doc_has_its_name_kind_and_retry_flag),
		cmocka_unit_test(test_the_codes_the_runtime_relies_on),
		cmocka_unit_test(test_flags_agree_with_the_doc_classes),
		cmocka_unit_test(test_an_unknown_code_is_a_venue_error_not_retryable),
		cmocka_unit_test(
			test_a_scan_finds_exactly_the_documented_codes_under_distinct_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
