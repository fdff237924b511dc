/* client.c — one venue client: connection, JSON-RPC, rate limiter and the request lifecycle;
 * see client.h for the contract. */
#include "client.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"

typedef struct req_list {
	lt_req *head, *tail;
} req_list;

struct lt_req {
	lt_cl *cl;
	lt_req_state state;
	unsigned flags;
	char method[64];
	const lt_schema *schema;
	lt_pool pool;
	int cost;
	int (*build)(void *ud, uint64_t tag, int64_t id, lt_buf *out);
	void *build_ud;
	lt_buf text;               /* encoded with id 0 until sent */
	int64_t deadline_us;       /* 0 = none */
	int64_t limit_since_us;    /* when it entered WAIT_LIMIT */
	bool throttled;            /* it had to wait for credits there */
	bool in_submit;            /* lt_cl_submit is running for it: end it later, not now */
	int64_t end_code;          /* a refusal deferred past lt_cl_submit */
	double end_retry;
	char end_msg[200];
	int64_t id;
	uint64_t conn_epoch, auth_epoch;
	lt_req_done_fn done;       /* NULL once withdrawn */
	void *ud;
	uint64_t tag;
	req_list *list;            /* the wait list it is on, if any */
	lt_req *prev, *next;
	lws_sorted_usec_list_t sul; /* the deadline */
};

struct lt_cl {
	lt_loop *loop;
	const lt_transport *tp;
	void *conn;                /* the transport's handle */
	lt_rpc *rpc;
	lt_rl rl;
	lt_cl_opts o;
	lt_cl_events ev;
	void *ud;
	lt_cl_hooks hooks;
	bool open, closing, pumping, again, gate_dirty;
	uint64_t epoch;
	req_list wait_auth, wait_limit[4];
	req_list refusing;         /* refusals deferred past their lt_cl_submit (refuse_due) */
	struct pool_timer {        /* wakes the pump when a pool's head may go */
		lws_sorted_usec_list_t sul;
		lt_cl *cl;
	} pool_t[4];
	double refusal_retry;
	int64_t refusal_code;
	char url[256];
	char down_reason[160];     /* why the connection is not open (last drop or failure) */
	lt_cl_stats stats;
};

static int64_t now_of(const lt_cl *cl) { return cl->o.now_us ? cl->o.now_us() : lt_now_us(); }

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

/* The one way a request ends: off every list, its timer stopped, done called once, freed. */
static void req_end(lt_req *r, const lt_req_end *e)
{
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
	r->limit_since_us = now_of(cl);
	r->throttled = cl->wait_limit[r->pool].head != NULL;
	cl->rl.waited += r->throttled;
	list_push(&cl->wait_limit[r->pool], r, (r->flags & LT_REQ_FIRST) != 0);
}

/* Back to waiting for readiness (its epoch went stale); a bound request is refused instead. */
static void to_auth(lt_cl *cl, lt_req *r, bool front)
{
	list_unlink(r);
	if (r->flags & LT_REQ_BOUND) {
		req_refuse(r, LT_CODE_NOT_SENT, "the connection it was made for is gone; not sent", 0);
		return;
	}
	r->state = LT_REQ_WAIT_AUTH;
	cl->stats.requeued++;
	list_push(&cl->wait_auth, r, front);
}

static void rpc_done(void *ud, lt_done how, lua_State *L);

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
		req_refuse(r, LT_CODE_NOT_SENT, rc == LT_EFULL ? "the send queue is full; not sent"
			   : "could not be written to the connection; not sent", 0);
		return;
	}
	r->id = id;
	r->state = LT_REQ_SENT;
	cl->stats.sent++;
}

static void pool_due(lws_sorted_usec_list_t *sul);

/* Move what became ready from WAIT_AUTH to WAIT_LIMIT (in order). */
static int64_t gated_refusal(lt_cl *cl, const char **msg)
{
	return cl->hooks.refusal ? cl->hooks.refusal(cl->hooks.ud, msg) : 0;
}

