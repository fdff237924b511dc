/* client.c — one venue client: its connection (a transport, ws.c's by default), JSON-RPC,
 * rate limiter, the keepalive (heartbeat, test_request answers) and the connection events
 * that drive the request lifecycle in request.c; see client.h for the contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"

/* ---- connection events ------------------------------------------------------------------- */

/* The venue's test_request: public/test through the limiter like every request (§2). */
static void answer_test_request(void *ud)
{
	lt_cl_background(ud, "public/test", NULL, LT_REQ_BOUND | LT_REQ_FIRST, 10000, NULL, NULL);
}

static void set_heartbeat(lt_cl *cl)
{
	char params[32];
	snprintf(params, sizeof params, "{\"interval\":%d}", cl->o.heartbeat_s);
	lt_cl_background(cl, "public/set_heartbeat", params, LT_REQ_BOUND, 10000, NULL, NULL);
}

static void emit(lt_cl *cl, const char *state, const char *reason)
{
	if (cl->ev.on_state && !cl->closing)
		cl->ev.on_state(cl->ud, state, reason);
}

static void on_open(lt_cl *cl)
{
	cl->down_reason[0] = '\0';
	cl->epoch++;
	cl->open = true;
	lt_log(LT_LOG_INFO, "connected to %s", cl->url);
	if (cl->hooks.on_open)
		cl->hooks.on_open(cl->hooks.ud); /* public/auth goes first */
	else
		lt_cl_set_ready(cl);
	if (cl->o.heartbeat_s > 0)
		set_heartbeat(cl);
	lt_cl_kick(cl);
}

/* The connection is gone: sent requests end LOST, waiting ones wait again (bound ones end). */
static void on_drop(lt_cl *cl, const char *reason)
{
	bool was_open = cl->open;
	cl->open = false;
	snprintf(cl->down_reason, sizeof cl->down_reason, "%s",
		 reason ? reason : "connection lost");
	int inflight = lt_rpc_pending_count(cl->rpc);
	if (was_open || inflight)
		lt_log(LT_LOG_WARN, "%s: %s; %d request(s) in flight fail with connection_lost",
		       cl->url, reason ? reason : "connection lost", inflight);
	lt_rpc_fail_all(cl->rpc);
	lt_reqs_requeue(cl);
	if (cl->hooks.on_drop)
		cl->hooks.on_drop(cl->hooks.ud);
}

/* Debug log of every connection event, with the URL and the reason (close code and text when
 * the venue closed); after a drop, the reconnect decision: retry number and delay. */
static void log_state(lt_cl *cl, lt_ws_state st, const char *reason)
{
	if (!lt_log_on(LT_LOG_DEBUG))
		return;
	lt_ws *ws = lt_cl_ws(cl);
	lt_log_field f[5] = {LT_LF_S("url", cl->url), LT_LF_S("state", lt_ws_state_name(st)),
			     LT_LF_S("reason", reason ? reason : "")};
	if (st == LT_WS_RECONNECTING && ws) {
		const lt_ws_stats *w = lt_ws_get_stats(ws);
		f[3] = LT_LF_N("retry", lt_ws_attempt(ws));
		f[4] = LT_LF_N("delay_ms", w->last_backoff_ms);
		lt_logf(LT_LOG_DEBUG, "client", f, 5, "%s: %s; reconnecting in %d ms (retry %d)",
			cl->url, reason ? reason : "connection lost", w->last_backoff_ms,
			lt_ws_attempt(ws));
	} else if (st == LT_WS_CLOSED)
		lt_logf(LT_LOG_DEBUG, "client", f, 3, "%s: closed for good (%s); no reconnect",
			cl->url, reason ? reason : "closed");
	else if (st == LT_WS_CONNECTING)
		lt_logf(LT_LOG_DEBUG, "client", f, 2, "%s: connecting", cl->url);
	else
		lt_logf(LT_LOG_DEBUG, "client", f, 2, "%s: connection opened", cl->url);
}

static void ws_state(void *ud, lt_ws_state st, const char *reason)
{
	lt_cl *cl = ud;
	log_state(cl, st, reason);
	if (st == LT_WS_OPEN)
		on_open(cl);
	else if (st == LT_WS_RECONNECTING || st == LT_WS_CLOSED)
		on_drop(cl, reason);
	if (st == LT_WS_RECONNECTING)
		lt_mx_inc(cl->o.ws.metrics, LT_M_RECONNECTS, NULL, 1);
	emit(cl, lt_ws_state_name(st), reason);
}

