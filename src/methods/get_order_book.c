/* get_order_book.c — public/get_order_book (deribit-api.md §6): the ticker fields plus change_id
 * and the top `depth` levels per side as [price, amount] pairs (bids descending, asks
 * ascending). Also the way to re-sync a book.{instrument}.{interval} subscription after a gap.
 *
 *   local book, err = pub:get_order_book{ instrument_name = "BTC-PERPETUAL", depth = 5 }
 *   -- book.bids[1][1] == 87002.5, book.change_id == 133112427566 (integer)
 *
 * Errors: invalid parameters raise ("instrument_name: required", "depth: must be one of 1, 5,
 * 10, 20, 50, 100, 1000, 10000"); venue errors return nil, err.
 * Rate limit: non-matching-engine pool, 500 credits (deribit-api.md §7).
 */
#include "codec.h"

/* LT_P_INT enums: the allowed values as decimal text (see params.c). */
static const char *const get_order_book_depths[] = {"1",   "5",    "10",    "20", "50",
						    "100", "1000", "10000", NULL};

static const lt_param get_order_book_params[] = {
	{.name = "instrument_name", .type = LT_P_STRING, .flags = LT_PF_REQUIRED},
	{.name = "depth", .type = LT_P_INT, .enums = get_order_book_depths},
	{0},
};

const lt_method lt_m_get_order_book = {
	.name = "public/get_order_book",
	.lua_name = "get_order_book",
	.params = get_order_book_params,
	.result = &lt_s_order_book,
	.pool = LT_POOL_NON_ME,
	.cost = 500,
};
