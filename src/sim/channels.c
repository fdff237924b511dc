/* channels.c — subscriptions of the simulated venue (deribit-api.md §4): parsing channel names,
 * the per-connection subscription list, and publishing after every market tick.
 *
 * Channels: ticker.{instr}.{iv}, book.{instr}.{iv} (snapshot, then changes chained by
 * prev_change_id), book.{instr}.{group}.{depth}.{iv} (full top-N), trades.{instr}.{iv},
 * trades.{kind}.{ccy}.{iv}, deribit_price_index.{index}, quote.{instr}; iv is 100ms (every tick)
 * or agg2 (every 2 s). `raw` needs an authenticated connection (auth.c): there it publishes at
 * the 100ms cadence; otherwise raw channels are (like every invalid channel) left out of the
 * subscribe result.
 * A book snapshot is sent at the subscription's next publish, not at subscribe time, so that it
 * and the changes after it share the book's accumulator for that cadence (book.h). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "trading.h"

#define MAX_PARTS 6

static int split(char *s, char **parts)
{
	int n = 0;
	parts[n++] = s;
	for (char *p = s; *p; p++)
		if (*p == '.') {
			if (n == MAX_PARTS)
				return -1;
			*p = '\0';
			parts[n++] = p + 1;
		}
	return n;
}

static bool parse_interval(const char *s, int *iv)
{
	if (strcmp(s, "100ms") == 0)
		*iv = LT_SIM_IV_100MS;
	else if (strcmp(s, "agg2") == 0)
		*iv = LT_SIM_IV_AGG2;
	else
		return false; /* raw (unauthenticated) or unknown */
	return true;
}

static bool parse_ins(lt_sim *sim, const char *name, size_t *out)
{
	lt_sim_ins *s = lt_sim_market_find(sim->mkt, name);
	if (s)
		*out = (size_t)(s - sim->mkt->ins);
	return s != NULL;
}

/* book.{instr}.{group}.{depth}.{iv}: group none or a price step that is a whole number of ticks */
static bool parse_grouped(lt_sim *sim, char **p, lt_sim_sub *sub)
{
	static const char *const groups[] = {"none", "1", "2", "5", "10", "25", "100", "250", NULL};
	bool ok = false;
	for (const char *const *g = groups; *g && !ok; g++)
		ok = strcmp(*g, p[2]) == 0;
	if (!ok || !parse_ins(sim, p[1], &sub->ins) || !parse_interval(p[4], &sub->interval))
		return false;
	if (strcmp(p[3], "1") && strcmp(p[3], "10") && strcmp(p[3], "20"))
		return false;
	sub->depth = (size_t)atoi(p[3]);
	sub->group = 0;
	if (strcmp(p[2], "none") != 0) {
		const lt_sim_book *bk = &sim->mkt->ins[sub->ins].book;
		int64_t g = atoi(p[2]) * bk->tick_den;
		if (g % bk->tick_num)
			return false;
		sub->group = g / bk->tick_num;
	}
	sub->type = LT_SIM_CH_BOOK_GROUPED;
	return true;
}

/* trades.{kind}.{ccy}.{iv} */
static bool parse_trades_kind(char **p, lt_sim_sub *sub)
{
	static const char *const kinds[] = {"future", "option", "spot", "combo", "any"};
	static const int masks[] = {3, 4, 0, 0, 7};
	static const char *const ccys[] = {"BTC", "ETH", "USDC", "USDT", "EURR", "any"};
	static const int ccy_ids[] = {LT_SIM_IDX_BTC, LT_SIM_IDX_ETH, 99, 99, 99, -1};
	int k = -1, c = -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(p[1], kinds[i]) == 0)
			k = i;
	for (int i = 0; i < 6; i++)
		if (strcmp(p[2], ccys[i]) == 0)
			c = i;
	if (k < 0 || c < 0 || !parse_interval(p[3], &sub->interval))
		return false;
	sub->type = LT_SIM_CH_TRADES_KIND;
	sub->kind_mask = masks[k];
	sub->ccy = ccy_ids[c];
	return true;
}

