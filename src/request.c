/* request.c — the request lifecycle of one client (client.h): VALIDATED -> WAIT_AUTH ->
 * WAIT_LIMIT -> SENT -> DONE, the wait lists, the limiter pump, deadlines, answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "errors.h"
#include "log.h"
#include "metrics.h"

const char *lt_req_state_name(lt_req_state s)
{
	static const char *const n[] = {"validated", "wait_auth", "wait_limit", "sent", "done"};
	return (unsigned)s <= LT_REQ_DONE ? n[s] : "?";
}

lt_req_spec lt_req_spec_of(const lt_method *m, const char *method)
{
	lt_req_spec s = {0};
	s.method = m ? m->name : method;
	s.schema = m ? m->result : NULL;
	s.pool = m ? m->pool : LT_POOL_NON_ME;
	s.cost = m ? m->cost : 500;
	return s;
}

/* ---- lists ------------------------------------------------------------------------------- */

static void list_unlink(lt_req *r)
{
	req_list *l = r->list;
	if (!l)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	r->list = NULL;
	if (l != &r->cl->refusing)
		r->cl->stats.waiting--;
}

static void list_push(req_list *l, lt_req *r, bool front)
{
	r->list = l;
	if (front) {
		r->prev = NULL;
		r->next = l->head;
		if (l->head)
			l->head->prev = r;
		else
			l->tail = r;
		l->head = r;
	} else {
		r->next = NULL;
		r->prev = l->tail;
		if (l->tail)
			l->tail->next = r;
		else
			l->head = r;
		l->tail = r;
	}
	lt_cl *cl = r->cl;
	if (l != &cl->refusing && ++cl->stats.waiting > cl->stats.max_waiting)
		cl->stats.max_waiting = cl->stats.waiting;
}

/* ---- ending a request -------------------------------------------------------------------- */

static void req_free(lt_req *r)
{
	lws_sul_cancel(&r->sul);
	lt_buf_free(&r->text);
	free(r);
}

/* Debug log of a sent request's end: method, id, outcome, round trip. Never the parameters. */
static void log_end(const lt_req *r, const lt_req_end *e)
{
	static const char *const how[] = {"result", "error", "timeout", "lost", "refused"};
	if (r->state != LT_REQ_SENT || !lt_log_on(LT_LOG_DEBUG))
		return;
	const char *outcome = (unsigned)e->how < 5 ? how[e->how] : "ended";
	double ms = (double)(lt_cl_clock(r->cl) - r->sent_us) / 1000.0;
	lt_log_field f[] = {LT_LF_S("url", r->cl->url), LT_LF_S("method", r->method),
			    LT_LF_N("id", r->id),       LT_LF_S("outcome", outcome),
			    LT_LF_N("ms", ms),          LT_LF_N("code", e->code)};
	lt_logf(LT_LOG_DEBUG, "request", f, 6, "%s id %lld: %s in %.1f ms", r->method,
		(long long)r->id, outcome, ms);
}

/* Count how r ended (metrics.h): its method and error, the round trip, the limiter's wait. */
static void count_end(const lt_req *r, const lt_req_end *e)
{
	const lt_cl *cl = r->cl;
	if (!cl->o.ws.metrics)
		return;
	int64_t now = lt_cl_clock(cl), code = e->how == LT_DONE_RESULT ? 0 : e->code;
	if (e->how == LT_DONE_LOST)
		code = LT_CODE_CONNECTION_LOST;
	else if (e->how == LT_DONE_TIMEOUT && !code)
		code = LT_CODE_TIMEOUT;
	bool answered = r->sent_us && (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR);
	int64_t left_limit = r->sent_us ? r->sent_us : now;
	lt_mx_request(
		cl->o.ws.metrics, r->method, code, answered ? (double)(now - r->sent_us) / 1e6 : -1,
		r->throttled ? (int)r->pool : -1, (double)(left_limit - r->limit_since_us) / 1e6);
}