static void gate(lt_cl *cl)
{
	cl->gate_dirty = false;
	const char *why = NULL;
	int64_t code = gated_refusal(cl, &why);
	for (lt_req *r = cl->wait_auth.head, *n; r; r = n) {
		n = r->next;
		if (code && (r->flags & LT_REQ_GATED)) {
			char msg[300];
			snprintf(msg, sizeof msg, "%s: authentication failed: %s; not sent", r->method,
				 why);
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
		int64_t now = now_of(cl);
		int64_t d = cl->o.rl_off ? 0 : lt_rl_delay(&cl->rl, r->pool, r->cost, now);
		if (d > 0 && (cl->o.policy_error || (r->deadline_us && now + d > r->deadline_us))) {
			char msg[160];
			snprintf(msg, sizeof msg, "%s: local rate limit reached, retry after %.3f s; "
				 "not sent", r->method, (double)d / 1e6);
			req_refuse(r, LT_CODE_RATE_LIMIT, msg, (double)d / 1e6);
			continue;
		}
		if (d > 0) {
			cl->rl.waited += !r->throttled;
			r->throttled = true;
			lws_sul_schedule(lt_loop_context(cl->loop), 0, &cl->pool_t[p].sul, pool_due,
					 (lws_usec_t)d);
			return;
		}
		if (!cl->o.rl_off)
			lt_rl_reserve(&cl->rl, r->pool, r->cost, now);
		if (r->throttled) {
			cl->rl.waited_s += (double)(now - r->limit_since_us) / 1e6;
		}
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
	if (r->state == LT_REQ_SENT) {
		lt_rpc_cancel(cl->rpc, r->id);
		e.msg = "no answer within the timeout (the request was sent and may have been "
			"executed)";
	} else if (r->state == LT_REQ_WAIT_AUTH && !cl->open) {
		char msg[240];
		snprintf(msg, sizeof msg, "not connected (%s); not sent",
			 cl->down_reason[0] ? cl->down_reason : "still connecting");
		e.how = LT_DONE_REFUSED;
		e.code = LT_CODE_NOT_SENT;
		e.msg = msg;
		req_end(r, &e);
		lt_loop_wake(cl->loop);
		return;
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
		return lt_err_set(err, LT_EINVAL, "%s: request of %zu bytes is over the venue's "
				  "limit of %d bytes; not sent", s->method, n, LT_MAX_REQUEST);
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
		r->deadline_us = now_of(cl) + timeout_ms * 1000;
		lws_sul_schedule(lt_loop_context(cl->loop), 0, &r->sul, deadline_due,
				 (lws_usec_t)timeout_ms * 1000);
	}
	cl->stats.submitted++;
	if (out)
		*out = r;
	if (cl->o.policy_error && !cl->o.rl_off && ready_for(cl, r) && !cl->wait_limit[r->pool].head) {
		int64_t d = lt_rl_delay(&cl->rl, r->pool, r->cost, now_of(cl));
		if (d > 0) {
			cl->refusal_retry = (double)d / 1e6;
			cl->refusal_code = LT_CODE_RATE_LIMIT;
			if (out)
				*out = NULL;
			req_free(r);
			cl->stats.refused++;
			return lt_err_set(err, LT_EFULL, "%s: local rate limit reached, retry after "
					  "%.3f s; not sent", s->method, (double)d / 1e6);
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
unsigned lt_req_flags(const lt_req *r) { return r->flags; }
uint64_t lt_req_auth_epoch(const lt_req *r) { return r->auth_epoch; }
uint64_t lt_req_tag(const lt_req *r) { return r->tag; }

/* ---- connection events ------------------------------------------------------------------- */

static void hb_done(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_cl *cl = ud;
	(void)r;
	if (e->how == LT_DONE_RESULT)
		lua_pop(e->L, 1);
	else if (e->how == LT_DONE_ERROR) {
		lua_getfield(e->L, -1, "message");
		lt_log(LT_LOG_ERROR, "%s: public/set_heartbeat refused (%lld: %s): no heartbeat on "
		       "this connection", cl->url, (long long)e->code,
		       lua_type(e->L, -1) == LUA_TSTRING ? lua_tostring(e->L, -1) : "error");
		lua_pop(e->L, 2);
	}
}

static void hb_answered(void *ud, lt_req *r, const lt_req_end *e)
{
	(void)r;
	if (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR)
		lua_pop(e->L, 1);
	else if (e->how == LT_DONE_REFUSED)
		lt_log(LT_LOG_WARN, "%s: could not answer a heartbeat test_request: %s",
		       ((lt_cl *)ud)->url, e->msg);
}

/* The venue's test_request: public/test through the limiter like every request (§2). */
static void answer_test_request(void *ud)
{
	lt_cl *cl = ud;
	static const char text[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"public/test\"}";
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, text, sizeof text - 1);
	lt_req_spec s = lt_req_spec_of(lt_method_find("public/test"), "public/test");
	s.flags = LT_REQ_BOUND | LT_REQ_FIRST;
	lt_err err;
	if (lt_cl_submit(cl, &s, &b, 10000, hb_answered, cl, 0, NULL, &err))
		lt_log(LT_LOG_WARN, "%s: %s", cl->url, err.msg);
}

static void set_heartbeat(lt_cl *cl)
{
	const lt_method *m = lt_method_find("public/set_heartbeat");
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	char text[96];
	int n = snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"%s\","
			 "\"params\":{\"interval\":%d}}", m->name, cl->o.heartbeat_s);
	lt_buf_add(&b, text, (size_t)n);
	lt_req_spec s = lt_req_spec_of(m, m->name);
	s.flags = LT_REQ_BOUND;
	lt_err err;
	if (lt_cl_submit(cl, &s, &b, 10000, hb_done, cl, 0, NULL, &err))
		lt_log(LT_LOG_ERROR, "%s: %s", cl->url, err.msg);
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
	cl->gate_dirty = true;
	pump(cl);
}

/* The connection is gone: sent requests end LOST, waiting ones wait again (bound ones end). */
static void on_drop(lt_cl *cl, const char *reason)
{
	bool was_open = cl->open;
	cl->open = false;
	snprintf(cl->down_reason, sizeof cl->down_reason, "%s", reason ? reason : "connection lost");
	for (int p = 0; p < 4; p++)
		lws_sul_cancel(&cl->pool_t[p].sul);
	int inflight = lt_rpc_pending_count(cl->rpc);
	if (was_open || inflight)
		lt_log(LT_LOG_WARN, "%s: %s; %d request(s) in flight fail with connection_lost",
		       cl->url, reason ? reason : "connection lost", inflight);
	lt_rpc_fail_all(cl->rpc);
	for (int p = 3; p >= 0; p--) /* back in their order, ahead of the newer waiters */
		while (cl->wait_limit[p].tail)
			to_auth(cl, cl->wait_limit[p].tail, true);
	for (lt_req *r = cl->wait_auth.head, *n; r; r = n) {
		n = r->next;
		if (r->flags & LT_REQ_BOUND)
			to_auth(cl, r, false);
	}
	if (cl->hooks.on_drop)
		cl->hooks.on_drop(cl->hooks.ud);
}

static void ws_state(void *ud, lt_ws_state st, const char *reason)
{
	lt_cl *cl = ud;
	if (st == LT_WS_OPEN)
		on_open(cl);
	else if (st == LT_WS_RECONNECTING || st == LT_WS_CLOSED)
		on_drop(cl, reason);
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

static int ws_open(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud,
		   void **out, lt_err *err)
{
	lt_ws *ws;
	int rc = lt_ws_new(loop, o, cbs, ud, &ws, err);
	*out = rc ? NULL : ws;
	return rc;
}

static int ws_send(void *t, lt_buf *msg) { return lt_ws_send(t, msg); }
static void ws_close(void *t) { lt_ws_close(t); }
static void ws_hold_off(void *t, int ms) { lt_ws_hold_off(t, ms); }
static void ws_set_ready(void *t) { lt_ws_set_ready(t); }

const lt_transport lt_ws_transport = {ws_open, ws_send, ws_close, ws_hold_off, ws_set_ready};


static void rpc_notify(void *ud, const char *channel, lua_State *L)
{
	lt_cl *cl = ud;
	if (cl->ev.on_notify && !cl->closing)
		cl->ev.on_notify(cl->ud, channel, L);
	else
		lua_pop(L, 1);
}

/* ---- life cycle -------------------------------------------------------------------------- */

int lt_cl_new(lua_State *L, lt_loop *loop, const lt_cl_opts *o, const lt_cl_events *ev,
	      void *ud, lt_cl **out, lt_err *err)
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
	lt_rl_init(&cl->rl, now_of(cl));
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
	for (int p = 0; p < 4; p++)
		lws_sul_cancel(&cl->pool_t[p].sul);
	for (int p = 0; p < 4; p++)
		while (cl->wait_limit[p].head)
			req_refuse(cl->wait_limit[p].head, LT_CODE_NOT_CONNECTED,
				   "client is closed; not sent", 0);
	while (cl->wait_auth.head)
		req_refuse(cl->wait_auth.head, LT_CODE_NOT_CONNECTED, "client is closed; not sent", 0);
	while (cl->refusing.head)
		refuse_due(&cl->refusing.head->sul);
	lt_rpc_free(cl->rpc); /* sent requests end LOST */
	if (cl->conn && cl->tp->close)
		cl->tp->close(cl->conn);
	free(cl);
}

uint64_t lt_cl_epoch(const lt_cl *cl) { return cl->epoch; }
int64_t lt_cl_now_us(const lt_cl *cl) { return now_of(cl); }
bool lt_cl_is_open(const lt_cl *cl) { return cl->open; }
lt_ws *lt_cl_ws(lt_cl *cl) { return cl->tp == &lt_ws_transport ? cl->conn : NULL; }
lt_loop *lt_cl_loop(lt_cl *cl) { return cl->loop; }
lt_rpc *lt_cl_rpc(lt_cl *cl) { return cl->rpc; }
lt_rl *lt_cl_rl(lt_cl *cl) { return &cl->rl; }
const char *lt_cl_url(const lt_cl *cl) { return cl->url; }
const lt_cl_stats *lt_cl_get_stats(const lt_cl *cl) { return &cl->stats; }

void lt_cl_set_ready(lt_cl *cl)
{
	if (cl->conn && cl->tp->set_ready) /* backoff may reset after the stable period */
		cl->tp->set_ready(cl->conn);
}

void lt_cl_venue_rate_limited(lt_cl *cl, lt_pool pool)
{
	lt_rl_drain(&cl->rl, pool, now_of(cl));
	if (cl->conn && cl->tp->hold_off)
		cl->tp->hold_off(cl->conn, 5000);
	cl->stats.venue_rate_limited++;
	lt_log(LT_LOG_WARN, "%s: the venue answered too_many_requests; backing off", cl->url);
}
