/* book.c — the simulated venue's price-level order book and its change accumulators
 * (see book.h for the model; deribit-api.md §4 for the wire shapes it writes). */
#include "book.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lt.h"

#define LIT(b, s) lt_buf_add((b), (s), sizeof(s) - 1)

void lt_sim_book_init(lt_sim_book *bk, int64_t tick_num, int64_t tick_den, int64_t change_id)
{
	memset(bk, 0, sizeof *bk);
	bk->tick_num = tick_num;
	bk->tick_den = tick_den;
	bk->change_id = change_id;
	for (int k = 0; k < LT_SIM_NACC; k++)
		bk->acc[k].base_change_id = change_id;
}

void lt_sim_book_free(lt_sim_book *bk)
{
	if (!bk)
		return;
	for (int s = 0; s < 2; s++)
		free(bk->side[s].lv);
	for (int k = 0; k < LT_SIM_NACC; k++)
		free(bk->acc[k].d);
	memset(bk, 0, sizeof *bk);
}

double lt_sim_book_price(const lt_sim_book *bk, int64_t ticks)
{
	return (double)(ticks * bk->tick_num) / (double)bk->tick_den;
}

int64_t lt_sim_book_ticks(const lt_sim_book *bk, double price)
{
	return (int64_t)llround(price * (double)bk->tick_den / (double)bk->tick_num);
}

/* Index of price in a side, or where it would be inserted (*found false). */
static size_t side_find(const lt_sim_side *sd, int side, int64_t price, bool *found)
{
	size_t lo = 0, hi = sd->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t p = sd->lv[mid].price;
		if (p == price) {
			*found = true;
			return mid;
		}
		bool before = side == LT_SIM_BID ? p > price : p < price;
		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

double lt_sim_book_amount(const lt_sim_book *bk, int side, int64_t price)
{
	bool found;
	size_t i = side_find(&bk->side[side], side, price, &found);
	return found ? bk->side[side].lv[i].amount : 0.0;
}

/* Remember the level's amount before its first change in every accumulator. */
static int acc_note(lt_sim_book *bk, int side, int64_t price, double old_amount)
{
	for (int k = 0; k < LT_SIM_NACC; k++) {
		lt_sim_acc *a = &bk->acc[k];
		bool seen = false;
		for (size_t i = 0; i < a->n && !seen; i++)
			seen = a->d[i].side == side && a->d[i].price == price;
		if (seen)
			continue;
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 32;
			lt_sim_dirty *d = realloc(a->d, cap * sizeof *d);
			if (!d)
				return LT_ENOMEM;
			a->d = d;
			a->cap = cap;
		}
		a->d[a->n++] = (lt_sim_dirty){side, price, old_amount};
	}
	return 0;
}

static int side_insert(lt_sim_side *sd, size_t i, int64_t price, double amount)
{
	if (sd->n == sd->cap) {
		size_t cap = sd->cap ? sd->cap * 2 : 32;
		lt_sim_level *lv = realloc(sd->lv, cap * sizeof *lv);
		if (!lv)
			return LT_ENOMEM;
		sd->lv = lv;
		sd->cap = cap;
	}
	memmove(&sd->lv[i + 1], &sd->lv[i], (sd->n - i) * sizeof *sd->lv);
	sd->lv[i] = (lt_sim_level){price, amount, NULL};
	sd->n++;
	return 0;
}

int lt_sim_book_set(lt_sim_book *bk, int side, int64_t price, double amount)
{
	lt_sim_side *sd = &bk->side[side];
	bool found;
	size_t i = side_find(sd, side, price, &found);
	double old = found ? sd->lv[i].amount : 0.0;
	if (amount <= 0.0)
		amount = 0.0;
	if (old == amount)
		return 0;
	if (acc_note(bk, side, price, old) != 0)
		return LT_ENOMEM;
	if (found && amount == 0.0) {
		memmove(&sd->lv[i], &sd->lv[i + 1], (sd->n - i - 1) * sizeof *sd->lv);
		sd->n--;
	} else if (found) {
		sd->lv[i].amount = amount;
	} else if (side_insert(sd, i, price, amount) != 0) {
		return LT_ENOMEM;
	}
	bk->dirty = true;
	return 0;
}