/* The one way a request ends: off every list, its timer stopped, done called once, freed. */
static void req_end(lt_req *r, const lt_req_end *e)
{
	log_end(r, e);
	count_end(r, e);
	list_unlink(r);
	lws_sul_cancel(&r->sul);
	r->state = LT_REQ_DONE;
	if (r->done)
		r->done(r->ud, r, e);
	else if (e->L && (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR))
		lua_pop(e->L, 1);
	req_free(r);
}

static void refuse_due(lws_sorted_usec_list_t *sul)
{
	lt_req *r = lws_container_of(sul, lt_req, sul);
	lt_loop *loop = r->cl->loop;
	lt_req_end e = {LT_DONE_REFUSED, false, r->end_code, r->end_msg, r->end_retry, NULL};
	req_end(r, &e);
	lt_loop_wake(loop);
}

/* End r as never sent. During its own lt_cl_submit the end is deferred to the next loop pass
 * (client.h: done never runs inside lt_cl_submit). */
static void req_refuse(lt_req *r, int64_t code, const char *msg, double retry_after)
{
	r->cl->stats.refused++;
	if (r->in_submit) {
		list_unlink(r);
		list_push(&r->cl->refusing, r, false);
		r->state = LT_REQ_DONE;
		r->end_code = code;
		r->end_retry = retry_after;
		snprintf(r->end_msg, sizeof r->end_msg, "%s", msg);
		lws_sul_schedule(lt_loop_context(r->cl->loop), 0, &r->sul, refuse_due, 1);
		return;
	}
	lt_req_end e = {LT_DONE_REFUSED, false, code, msg, retry_after, NULL};
	req_end(r, &e);
}

/* ---- readiness and the pump -------------------------------------------------------------- */

static bool gated_ready(lt_cl *cl)
{
	return !cl->hooks.ready_gated || cl->hooks.ready_gated(cl->hooks.ud);
}

static uint64_t auth_epoch(lt_cl *cl)
{
	return cl->hooks.auth_epoch ? cl->hooks.auth_epoch(cl->hooks.ud) : 0;
}

static bool ready_for(lt_cl *cl, const lt_req *r)
{
	if (!cl->open)
		return false;
	if (r->flags & LT_REQ_BOUND)
		return r->conn_epoch == cl->epoch;
	return !(r->flags & LT_REQ_GATED) || gated_ready(cl);
}

/* Still valid to write under the epochs it entered WAIT_LIMIT with? */
static bool fresh(lt_cl *cl, const lt_req *r)
{
	if (!ready_for(cl, r) || r->conn_epoch != cl->epoch)
		return false;
	return !(r->flags & LT_REQ_GATED) || r->auth_epoch == auth_epoch(cl);
}

static void to_limit(lt_cl *cl, lt_req *r)
{
	list_unlink(r);
	r->conn_epoch = cl->epoch;
	r->auth_epoch = auth_epoch(cl);
	r->state = LT_REQ_WAIT_LIMIT;
	r->limit_since_us = lt_cl_clock(cl);
	r->throttled = cl->wait_limit[r->pool].head != NULL;
	cl->rl.waited += r->throttled;
	list_push(&cl->wait_limit[r->pool], r, (r->flags & LT_REQ_FIRST) != 0);
}

/* Back to waiting for readiness (its epoch went stale); a bound request is refused instead. */
static void to_auth(lt_cl *cl, lt_req *r, bool front)
{
	list_unlink(r);
	if (r->flags & LT_REQ_BOUND) {
		req_refuse(r, LT_CODE_NOT_SENT, "the connection it was made for is gone; not sent",
			   0);
		return;
	}
	r->state = LT_REQ_WAIT_AUTH;
	cl->stats.requeued++;
	list_push(&cl->wait_auth, r, front);
}

static void rpc_done(void *ud, lt_done how, lua_State *L);

/* The local limiter says wait d µs and the request may not: its refusal text. */
static void limit_msg(char *out, size_t n, const char *method, int64_t d)
{
	snprintf(out, n, "%s: local rate limit reached, retry after %.3f s; not sent", method,
		 (double)d / 1e6);
}

