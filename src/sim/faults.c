/* faults.c — test controls of the simulated venue, under the "sim/" method namespace. Integration
 * tests reach them through a client's generic call. They act on the connection they arrive on
 * (flap and revoke_tokens with "account" act venue-wide / on another account) and are themselves
 * never stalled, delayed, failed or rate-limited by an armed fault. Bad parameters get -32602
 * "Invalid params" with data.param naming the parameter; nothing else happens then.
 *
 *   sim/fault {"action": A, ...}                                       -> "ok"
 *     "stall"      do not answer the next `count` requests (int 1..1000000, default 1); they are
 *                  dropped unprocessed (a public/test among them does not answer a test_request)
 *     "error"      answer the next request with {"code": code, "message": message} instead of
 *                  processing it; `code` (int) required, `message` (string) default "error"
 *     "delay"      process the next request now but send its response after `ms` milliseconds
 *                  (int 0..3600000, required); responses to later requests may overtake it
 *     "rate_limit" the next rate-limited request of this connection gets 10028
 *                  "too_many_requests" (and the connection closes if close_on_10028 is on)
 *     "malformed"  answer "ok", then send one text frame that is truncated JSON and one text
 *                  frame that is not valid UTF-8
 *     "blackhole"  NO ANSWER (not even to this request). From now on the venue sends nothing on
 *                  this connection — no responses, notifications or heartbeats (what was queued
 *                  and unsent is dropped; a delayed response due meanwhile is dropped too) — and
 *                  discards every message that arrives (sim/stats still counts it, and counts
 *                  it as "discarded"), while the TCP/TLS connection stays open: a venue that
 *                  stopped, or a network black hole, as the client sees it. test_requests are
 *                  not sent and none is waited for, so the venue does not close the connection
 *                  itself. `ms` (int 0..3600000): how long; absent or 0 = until the connection
 *                  closes. Afterwards the connection works again (subscriptions publish again,
 *                  book channels then show a change_id gap). `mode`: "discard" (default, as
 *                  above; WebSocket pings are still answered by libwebsockets with pongs) or
 *                  "freeze": the venue does not even read the socket (rx flow control off), so
 *                  pings get no pong either — a stopped process; `ms` is then required
 *                  (1..3600000) and when it ends, what the client sent meanwhile is read and
 *                  processed late, as by a process that was resumed.
 *     "close"      NO ANSWER; close this connection now with a WebSocket close frame: `code`
 *                  (int, default 1000; 1000-1003, 1007-1011 or 3000-4999) and `reason`
 *                  (string of at most 123 bytes, default none); what was queued is dropped
 *     "drop"       NO ANSWER; close the TCP connection now without a close frame
 *     "flap"       venue-wide: the next `count` (int 0..1000000, default 1; 0 disarms) newly
 *                  accepted connections complete the WebSocket handshake and are then closed
 *                  at once, without a close frame, or with one when `code` (as for "close")
 *                  and optionally `reason` are given. They are counted in sim/stats
 *                  "connections_total" and "flapped"; nothing they send is processed.
 *     "revoke_tokens"  every access and refresh token of the account (`account`: a client_id;
 *                  absent = the account this connection authenticated as) is revoked, and every
 *                  connection authenticated as it becomes unauthenticated: its next private
 *                  request gets 13009 "unauthorized" (deribit-api.md §8), a refresh_token grant
 *                  with a revoked token gets 13009, a client_credentials/client_signature auth
 *                  works again. The connections keep their subscriptions and cancel on
 *                  disconnect (as after a token expiry). Errors: `account` unknown, or absent
 *                  on a connection that never authenticated.
 *   sim/configure {"min_heartbeat_s": N, "heartbeat_ms_per_s": M}      -> "ok"
 *     min_heartbeat_s: smallest public/set_heartbeat interval accepted on this connection
 *     (int >= 1); heartbeat_ms_per_s: how many milliseconds one second of a heartbeat interval
 *     lasts on this connection (int 1..1000, default 1000), so a test can run the venue's
 *     10-second minimum in 0.1 s per second without the client breaking its own rules
 *   sim/configure also takes (auth.c, limits.c):
 *     token_expires_s: lifetime (s, 1..31536000) of tokens later issued on this connection
 *     and, when it is authenticated, on the account's later connections (public/auth and
 *     refreshes; a scope expires:N still wins), so tests can expire a token in 1-2 s; tier:
 *     matching-engine tier 1..4 of the connection's account (authenticated connections only);
 *     close_on_10028 (bool): close the connection after a 10028, for the connection's account
 *     (or the connection itself while unauthenticated); overrides opts.close_on_10028 /
 *     `luatrade sim --close-on-10028`
 *   sim/fault also takes (faults_more.c, documented there) "oversize", "invalid_utf8",
 *   "expire_tokens", "drop_after" and "book_gap", and, for every action, `conn` (int): the
 *   number of another open connection to act on (sim/stats connection_ids, sim/events "conn")
 *   instead of this one; the answer ("ok") then always comes here, also for the actions that
 *   otherwise get none (blackhole, close, drop). An unknown conn gets -32602 (param "conn").
 *   sim/stats: what the venue received, per account (stats.c, documented there).
 *   sim/events: the venue's event log (eventlog.c, documented there).
 *
 * Armed faults apply to the next non-"sim/" requests in this order: stall, error, delay. A
 * blackhole comes before all of them (what it discards does not use them up).
 */
