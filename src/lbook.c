/* lbook.c — the local order book's sorted price-level arrays (lbook.h has the model and the
 * contracts; deribit-api.md §4 the wire semantics). */
#include "lbook.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const side_name[2] = {"bids", "asks"};

int lt_lbook_init(lt_lbook *b, size_t max_levels)
{
	memset(b, 0, sizeof *b);
	if (max_levels == 0)
		max_levels = LT_LBOOK_DEFAULT_LEVELS;
	if (max_levels > LT_LBOOK_MAX_LEVELS)
		return LT_EINVAL;
	b->max_levels = max_levels;
	return 0;
}

void lt_lbook_free(lt_lbook *b)
{
	if (!b)
		return;
	for (int s = 0; s < 2; s++) {
		free(b->side[s].lv);
		b->side[s].lv = NULL;
		b->side[s].n = b->side[s].cap = 0;
	}
	b->has_snapshot = false;
}

void lt_lbook_clear(lt_lbook *b)
{
	b->side[0].n = b->side[1].n = 0;
	b->has_snapshot = false;
}

/* a is a worse price than b on this side (a lower bid, a higher ask). */
static inline bool worse(int side, double a, double b)
{
	return side == LT_LBOOK_BID ? a < b : a > b;
}

/* The first index whose level is not worse than price (where price is or would go). */
static size_t lower_bound(const lt_lbook_side *s, int side, double price)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (worse(side, s->lv[mid].price, price))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Room for `need` levels (need <= max_levels). LT_ENOMEM leaves the side as it was. */
static int reserve(lt_lbook_side *s, size_t need)
{
	if (need <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < need)
		cap *= 2;
	lt_lbook_level *lv = realloc(s->lv, cap * sizeof *lv);
	if (!lv)
		return LT_ENOMEM;
	s->lv = lv;
	s->cap = cap;
	return 0;
}

/* Set (amount > 0) or remove (amount 0) one level; the side has room for one more level
 * unless it is full (n == max_levels). */
static void set_level(lt_lbook *b, int side, double price, double amount)
{
	lt_lbook_side *s = &b->side[side];
	size_t i = lower_bound(s, side, price);
	bool found = i < s->n && s->lv[i].price == price;
	if (found && amount > 0) {
		s->lv[i].amount = amount;
	} else if (found) {
		memmove(&s->lv[i], &s->lv[i + 1], (s->n - i - 1) * sizeof *s->lv);
		s->n--;
	} else if (amount > 0 && s->n < b->max_levels) {
		memmove(&s->lv[i + 1], &s->lv[i], (s->n - i) * sizeof *s->lv);
		s->lv[i] = (lt_lbook_level){price, amount};
		s->n++;
	} else if (amount > 0) { /* full: displace the worst level, or drop this one */
		b->truncated++;
		if (i == 0)
			return;
		memmove(&s->lv[0], &s->lv[1], (i - 1) * sizeof *s->lv);
		s->lv[i - 1] = (lt_lbook_level){price, amount};
	}
}