static int set_id(const lt_buf *text, int64_t id, lt_buf *out)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	size_t hl = sizeof head - 1;
	const char *t = lt_buf_text(text);
	if (text->len < hl + 1 || memcmp(t, head, hl) != 0 || t[hl] != '0')
		return LT_EINVAL;
	lt_buf_add(out, head, hl);
	lt_jw_int(out, id);
	lt_buf_add(out, t + hl + 1, text->len - hl - 1);
	return out->oom ? LT_ENOMEM : 0;
}

/* Write r now: the id is taken here, so ids are sequential on the wire. */
static void send_req(lt_cl *cl, lt_req *r)
{
	list_unlink(r);
	int64_t id = lt_rpc_alloc_id(cl->rpc);
	lt_buf out;
	lt_buf_init(&out, LWS_PRE);
	out.sensitive = (r->flags & LT_REQ_SENSITIVE) != 0;
	int rc = r->build ? r->build(r->build_ud, r->tag, id, &out) : set_id(&r->text, id, &out);
	if (!rc)
		rc = lt_rpc_request(cl->rpc, id, &out, r->schema, 0, rpc_done, r);
	lt_buf_free(&out);
	lt_buf_free(&r->text);
	if (rc) {
		req_refuse(r, LT_CODE_NOT_SENT,
			   rc == LT_EFULL ? "the send queue is full; not sent"
					  : "could not be written to the connection; not sent",
			   0);
		return;
	}
	r->id = id;
	r->sent_us = lt_cl_clock(cl);
	r->state = LT_REQ_SENT;
	cl->stats.sent++;
	if (lt_log_on(LT_LOG_DEBUG)) {
		lt_log_field f[] = {LT_LF_S("url", cl->url), LT_LF_S("method", r->method),
				    LT_LF_N("id", id)};
		lt_logf(LT_LOG_DEBUG, "request", f, 3, "%s id %lld: sent", r->method,
			(long long)id);
	}
}

static void pool_due(lws_sorted_usec_list_t *sul);

static int64_t gated_refusal(lt_cl *cl, const char **msg)
{
	return cl->hooks.refusal ? cl->hooks.refusal(cl->hooks.ud, msg) : 0;
}

/* Move what became ready from WAIT_AUTH to WAIT_LIMIT (in order); while the private layer says
 * gated requests must fail (auth failed), they end here. */
static void gate(lt_cl *cl)
{
	cl->gate_dirty = false;
	const char *why = NULL;
	int64_t code = gated_refusal(cl, &why);
	for (lt_req *r = cl->wait_auth.head, *n; r; r = n) {
		n = r->next;
		if (code && (r->flags & LT_REQ_GATED)) {
			char msg[300];
			snprintf(msg, sizeof msg, "%s: authentication failed: %s; not sent",
				 r->method, why);
			req_refuse(r, code, msg, 0);
		} else if (ready_for(cl, r))
			to_limit(cl, r);
	}
}

