/* test.c — public/test (deribit-api.md §2): a round trip that returns the API version; it is
 * also the required answer to a heartbeat "test_request". expected_result = "exception" makes
 * the venue answer with an error, for testing error handling.
 *
 *   local r, err = pub:test()                                  -- r.version == "1.2.26"
 *   local r, err = pub:test{ expected_result = "exception" }   -- r == nil, err from the venue
 *
 * Errors: invalid parameters raise ("expected_result: must be one of exception"); venue errors
 * return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_field test_result_fields[] = {
	{"version", &lt_s_string},
	{NULL, NULL},
};
static const lt_schema test_result = {.type = LT_T_OBJECT, .fields = test_result_fields};

static const char *const test_expected_results[] = {"exception", NULL};

static const lt_param test_params[] = {
	{.name = "expected_result", .type = LT_P_ENUM, .enums = test_expected_results},
	{0},
};

const lt_method lt_m_test = {
	.name = "public/test",
	.lua_name = "test",
	.params = test_params,
	.result = &test_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
