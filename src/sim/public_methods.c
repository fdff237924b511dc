/* public_methods.c — the public JSON-RPC methods of the simulated venue: session methods
 * (deribit-api.md §2), subscriptions (§4) and market data (§6). Each handler validates its
 * parameters (params.c: -32602 with data {param, reason}) and answers exactly once. */
#include "internal.h"
#include "trading.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

#define API_VERSION "1.2.26"
#define MAX_CHANNELS 500 /* per subscribe call, §4 */

static void reply_version(lt_sim_req *rq)
{
	lt_buf *b = lt_sim_reply_begin(rq);
	LT_SIM_LIT(b, "{\"version\":\"" API_VERSION "\"}");
	lt_sim_reply_end(rq);
}

static void m_hello(lt_sim_req *rq)
{
	const char *name, *version;
	if (lt_sim_param_str(rq, "client_name", true, &name) <= 0 ||
	    lt_sim_param_str(rq, "client_version", true, &version) <= 0)
		return;
	lt_sim_log(rq->sim, 1, "#%u hello from %.64s %.32s", rq->conn->id, name, version);
	reply_version(rq);
}

/* Also the answer to a heartbeat test_request (§2). */
static void m_test(lt_sim_req *rq)
{
	static const char *const results[] = {"exception", NULL};
	const char *expected;
	lt_sim_hb_answered(rq->conn);
	int rc = lt_sim_param_enum(rq, "expected_result", false, results, &expected);
	if (rc < 0)
		return;
	if (rc == 1)
		lt_sim_reply_error(rq, 11094, "internal_server_error");
	else
		reply_version(rq);
}

static void m_get_time(lt_sim_req *rq)
{
	lt_jw_int(lt_sim_reply_begin(rq), lt_sim_now_ms());
	lt_sim_reply_end(rq);
}

static void m_set_heartbeat(lt_sim_req *rq)
{
	double interval;
	if (lt_sim_param_num(rq, "interval", true, &interval) <= 0)
		return;
	if (interval < rq->conn->min_heartbeat_s || interval > 86400.0) {
		char reason[64];
		snprintf(reason, sizeof reason, "must be between %d and 86400",
			 rq->conn->min_heartbeat_s);
		lt_sim_reply_invalid(rq, "interval", reason);
		return;
	}
	lt_sim_hb_set(rq->conn, (int64_t)(interval * rq->conn->hb_ms_per_s));
	lt_sim_reply_ok(rq);
}

static void m_disable_heartbeat(lt_sim_req *rq)
{
	lt_sim_hb_disable(rq->conn);
	lt_sim_reply_ok(rq);
}

/* subscribe and unsubscribe: the result lists the channels this call changed (or confirmed).
 * With user_channels (private/subscribe), user.* names go to the user channels (trading.h). */
void lt_sim_subscribe_reply(lt_sim_req *rq, bool sub, bool user_channels)
{
	yajl_val chans;
	const char *label;
	if (lt_sim_param_strarr(rq, "channels", true, MAX_CHANNELS, &chans) <= 0 ||
	    (user_channels && lt_sim_param_str(rq, "label", false, &label) < 0))
		return;
	lt_buf *b = lt_sim_reply_begin(rq);
	lt_buf_add(b, "[", 1);
	size_t n = 0;
	for (size_t i = 0; i < chans->u.array.len; i++) {
		const char *name = chans->u.array.values[i]->u.string;
		bool user = user_channels && strncmp(name, "user.", 5) == 0, dup = false;
		int rc = sub ? (user ? lt_sim_user_subscribe(rq->conn, name)
				     : lt_sim_chan_subscribe(rq->conn, name))
			     : (user ? lt_sim_user_unsubscribe(rq->conn, name)
				     : lt_sim_chan_unsubscribe(rq->conn, name));
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(chans->u.array.values[j]->u.string, name) == 0;
		if (rc != 1 || dup)
			continue;
		lt_sim_ev_sub(rq->conn, name, sub); /* eventlog.c */
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_jw_string(b, name, strlen(name));
	}
	lt_buf_add(b, "]", 1);
	lt_sim_reply_end(rq);
}

static void m_subscribe(lt_sim_req *rq) { lt_sim_subscribe_reply(rq, true, false); }

static void m_unsubscribe(lt_sim_req *rq) { lt_sim_subscribe_reply(rq, false, false); }

static void m_unsubscribe_all(lt_sim_req *rq)
{
	lt_sim_chan_unsubscribe_all(rq->conn);
	lt_sim_reply_ok(rq);
}