#include "internal.h"

#include <inttypes.h>
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
	lws_sul_cancel(&c->bh_sul);
	c->blackhole = c->frozen = false;
}

bool lt_sim_faults_apply(lt_sim_req *rq)
{
	lt_sim_conn *c = rq->conn;
	if (strncmp(rq->method, "sim/", 4) == 0)
		return false;
	if (lt_sim_faults_drop_check(rq)) /* faults_more.c */
		return true;
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
	static const char truncated[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"chan";
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

/* ---- blackhole, close, flap ------------------------------------------------------------ */

static void blackhole_end(lws_sorted_usec_list_t *sul)
{
	lt_sim_conn *c = lws_container_of(sul, lt_sim_conn, bh_sul);
	if (!c->sim)
		return;
	c->blackhole = false;
	if (c->frozen && c->wsi)
		lws_rx_flow_control(c->wsi, 1); /* what waited in the socket is read now */
	c->frozen = false;
	lt_sim_log(c->sim, 1, "#%u blackhole over", c->id);
}

/* No answer, not even to this request: the venue goes silent on this connection. */
static void fault_blackhole(lt_sim_req *rq)
{
	static const char *const modes[] = {"discard", "freeze", NULL};
	const char *mode = "discard";
	int64_t ms = 0;
	int rc = lt_sim_param_int(rq, "ms", false, &ms);
	if (rc < 0 || lt_sim_param_enum(rq, "mode", false, modes, &mode) < 0)
		return;
	bool freeze = strcmp(mode, "freeze") == 0;
	if (ms < (freeze ? 1 : 0) || ms > 3600000) {
		lt_sim_reply_invalid(rq, "ms",
				     freeze ? "must be between 1 and 3600000 for freeze"
					    : "must be between 0 and 3600000");
		return;
	}
	lt_sim_conn *c = rq->conn;
	c->blackhole = true;
	lt_sim_conn_drop_queue(c);
	if (freeze && !c->frozen) {
		c->frozen = true;
		if (c->wsi)
			lws_rx_flow_control(c->wsi, 0);
	}
	lws_sul_cancel(&c->bh_sul);
	if (ms > 0)
		lws_sul_schedule(c->sim->ctx, 0, &c->bh_sul, blackhole_end,
				 (lws_usec_t)ms * LWS_US_PER_MS);
	rq->done = true;
}

/* RFC 6455 §7.4: codes a peer may send; 1004-1006 and 1015 never go in a close frame. 1012-1014
 * (registered later) are refused too: libwebsockets 4.1 peers turn them into 1002. */
static bool close_code_ok(int64_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

/* code (default dflt, 0 = none allowed when dflt is 0) and reason; -1 after replying. */
static int close_params(lt_sim_req *rq, int dflt, int *code, const char **reason)
{
	int64_t v = dflt;
	*reason = NULL;
	int rc = lt_sim_param_int(rq, "code", false, &v);
	if (rc < 0 || lt_sim_param_str(rq, "reason", false, reason) < 0)
		return -1;
	if (rc == 1 && !close_code_ok(v))
		return lt_sim_reply_invalid(rq, "code",
					    "must be 1000-1003, 1007-1011 or 3000-4999");
	if (*reason && strlen(*reason) > 123)
		return lt_sim_reply_invalid(rq, "reason", "must be at most 123 bytes");
	if (*reason && v == 0)
		return lt_sim_reply_invalid(rq, "reason", "needs a code");
	*code = (int)v;
	return 0;
}

static void fault_close(lt_sim_req *rq)
{
	int code;
	const char *reason;
	if (close_params(rq, 1000, &code, &reason) < 0)
		return;
	lt_sim_conn_close_code(rq->conn, code, reason);
	rq->done = true;
}

static void fault_flap(lt_sim_req *rq)
{
	int64_t n = 1;
	int code;
	const char *reason;
	int rc = lt_sim_param_int(rq, "count", false, &n);
	if (rc < 0 || close_params(rq, 0, &code, &reason) < 0)
		return;
	if (n < 0 || n > 1000000) {
		lt_sim_reply_invalid(rq, "count", "must be between 0 and 1000000");
		return;
	}
	lt_sim *sim = rq->sim;
	sim->flap_left = n;
	sim->flap_code = code;
	snprintf(sim->flap_reason, sizeof sim->flap_reason, "%s", reason ? reason : "");
	lt_sim_reply_ok(rq);
}

bool lt_sim_faults_flap(lt_sim_conn *c)
{
	lt_sim *sim = c->sim;
	if (sim->flap_left <= 0)
		return false;
	sim->flap_left--;
	sim->flapped++;
	lt_sim_log(sim, 1, "#%u flap: closed at once (%" PRId64 " more)", c->id, sim->flap_left);
	if (sim->flap_code)
		lt_sim_conn_close_code(c, sim->flap_code, sim->flap_reason);
	else
		lt_sim_conn_close(c);
	return true;
}

/* ---- the other actions ------------------------------------------------------------------- */

static void fault_stall(lt_sim_req *rq)
{
	int64_t n = 1;
	int rc = lt_sim_param_int(rq, "count", false, &n);
	if (rc < 0)
		return;
	if (n < 1 || n > 1000000) {
		lt_sim_reply_invalid(rq, "count", "must be between 1 and 1000000");
		return;
	}
	rq->conn->stall = (int)n;
	lt_sim_reply_ok(rq);
}

static void fault_drop(lt_sim_req *rq)
{
	lt_sim_conn_close(rq->conn);
	rq->done = true;
}

static void fault_rate_limit(lt_sim_req *rq)
{
	rq->conn->rl_fault = true; /* limits.c */
	lt_sim_reply_ok(rq);
}

static void fault_delay(lt_sim_req *rq)
{
	int64_t n;
	if (lt_sim_param_int(rq, "ms", true, &n) <= 0)
		return;
	if (n < 0 || n > 3600000) {
		lt_sim_reply_invalid(rq, "ms", "must be between 0 and 3600000");
		return;
	}
	rq->conn->delay_ms = n;
	lt_sim_reply_ok(rq);
}

lt_sim_account *lt_sim_fault_account(lt_sim_req *rq)
{
	const char *id = NULL;
	if (lt_sim_param_str(rq, "account", false, &id) < 0)
		return NULL;
	lt_sim_account *acc = id ? lt_sim_account_find(rq->sim, id) : rq->conn->acc;
	if (!acc)
		lt_sim_reply_invalid(rq, "account",
				     id ? "unknown account"
					: "required on an unauthenticated connection");
	return acc;
}

static void fault_revoke(lt_sim_req *rq)
{
	lt_sim_account *acc = lt_sim_fault_account(rq);
	if (!acc)
		return;
	lt_sim_auth_revoke(rq->sim, acc); /* auth.c */
	lt_sim_reply_ok(rq);
}

/* sim/fault's `conn`: act on that connection, answer on this one. -1 after replying. */
static int retarget(lt_sim_req *rq)
{
	int64_t id;
	int rc = lt_sim_param_int(rq, "conn", false, &id);
	if (rc <= 0)
		return rc;
	for (lt_sim_conn *c = rq->sim->conns; c; c = c->next)
		if ((int64_t)c->id == id && lt_sim_conn_live(c)) {
			rq->reply_conn = rq->conn;
			rq->conn = c;
			return 1;
		}
	return lt_sim_reply_invalid(rq, "conn", "no open connection with this number");
}

static void sim_fault(lt_sim_req *rq)
{
	static const char *const actions[] = {
		"stall",         "close",         "malformed", "error",
		"delay",         "rate_limit",    "blackhole", "flap",
		"drop",          "revoke_tokens", "oversize",  "invalid_utf8",
		"expire_tokens", "drop_after",    "book_gap",  NULL};
	static const lt_sim_handler fns[] = {
		fault_stall,      fault_close,     fault_malformed, fault_error, fault_delay,
		fault_rate_limit, fault_blackhole, fault_flap,      fault_drop,  fault_revoke};
	const char *action;
	if (lt_sim_param_enum(rq, "action", true, actions, &action) <= 0)
		return;
	int targeted = retarget(rq);
	if (targeted < 0)
		return;
	lt_sim_log(rq->sim, 1, "#%u fault armed: %s", rq->conn->id, action);
	size_t nown = sizeof fns / sizeof fns[0];
	for (size_t i = 0; actions[i]; i++) {
		if (strcmp(actions[i], action) != 0)
			continue;
		if (i < nown)
			fns[i](rq);
		else
			for (const lt_sim_method *m = lt_sim_fault_more; m->name; m++)
				if (strcmp(m->name, action) == 0)
					m->fn(rq);
	}
	if (targeted && rq->done && rq->msg) /* unanswered actions: answered here after all */
		lt_sim_reply_ok(rq);
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
	{"sim/fault", sim_fault},
	{"sim/configure", sim_configure},
	{NULL, NULL},
};