static bool parse_channel(lt_sim *sim, const char *name, lt_sim_sub *sub)
{
	char tmp[sizeof sub->name], *p[MAX_PARTS];
	size_t len = strlen(name);
	if (len == 0 || len >= sizeof tmp)
		return false;
	memcpy(tmp, name, len + 1);
	int n = split(tmp, p);
	if (n == 3 && strcmp(p[0], "ticker") == 0)
		sub->type = LT_SIM_CH_TICKER;
	else if (n == 3 && strcmp(p[0], "book") == 0)
		sub->type = LT_SIM_CH_BOOK;
	else if (n == 3 && strcmp(p[0], "trades") == 0)
		sub->type = LT_SIM_CH_TRADES;
	else if (n == 5 && strcmp(p[0], "book") == 0)
		return parse_grouped(sim, p, sub);
	else if (n == 4 && strcmp(p[0], "trades") == 0)
		return parse_trades_kind(p, sub);
	else if (n == 2 && strcmp(p[0], "deribit_price_index") == 0)
		return (sub->type = LT_SIM_CH_INDEX, (sub->index = lt_sim_market_index(p[1])) >= 0);
	else if (n == 2 && strcmp(p[0], "quote") == 0)
		return (sub->type = LT_SIM_CH_QUOTE, parse_ins(sim, p[1], &sub->ins));
	else
		return false;
	return parse_ins(sim, p[1], &sub->ins) && parse_interval(p[2], &sub->interval);
}

static lt_sim_sub *find_sub(lt_sim_conn *c, const char *name)
{
	for (size_t i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i].name, name) == 0)
			return &c->subs[i];
	return NULL;
}

/* Trade channels remember, per instrument, the newest trade already sent. */
static int init_seqs(lt_sim *sim, lt_sim_sub *sub)
{
	if (sub->type != LT_SIM_CH_TRADES && sub->type != LT_SIM_CH_TRADES_KIND)
		return 0;
	sub->last_seq = calloc(sim->mkt->n, sizeof *sub->last_seq);
	if (!sub->last_seq)
		return LT_ENOMEM;
	for (size_t i = 0; i < sim->mkt->n; i++)
		sub->last_seq[i] = sim->mkt->ins[i].trade_seq;
	return 0;
}

/* name ends in ".raw" on an authenticated connection: parse it as its ".100ms" twin. */
static bool parse_raw(lt_sim_conn *c, const char *name, lt_sim_sub *sub)
{
	char tmp[sizeof sub->name];
	size_t len = strlen(name);
	if (len < 4 || len + 2 >= sizeof tmp || strcmp(name + len - 4, ".raw") != 0 ||
	    !lt_sim_auth_valid(c))
		return false;
	memcpy(tmp, name, len - 3);
	memcpy(tmp + len - 3, "100ms", 6);
	memset(sub, 0, sizeof *sub);
	return parse_channel(c->sim, tmp, sub);
}

int lt_sim_chan_subscribe(lt_sim_conn *c, const char *name)
{
	lt_sim_sub sub;
	memset(&sub, 0, sizeof sub);
	if (!parse_channel(c->sim, name, &sub) && !parse_raw(c, name, &sub))
		return 0;
	if (find_sub(c, name))
		return 1;
	if (c->nsubs >= LT_SIM_MAX_SUBS)
		return 0;
	if (c->nsubs == c->subs_cap) {
		size_t cap = c->subs_cap ? c->subs_cap * 2 : 8;
		lt_sim_sub *s = realloc(c->subs, cap * sizeof *s);
		if (!s)
			return LT_ENOMEM;
		c->subs = s;
		c->subs_cap = cap;
	}
	memcpy(sub.name, name, strlen(name) + 1);
	sub.need_snapshot = true;
	sub.last_change_id = -1;
	sub.last_bid = sub.last_ask = NAN;
	if (init_seqs(c->sim, &sub) != 0)
		return LT_ENOMEM;
	c->subs[c->nsubs++] = sub;
	return 1;
}

bool lt_sim_chan_unsubscribe(lt_sim_conn *c, const char *name)
{
	lt_sim_sub *s = find_sub(c, name);
	if (!s)
		return false;
	free(s->last_seq);
	size_t i = (size_t)(s - c->subs);
	memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof *s);
	c->nsubs--;
	return true;
}