/* Every level has a finite price and a finite amount >= 0. */
static int check_levels(const lt_lbook_update *u, lt_err *err)
{
	for (int side = 0; side < 2; side++) {
		if (u->n[side] && !u->lv[side])
			return lt_err_set(err, LT_EINVAL, "%s: no levels given", side_name[side]);
		for (size_t i = 0; i < u->n[side]; i++) {
			const lt_lbook_level *l = &u->lv[side][i];
			if (!isfinite(l->price))
				return lt_err_set(err, LT_EINVAL,
						  "%s[%zu]: price is not a finite "
						  "number",
						  side_name[side], i + 1);
			if (!isfinite(l->amount) || l->amount < 0)
				return lt_err_set(err, LT_EINVAL,
						  "%s[%zu]: amount must be a finite "
						  "number >= 0",
						  side_name[side], i + 1);
		}
	}
	return 0;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* 1: strictly best first, -1: strictly worst first, 0: neither (or fewer than two levels
 * with an amount: then both orders hold and 1 is returned). */
static int order_of(int side, const lt_lbook_level *lv, size_t n)
{
	bool best_first = true, worst_first = true;
	double prev = 0;
	bool have = false;
	for (size_t i = 0; i < n && (best_first || worst_first); i++) {
		if (lv[i].amount == 0)
			continue;
		if (have) {
			best_first = best_first && worse(side, lv[i].price, prev);
			worst_first = worst_first && worse(side, prev, lv[i].price);
		}
		prev = lv[i].price;
		have = true;
	}
	return best_first ? 1 : worst_first ? -1 : 0;
}

/* Fill an emptied side from n levels of an update (room for min(nonzero, max) reserved). */
static void fill_side(lt_lbook *b, int side, const lt_lbook_level *lv, size_t n, size_t nz)
{
	lt_lbook_side *s = &b->side[side];
	size_t keep = min_size(nz, b->max_levels);
	int order = order_of(side, lv, n);
	s->n = 0;
	if (order == 0) { /* unsorted or repeated prices: level by level */
		for (size_t i = 0; i < n; i++)
			set_level(b, side, lv[i].price, lv[i].amount);
		return;
	}
	b->truncated += nz - keep;
	size_t j = 0; /* nonzero levels seen */
	for (size_t i = 0; i < n && s->n < keep; i++) {
		if (lv[i].amount == 0)
			continue;
		if (order > 0) /* best first: the first `keep` go to the end, reversed */
			s->lv[keep - 1 - s->n++] = lv[i];
		else if (j++ >= nz - keep) /* worst first: the last `keep` in order */
			s->lv[s->n++] = lv[i];
	}
}

int lt_lbook_snapshot(lt_lbook *b, const lt_lbook_update *u, lt_err *err)
{
	int rc = check_levels(u, err);
	if (rc)
		return rc;
	size_t nz[2] = {0, 0};
	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < u->n[side]; i++)
			nz[side] += u->lv[side][i].amount > 0;
		if (reserve(&b->side[side], min_size(nz[side], b->max_levels)))
			return lt_err_set(err, LT_ENOMEM, "%s: out of memory", side_name[side]);
	}
	for (int side = 0; side < 2; side++)
		fill_side(b, side, u->lv[side], u->n[side], nz[side]);
	b->change_id = u->change_id;
	b->timestamp = u->timestamp;
	b->has_snapshot = true;
	return lt_lbook_crossed(b) ? LT_LBOOK_CROSSED : 0;
}

int lt_lbook_change(lt_lbook *b, const lt_lbook_update *u, lt_err *err)
{
	if (!b->has_snapshot || (u->has_prev && u->prev_change_id != b->change_id)) {
		if (!b->has_snapshot)
			lt_err_set(err, LT_OK, "a change before any snapshot");
		else
			lt_err_set(err, LT_OK, "prev_change_id %lld is not the last change_id %lld",
				   (long long)u->prev_change_id, (long long)b->change_id);
		return LT_LBOOK_GAP;
	}
	int rc = check_levels(u, err);
	if (rc)
		return rc;
	for (int side = 0; side < 2; side++) {
		lt_lbook_side *s = &b->side[side];
		if (reserve(s, min_size(s->n + u->n[side], b->max_levels)))
			return lt_err_set(err, LT_ENOMEM, "%s: out of memory", side_name[side]);
	}
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; i < u->n[side]; i++)
			set_level(b, side, u->lv[side][i].price, u->lv[side][i].amount);
	b->change_id = u->change_id;
	b->timestamp = u->timestamp;
	return lt_lbook_crossed(b) ? LT_LBOOK_CROSSED : 0;
}

bool lt_lbook_best(const lt_lbook *b, int side, double *price, double *amount)
{
	const lt_lbook_level *l = lt_lbook_at(b, side, 0);
	if (!l)
		return false;
	*price = l->price;
	*amount = l->amount;
	return true;
}

double lt_lbook_depth_at(const lt_lbook *b, int side, double price)
{
	const lt_lbook_side *s = &b->side[side];
	size_t i = lower_bound(s, side, price);
	return i < s->n && s->lv[i].price == price ? s->lv[i].amount : 0;
}

bool lt_lbook_crossed(const lt_lbook *b)
{
	double bp, ba, ap, aa;
	return lt_lbook_best(b, LT_LBOOK_BID, &bp, &ba) &&
	       lt_lbook_best(b, LT_LBOOK_ASK, &ap, &aa) && bp >= ap;
}
