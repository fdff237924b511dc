/* lbook.h — the local order book behind lt.book: one instrument's bids and asks as sorted
 * arrays of price levels (no Lua table per level), kept from Deribit's book.* notifications
 * (deribit-api.md §4 "book.{instr}.{interval}": a snapshot, then changes chained by
 * prev_change_id; grouped books book.{instr}.{group}.{depth}.{interval} are a snapshot every
 * time). The structure is plain C with no Lua and no I/O; src/lua_book.c reads the decoded
 * notification table into an lt_lbook_update and binds the queries for Lua.
 *
 * Layout: each side is one array ordered worst level first, best level last (bids ascending,
 * asks descending), so the changes that come most often, near the top of the book, move the
 * fewest bytes. A level is found by binary search and inserted or removed with one memmove.
 * Each side holds at most max_levels levels (every structure is bounded): a level that would
 * make a full side longer displaces the side's worst level, and a new level worse than every
 * kept one is not stored; both count in `truncated`. The top max_levels levels are exact as
 * long as the venue's side never had more; past that, levels the venue still has may be
 * missing at the tail (the levels the book dropped are not remembered).
 *
 * Updates are all or nothing: every level is validated (finite price, finite amount >= 0)
 * and the memory reserved before the first level changes, so a rejected update (LT_EINVAL,
 * LT_ENOMEM, LT_LBOOK_GAP) leaves the book exactly as it was. Amount 0 means "no level"
 * (Deribit's ["delete", price, 0]); "new" and "change" both set the level's amount (the amount
 * is the new size, not a delta).
 *
 *     lt_lbook b;
 *     lt_lbook_init(&b, 10000);
 *     lt_lbook_level bids[] = {{42500.0, 1000.0}}, asks[] = {{42501.0, 800.0}};
 *     lt_lbook_update u = {{bids, asks}, {1, 1}, 123456789, 0, false, 1699999999000};
 *     int rc = lt_lbook_snapshot(&b, &u, &err);       // 0, LT_LBOOK_CROSSED or LT_E*
 *     double p, a;
 *     if (lt_lbook_best(&b, LT_LBOOK_BID, &p, &a)) printf("%g x %g\n", p, a);
 *     lt_lbook_free(&b);
 *
 * No rate limit applies (no I/O). Not thread-safe; one book per owner.
 */
#ifndef LT_LBOOK_H
#define LT_LBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lt.h"

enum { LT_LBOOK_BID = 0, LT_LBOOK_ASK = 1 };

/* Positive outcomes of an update (not errors): */
enum {
	LT_LBOOK_GAP = 1,    /* change: prev_change_id is not the book's change_id (or there is
			       * no snapshot yet); nothing was applied: resubscribe */
	LT_LBOOK_CROSSED = 2 /* applied, and now best bid >= best ask: resubscribe */
};

/* Default and largest level cap per side. */
#define LT_LBOOK_DEFAULT_LEVELS 10000
#define LT_LBOOK_MAX_LEVELS 1000000

typedef struct lt_lbook_level {
	double price;
	double amount; /* > 0 in the book; 0 in an update removes the level */
} lt_lbook_level;

typedef struct lt_lbook_side {
	lt_lbook_level *lv; /* worst first, best last */
	size_t n, cap;
} lt_lbook_side;

typedef struct lt_lbook {
	lt_lbook_side side[2];
	size_t max_levels;            /* per side */
	int64_t change_id;            /* of the last applied update */
	int64_t timestamp;            /* ms, of the last applied update */
	bool has_snapshot;            /* false until the first snapshot, and after lt_lbook_clear */
	unsigned long long truncated; /* levels not stored or displaced because of max_levels */
} lt_lbook;

/* One notification's levels: lv[side][0 .. n[side]) in the venue's order (any order is
 * accepted; best first is the fast path for snapshots). prev_change_id counts only when
 * has_prev (a change of an incremental book). */
typedef struct lt_lbook_update {
	const lt_lbook_level *lv[2];
	size_t n[2];
	int64_t change_id;
	int64_t prev_change_id;
	bool has_prev;
	int64_t timestamp;
} lt_lbook_update;

/* Make an empty book holding at most max_levels (1 .. LT_LBOOK_MAX_LEVELS) levels per side;
 * 0 = LT_LBOOK_DEFAULT_LEVELS. LT_EINVAL for a cap out of range. Allocates nothing yet. */
int lt_lbook_init(lt_lbook *b, size_t max_levels);
/* Free the levels; accepts NULL, idempotent (the book is left empty and usable after a new
 * lt_lbook_init). */
void lt_lbook_free(lt_lbook *b);
/* Forget every level and the snapshot (a resync begins); keeps the memory. */
void lt_lbook_clear(lt_lbook *b);

/* Replace the whole book with u (levels of amount 0 are skipped; a price repeated in u keeps
 * its last amount). Returns 0, LT_LBOOK_CROSSED (applied), or LT_EINVAL / LT_ENOMEM with err
 * naming the side and level (book unchanged). */
int lt_lbook_snapshot(lt_lbook *b, const lt_lbook_update *u, lt_err *err);
/* Apply a change: each level sets (amount > 0) or removes (amount 0) its price. When
 * u->has_prev, u->prev_change_id must equal the book's change_id, and the book must hold a
 * snapshot, else LT_LBOOK_GAP (book unchanged). Returns 0, LT_LBOOK_GAP, LT_LBOOK_CROSSED
 * (applied), or LT_EINVAL / LT_ENOMEM with err (book unchanged). */
int lt_lbook_change(lt_lbook *b, const lt_lbook_update *u, lt_err *err);

/* Number of levels of a side. */
static inline size_t lt_lbook_count(const lt_lbook *b, int side) { return b->side[side].n; }
/* Level i of a side counted from the best (0 = best), or NULL past the last. */
static inline const lt_lbook_level *lt_lbook_at(const lt_lbook *b, int side, size_t i)
{
	const lt_lbook_side *s = &b->side[side];
	return i < s->n ? &s->lv[s->n - 1 - i] : NULL;
}
/* The best level of a side: true and *price, *amount set; false for an empty side. */
bool lt_lbook_best(const lt_lbook *b, int side, double *price, double *amount);
/* The amount resting at exactly this price on a side (0 when there is no such level). */
double lt_lbook_depth_at(const lt_lbook *b, int side, double price);
/* Both sides non-empty and best bid >= best ask. */
bool lt_lbook_crossed(const lt_lbook *b);

#endif