static bool instrument_matches(const lt_sim_instr *d, const char *ccy, const char *kind)
{
	if (strcmp(ccy, "any") != 0 && strcmp(ccy, lt_sim_currency(d)) != 0)
		return false;
	return !kind || strcmp(kind, lt_sim_kind_name(d->kind)) == 0;
}

static void m_get_instruments(lt_sim_req *rq)
{
	static const char *const ccys[] = {"BTC", "ETH", "USDC", "USDT", "EURR", "any", NULL};
	static const char *const kinds[] = {"future",       "option",       "spot",
					    "future_combo", "option_combo", NULL};
	const char *ccy, *kind = NULL;
	bool expired = false;
	if (lt_sim_param_enum(rq, "currency", true, ccys, &ccy) <= 0 ||
	    lt_sim_param_enum(rq, "kind", false, kinds, &kind) < 0 ||
	    lt_sim_param_bool(rq, "expired", false, &expired) < 0)
		return;
	lt_buf *b = lt_sim_reply_begin(rq);
	lt_buf_add(b, "[", 1);
	size_t n = 0;
	const lt_sim_market *mk = rq->sim->mkt;
	for (size_t i = 0; i < mk->n && !expired; i++) {
		if (!instrument_matches(mk->ins[i].def, ccy, kind))
			continue;
		if (n++)
			lt_buf_add(b, ",", 1);
		lt_sim_render_instrument(mk->ins[i].def, b);
	}
	lt_buf_add(b, "]", 1);
	lt_sim_reply_end(rq);
}

static void m_get_instrument(lt_sim_req *rq)
{
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s)
		return;
	lt_sim_render_instrument(s->def, lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
}

static void m_ticker(lt_sim_req *rq)
{
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	if (!s)
		return;
	lt_sim_render_ticker(rq->sim->mkt, s, lt_sim_now_ms(), lt_sim_reply_begin(rq));
	lt_sim_reply_end(rq);
}

static void m_get_order_book(lt_sim_req *rq)
{
	static const int64_t depths[] = {1, 5, 10, 20, 50, 100, 1000, 10000};
	lt_sim_ins *s = lt_sim_param_instrument(rq, "instrument_name");
	int64_t depth = 20;
	int rc;
	if (!s || (rc = lt_sim_param_int(rq, "depth", false, &depth)) < 0)
		return;
	bool ok = false;
	for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
		ok = ok || depth == depths[i];
	if (!ok) {
		lt_sim_reply_invalid(rq, "depth",
				     "must be one of 1, 5, 10, 20, 50, 100, 1000, 10000");
		return;
	}
	lt_buf *b = lt_sim_reply_begin(rq);
	lt_sim_render_ticker_fields(rq->sim->mkt, s, lt_sim_now_ms(), b);
	lt_sim_jo o = {b, false};
	lt_sim_jo_int(&o, "change_id", s->book.change_id);
	lt_sim_jo_key(&o, "bids");
	lt_sim_book_write_levels(&s->book, LT_SIM_BID, (size_t)depth, 0, false, b);
	lt_sim_jo_key(&o, "asks");
	lt_sim_book_write_levels(&s->book, LT_SIM_ASK, (size_t)depth, 0, false, b);
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

static void m_get_index_price(lt_sim_req *rq)
{
	static const char *const names[] = {"btc_usd", "eth_usd", NULL};
	const char *name;
	if (lt_sim_param_enum(rq, "index_name", true, names, &name) <= 0)
		return;
	double px = rq->sim->mkt->index[lt_sim_market_index(name)];
	lt_sim_jo o;
	lt_sim_jo_begin(&o, lt_sim_reply_begin(rq));
	lt_sim_jo_num(&o, "index_price", px);
	lt_sim_jo_num(&o, "estimated_delivery_price", px);
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

const lt_sim_method lt_sim_public_methods[] = {
	{"public/hello", m_hello},
	{"public/test", m_test},
	{"public/get_time", m_get_time},
	{"public/set_heartbeat", m_set_heartbeat},
	{"public/disable_heartbeat", m_disable_heartbeat},
	{"public/subscribe", m_subscribe},
	{"public/unsubscribe", m_unsubscribe},
	{"public/unsubscribe_all", m_unsubscribe_all},
	{"public/get_instruments", m_get_instruments},
	{"public/get_instrument", m_get_instrument},
	{"public/ticker", m_ticker},
	{"public/get_order_book", m_get_order_book},
	{"public/get_index_price", m_get_index_price},
	{NULL, NULL},
};