void lt_sim_chan_unsubscribe_all(lt_sim_conn *c)
{
	lt_sim_user_unsubscribe_all(c); /* user.* channels (user_channels.c) */
	for (size_t i = 0; i < c->nsubs; i++)
		free(c->subs[i].last_seq);
	c->nsubs = 0;
}

/* ---- publishing -------------------------------------------------------------------------- */

static void pub_book(lt_sim_conn *c, lt_sim_sub *sub, const lt_sim_ins *s, int64_t now)
{
	const lt_sim_book *bk = &s->book;
	bool snap =
		sub->need_snapshot || sub->last_change_id != bk->acc[sub->interval].base_change_id;
	if (!snap && bk->change_id == sub->last_change_id)
		return; /* nothing changed since the last message */
	lt_sim_msg *m = lt_sim_notify_begin(sub->name);
	if (!m)
		return;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, &m->b);
	lt_sim_jo_str(&o, "type", snap ? "snapshot" : "change");
	lt_sim_jo_int(&o, "timestamp", now);
	lt_sim_jo_str(&o, "instrument_name", s->def->name);
	if (!snap && c->book_gaps > 0) { /* sim/fault book_gap (faults_more.c): a gap */
		c->book_gaps--;
		lt_sim_jo_int(&o, "prev_change_id", sub->last_change_id - 1);
	} else if (!snap)
		lt_sim_jo_int(&o, "prev_change_id", sub->last_change_id);
	lt_sim_jo_int(&o, "change_id", bk->change_id);
	for (int side = 0; side < 2; side++) {
		lt_sim_jo_key(&o, side == LT_SIM_BID ? "bids" : "asks");
		if (snap)
			lt_sim_book_write_levels(bk, side, 0, 0, true, &m->b);
		else
			lt_sim_book_write_changes(bk, sub->interval, side, &m->b);
	}
	lt_sim_jo_end(&o);
	sub->need_snapshot = false;
	sub->last_change_id = bk->change_id;
	lt_sim_notify_end(c, m);
}

static void pub_grouped(lt_sim_conn *c, lt_sim_sub *sub, const lt_sim_ins *s, int64_t now)
{
	const lt_sim_book *bk = &s->book;
	if (bk->change_id == sub->last_change_id)
		return;
	lt_sim_msg *m = lt_sim_notify_begin(sub->name);
	if (!m)
		return;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, &m->b);
	lt_sim_jo_str(&o, "instrument_name", s->def->name);
	lt_sim_jo_int(&o, "timestamp", now);
	lt_sim_jo_int(&o, "change_id", bk->change_id);
	lt_sim_jo_key(&o, "bids");
	lt_sim_book_write_levels(bk, LT_SIM_BID, sub->depth, sub->group, false, &m->b);
	lt_sim_jo_key(&o, "asks");
	lt_sim_book_write_levels(bk, LT_SIM_ASK, sub->depth, sub->group, false, &m->b);
	lt_sim_jo_end(&o);
	sub->last_change_id = bk->change_id;
	lt_sim_notify_end(c, m);
}

static bool trades_match(const lt_sim_sub *sub, size_t i, const lt_sim_ins *s)
{
	if (sub->type == LT_SIM_CH_TRADES)
		return i == sub->ins;
	return (sub->kind_mask & (1 << s->def->kind)) &&
	       (sub->ccy < 0 || sub->ccy == s->def->index);
}

/* An array of the trades since the last message; nothing is sent when there are none. */
static void pub_trades(lt_sim_conn *c, lt_sim_sub *sub, lt_sim_market *mk)
{
	lt_sim_msg *m = NULL;
	for (size_t i = 0; i < mk->n; i++) {
		const lt_sim_ins *s = &mk->ins[i];
		if (!trades_match(sub, i, s))
			continue;
		int64_t from = sub->last_seq[i] + 1;
		if (from < s->ring_first)
			from = s->ring_first;
		for (int64_t q = from; q <= s->trade_seq; q++) {
			bool first = !m;
			if (first && !(m = lt_sim_notify_begin(sub->name)))
				return;
			lt_buf_add(&m->b, first ? "[" : ",", 1);
			lt_sim_render_trade(s, &s->ring[q % LT_SIM_TRADE_RING], &m->b);
		}
		sub->last_seq[i] = s->trade_seq;
	}
	if (!m)
		return;
	lt_buf_add(&m->b, "]", 1);
	lt_sim_notify_end(c, m);
}

