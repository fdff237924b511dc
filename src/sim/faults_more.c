/* faults_more.c — more sim/fault actions (faults.c documents the others and the `conn` member
 * every action takes), for the fault-injection soak (scripts/soak) and its tests:
 *
 *   "oversize"      answer "ok", then send one text frame of `bytes` bytes (int 1..67108864,
 *                   default 8 MiB + 1 kB: over a client's default 8 MiB message limit), a
 *                   well-formed notification on channel "sim.oversize" whose data is a string
 *                   of x; the venue's 8 MiB send-queue limit does not apply to it
 *   "invalid_utf8"  answer "ok", then send one text frame that is a well-formed notification
 *                   except for bytes that are not UTF-8 inside a string
 *   "expire_tokens" every access token of the account (`account`: a client_id; absent = the
 *                   account the connection authenticated as) expires now: private requests
 *                   acting on it get 13009 "unauthorized" until the client authenticates
 *                   again; its refresh tokens stay valid (a refresh_token grant works), unlike
 *                   "revoke_tokens". Errors as for revoke_tokens.
 *   "drop_after"    the `count`-th next request (int 1..1000000, default 1) of this connection
 *                   — counting only those whose method is `method` (string, optional) — drops
 *                   the TCP connection without a close frame: before processing it (default),
 *                   or with `process`: true after processing it, so its effect happens (an
 *                   order is placed) but its answer and every notification still queued are
 *                   lost: a connection dropped with an order in flight. "sim/" requests never
 *                   count. A new drop_after replaces the armed one.
 *   "book_gap"      the next `count` (int 1..1000, default 1) incremental book notifications
 *                   (book.* channels, type "change") on this connection carry a
 *                   prev_change_id that is not the change_id sent before: a gap.
 * Errors: -32602 with data.param naming the parameter.
 */
#include "internal.h"
#include "accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define OVERSIZE_DEFAULT ((int64_t)8 * 1024 * 1024 + 1024)
#define OVERSIZE_MAX ((int64_t)64 * 1024 * 1024)

static void fault_oversize(lt_sim_req *rq)
{
	int64_t n = OVERSIZE_DEFAULT;
	if (lt_sim_param_int(rq, "bytes", false, &n) < 0)
		return;
	if (n < 1 || n > OVERSIZE_MAX) {
		lt_sim_reply_invalid(rq, "bytes", "must be between 1 and 67108864");
		return;
	}
	lt_sim_reply_ok(rq);
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":"
				   "{\"channel\":\"sim.oversize\",\"data\":\"";
	static const char tail[] = "\"}}";
	size_t fixed = sizeof head - 1 + sizeof tail - 1;
	size_t pad = (size_t)n > fixed ? (size_t)n - fixed : 0;
	lt_sim_msg *m = lt_sim_msg_new();
	char *x = malloc(pad + 1);
	if (!m || !x) {
		free(x);
		lt_sim_msg_free(m);
		return;
	}
	memset(x, 'x', pad);
	lt_buf_add(&m->b, head, sizeof head - 1);
	lt_buf_add(&m->b, x, pad);
	lt_buf_add(&m->b, tail, sizeof tail - 1);
	free(x);
	rq->conn->q_extra = m->b.len; /* server.c: past the queue limit, once */
	lt_sim_conn_send(rq->conn, m);
}

static void fault_invalid_utf8(lt_sim_req *rq)
{
	static const char frame[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":"
		"{\"channel\":\"sim.utf8\",\"data\":{\"text\":\"ab\xc3\x28\xff\xfe\"}}}";
	lt_sim_reply_ok(rq);
	lt_sim_conn_send_raw(rq->conn, frame, sizeof frame - 1);
}

static void fault_expire_tokens(lt_sim_req *rq)
{
	lt_sim_account *acc = lt_sim_fault_account(rq);
	if (!acc)
		return;
	int64_t now = lt_sim_now_ms();
	for (lt_sim_token *t = rq->sim->tokens; t; t = t->next)
		if (t->acc == acc && t->expires_ms > now - 1)
			t->expires_ms = now - 1;
	lt_sim_log(rq->sim, 1, "access tokens of %s expired", acc->client_id);
	lt_sim_reply_ok(rq);
}

static void fault_drop_after(lt_sim_req *rq)
{
	int64_t n = 1;
	const char *method = NULL;
	bool process = false;
	if (lt_sim_param_int(rq, "count", false, &n) < 0 ||
	    lt_sim_param_str(rq, "method", false, &method) < 0 ||
	    lt_sim_param_bool(rq, "process", false, &process) < 0)
		return;
	if (n < 1 || n > 1000000) {
		lt_sim_reply_invalid(rq, "count", "must be between 1 and 1000000");
		return;
	}
	lt_sim_conn *c = rq->conn;
	if (method && strlen(method) >= sizeof c->drop_method) {
		lt_sim_reply_invalid(rq, "method", "must be shorter than 32 bytes");
		return;
	}
	c->drop_after = n;
	snprintf(c->drop_method, sizeof c->drop_method, "%s", method ? method : "");
	c->drop_process = process;
	lt_sim_reply_ok(rq);
}

bool lt_sim_faults_drop_check(lt_sim_req *rq)
{
	lt_sim_conn *c = rq->conn;
	if (c->drop_after <= 0 || (c->drop_method[0] && strcmp(c->drop_method, rq->method) != 0))
		return false;
	if (--c->drop_after > 0)
		return false;
	lt_sim_log(c->sim, 1, "#%u fault: drop_after at %s (%s)", c->id, rq->method,
		   c->drop_process ? "processed" : "unprocessed");
	if (c->drop_process) {
		c->drop_pending = true; /* dispatch.c closes after the handler */
		return false;
	}
	lt_sim_conn_close(c);
	rq->done = true;
	return true;
}

static void fault_book_gap(lt_sim_req *rq)
{
	int64_t n = 1;
	if (lt_sim_param_int(rq, "count", false, &n) < 0)
		return;
	if (n < 1 || n > 1000) {
		lt_sim_reply_invalid(rq, "count", "must be between 1 and 1000");
		return;
	}
	rq->conn->book_gaps = (int)n;
	lt_sim_reply_ok(rq);
}

const lt_sim_method lt_sim_fault_more[] = {
	{"oversize", fault_oversize},           {"invalid_utf8", fault_invalid_utf8},
	{"expire_tokens", fault_expire_tokens}, {"drop_after", fault_drop_after},
	{"book_gap", fault_book_gap},           {NULL, NULL},
};
