/* eventlog.c — the venue's event log, so that a long test (scripts/soak) checks on the venue
 * side what the venue received and sent: connections opened and closed, authentications,
 * channels subscribed and unsubscribed per connection, every order request received (with its
 * label), every order state change and every user.orders notification sent. Each event is one
 * JSON object: {"seq":N,"t":MS,"ev":KIND,...}; seq counts from 1 in this venue process.
 *
 * Bounded: the last LT_SIM_EVLOG_MAX (4096) events are kept in memory and can be read with
 *
 *   sim/events {"since": SEQ?, "max": N?}       -> {"conn": C, "first": F, "next": S,
 *                                                   "events": [...]}   (no auth needed)
 *
 * the events with seq >= since (default 1), at most max (1..4096, default 1000), oldest first;
 * "first" is the oldest seq still in memory (events before it were overwritten), "next" the seq
 * the next event will get, "conn" the asking connection's number (so a test can tell its own
 * connection from the others'). With opts.event_log (`luatrade sim --event-log FILE`), every
 * event is also appended to FILE as one line as it happens (line-buffered: a venue killed with
 * SIGKILL loses none of them). Errors: -32602 with data.param "since" or "max".
 *
 * Kinds and members: start {pid, port}; open / close {conn}; auth {conn, account, refresh};
 * sub / unsub {conn, channel}; order {conn, account, method, id (the JSON-RPC id, integers
 * only, else null), label, order_id, direction, price, amount} (the members the request had,
 * for private/buy, sell, edit, cancel, before faults, limits or the auth gate may refuse it);
 * state {account, order_id, label, direction, state, filled, ts (last_update_timestamp)};
 * uo {conn, order_id, state, ts, dropped} one per user.orders.*.raw notification, logged when
 * it was written to the socket, or with dropped: true when it was discarded unsent (a
 * blackholed connection, or one that closed or was dropped as too slow with it queued).
 */
#include "internal.h"
#include "trading.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

struct lt_sim_evlog {
	char *ring[LT_SIM_EVLOG_MAX]; /* event seq s lives at ring[(s - 1) % MAX] */
	uint64_t next;                /* seq of the next event */
	FILE *f;                      /* opts.event_log, or NULL */
	lt_buf b;                     /* scratch */
};

int lt_sim_evlog_open(lt_sim *sim, lt_err *err)
{
	lt_sim_evlog *l = calloc(1, sizeof *l);
	if (!l)
		return lt_err_set(err, LT_ENOMEM, "sim: out of memory");
	l->next = 1;
	lt_buf_init(&l->b, 0);
	if (sim->opts.event_log && sim->opts.event_log[0]) {
		l->f = fopen(sim->opts.event_log, "a");
		if (!l->f) {
			free(l);
			return lt_err_set(err, LT_EIO, "sim: cannot open the event log %s",
					  sim->opts.event_log);
		}
		setvbuf(l->f, NULL, _IOLBF, 0);
	}
	sim->evlog = l;
	lt_sim_engine *e = lt_sim_engine_get(sim->mkt);
	if (e)
		e->evlog = l;
	return 0;
}

void lt_sim_evlog_close(lt_sim *sim)
{
	lt_sim_evlog *l = sim->evlog;
	if (!l)
		return;
	for (size_t i = 0; i < LT_SIM_EVLOG_MAX; i++)
		free(l->ring[i]);
	if (l->f)
		fclose(l->f);
	lt_buf_free(&l->b);
	free(l);
	sim->evlog = NULL;
}

/* Start an event of kind ev in l's scratch buffer; NULL when there is no log. */
static lt_sim_jo *ev_begin(lt_sim_evlog *l, lt_sim_jo *o, const char *ev)
{
	if (!l)
		return NULL;
	lt_buf_reset(&l->b);
	lt_sim_jo_begin(o, &l->b);
	lt_sim_jo_int(o, "seq", (int64_t)l->next);
	lt_sim_jo_int(o, "t", lt_sim_now_ms());
	lt_sim_jo_str(o, "ev", ev);
	return o;
}

static void ev_end(lt_sim_evlog *l, lt_sim_jo *o)
{
	lt_sim_jo_end(o);
	if (l->b.oom)
		return;
	size_t slot = (size_t)((l->next - 1) % LT_SIM_EVLOG_MAX);
	char *s = strdup(lt_buf_text(&l->b));
	if (!s)
		return;
	free(l->ring[slot]);
	l->ring[slot] = s;
	l->next++;
	if (l->f) {
		fputs(s, l->f);
		fputc('\n', l->f);
	}
}

void lt_sim_ev_start(lt_sim *sim)
{
	lt_sim_jo o;
	if (!ev_begin(sim->evlog, &o, "start"))
		return;
	lt_sim_jo_int(&o, "pid", (int64_t)getpid());
	lt_sim_jo_int(&o, "port", sim->port);
	ev_end(sim->evlog, &o);
}

void lt_sim_ev_conn(lt_sim_conn *c, const char *ev)
{
	lt_sim_jo o;
	if (!c->sim || !ev_begin(c->sim->evlog, &o, ev))
		return;
	lt_sim_jo_int(&o, "conn", c->id);
	ev_end(c->sim->evlog, &o);
}

void lt_sim_ev_auth(lt_sim_conn *c, const lt_sim_account *acc, bool refresh)
{
	lt_sim_jo o;
	if (!c->sim || !ev_begin(c->sim->evlog, &o, "auth"))
		return;
	lt_sim_jo_int(&o, "conn", c->id);
	lt_sim_jo_str(&o, "account", acc->client_id);
	lt_sim_jo_bool(&o, "refresh", refresh);
	ev_end(c->sim->evlog, &o);
}