/* Send the heads of the pools that have credits; arm a timer for the first that has not. */
static void pump_pool(lt_cl *cl, int p)
{
	req_list *l = &cl->wait_limit[p];
	while (l->head && cl->open) {
		lt_req *r = l->head;
		if (!fresh(cl, r)) { /* the epoch moved: the whole pool waits again, in its order */
			while (l->tail)
				to_auth(cl, l->tail, true);
			cl->gate_dirty = true;
			return;
		}
		int64_t now = lt_cl_clock(cl);
		int64_t d = cl->o.rl_off ? 0 : lt_rl_delay(&cl->rl, r->pool, r->cost, now);
		if (d > 0 && (cl->o.policy_error || (r->deadline_us && now + d > r->deadline_us))) {
			char msg[160];
			limit_msg(msg, sizeof msg, r->method, d);
			req_refuse(r, LT_CODE_RATE_LIMIT, msg, (double)d / 1e6);
			continue;
		}
		if (d > 0) {
			if (!r->wait_logged && lt_log_on(LT_LOG_DEBUG)) {
				r->wait_logged = true;
				lt_log_field f[] = {
					LT_LF_S("url", cl->url), LT_LF_S("method", r->method),
					LT_LF_N("pool", p), LT_LF_N("wait_ms", (double)d / 1000.0)};
				lt_logf(LT_LOG_DEBUG, "limiter", f, 4,
					"%s waits %.1f ms for the rate "
					"limiter (pool %d)",
					r->method, (double)d / 1000.0, p);
			}
			cl->rl.waited += !r->throttled;
			r->throttled = true;
			lws_sul_schedule(lt_loop_context(cl->loop), 0, &cl->pool_t[p].sul, pool_due,
					 (lws_usec_t)d);
			return;
		}
		if (!cl->o.rl_off)
			lt_rl_reserve(&cl->rl, r->pool, r->cost, now);
		if (r->throttled)
			cl->rl.waited_s += (double)(now - r->limit_since_us) / 1e6;
		send_req(cl, r);
	}
}

static void pump(lt_cl *cl)
{
	if (cl->pumping) {
		cl->again = true;
		return;
	}
	cl->pumping = true;
	do {
		cl->again = false;
		if (cl->gate_dirty)
			gate(cl);
		for (int p = 0; p < 4 && cl->open; p++)
			pump_pool(cl, p);
	} while (cl->again || cl->gate_dirty);
	cl->pumping = false;
}

static void pool_due(lws_sorted_usec_list_t *sul)
{
	lt_cl *cl = lws_container_of(sul, struct pool_timer, sul)->cl;
	pump(cl);
	lt_loop_wake(cl->loop); /* timers run just before the poll: do not let it block */
}

void lt_cl_kick(lt_cl *cl)
{
	cl->gate_dirty = true;
	pump(cl);
}

/* ---- answers and deadlines --------------------------------------------------------------- */

static void rpc_done(void *ud, lt_done how, lua_State *L)
{
	lt_req *r = ud;
	lt_cl *cl = r->cl;
	lt_req_end e = {how, true, 0, NULL, 0, L};
	if (how == LT_DONE_ERROR) {
		lua_getfield(L, -1, "code");
		e.code = lua_tointeger(L, -1);
		lua_pop(L, 1);
		if (e.code == 10028)
			lt_cl_venue_rate_limited(cl, r->pool);
	} else if (how == LT_DONE_LOST) {
		cl->stats.lost++;
		e.msg = "connection lost before the answer arrived; the request may have been "
			"executed (it is never re-sent)";
	}
	if ((r->flags & LT_REQ_GATED) && cl->hooks.on_answer)
		cl->hooks.on_answer(cl->hooks.ud, r, &e);
	req_end(r, &e);
}

static void deadline_due(lws_sorted_usec_list_t *sul)
{
	lt_req *r = lws_container_of(sul, lt_req, sul);
	lt_cl *cl = r->cl;
	cl->stats.timeouts++;
	lt_req_end e = {LT_DONE_TIMEOUT, r->state == LT_REQ_SENT, LT_CODE_TIMEOUT, NULL, 0, NULL};
	char msg[240];
	if (r->state == LT_REQ_SENT) {
		lt_rpc_cancel(cl->rpc, r->id);
		e.msg = "no answer within the timeout (the request was sent and may have been "
			"executed)";
	} else if (r->state == LT_REQ_WAIT_AUTH && !cl->open) { /* say why it never left */
		snprintf(msg, sizeof msg, "not connected (%s); not sent",
			 cl->down_reason[0] ? cl->down_reason : "still connecting");
		e.how = LT_DONE_REFUSED;
		e.code = LT_CODE_NOT_SENT;
		e.msg = msg;
	} else if (r->state == LT_REQ_WAIT_AUTH)
		e.msg = "not authenticated within the timeout; not sent";
	else
		e.msg = "the rate limiter did not let it go within the timeout; not sent";
	req_end(r, &e);
	lt_loop_wake(cl->loop);
}