bool lt_sim_book_commit(lt_sim_book *bk, int64_t step, int64_t now_ms)
{
	if (!bk->dirty)
		return false;
	bk->change_id += step < 1 ? 1 : step;
	bk->timestamp = now_ms;
	bk->dirty = false;
	return true;
}

bool lt_sim_book_acc_changed(const lt_sim_book *bk, int k)
{
	const lt_sim_acc *a = &bk->acc[k];
	for (size_t i = 0; i < a->n; i++)
		if (lt_sim_book_amount(bk, a->d[i].side, a->d[i].price) != a->d[i].old_amount)
			return true;
	return false;
}

static void write_level(const lt_sim_book *bk, const char *action, int64_t price, double amount,
			lt_buf *b)
{
	LIT(b, "[");
	if (action) {
		lt_jw_string(b, action, strlen(action));
		LIT(b, ",");
	}
	lt_jw_double(b, lt_sim_book_price(bk, price));
	LIT(b, ",");
	lt_jw_double(b, amount);
	LIT(b, "]");
}

static int cmp_bid(const void *x, const void *y)
{
	int64_t a = ((const lt_sim_dirty *)x)->price, c = ((const lt_sim_dirty *)y)->price;
	return a < c ? 1 : a > c ? -1 : 0;
}

static int cmp_ask(const void *x, const void *y) { return -cmp_bid(x, y); }

void lt_sim_book_write_changes(const lt_sim_book *bk, int k, int side, lt_buf *b)
{
	const lt_sim_acc *a = &bk->acc[k];
	lt_sim_dirty tmp[256], *v = a->n <= 256 ? tmp : malloc(a->n * sizeof *v);
	size_t n = 0;
	if (!v) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->d[i].side == side)
			v[n++] = a->d[i];
	qsort(v, n, sizeof *v, side == LT_SIM_BID ? cmp_bid : cmp_ask);
	LIT(b, "[");
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		double now = lt_sim_book_amount(bk, side, v[i].price);
		if (now == v[i].old_amount)
			continue;
		const char *act = now == 0.0 ? "delete" : v[i].old_amount == 0.0 ? "new" : "change";
		if (!first)
			LIT(b, ",");
		first = false;
		write_level(bk, act, v[i].price, now, b);
	}
	LIT(b, "]");
	if (v != tmp)
		free(v);
}

void lt_sim_book_acc_reset(lt_sim_book *bk, int k)
{
	bk->acc[k].n = 0;
	bk->acc[k].base_change_id = bk->change_id;
}

/* Bucket of a price for grouping: bids round down, asks round up to a multiple of group. */
static int64_t bucket(int side, int64_t price, int64_t group)
{
	int64_t q = price / group * group;
	if (side == LT_SIM_ASK && q < price)
		q += group;
	return q;
}

void lt_sim_book_write_levels(const lt_sim_book *bk, int side, size_t depth, int64_t group,
			      bool with_action, lt_buf *b)
{
	const lt_sim_side *sd = &bk->side[side];
	size_t out = 0;
	LIT(b, "[");
	for (size_t i = 0; i < sd->n && (depth == 0 || out < depth);) {
		int64_t price = sd->lv[i].price;
		double amount = sd->lv[i].amount;
		i++;
		if (group > 1) {
			price = bucket(side, price, group);
			while (i < sd->n && bucket(side, sd->lv[i].price, group) == price)
				amount += sd->lv[i++].amount;
			amount = round(amount * 1e8) / 1e8; /* sums of 0.1 steps print short */
		}
		if (out++)
			LIT(b, ",");
		write_level(bk, with_action ? "new" : NULL, price, amount, b);
	}
	LIT(b, "]");
}