static void pub_quote(lt_sim_conn *c, lt_sim_sub *sub, const lt_sim_ins *s, int64_t now)
{
	const lt_sim_level *b = lt_sim_book_at(&s->book, LT_SIM_BID, 0);
	const lt_sim_level *a = lt_sim_book_at(&s->book, LT_SIM_ASK, 0);
	double bp = b ? lt_sim_book_price(&s->book, b->price) : 0, ba = b ? b->amount : 0;
	double ap = a ? lt_sim_book_price(&s->book, a->price) : 0, aa = a ? a->amount : 0;
	if (bp == sub->last_bid && ba == sub->last_bid_amt && ap == sub->last_ask &&
	    aa == sub->last_ask_amt)
		return;
	sub->last_bid = bp, sub->last_bid_amt = ba, sub->last_ask = ap, sub->last_ask_amt = aa;
	lt_sim_msg *m = lt_sim_notify_begin(sub->name);
	if (!m)
		return;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, &m->b);
	lt_sim_jo_int(&o, "timestamp", now);
	lt_sim_jo_str(&o, "instrument_name", s->def->name);
	lt_sim_jo_num(&o, "best_bid_price", bp);
	lt_sim_jo_num(&o, "best_bid_amount", ba);
	lt_sim_jo_num(&o, "best_ask_price", ap);
	lt_sim_jo_num(&o, "best_ask_amount", aa);
	lt_sim_jo_end(&o);
	lt_sim_notify_end(c, m);
}

static void pub_sub(lt_sim *sim, lt_sim_conn *c, lt_sim_sub *sub)
{
	lt_sim_market *mk = sim->mkt;
	const lt_sim_ins *s = sub->ins < mk->n ? &mk->ins[sub->ins] : NULL;
	lt_sim_msg *m;
	switch (sub->type) {
	case LT_SIM_CH_TICKER:
		if ((m = lt_sim_notify_begin(sub->name))) {
			lt_sim_render_ticker(mk, s, mk->now_ms, &m->b);
			lt_sim_notify_end(c, m);
		}
		break;
	case LT_SIM_CH_BOOK:
		pub_book(c, sub, s, mk->now_ms);
		break;
	case LT_SIM_CH_BOOK_GROUPED:
		pub_grouped(c, sub, s, mk->now_ms);
		break;
	case LT_SIM_CH_TRADES:
	case LT_SIM_CH_TRADES_KIND:
		pub_trades(c, sub, mk);
		break;
	case LT_SIM_CH_INDEX:
		if ((m = lt_sim_notify_begin(sub->name))) {
			lt_sim_render_index(mk, sub->index, &m->b);
			lt_sim_notify_end(c, m);
		}
		break;
	case LT_SIM_CH_QUOTE:
		pub_quote(c, sub, s, mk->now_ms);
		break;
	}
}

void lt_sim_chan_publish(lt_sim *sim, bool agg2)
{
	for (lt_sim_conn *c = sim->conns; c; c = c->next) {
		if (c->close_now)
			continue;
		for (size_t i = 0; i < c->nsubs; i++) {
			lt_sim_sub *sub = &c->subs[i];
			bool timed = sub->type != LT_SIM_CH_INDEX && sub->type != LT_SIM_CH_QUOTE;
			if (timed && sub->interval == LT_SIM_IV_AGG2 && !agg2)
				continue;
			pub_sub(sim, c, sub);
		}
	}
	for (size_t i = 0; i < sim->mkt->n; i++) {
		lt_sim_book_acc_reset(&sim->mkt->ins[i].book, LT_SIM_ACC_100MS);
		if (agg2)
			lt_sim_book_acc_reset(&sim->mkt->ins[i].book, LT_SIM_ACC_AGG2);
	}
	lt_sim_user_publish(sim, agg2); /* user.* channels: fills made by the step, cadences */
}
