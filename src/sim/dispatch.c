/* dispatch.c — turns one incoming message into one answered request (deribit-api.md §1):
 * parse with yajl_tree; check the envelope (an object, not a batch; jsonrpc "2.0"; id present,
 * integer or string, echoed as given; method a string; params an object or absent, not
 * positional); let the fault injector intercept it; route it by method name to a handler.
 * Errors: -32700 "Parse error" (id null), -32600 "Invalid Request" with data.reason (id null when
 * it could not be read), -32602 for positional params, -32601 "Method not found",
 * -32600 "request entity too large" for messages over 32 kB.
 * Before routing (after the fault injector): the rate limits (limits.c: 10028, and a close when
 * configured) charged to the account the request acts for (auth.c) or else to the connection,
 * then the gate of every "private/" method (13009 "unauthorized" without a valid token).
 * Every message is first counted for sim/stats (stats.c) as it arrived, whatever happens to it
 * next; on a blackholed connection (faults.c) it is then discarded without an answer. */
#include "internal.h"

#include <string.h>

yajl_val lt_sim_json_get(yajl_val obj, const char *key)
{
	if (!obj || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

/* Returns true if the envelope is good; otherwise it has been answered. */
static bool check_envelope(lt_sim_req *rq, yajl_val root)
{
	if (YAJL_IS_ARRAY(root)) {
		lt_sim_reply_bad_request(rq, "batch requests are not supported");
		return false;
	}
	if (!YAJL_IS_OBJECT(root)) {
		lt_sim_reply_bad_request(rq, "request must be a JSON object");
		return false;
	}
	yajl_val id = lt_sim_json_get(root, "id");
	if (!id || !(YAJL_IS_INTEGER(id) || YAJL_IS_STRING(id))) {
		lt_sim_reply_bad_request(rq,
					 id ? "id must be an integer or a string" : "id required");
		return false;
	}
	rq->id = id;
	yajl_val v = lt_sim_json_get(root, "jsonrpc");
	if (!v || !YAJL_IS_STRING(v) || strcmp(v->u.string, "2.0") != 0) {
		lt_sim_reply_bad_request(rq, "jsonrpc must be \"2.0\"");
		return false;
	}
	v = lt_sim_json_get(root, "method");
	if (!v || !YAJL_IS_STRING(v) || !v->u.string[0]) {
		lt_sim_reply_bad_request(rq, "method required");
		return false;
	}
	rq->method = v->u.string;
	v = lt_sim_json_get(root, "params");
	if (v && YAJL_IS_ARRAY(v)) {
		lt_sim_reply_invalid(rq, "params", "positional params are not supported");
		return false;
	}
	if (v && !YAJL_IS_NULL(v) && !YAJL_IS_OBJECT(v)) {
		lt_sim_reply_invalid(rq, "params", "must be an object");
		return false;
	}
	rq->params = v && YAJL_IS_OBJECT(v) ? v : NULL;
	return true;
}

/* Rate limits, then the private-method gate; true if either answered (auth.c, limits.c). */
static bool gate(lt_sim_req *rq)
{
	lt_sim_account *acc = lt_sim_auth_resolve(rq);
	if (lt_sim_limits_check(rq, acc))
		return true;
	if (!acc && strncmp(rq->method, "private/", 8) == 0) {
		lt_sim_reply_error(rq, 13009, "unauthorized");
		return true;
	}
	return false;
}

static lt_sim_handler find_handler(const char *name)
{
	const lt_sim_method *tables[] = {lt_sim_public_methods, lt_sim_fault_methods,
					 lt_sim_auth_methods,   lt_sim_private_methods,
					 lt_sim_stats_methods,  lt_sim_evlog_methods};
	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
		for (const lt_sim_method *m = tables[t]; m->name; m++)
			if (strcmp(m->name, name) == 0)
				return m->fn;
	return NULL;
}

void lt_sim_dispatch(lt_sim_conn *c, const char *text, size_t len, int64_t us_in)
{
	lt_sim_req rq = {.conn = c, .sim = c->sim, .us_in = us_in, .delay_ms = -1};
	char errbuf[128];
	yajl_val root = strlen(text) == len ? yajl_tree_parse(text, errbuf, sizeof errbuf) : NULL;
	lt_sim_stats_arrived(c, root); /* what arrived, before anything may refuse it (stats.c) */
	if (c->blackhole || !(rq.msg = lt_sim_msg_new())) { /* blackhole: discarded unanswered */
		yajl_tree_free(root);
		return;
	}
	if (!root) {
		lt_sim_log(c->sim, 1, "#%u parse error", c->id);
		lt_sim_reply_error(&rq, -32700, "Parse error");
	} else if (check_envelope(&rq, root)) {
		lt_sim_ev_request(&rq); /* the event log (eventlog.c) */
		if (!lt_sim_faults_apply(&rq) && !gate(&rq)) {
			lt_sim_handler fn = find_handler(rq.method);
			if (fn)
				fn(&rq);
			else
				lt_sim_reply_error(&rq, -32601, "Method not found");
			if (!rq.done) /* a handler that forgot to answer is a venue bug: say so */
				lt_sim_reply_error(&rq, -32603, "Internal error");
		}
		if (c->drop_pending) { /* sim/fault drop_after with process: the answer is lost */
			c->drop_pending = false;
			lt_sim_conn_close(c);
		}
	}
	lt_sim_msg_free(rq.msg);
	yajl_tree_free(root);
}

void lt_sim_dispatch_too_big(lt_sim_conn *c, int64_t us_in)
{
	lt_sim_req rq = {.conn = c, .sim = c->sim, .us_in = us_in, .delay_ms = -1};
	lt_sim_stats_arrived(c, NULL);
	if (c->blackhole || !(rq.msg = lt_sim_msg_new()))
		return;
	lt_sim_reply_error(&rq, -32600, "request entity too large");
	lt_sim_msg_free(rq.msg);
}