/* ---- submission -------------------------------------------------------------------------- */

int lt_cl_submit(lt_cl *cl, const lt_req_spec *s, lt_buf *text, int64_t timeout_ms,
		 lt_req_done_fn done, void *ud, uint64_t tag, lt_req **out, lt_err *err)
{
	if (out)
		*out = NULL;
	cl->refusal_retry = 0;
	cl->refusal_code = LT_CODE_NOT_SENT;
	if (cl->closing) {
		lt_buf_free(text);
		cl->refusal_code = LT_CODE_NOT_CONNECTED;
		return lt_err_set(err, LT_ESTATE, "%s: client is closed; not sent", s->method);
	}
	if (!s->build && text && text->len > LT_MAX_REQUEST) {
		size_t n = text->len;
		lt_buf_free(text);
		cl->refusal_code = LT_CODE_TOO_LARGE;
		return lt_err_set(err, LT_EINVAL,
				  "%s: request of %zu bytes is over the venue's "
				  "limit of %d bytes; not sent",
				  s->method, n, LT_MAX_REQUEST);
	}
	const char *why = NULL;
	int64_t code = (s->flags & LT_REQ_GATED) ? gated_refusal(cl, &why) : 0;
	if (code) {
		lt_buf_free(text);
		cl->refusal_code = code;
		return lt_err_set(err, LT_ESTATE, "%s: authentication failed: %s; not sent",
				  s->method, why);
	}
	if (cl->stats.waiting >= LT_MAX_WAITING) {
		lt_buf_free(text);
		return lt_err_set(err, LT_EFULL, "%s: %d requests are already waiting; not sent",
				  s->method, LT_MAX_WAITING);
	}
	lt_req *r = calloc(1, sizeof *r);
	if (!r) {
		lt_buf_free(text);
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	}
	r->cl = cl;
	snprintf(r->method, sizeof r->method, "%s", s->method);
	r->schema = s->schema;
	r->pool = s->pool;
	r->cost = s->cost;
	r->flags = s->flags;
	r->build = s->build;
	r->build_ud = s->build_ud;
	if (text) {
		r->text = *text;
		lt_buf_init(text, text->pre);
	} else
		lt_buf_init(&r->text, LWS_PRE);
	r->done = done;
	r->ud = ud;
	r->tag = tag;
	r->conn_epoch = cl->epoch;
	if (timeout_ms > 0) {
		r->deadline_us = lt_cl_clock(cl) + timeout_ms * 1000;
		lws_sul_schedule(lt_loop_context(cl->loop), 0, &r->sul, deadline_due,
				 (lws_usec_t)timeout_ms * 1000);
	}
	cl->stats.submitted++;
	if (out)
		*out = r;
	if (cl->o.policy_error && !cl->o.rl_off && ready_for(cl, r) &&
	    !cl->wait_limit[r->pool].head) {
		int64_t d = lt_rl_delay(&cl->rl, r->pool, r->cost, lt_cl_clock(cl));
		if (d > 0) {
			cl->refusal_retry = (double)d / 1e6;
			cl->refusal_code = LT_CODE_RATE_LIMIT;
			if (out)
				*out = NULL;
			req_free(r);
			cl->stats.refused++;
			char msg[160];
			limit_msg(msg, sizeof msg, s->method, d);
			return lt_err_set(err, LT_EFULL, "%s", msg);
		}
	}
	r->state = LT_REQ_WAIT_AUTH;
	list_push(&cl->wait_auth, r, false);
	if (ready_for(cl, r))
		to_limit(cl, r);
	r->in_submit = true;
	pump(cl);
	r->in_submit = false;
	return 0;
}

