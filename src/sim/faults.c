/* faults.c — test controls of the simulated venue, under the "sim/" method namespace. Integration
 * tests reach them through a client's generic call. They act on the connection they arrive on
 * and are themselves never stalled, delayed or failed by an armed fault.
 *
 *   sim/fault {"action": A, ...}                                       -> "ok"
 *     "stall"      do not answer the next `count` requests (int >= 1, default 1); they are
 *                  dropped unprocessed (a public/test among them does not answer a test_request)
 *     "close"      close this connection now; this request gets no answer
 *     "malformed"  answer "ok", then send one text frame that is truncated JSON and one text
 *                  frame that is not valid UTF-8
 *     "error"      answer the next request with {"code": code, "message": message} instead of
 *                  processing it; `code` (int) required, `message` (string) default "error"
 *     "delay"      process the next request now but send its response after `ms` milliseconds
 *                  (int >= 0, required); responses to later requests may overtake it
 *     "rate_limit" the next rate-limited request of this connection gets 10028
 *                  "too_many_requests" (and the connection closes if close_on_10028 is on)
 *   sim/configure {"min_heartbeat_s": N, "heartbeat_ms_per_s": M}      -> "ok"
 *     min_heartbeat_s: smallest public/set_heartbeat interval accepted on this connection
 *     (int >= 1); heartbeat_ms_per_s: how many milliseconds one second of a heartbeat interval
 *     lasts on this connection (int 1..1000, default 1000), so a test can run the venue's
 *     10-second minimum in 0.1 s per second without the client breaking its own rules
 *   sim/configure also takes (auth.c, limits.c):
 *     token_expires_s: lifetime (s, 1..31536000) of tokens later issued on this connection
 *     and, when it is authenticated, on the account's later connections (public/auth and
 *     refreshes; a scope expires:N still wins), so tests can expire a token in 1-2 s; tier: matching-engine tier 1..4 of the connection's account (authenticated
 *     connections only); close_on_10028 (bool): close the connection after a 10028, for the
 *     connection's account (or the connection itself while unauthenticated); overrides
 *     opts.close_on_10028 / `luatrade sim --close-on-10028`
 *
 * Armed faults apply to the next non-"sim/" requests in this order: stall, error, delay.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void delayed_fire(lws_sorted_usec_list_t *sul)
{
	lt_sim_delayed *d = lws_container_of(sul, lt_sim_delayed, sul);
	lt_sim_conn *c = d->conn;
	lt_sim_delayed **pp = &c->delayed;
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	lt_sim_reply_deliver(c, d->msg);
	free(d);
}

void lt_sim_faults_hold(lt_sim_conn *c, lt_sim_msg *m, int64_t ms)
{
	lt_sim_delayed *d = calloc(1, sizeof *d);
	if (!d) {
		lt_sim_conn_send(c, m);
		return;
	}
	d->conn = c;
	d->msg = m;
	d->next = c->delayed;
	c->delayed = d;
	lws_sul_schedule(c->sim->ctx, 0, &d->sul, delayed_fire, (lws_usec_t)ms * LWS_US_PER_MS);
}

void lt_sim_faults_clear(lt_sim_conn *c)
{
	while (c->delayed) {
		lt_sim_delayed *d = c->delayed;
		c->delayed = d->next;
		lws_sul_cancel(&d->sul);
		lt_sim_msg_free(d->msg);
		free(d);
	}
	c->stall = 0;
	c->err_armed = false;
	c->delay_ms = -1;
}

bool lt_sim_faults_apply(lt_sim_req *rq)
{
	lt_sim_conn *c = rq->conn;
	if (strncmp(rq->method, "sim/", 4) == 0)
		return false;
	if (c->stall > 0) {
		c->stall--;
		lt_sim_log(c->sim, 1, "#%u fault: stalled %s", c->id, rq->method);
		return true;
	}
	if (c->err_armed) {
		c->err_armed = false;
		lt_sim_reply_error(rq, c->err_code, c->err_msg);
		return true;
	}
	if (c->delay_ms >= 0) {
		rq->delay_ms = c->delay_ms;
		c->delay_ms = -1;
	}
	return false;
}

static void fault_malformed(lt_sim_req *rq)
{
	static const char truncated[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"chan";
	static const char bad_utf8[] = "{\"jsonrpc\":\"2.0\",\"method\":\"\xff\xfe\xc3\"}";
	lt_sim_reply_ok(rq);
	lt_sim_conn_send_raw(rq->conn, truncated, sizeof truncated - 1);
	lt_sim_conn_send_raw(rq->conn, bad_utf8, sizeof bad_utf8 - 1);
}

static void fault_error(lt_sim_req *rq)
{
	int64_t code;
	const char *msg = "error";
	if (lt_sim_param_int(rq, "code", true, &code) <= 0 ||
	    lt_sim_param_str(rq, "message", false, &msg) < 0)
		return;
	lt_sim_conn *c = rq->conn;
	c->err_armed = true;
	c->err_code = code;
	snprintf(c->err_msg, sizeof c->err_msg, "%s", msg);
	lt_sim_reply_ok(rq);
}

static void sim_fault(lt_sim_req *rq)
{
	static const char *const actions[] = { "stall", "close", "malformed", "error", "delay",
					       "rate_limit", NULL };
	const char *action;
	int64_t n = 1;
	if (lt_sim_param_enum(rq, "action", true, actions, &action) <= 0)
		return;
	lt_sim_log(rq->sim, 1, "#%u fault armed: %s", rq->conn->id, action);
	if (strcmp(action, "stall") == 0) {
		int rc = lt_sim_param_int(rq, "count", false, &n);
		if (rc < 0 || (rc == 1 && (n < 1 || n > 1000000))) {
			if (rc == 1)
				lt_sim_reply_invalid(rq, "count", "must be between 1 and 1000000");
			return;
		}
		rq->conn->stall = (int)n;
		lt_sim_reply_ok(rq);
	} else if (strcmp(action, "close") == 0) {
		lt_sim_conn_close(rq->conn);
		rq->done = true;
	} else if (strcmp(action, "malformed") == 0) {
		fault_malformed(rq);
	} else if (strcmp(action, "error") == 0) {
		fault_error(rq);
	} else if (strcmp(action, "rate_limit") == 0) {
		rq->conn->rl_fault = true; /* limits.c */
		lt_sim_reply_ok(rq);
	} else {
		if (lt_sim_param_int(rq, "ms", true, &n) <= 0)
			return;
		if (n < 0 || n > 3600000) {
			lt_sim_reply_invalid(rq, "ms", "must be between 0 and 3600000");
			return;
		}
		rq->conn->delay_ms = n;
		lt_sim_reply_ok(rq);
	}
}

static void sim_configure(lt_sim_req *rq)
{
	int64_t s;
	if (lt_sim_auth_configure(rq) < 0) /* token_expires_s, tier, close_on_10028 */
		return;
	int rc = lt_sim_param_int(rq, "min_heartbeat_s", false, &s);
	if (rc < 0)
		return;
	if (rc == 1 && (s < 1 || s > 86400)) {
		lt_sim_reply_invalid(rq, "min_heartbeat_s", "must be between 1 and 86400");
		return;
	}
	if (rc == 1)
		rq->conn->min_heartbeat_s = (int)s;
	rc = lt_sim_param_int(rq, "heartbeat_ms_per_s", false, &s);
	if (rc < 0)
		return;
	if (rc == 1 && (s < 1 || s > 1000)) {
		lt_sim_reply_invalid(rq, "heartbeat_ms_per_s", "must be between 1 and 1000");
		return;
	}
	if (rc == 1)
		rq->conn->hb_ms_per_s = (int)s;
	lt_sim_reply_ok(rq);
}

const lt_sim_method lt_sim_fault_methods[] = {
	{ "sim/fault", sim_fault },
	{ "sim/configure", sim_configure },
	{ NULL, NULL },
};
