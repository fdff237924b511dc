/* ticker_fields.h — the handler work every C benchmark peer does on each message, the same as
 * bench/runtime.lua's and bench/node_client.js's: parse the whole JSON text with yajl (UTF-8
 * validated) and take params.data.best_bid_price and params.data.best_ask_price, noting the
 * end marker (params.data.end) and whether the message is a reply (a top-level "id").
 *
 *     bt_msg m;
 *     if (bt_parse(text, len, &m) == 0 && m.have_bid) use(m.bid, m.ask);
 *
 * bt_parse returns 0, or -1 when the text is not valid JSON (m is then unspecified). Header-only
 * (static functions): each bench program is built from its own .c file.
 */
#ifndef BT_TICKER_FIELDS_H
#define BT_TICKER_FIELDS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

typedef struct bt_msg {
	double bid, ask;
	bool have_bid, have_ask, end, is_reply;
	int depth;                     /* objects open; the ticker's fields are at depth 3 */
	int want;                      /* which field the next value belongs to: 0 none, 1 bid, 2 ask */
} bt_msg;

static int bt_on_start_map(void *ctx) { ((bt_msg *)ctx)->depth++; ((bt_msg *)ctx)->want = 0; return 1; }
static int bt_on_end_map(void *ctx) { ((bt_msg *)ctx)->depth--; return 1; }

static int bt_on_key(void *ctx, const unsigned char *k, size_t n)
{
	bt_msg *m = ctx;
	m->want = 0;
	if (m->depth == 1 && n == 2 && memcmp(k, "id", 2) == 0)
		m->is_reply = true;
	else if (m->depth == 3 && n == 14 && memcmp(k, "best_bid_price", 14) == 0)
		m->want = 1;
	else if (m->depth == 3 && n == 14 && memcmp(k, "best_ask_price", 14) == 0)
		m->want = 2;
	else if (m->depth == 3 && n == 3 && memcmp(k, "end", 3) == 0)
		m->end = true;
	return 1;
}

static int bt_on_number(void *ctx, const char *s, size_t n)
{
	bt_msg *m = ctx;
	if (m->want) {
		char tmp[64];
		if (n >= sizeof tmp)
			return 0;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (m->want == 1) {
			m->bid = strtod(tmp, NULL);
			m->have_bid = true;
		} else {
			m->ask = strtod(tmp, NULL);
			m->have_ask = true;
		}
		m->want = 0;
	}
	return 1;
}

static int bt_on_other(void *ctx) { ((bt_msg *)ctx)->want = 0; return 1; }
static int bt_on_bool(void *ctx, int b) { (void)b; return bt_on_other(ctx); }
static int bt_on_string(void *ctx, const unsigned char *s, size_t n) { (void)s; (void)n; return bt_on_other(ctx); }

static const yajl_callbacks bt_callbacks = {
	bt_on_other, bt_on_bool, NULL, NULL, bt_on_number, bt_on_string,
	bt_on_start_map, bt_on_key, bt_on_end_map, bt_on_other, bt_on_other
};

static int bt_parse(const unsigned char *text, size_t len, bt_msg *m)
{
	memset(m, 0, sizeof *m);
	yajl_handle h = yajl_alloc(&bt_callbacks, NULL, m);
	if (!h)
		return -1;
	int ok = yajl_parse(h, text, len) == yajl_status_ok && yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok ? 0 : -1;
}

#endif
