/* get_index_price.c — public/get_index_price (deribit-api.md §6): the current value of a price
 * index (e.g. btc_usd) and its estimated delivery price.
 *
 *   local ix, err = pub:get_index_price{ index_name = "btc_usd" }
 *   -- ix.index_price == 92263.55, ix.estimated_delivery_price == 92263.55 (floats)
 *
 * Errors: invalid parameters raise ("index_name: required", "index_name: expected string, got
 * nil"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

static const lt_field get_index_price_result_fields[] = {
	{"index_price", &lt_s_float},
	{"estimated_delivery_price", &lt_s_float},
	{NULL, NULL},
};
static const lt_schema get_index_price_result = {.type = LT_T_OBJECT,
						 .fields = get_index_price_result_fields};

static const lt_param get_index_price_params[] = {
	{.name = "index_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{0},
};

const lt_method lt_m_get_index_price = {
	.name = "public/get_index_price",
	.lua_name = "get_index_price",
	.params = get_index_price_params,
	.result = &get_index_price_result,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
