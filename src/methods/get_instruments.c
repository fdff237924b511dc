/* get_instruments.c — public/get_instruments (deribit-api.md §6): every instrument of a currency,
 * optionally of one kind, active ones unless expired = true. For updates afterwards prefer the
 * instrument.state.{kind}.{currency} channel: this call is expensive.
 *
 *   local list, err = pub:get_instruments{ currency = "BTC", kind = "future" }
 *   -- list[1].instrument_name == "BTC-PERPETUAL", list[1].instrument_id is an integer
 *
 * Errors: invalid parameters raise ("currency: required", "currency: must be one of BTC, ETH,
 * USDC, USDT, EURR, any", "kind: must be one of future, ...", "expired: expected boolean, got
 * string"); venue errors return nil, err.
 * Rate limit: its own pool, 10,000 credits (cap 500,000: 1 call/s sustained, burst 50; §7).
 */
#include "codec.h"

static const char *const get_instruments_currencies[] = {"BTC",  "ETH", "USDC", "USDT",
							 "EURR", "any", NULL};
static const char *const get_instruments_kinds[] = {"future",       "option",       "spot",
						    "future_combo", "option_combo", NULL};

static const lt_param get_instruments_params[] = {
	{.name = "currency",
	 .type = LT_P_ENUM,
	 .flags = LT_PF_REQUIRED,
	 .enums = get_instruments_currencies},
	{.name = "kind", .type = LT_P_ENUM, .enums = get_instruments_kinds},
	{.name = "expired", .type = LT_P_BOOL},
	{0},
};

const lt_method lt_m_get_instruments = {
	.name = "public/get_instruments",
	.lua_name = "get_instruments",
	.params = get_instruments_params,
	.result = &lt_s_instruments,
	.pool = LT_POOL_INSTRUMENTS,
	.cost = 10000,
};
