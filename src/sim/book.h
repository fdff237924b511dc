/* book.h — a price-level order book for one instrument of the simulated venue, with the
 * change_id bookkeeping behind the book.{instr}.{interval} channels (deribit-api.md §4).
 *
 * Prices are kept as integer multiples of the tick (tick = tick_num / tick_den, e.g. 1/2 for
 * 0.5, 1/2000 for 0.0005), so levels sit exactly on the tick grid and print without float noise.
 * Each level holds the aggregate resting amount; a later matching engine can hang a FIFO of user
 * orders off lt_sim_level (the `orders` slot) and keep the aggregate in `amount` up to date through
 * lt_sim_book_set, which is the only way the book changes.
 *
 * Change tracking. Every lt_sim_book_set records the level's amount as it was before the first
 * change in each accumulator (one per publishing cadence: LT_SIM_ACC_100MS, LT_SIM_ACC_AGG2).
 * lt_sim_book_commit ends a batch of sets: if anything changed, change_id advances by `step`
 * (ids increase but are not consecutive, as on Deribit). A publisher writes the accumulated
 * difference as ["new"|"change"|"delete", price, amount] levels with prev_change_id =
 * acc.base_change_id, then calls lt_sim_book_acc_reset, which makes base_change_id the current
 * change_id. A snapshot taken at the same moment is consistent with that change_id.
 */
#ifndef LT_SIM_BOOK_H
#define LT_SIM_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../codec.h"

enum { LT_SIM_BID = 0, LT_SIM_ASK = 1 };
enum { LT_SIM_ACC_100MS = 0, LT_SIM_ACC_AGG2 = 1, LT_SIM_NACC = 2 };

typedef struct lt_sim_level {
	int64_t price; /* in ticks */
	double amount; /* aggregate resting amount, > 0 */
	void *orders;  /* reserved for the matching engine's per-level order queue; NULL now */
} lt_sim_level;

typedef struct lt_sim_side {
	lt_sim_level *lv; /* bids: descending price; asks: ascending price; [0] is the best */
	size_t n, cap;
} lt_sim_side;

typedef struct lt_sim_dirty {
	int side;
	int64_t price;
	double old_amount; /* amount at the accumulator's base_change_id (0 = no level) */
} lt_sim_dirty;

typedef struct lt_sim_acc {
	lt_sim_dirty *d;
	size_t n, cap;
	int64_t base_change_id;
} lt_sim_acc;

typedef struct lt_sim_book {
	lt_sim_side side[2];
	int64_t tick_num, tick_den;
	int64_t change_id;
	int64_t timestamp; /* ms of the last commit that changed something */
	bool dirty;        /* sets since the last commit */
	lt_sim_acc acc[LT_SIM_NACC];
} lt_sim_book;

void lt_sim_book_init(lt_sim_book *bk, int64_t tick_num, int64_t tick_den, int64_t change_id);
void lt_sim_book_free(lt_sim_book *bk);

/* Price of a tick count as a double (exactly the nearest double to the decimal price). */
double lt_sim_book_price(const lt_sim_book *bk, int64_t ticks);
/* Nearest tick count of a price. */
int64_t lt_sim_book_ticks(const lt_sim_book *bk, double price);

/* Set the amount at (side, price ticks); amount <= 0 removes the level. LT_ENOMEM on failure
 * (the book is unchanged). */
int lt_sim_book_set(lt_sim_book *bk, int side, int64_t price, double amount);
double lt_sim_book_amount(const lt_sim_book *bk, int side, int64_t price);
static inline size_t lt_sim_book_depth(const lt_sim_book *bk, int side) { return bk->side[side].n; }
static inline const lt_sim_level *lt_sim_book_at(const lt_sim_book *bk, int side, size_t i)
{
	return i < bk->side[side].n ? &bk->side[side].lv[i] : NULL;
}

/* End a batch of sets; returns true (and advances change_id by step >= 1) if anything changed. */
bool lt_sim_book_commit(lt_sim_book *bk, int64_t step, int64_t now_ms);

/* True if accumulator k holds at least one level whose amount differs from its base. */
bool lt_sim_book_acc_changed(const lt_sim_book *bk, int k);
/* Append accumulator k's changes of one side as a JSON array of [action, price, amount]. */
void lt_sim_book_write_changes(const lt_sim_book *bk, int k, int side, lt_buf *b);
void lt_sim_book_acc_reset(lt_sim_book *bk, int k);

/* Append up to depth levels of a side as a JSON array: with_action adds "new" in front of each
 * [price, amount]; group > 0 (in ticks) merges levels into buckets of that many ticks (bids round
 * down, asks round up, as Deribit's grouped books). depth 0 = all. */
void lt_sim_book_write_levels(const lt_sim_book *bk, int side, size_t depth, int64_t group,
			      bool with_action, lt_buf *b);

#endif