static void ws_message(void *ud, const char *msg, size_t len)
{
	lt_cl *cl = ud;
	lt_rpc_on_message(cl->rpc, msg, len);
}

static int rpc_send(void *ud, lt_buf *msg)
{
	lt_cl *cl = ud;
	return cl->conn ? cl->tp->send(cl->conn, msg) : LT_ESTATE;
}

static void rpc_notify(void *ud, const char *channel, lua_State *L)
{
	lt_cl *cl = ud;
	if (cl->ev.on_notify && !cl->closing)
		cl->ev.on_notify(cl->ud, channel, L);
	else
		lua_pop(L, 1);
}

/* ---- life cycle -------------------------------------------------------------------------- */

int lt_cl_new(lua_State *L, lt_loop *loop, const lt_cl_opts *o, const lt_cl_events *ev, void *ud,
	      lt_cl **out, lt_err *err)
{
	*out = NULL;
	lt_cl *cl = calloc(1, sizeof *cl);
	if (!cl)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	cl->loop = loop;
	cl->o = *o;
	cl->tp = o->transport ? o->transport : &lt_ws_transport;
	cl->o.ws.url = NULL;
	cl->o.ws.ca_file = NULL;
	if (ev)
		cl->ev = *ev;
	cl->ud = ud;
	snprintf(cl->url, sizeof cl->url, "%s", o->ws.url ? o->ws.url : "");
	if (lt_log_on(LT_LOG_DEBUG)) {
		lt_log_field f[] = {LT_LF_S("url", cl->url), LT_LF_S("state", "connecting")};
		lt_logf(LT_LOG_DEBUG, "client", f, 2, "%s: new client, connecting", cl->url);
	}
	lt_rl_init(&cl->rl, lt_cl_clock(cl));
	for (int p = 0; p < 4; p++)
		cl->pool_t[p].cl = cl;
	lt_rpc_cbs rc = {rpc_send, rpc_notify, answer_test_request};
	int rv = lt_rpc_new(L, loop, &rc, cl, &cl->rpc, err);
	if (rv) {
		free(cl);
		return rv;
	}
	lt_rpc_set_answer_test_request(cl->rpc, o->answer_test_request);
	*out = cl; /* before lt_ws_new: its first state event may come at once */
	lt_ws_cbs wc = {ws_state, ws_message};
	if ((rv = cl->tp->open(loop, &o->ws, &wc, cl, &cl->conn, err)) != 0) {
		*out = NULL;
		lt_rpc_free(cl->rpc);
		free(cl);
		return rv;
	}
	return 0;
}

void lt_cl_set_hooks(lt_cl *cl, const lt_cl_hooks *h) { cl->hooks = *h; }

void lt_cl_free(lt_cl *cl)
{
	if (!cl)
		return;
	cl->closing = true;
	cl->open = false;
	lt_reqs_close(cl);
	lt_rpc_free(cl->rpc); /* sent requests end LOST */
	if (cl->conn && cl->tp->close)
		cl->tp->close(cl->conn);
	free(cl);
}

uint64_t lt_cl_epoch(const lt_cl *cl) { return cl->epoch; }
int64_t lt_cl_now_us(const lt_cl *cl) { return lt_cl_clock(cl); }
bool lt_cl_is_open(const lt_cl *cl) { return cl->open; }
const char *lt_cl_down_reason(const lt_cl *cl) { return cl->down_reason; }
lt_ws *lt_cl_ws(lt_cl *cl) { return cl->tp == &lt_ws_transport ? cl->conn : NULL; }
lt_loop *lt_cl_loop(lt_cl *cl) { return cl->loop; }
lt_rpc *lt_cl_rpc(lt_cl *cl) { return cl->rpc; }
lt_rl *lt_cl_rl(lt_cl *cl) { return &cl->rl; }
const char *lt_cl_url(const lt_cl *cl) { return cl->url; }
const lt_cl_stats *lt_cl_get_stats(const lt_cl *cl) { return &cl->stats; }
const struct lt_mx *lt_cl_metrics(const lt_cl *cl) { return cl->o.ws.metrics; }

void lt_cl_set_ready(lt_cl *cl)
{
	if (cl->conn && cl->tp->set_ready) /* backoff may reset after the stable period */
		cl->tp->set_ready(cl->conn);
}