void lt_cl_log_outcome(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_cl *cl = ud;
	if (e->how == LT_DONE_ERROR) {
		lua_getfield(e->L, -1, "message");
		lt_log(LT_LOG_WARN, "%s: %s: the venue refused it (%lld: %s)", cl->url,
		       lt_req_method(r), (long long)e->code,
		       lua_type(e->L, -1) == LUA_TSTRING ? lua_tostring(e->L, -1) : "error");
		lua_pop(e->L, 1);
	} else if (e->how != LT_DONE_RESULT)
		lt_log(LT_LOG_WARN, "%s: %s: %s", cl->url, lt_req_method(r),
		       e->msg ? e->msg : "no answer");
	if (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR)
		lua_pop(e->L, 1);
}

int lt_cl_background(lt_cl *cl, const char *method, const char *params, unsigned flags,
		     int64_t timeout_ms, lt_req_done_fn done, void *ud)
{
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":", 33);
	lt_jw_string(&b, method, strlen(method));
	if (params) {
		lt_buf_add(&b, ",\"params\":", 10);
		lt_buf_add(&b, params, strlen(params));
	}
	lt_buf_add(&b, "}", 1);
	lt_req_spec s = lt_req_spec_of(lt_method_find(method), method);
	s.flags = flags;
	lt_err err;
	int rc = lt_cl_submit(cl, &s, &b, timeout_ms, done ? done : lt_cl_log_outcome,
			      done ? ud : cl, 0, NULL, &err);
	if (rc)
		lt_log(LT_LOG_WARN, "%s: %s", cl->url, err.msg);
	return rc;
}

int64_t lt_cl_refusal(const lt_cl *cl, double *retry_after)
{
	if (retry_after)
		*retry_after = cl->refusal_retry;
	return cl->refusal_code;
}

void lt_req_withdraw(lt_req *r)
{
	if (!r)
		return;
	r->done = NULL;
	if (r->state == LT_REQ_DONE) /* a refusal on its way: refuse_due frees it */
		return;
	if (r->state != LT_REQ_SENT) { /* never sent: gone */
		list_unlink(r);
		req_free(r);
	}
}

lt_req_state lt_req_get_state(const lt_req *r) { return r->state; }
const char *lt_req_method(const lt_req *r) { return r->method; }
int64_t lt_req_id(const lt_req *r) { return r->id; }
uint64_t lt_req_auth_epoch(const lt_req *r) { return r->auth_epoch; }
uint64_t lt_req_tag(const lt_req *r) { return r->tag; }

void lt_cl_venue_rate_limited(lt_cl *cl, lt_pool pool)
{
	lt_rl_drain(&cl->rl, pool, lt_cl_clock(cl));
	if (cl->conn && cl->tp->hold_off)
		cl->tp->hold_off(cl->conn, 5000);
	cl->stats.venue_rate_limited++;
	lt_log(LT_LOG_WARN, "%s: the venue answered too_many_requests; backing off", cl->url);
}

void lt_reqs_requeue(lt_cl *cl)
{
	for (int p = 0; p < 4; p++)
		lws_sul_cancel(&cl->pool_t[p].sul);
	for (int p = 3; p >= 0; p--) /* back in their order, ahead of the newer waiters */
		while (cl->wait_limit[p].tail)
			to_auth(cl, cl->wait_limit[p].tail, true);
	for (lt_req *r = cl->wait_auth.head, *n; r; r = n) {
		n = r->next;
		if (r->flags & LT_REQ_BOUND)
			to_auth(cl, r, false);
	}
}

void lt_reqs_close(lt_cl *cl)
{
	for (int p = 0; p < 4; p++)
		lws_sul_cancel(&cl->pool_t[p].sul);
	for (int p = 0; p < 4; p++)
		while (cl->wait_limit[p].head)
			req_refuse(cl->wait_limit[p].head, LT_CODE_NOT_CONNECTED,
				   "client is closed; not sent", 0);
	while (cl->wait_auth.head)
		req_refuse(cl->wait_auth.head, LT_CODE_NOT_CONNECTED, "client is closed; not sent",
			   0);
	while (cl->refusing.head)
		refuse_due(&cl->refusing.head->sul);
}
