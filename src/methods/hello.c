/* hello.c — public/hello (deribit-api.md §2): tells the venue which client software is
 * connected; the result carries the API version.
 *
 *   local r, err = pub:hello{ client_name = "luatrade", client_version = "0.1.0" }
 *   -- r.version == "1.2.26"
 *
 * Errors: invalid parameters raise ("client_name: required", "client_version: expected
 * string, got number"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_field hello_result_fields[] = {
	{"version", &lt_s_string},
	{NULL, NULL},
};
static const lt_schema hello_result = {.type = LT_T_OBJECT, .fields = hello_result_fields};

static const lt_param hello_params[] = {
	{.name = "client_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "client_version", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_hello = {
	.name = "public/hello",
	.lua_name = "hello",
	.params = hello_params,
	.result = &hello_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