void lt_sim_ev_sub(lt_sim_conn *c, const char *channel, bool sub)
{
	lt_sim_jo o;
	if (!c->sim || !ev_begin(c->sim->evlog, &o, sub ? "sub" : "unsub"))
		return;
	lt_sim_jo_int(&o, "conn", c->id);
	lt_sim_jo_str(&o, "channel", channel);
	ev_end(c->sim->evlog, &o);
}

/* Copy params.key to the event when it is a string or a number. */
static void copy_member(lt_sim_jo *o, yajl_val params, const char *key)
{
	yajl_val v = lt_sim_json_get(params, key);
	if (v && YAJL_IS_STRING(v))
		lt_sim_jo_str(o, key, v->u.string);
	else if (v && YAJL_IS_INTEGER(v))
		lt_sim_jo_int(o, key, YAJL_GET_INTEGER(v));
	else if (v && YAJL_IS_DOUBLE(v))
		lt_sim_jo_num(o, key, YAJL_GET_DOUBLE(v));
}

void lt_sim_ev_request(const lt_sim_req *rq)
{
	static const char *const methods[] = {"private/buy", "private/sell", "private/edit",
					      "private/cancel", NULL};
	size_t i = 0;
	while (methods[i] && strcmp(methods[i], rq->method) != 0)
		i++;
	lt_sim_jo o;
	if (!methods[i] || !ev_begin(rq->sim->evlog, &o, "order"))
		return;
	lt_sim_jo_int(&o, "conn", rq->conn->id);
	if (rq->conn->acc)
		lt_sim_jo_str(&o, "account", rq->conn->acc->client_id);
	lt_sim_jo_str(&o, "method", rq->method);
	if (rq->id && YAJL_IS_INTEGER(rq->id))
		lt_sim_jo_int(&o, "id", YAJL_GET_INTEGER(rq->id));
	else
		lt_sim_jo_null(&o, "id");
	static const char *const keys[] = {"label", "order_id", "instrument_name",
					   "price", "amount",   NULL};
	for (size_t k = 0; keys[k]; k++)
		copy_member(&o, rq->params, keys[k]);
	if (i < 2)
		lt_sim_jo_str(&o, "direction", i == 0 ? "buy" : "sell");
	ev_end(rq->sim->evlog, &o);
}

static const char *state_name(lt_sim_ostate s)
{
	static const char *const names[] = {"open", "filled", "cancelled", "rejected"};
	return names[s];
}

void lt_sim_ev_order(lt_sim_engine *e, const lt_sim_order *o)
{
	lt_sim_jo j;
	if (!ev_begin(e->evlog, &j, "state"))
		return;
	lt_sim_jo_str(&j, "account", o->acc ? o->acc->client_id : "");
	lt_sim_jo_str(&j, "order_id", o->order_id);
	lt_sim_jo_str(&j, "label", o->label);
	lt_sim_jo_str(&j, "direction", o->sell ? "sell" : "buy");
	lt_sim_jo_str(&j, "state", state_name(o->state));
	lt_sim_jo_num(&j, "filled", o->filled);
	lt_sim_jo_int(&j, "ts", o->updated);
	ev_end(e->evlog, &j);
}

void lt_sim_ev_uo_msg(lt_sim_conn *c, const lt_sim_msg *m, bool dropped)
{
	lt_sim_jo j;
	if (!m->uo.on || !c->sim || !ev_begin(c->sim->evlog, &j, "uo"))
		return;
	lt_sim_jo_int(&j, "conn", c->id);
	lt_sim_jo_str(&j, "order_id", m->uo.order_id);
	lt_sim_jo_str(&j, "state", state_name((lt_sim_ostate)m->uo.state));
	lt_sim_jo_int(&j, "ts", m->uo.ts);
	if (dropped)
		lt_sim_jo_bool(&j, "dropped", true);
	ev_end(c->sim->evlog, &j);
}

/* ---- sim/events -------------------------------------------------------------------------- */

static void sim_events(lt_sim_req *rq)
{
	int64_t since = 1, max = 1000;
	if (lt_sim_param_int(rq, "since", false, &since) < 0 ||
	    lt_sim_param_int(rq, "max", false, &max) < 0)
		return;
	if (since < 1) {
		lt_sim_reply_invalid(rq, "since", "must be at least 1");
		return;
	}
	if (max < 1 || max > LT_SIM_EVLOG_MAX) {
		lt_sim_reply_invalid(rq, "max", "must be between 1 and 4096");
		return;
	}
	lt_sim_evlog *l = rq->sim->evlog;
	uint64_t next = l ? l->next : 1;
	uint64_t first = next > LT_SIM_EVLOG_MAX ? next - LT_SIM_EVLOG_MAX : 1;
	uint64_t from = (uint64_t)since < first ? first : (uint64_t)since;
	lt_buf *b = lt_sim_reply_begin(rq);
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_int(&o, "conn", rq->conn->id);
	lt_sim_jo_int(&o, "first", (int64_t)first);
	lt_sim_jo_int(&o, "next", (int64_t)next);
	lt_sim_jo_key(&o, "events");
	lt_buf_add(b, "[", 1);
	for (uint64_t s = from, n = 0; s < next && n < (uint64_t)max; s++, n++) {
		const char *ev = l->ring[(s - 1) % LT_SIM_EVLOG_MAX];
		if (n)
			lt_buf_add(b, ",", 1);
		lt_buf_add(b, ev, strlen(ev));
	}
	lt_buf_add(b, "]", 1);
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

const lt_sim_method lt_sim_evlog_methods[] = {
	{"sim/events", sim_events},
	{NULL, NULL},
};
