/* client_test.c — src/client.c, the request lifecycle (DESIGN.md "The request lifecycle"):
 * VALIDATED -> WAIT_AUTH -> WAIT_LIMIT -> SENT -> DONE over a fake transport (the test opens,
 * drops and answers) and a fake limiter clock, with the deadlines and pool timers on a real
 * lt_loop. Every test counts done callbacks: an accepted request ends exactly once, a withdrawn
 * one never; the fake wire shows what was written, with which id, and that nothing is written
 * twice. A public client is used throughout; the gate for authenticated requests is driven
 * through fake client hooks (private.c has its own tests in private_test.c).
 *
 * Fake clock: it starts at 1 s and only the test moves it. The matching-engine pool holds
 * 19 credits (20 less the one kept back) refilled at 4.75/s: one credit per TOKEN_US.
 *
 * Tests whose comment starts "Regression" showed a defect that was then fixed; the comment
 * says what it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <libwebsockets.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "errors.h"
#include "log.h"
#include "support/fake_transport.h"
#include "support/req_rec.h"

#define CLOCK0 1000000  /* the fake clock's start: 1 s */
#define TOKEN_US 210527 /* one matching-engine credit at 4.75/s, rounded up */
#define ME_BURST 19     /* matching-engine credits of a fresh client */
#define NON_ME_BURST 99 /* 500-credit requests a fresh client may send at once */
#define NON_ME_US 52632 /* 500 non-matching-engine credits at 9,500/s, rounded up */
#define NREC 160

/* ---- fixture ------------------------------------------------------------------------------ */

typedef lt_test_rec rec;

typedef struct fx {
	lua_State *L;
	lt_loop *loop;
	lt_fake_tp tp;
	lt_cl *cl;
	lt_cl_opts o;
	rec rec[NREC];
	rec *big; /* test_waiting_is_capped */
	int *big_calls;
	char events[512]; /* on_state events, comma-separated */
	/* fake private-layer hooks (test_gated_*) */
	bool hooked, gated_ready;
	uint64_t auth_epoch;
	int64_t refusal_code;
} fx;

#define on_done lt_test_on_done

static void on_state(void *ud, const char *state, const char *reason)
{
	fx *f = ud;
	(void)reason;
	size_t n = strlen(f->events);
	snprintf(f->events + n, sizeof f->events - n, "%s,", state);
}

static bool h_ready(void *ud) { return ((fx *)ud)->gated_ready; }
static uint64_t h_epoch(void *ud) { return ((fx *)ud)->auth_epoch; }
static int64_t h_refusal(void *ud, const char **msg)
{
	fx *f = ud;
	*msg = "fake refusal";
	return f->refusal_code;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	lt_fake_env_open(&f->L, &f->loop, &f->tp, &f->o, CLOCK0);
	lt_test_in_submit = 0;
	lt_test_seq = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	lt_test_in_submit = 0;
	lt_cl_free(f->cl);
	lt_fake_env_close(f->L, f->loop, &f->tp);
	free(f->big);
	free(f->big_calls);
	free(f);
	return 0;
}

/* Make the client (options in f->o); hooks: install the fake private-layer hooks. */
static void start(fx *f, bool hooks)
{
	static const lt_cl_events ev = {on_state, NULL};
	lt_err err;
	lt_fake_tp_arm(&f->tp);
	assert_int_equal(lt_cl_new(f->L, f->loop, &f->o, &ev, f, &f->cl, &err), 0);
	assert_int_equal(f->tp.open_calls, 1);
	if (hooks) {
		lt_cl_hooks h = {h_ready, h_epoch, h_refusal, NULL, NULL, NULL, f};
		lt_cl_set_hooks(f->cl, &h);
		f->hooked = true;
	}
}

/* Submit a request labelled label on pool (cost: 1 on ME, 500 elsewhere); returns lt_cl_submit's
 * result, the handle in *out. */
static int submit_x(fx *f, rec *r, const char *label, lt_pool pool, unsigned flags,
		    int64_t timeout_ms, lt_req **out, lt_err *err)
{
	const char *method = pool == LT_POOL_ME ? "private/buy" : "public/get_time";
	return lt_test_submit(f->cl, r, method, label, pool, flags, timeout_ms, out, err);
}

static lt_req *submit(fx *f, rec *r, const char *label, lt_pool pool, unsigned flags,
		      int64_t timeout_ms)
{
	lt_req *q = NULL;
	lt_err err;
	int rc = submit_x(f, r, label, pool, flags, timeout_ms, &q, &err);
	if (rc)
		fail_msg("submit %s: %d %s", label, rc, err.msg);
	assert_non_null(q);
	return q;
}

#define lab lt_test_label

typedef struct wait_wire {
	fx *f;
	int n;
} wait_wire;

static bool wire_has(void *a)
{
	wait_wire *w = a;
	return w->f->tp.nwire >= w->n;
}

/* Service the loop until n texts are on the wire (or ms pass). */
static void run_until_wire(fx *f, int n, int64_t ms)
{
	wait_wire w = {f, n};
	lt_test_run(f->loop, ms, wire_has, &w);
}

static bool called(void *a) { return ((rec *)a)->calls > 0; }

/* Fill the matching-engine pool: ME_BURST requests go at once, labelled prefix0.. */
static void fill_me(fx *f, rec *recs, const char *prefix, unsigned flags)
{
	int before = f->tp.nwire;
	for (int i = 0; i < ME_BURST; i++) {
		char l[32];
		snprintf(l, sizeof l, "%s%d", prefix, i);
		lt_req *q = submit(f, &recs[i], l, LT_POOL_ME, flags, 0);
		assert_int_equal(lt_req_get_state(q), LT_REQ_SENT);
	}
	assert_int_equal(f->tp.nwire, before + ME_BURST);
}

/* Move the fake clock by us and let the pool timers run until `want` texts are on the wire. */
static void tick(fx *f, int64_t us, int want)
{
	lt_fake_clock_us += us;
	run_until_wire(f, want, 1500);
	assert_int_equal(f->tp.nwire, want);
}

static void answer_result(fx *f, int64_t id, const char *tag)
{
	lt_fake_deliverf(&f->tp, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tag\":\"%s\"}}",
			 (long long)id, tag);
}

/* Every id on the wire is one more than the one before it, from first. */
static void assert_ids_sequential(fx *f, int64_t first)
{
	for (int i = 0; i < f->tp.nwire; i++)
		if (lt_fake_id(&f->tp, i) != first + i)
			fail_msg("text %d has id %lld, expected %lld: %s", i,
				 (long long)lt_fake_id(&f->tp, i), (long long)(first + i),
				 lt_fake_sent(&f->tp, i));
}

/* ---- transitions --------------------------------------------------------------------------- */

/* Submitted before the connection opened: WAIT_AUTH, nothing written, no callback. */
static void test_submit_while_not_open_waits_for_auth(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_req *a = submit(f, &f->rec[0], "a", LT_POOL_NON_ME, 0, 0);
	lt_req *b = submit(f, &f->rec[1], "b", LT_POOL_ME, 0, 0);
	assert_int_equal(lt_req_get_state(a), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_req_get_state(b), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_req_id(a), 0);
	assert_false(lt_cl_is_open(f->cl));
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(f->tp.nwire, 0);
	assert_int_equal(f->tp.send_calls, 0);
	assert_int_equal(f->rec[0].calls + f->rec[1].calls, 0);
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 2);
	assert_int_equal(lt_cl_get_stats(f->cl)->submitted, 2);
	assert_string_equal(lt_req_state_name(LT_REQ_WAIT_AUTH), "wait_auth");
}

/* open -> WAIT_LIMIT -> SENT: the waiting requests of a pool go in submission order, each text
 * exactly the submitted one with its id set, ids 1, 2, 3. (Order is kept per pool only: the
 * pools are pumped in turn, so across pools the wire order is the pools' order.) */
static void test_open_sends_waiting_requests_with_ids_in_order(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_req *q[3];
	const char *labels[3] = {"first", "second", "third"};
	for (int i = 0; i < 3; i++)
		q[i] = submit(f, &f->rec[i], labels[i], LT_POOL_ME, 0, 0);
	lt_fake_open(&f->tp);
	assert_true(lt_cl_is_open(f->cl));
	assert_int_equal(lt_cl_epoch(f->cl), 1);
	assert_int_equal(f->tp.nwire, 3);
	assert_ids_sequential(f, 1);
	for (int i = 0; i < 3; i++) {
		char want[256];
		snprintf(want, sizeof want,
			 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\","
			 "\"params\":{\"label\":\"%s\"}}",
			 i + 1, "private/buy", labels[i]);
		assert_string_equal(lt_fake_sent(&f->tp, i), want);
		assert_int_equal(lt_req_get_state(q[i]), LT_REQ_SENT);
		assert_int_equal(lt_req_id(q[i]), i + 1);
		assert_int_equal(f->rec[i].calls, 0);
	}
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 0);
	assert_int_equal(lt_cl_get_stats(f->cl)->sent, 3);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 3);
	assert_string_equal(f->events, "open,");
	assert_int_equal(f->tp.set_ready_calls, 1); /* a public client is ready when open */
}

/* A request encoded by the method codec (lt_method_encode, id 0) goes out with its id set. */
static void test_codec_encoded_request_gets_its_id(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	const lt_method *m = lt_method_find("public/ticker");
	assert_non_null(m);
	assert_int_equal(luaL_dostring(f->L, "return { instrument_name = 'BTC-PERPETUAL' }"), 0);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err;
	assert_int_equal(lt_method_encode(f->L, -1, m, 0, &b, &err), 0);
	lua_pop(f->L, 1);
	lt_req_spec s = lt_req_spec_of(m, m->name);
	assert_int_equal(lt_cl_submit(f->cl, &s, &b, 0, on_done, &f->rec[0], 0, NULL, &err), 0);
	assert_int_equal(f->tp.nwire, 1);
	assert_string_equal(lt_fake_sent(&f->tp, 0),
			    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/ticker\","
			    "\"params\":{\"instrument_name\":\"BTC-PERPETUAL\"}}");
}

/* Ids are taken when a request is written, so they follow the order on the wire, not the
 * order of submission: ME requests held by the limiter get their ids after the later
 * requests of another pool, and a FIRST request jumps its pool's queue. */
static void test_ids_follow_send_order_not_submit_order(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);                                  /* ids 1..19 */
	lt_req *x1 = submit(f, &f->rec[40], "x1", LT_POOL_ME, 0, 0); /* waits */
	lt_req *p1 = submit(f, &f->rec[41], "p1", LT_POOL_NON_ME, 0, 0);
	lt_req *x2 = submit(f, &f->rec[42], "x2", LT_POOL_ME, 0, 0); /* waits */
	lt_req *p2 = submit(f, &f->rec[43], "p2", LT_POOL_NON_ME, 0, 0);
	lt_req *xf = submit(f, &f->rec[44], "xf", LT_POOL_ME, LT_REQ_FIRST, 0);
	assert_int_equal(lt_req_get_state(x1), LT_REQ_WAIT_LIMIT);
	assert_int_equal(lt_req_get_state(x2), LT_REQ_WAIT_LIMIT);
	assert_int_equal(lt_req_get_state(xf), LT_REQ_WAIT_LIMIT);
	assert_int_equal(lt_req_get_state(p1), LT_REQ_SENT);
	assert_int_equal(lt_req_id(p1), 20);
	assert_int_equal(lt_req_id(p2), 21);
	assert_int_equal(lt_req_id(x1), 0);
	lt_test_run(f->loop, 50, NULL, NULL); /* the clock is frozen: nothing more goes */
	assert_int_equal(f->tp.nwire, 21);
	tick(f, TOKEN_US, 22);
	assert_non_null(strstr(lt_fake_sent(&f->tp, 21), lab("xf")));
	tick(f, TOKEN_US, 23);
	assert_non_null(strstr(lt_fake_sent(&f->tp, 22), lab("x1")));
	tick(f, TOKEN_US, 24);
	assert_non_null(strstr(lt_fake_sent(&f->tp, 23), lab("x2")));
	assert_int_equal(lt_req_id(xf), 22);
	assert_int_equal(lt_req_id(x1), 23);
	assert_int_equal(lt_req_id(x2), 24);
	assert_ids_sequential(f, 1);
}

/* answer -> DONE: a result ends RESULT with the value on L, an error ends ERROR with the
 * venue's code; each once; a repeated answer is an unknown id and calls nothing. */
static void test_answer_ends_result_or_error_once(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	lt_req *a = submit(f, &f->rec[0], "a", LT_POOL_NON_ME, 0, 5000);
	submit(f, &f->rec[1], "b", LT_POOL_ME, 0, 5000);
	assert_int_equal(lt_req_id(a), 1);
	answer_result(f, 1, "answer-a");
	lt_fake_deliver(&f->tp, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":10009,"
				"\"message\":\"not_enough_funds\"}}");
	rec *ra = &f->rec[0], *rb = &f->rec[1];
	assert_int_equal(ra->calls, 1);
	assert_int_equal(ra->how, LT_DONE_RESULT);
	assert_true(ra->sent);
	assert_string_equal(ra->tag, "answer-a");
	assert_int_equal(ra->state, LT_REQ_DONE);
	assert_int_equal(ra->id, 1);
	assert_int_equal(rb->calls, 1);
	assert_int_equal(rb->how, LT_DONE_ERROR);
	assert_true(rb->sent);
	assert_int_equal(rb->code, 10009);
	assert_int_equal(rb->err_code, 10009);
	assert_int_equal(ra->anomalies + rb->anomalies, 0);
	answer_result(f, 1, "again");
	assert_int_equal(ra->calls, 1);
	assert_int_equal(lt_rpc_get_stats(lt_cl_rpc(f->cl))->unknown_ids, 1);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	lt_test_run(f->loop, 30, NULL, NULL); /* their deadlines were cancelled */
	assert_int_equal(ra->calls + rb->calls, 2);
	assert_int_equal(lt_cl_get_stats(f->cl)->timeouts, 0);
}

/* One deadline per request, in every state: in WAIT_AUTH with no connection it ends REFUSED
 * (not_sent: "not connected (why)"), in WAIT_LIMIT TIMEOUT with sent = false (never written
 * afterwards), in SENT TIMEOUT with sent = true (its late answer is dropped). */
static void test_deadline_in_each_state_ends_timeout(void **state)
{
	fx *f = *state;
	start(f, false);
	/* WAIT_AUTH */
	rec *ra = &f->rec[30];
	lt_req *a = submit(f, ra, "wa", LT_POOL_NON_ME, 0, 30);
	assert_int_equal(lt_req_get_state(a), LT_REQ_WAIT_AUTH);
	int64_t ms = lt_test_run(f->loop, 1000, called, ra);
	assert_int_equal(ra->calls, 1);
	assert_true(ms >= 25);
	assert_int_equal(ra->how, LT_DONE_REFUSED);
	assert_false(ra->sent);
	assert_int_equal(ra->code, LT_CODE_NOT_SENT);
	assert_non_null(strstr(ra->msg, "not connected"));
	assert_non_null(strstr(ra->msg, "not sent"));
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 0);
	lt_fake_open(&f->tp);
	assert_int_equal(f->tp.nwire, 0);
	/* WAIT_LIMIT: behind a head that waits for the (frozen) clock */
	fill_me(f, f->rec, "m", 0);
	rec *rh = &f->rec[31], *rl = &f->rec[32];
	lt_req *h = submit(f, rh, "head", LT_POOL_ME, 0, 0);
	lt_req *l = submit(f, rl, "wl", LT_POOL_ME, 0, 30);
	assert_int_equal(lt_req_get_state(h), LT_REQ_WAIT_LIMIT);
	assert_int_equal(lt_req_get_state(l), LT_REQ_WAIT_LIMIT);
	lt_test_run(f->loop, 1000, called, rl);
	assert_int_equal(rl->calls, 1);
	assert_int_equal(rl->how, LT_DONE_TIMEOUT);
	assert_false(rl->sent);
	assert_int_equal(rl->code, LT_CODE_TIMEOUT);
	assert_non_null(strstr(rl->msg, "not sent"));
	tick(f, 3 * TOKEN_US, ME_BURST + 1);
	assert_non_null(strstr(lt_fake_sent(&f->tp, ME_BURST), lab("head")));
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(lt_fake_count(&f->tp, lab("wl")), 0);
	/* SENT */
	rec *rs = &f->rec[33];
	lt_req *s = submit(f, rs, "ws", LT_POOL_NON_ME, 0, 30);
	assert_int_equal(lt_req_get_state(s), LT_REQ_SENT);
	int64_t sid = lt_req_id(s);
	int pending = lt_rpc_pending_count(lt_cl_rpc(f->cl));
	lt_test_run(f->loop, 1000, called, rs);
	assert_int_equal(rs->calls, 1);
	assert_int_equal(rs->how, LT_DONE_TIMEOUT);
	assert_true(rs->sent);
	assert_int_equal(rs->code, LT_CODE_TIMEOUT);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), pending - 1);
	answer_result(f, sid, "late");
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(ra->calls + rl->calls + rs->calls, 3);
	assert_int_equal(rh->calls, 0);
	assert_int_equal(lt_cl_get_stats(f->cl)->timeouts, 3);
	assert_int_equal(ra->anomalies + rl->anomalies + rs->anomalies, 0);
}

/* lt_req_withdraw: never sent -> gone (never written, no callback, its deadline stopped);
 * sent -> its answer, its deadline and its loss are all silent. */
static void test_withdraw_in_each_state(void **state)
{
	fx *f = *state;
	start(f, false);
	/* WAIT_AUTH */
	lt_req *a = submit(f, &f->rec[30], "wa", LT_POOL_NON_ME, 0, 20);
	lt_req_withdraw(a);
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 0);
	lt_fake_open(&f->tp);
	lt_test_run(f->loop, 60, NULL, NULL);
	assert_int_equal(f->tp.nwire, 0);
	/* WAIT_LIMIT */
	fill_me(f, f->rec, "m", 0);
	lt_req *b = submit(f, &f->rec[31], "wl", LT_POOL_ME, 0, 5000);
	submit(f, &f->rec[32], "after", LT_POOL_ME, 0, 0);
	assert_int_equal(lt_req_get_state(b), LT_REQ_WAIT_LIMIT);
	lt_req_withdraw(b);
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 1);
	tick(f, 3 * TOKEN_US, ME_BURST + 1);
	assert_non_null(strstr(lt_fake_sent(&f->tp, ME_BURST), lab("after")));
	/* SENT: answered, timed out, lost */
	lt_req *c = submit(f, &f->rec[33], "s-answer", LT_POOL_NON_ME, 0, 0);
	lt_req *d = submit(f, &f->rec[34], "s-deadline", LT_POOL_NON_ME, 0, 20);
	lt_req *e = submit(f, &f->rec[35], "s-lost", LT_POOL_NON_ME, 0, 0);
	int64_t cid = lt_req_id(c);
	assert_int_equal(lt_req_get_state(c), LT_REQ_SENT);
	lt_req_withdraw(c);
	lt_req_withdraw(d);
	lt_req_withdraw(e);
	answer_result(f, cid, "dropped");
	lt_test_run(f->loop, 60, NULL, NULL);
	lt_fake_drop(&f->tp, "test");
	for (int i = 30; i < 36; i++)
		if (i != 32 && f->rec[i].calls)
			fail_msg("withdrawn request %d was called back", i);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	assert_int_equal(lt_fake_count(&f->tp, lab("wa")) + lt_fake_count(&f->tp, lab("wl")), 0);
}

/* ---- connection drops ---------------------------------------------------------------------- */

/* WAIT_AUTH survives a drop and goes after the next open. */
static void test_drop_in_wait_auth_keeps_waiting(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_req *a = submit(f, &f->rec[0], "a", LT_POOL_NON_ME, 0, 0);
	lt_fake_drop(&f->tp, "connect failed");
	assert_int_equal(lt_req_get_state(a), LT_REQ_WAIT_AUTH);
	assert_int_equal(f->rec[0].calls, 0);
	lt_fake_open(&f->tp);
	assert_int_equal(f->tp.nwire, 1);
	assert_int_equal(lt_req_get_state(a), LT_REQ_SENT);
	assert_string_equal(f->events, "reconnecting,open,");
}

/* WAIT_LIMIT -> drop -> WAIT_AUTH: not written while closed however long the credits have
 * been there; written after the next open, in order, with the next ids. */
static void test_drop_in_wait_limit_requeues_until_next_open(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	lt_req *w1 = submit(f, &f->rec[30], "w1", LT_POOL_ME, 0, 0);
	lt_req *w2 = submit(f, &f->rec[31], "w2", LT_POOL_ME, 0, 0);
	assert_int_equal(lt_req_get_state(w1), LT_REQ_WAIT_LIMIT);
	lt_fake_drop(&f->tp, "test");
	assert_int_equal(lt_req_get_state(w1), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_req_get_state(w2), LT_REQ_WAIT_AUTH);
	assert_int_equal(f->rec[30].calls + f->rec[31].calls, 0);
	assert_int_equal(lt_cl_get_stats(f->cl)->requeued, 2);
	for (int i = 0; i < ME_BURST; i++) {
		assert_int_equal(f->rec[i].calls, 1);
		assert_int_equal(f->rec[i].how, LT_DONE_LOST);
	}
	lt_fake_clock_us += 10 * 1000000;
	lt_test_run(f->loop, 300, NULL, NULL);
	assert_int_equal(f->tp.nwire, ME_BURST);
	lt_fake_open(&f->tp);
	assert_int_equal(f->tp.nwire, ME_BURST + 2);
	assert_non_null(strstr(lt_fake_sent(&f->tp, ME_BURST), lab("w1")));
	assert_non_null(strstr(lt_fake_sent(&f->tp, ME_BURST + 1), lab("w2")));
	assert_ids_sequential(f, 1);
}

/* SENT -> drop -> LOST (sent = true), once; it is never written again, and an answer to its
 * old id after the reconnect is dropped. */
static void test_drop_in_sent_ends_lost_never_resent(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	submit(f, &f->rec[0], "s1", LT_POOL_NON_ME, 0, 5000);
	submit(f, &f->rec[1], "s2", LT_POOL_ME, 0, 0);
	lt_fake_drop(&f->tp, "test");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f->rec[i].calls, 1);
		assert_int_equal(f->rec[i].how, LT_DONE_LOST);
		assert_true(f->rec[i].sent);
		assert_non_null(strstr(f->rec[i].msg, "never re-sent"));
		assert_int_equal(f->rec[i].anomalies, 0);
	}
	assert_int_equal(lt_cl_get_stats(f->cl)->lost, 2);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	lt_fake_open(&f->tp);
	submit(f, &f->rec[2], "after", LT_POOL_NON_ME, 0, 0);
	answer_result(f, 1, "late");
	lt_test_run(f->loop, 50, NULL, NULL);
	assert_int_equal(lt_fake_count(&f->tp, lab("s1")), 1);
	assert_int_equal(lt_fake_count(&f->tp, lab("s2")), 1);
	assert_int_equal(f->tp.nwire, 3);
	assert_int_equal(f->rec[0].calls + f->rec[1].calls, 2);
}

/* LT_REQ_BOUND: waiting when its connection drops -> REFUSED (not sent), never written on the
 * next connection; sent -> LOST like any other. */
static void test_bound_requests_end_refused_on_drop(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	rec *rw = &f->rec[30], *rs = &f->rec[31], *rc = &f->rec[32];
	lt_req *w = submit(f, rw, "bw", LT_POOL_ME, LT_REQ_BOUND, 0);
	submit(f, rs, "bs", LT_POOL_NON_ME, LT_REQ_BOUND, 0);
	assert_int_equal(lt_req_get_state(w), LT_REQ_WAIT_LIMIT);
	lt_fake_drop(&f->tp, "test");
	assert_int_equal(rw->calls, 1);
	assert_int_equal(rw->how, LT_DONE_REFUSED);
	assert_false(rw->sent);
	assert_int_equal(rw->code, LT_CODE_NOT_SENT);
	assert_int_equal(rs->calls, 1);
	assert_int_equal(rs->how, LT_DONE_LOST);
	assert_true(rs->sent);
	/* made while closed: for a connection that is already gone; never written */
	lt_req *c = submit(f, rc, "bc", LT_POOL_NON_ME, LT_REQ_BOUND, 0);
	assert_int_equal(lt_req_get_state(c), LT_REQ_WAIT_AUTH);
	lt_fake_open(&f->tp);
	lt_fake_clock_us += 10 * 1000000;
	lt_test_run(f->loop, 50, NULL, NULL);
	assert_int_equal(lt_fake_count(&f->tp, lab("bc")), 0);
	assert_int_equal(lt_fake_count(&f->tp, lab("bw")), 0);
	lt_fake_drop(&f->tp, "again");
	assert_int_equal(rc->calls, 1);
	assert_int_equal(rc->how, LT_DONE_REFUSED);
	assert_int_equal(rw->calls, 1);
	assert_int_equal(rs->calls, 1);
}

/* ---- the gate for authenticated requests (fake private-layer hooks) -------------------------- */

/* A GATED request waits in WAIT_AUTH while ready_gated says no, even with the connection open
 * and credits there; lt_cl_kick after readiness sends it under the current auth epoch. */
static void test_gated_waits_until_ready_and_kick(void **state)
{
	fx *f = *state;
	start(f, true);
	f->gated_ready = false;
	f->auth_epoch = 7;
	lt_fake_open(&f->tp);
	lt_req *g = submit(f, &f->rec[0], "g", LT_POOL_ME, LT_REQ_GATED, 0);
	lt_req *p = submit(f, &f->rec[1], "p", LT_POOL_ME, 0, 0);
	assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_req_get_state(p), LT_REQ_SENT);
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(f->tp.nwire, 1);
	f->gated_ready = true;
	lt_cl_kick(f->cl);
	assert_int_equal(lt_req_get_state(g), LT_REQ_SENT);
	assert_int_equal(lt_req_auth_epoch(g), 7);
	assert_int_equal(f->tp.nwire, 2);
}

/* A GATED request in WAIT_LIMIT whose auth epoch went stale is re-checked before it is written:
 * back to WAIT_AUTH, and written only under the new epoch. */
static void test_gated_stale_auth_epoch_is_rechecked_before_write(void **state)
{
	fx *f = *state;
	start(f, true);
	f->gated_ready = true;
	f->auth_epoch = 1;
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", LT_REQ_GATED);
	lt_req *g = submit(f, &f->rec[30], "g", LT_POOL_ME, LT_REQ_GATED, 0);
	assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_LIMIT);
	/* the session went away: not ready, a new epoch is coming */
	f->gated_ready = false;
	f->auth_epoch = 2;
	lt_fake_clock_us += 5 * TOKEN_US;
	lt_test_run(f->loop, 400, NULL, NULL);
	assert_int_equal(f->tp.nwire, ME_BURST);
	assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
	f->gated_ready = true;
	lt_cl_kick(f->cl);
	assert_int_equal(f->tp.nwire, ME_BURST + 1);
	assert_int_equal(lt_req_auth_epoch(g), 2);
	assert_int_equal(f->rec[30].calls, 0);
}

/* Regression (client.c pump_pool): when the heads of a pool go stale together (a new auth epoch, no
 * drop), pump_pool moves each one to the FRONT of wait_auth (to_auth(cl, r, true)) one after
 * the other, which reverses them; gate() then puts them back into the pool in that reversed
 * order. Queued orders g1, g2, g3 are written g3, g2, g1. on_drop avoids this by walking from
 * the tail. Fix: in pump_pool collect the stale requests in order (e.g. on a local list) and
 * splice them in front of wait_auth as one block, or walk the pool from its tail as on_drop. */
static void test_stale_gated_requests_keep_fifo_order(void **state)
{
	fx *f = *state;
	start(f, true);
	f->gated_ready = true;
	f->auth_epoch = 1;
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", LT_REQ_GATED);
	submit(f, &f->rec[30], "g1", LT_POOL_ME, LT_REQ_GATED, 0);
	submit(f, &f->rec[31], "g2", LT_POOL_ME, LT_REQ_GATED, 0);
	submit(f, &f->rec[32], "g3", LT_POOL_ME, LT_REQ_GATED, 0);
	f->auth_epoch = 2; /* re-authenticated (a 13009 answered, a fresh public/auth succeeded) */
	lt_cl_kick(f->cl);
	tick(f, TOKEN_US, ME_BURST + 1);
	tick(f, TOKEN_US, ME_BURST + 2);
	tick(f, TOKEN_US, ME_BURST + 3);
	const char *order[3] = {"g1", "g2", "g3"};
	for (int i = 0; i < 3; i++)
		if (!strstr(lt_fake_sent(&f->tp, ME_BURST + i), lab(order[i])))
			fail_msg("position %d: expected %s, the wire has %s", i, order[i],
				 lt_fake_sent(&f->tp, ME_BURST + i));
}

/* ---- the limiter ----------------------------------------------------------------------------- */

/* FIFO per pool under the fake clock: one credit lets exactly the head go; the other pools are
 * not held behind a pool that waits. */
static void test_limiter_is_fifo_per_pool(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	const char *q[5] = {"q1", "q2", "q3", "q4", "q5"};
	lt_req *qr[5];
	for (int i = 0; i < 5; i++) {
		qr[i] = submit(f, &f->rec[30 + i], q[i], LT_POOL_ME, 0, 0);
		char n[16];
		snprintf(n, sizeof n, "n%d", i);
		lt_req *nr = submit(f, &f->rec[40 + i], n, LT_POOL_NON_ME, 0, 0);
		assert_int_equal(lt_req_get_state(nr), LT_REQ_SENT); /* not behind the ME queue */
	}
	int base = f->tp.nwire;
	assert_int_equal(base, ME_BURST + 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(lt_req_get_state(qr[i]), LT_REQ_WAIT_LIMIT);
		tick(f, TOKEN_US, base + i + 1);
		assert_non_null(strstr(lt_fake_sent(&f->tp, base + i), lab(q[i])));
		for (int j = i + 1; j < 5; j++)
			assert_int_equal(lt_req_get_state(qr[j]), LT_REQ_WAIT_LIMIT);
	}
	assert_ids_sequential(f, 1);
	assert_true(lt_cl_rl(f->cl)->waited >= 5);
}

/* rate_limit = "error": refused at submit (LT_EFULL, done never called) with the wait in
 * lt_cl_refusal; after that wait it is accepted and written at once. */
static void test_policy_error_refuses_at_submit_with_retry_after(void **state)
{
	fx *f = *state;
	f->o.policy_error = true;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	lt_req *q = (lt_req *)1;
	lt_err err;
	int rc = submit_x(f, &f->rec[30], "over", LT_POOL_ME, 0, 5000, &q, &err);
	assert_int_equal(rc, LT_EFULL);
	assert_null(q);
	assert_non_null(strstr(err.msg, "retry after"));
	double retry = -1;
	assert_int_equal(lt_cl_refusal(f->cl, &retry), LT_CODE_RATE_LIMIT);
	assert_true(retry > 0.2100 && retry < 0.2110); /* one credit at 4.75/s */
	assert_int_equal(f->tp.nwire, ME_BURST);
	assert_int_equal(lt_cl_get_stats(f->cl)->refused, 1);
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, 0);
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(f->rec[30].calls, 0);
	lt_fake_clock_us += (int64_t)(retry * 1e6) + 1;
	lt_req *ok = submit(f, &f->rec[31], "later", LT_POOL_ME, 0, 5000);
	assert_int_equal(lt_req_get_state(ok), LT_REQ_SENT);
	assert_int_equal(lt_cl_refusal(f->cl, &retry), LT_CODE_NOT_SENT);
	assert_true(retry == 0);
}

/* Submit label and expect it refused by the local limiter, either at once (lt_cl_submit
 * returns LT_EFULL, lt_cl_refusal says LT_CODE_RATE_LIMIT and the wait, done never called) or
 * later through done (REFUSED, LT_CODE_RATE_LIMIT, not sent). Both keep the contract. */
static void expect_rate_refused(fx *f, rec *r, const char *label, int64_t timeout_ms)
{
	lt_req *q = NULL;
	lt_err err;
	int rc = submit_x(f, r, label, LT_POOL_ME, 0, timeout_ms, &q, &err);
	if (rc) {
		double retry = 0;
		assert_int_equal(rc, LT_EFULL);
		assert_int_equal(lt_cl_refusal(f->cl, &retry), LT_CODE_RATE_LIMIT);
		assert_true(retry > 0.1 && retry < 0.25);
		lt_test_run(f->loop, 100, NULL, NULL);
		assert_int_equal(r->calls, 0);
	} else {
		lt_test_run(f->loop, 500, called, r);
		assert_int_equal(r->calls, 1);
		if (r->how != LT_DONE_REFUSED)
			fail_msg("expected REFUSED (rate limit), got how=%d (%s)", r->how, r->msg);
		assert_false(r->sent);
		assert_int_equal(r->code, LT_CODE_RATE_LIMIT);
		assert_true(r->retry_after > 0.1 && r->retry_after < 0.25);
		lt_test_run(f->loop, 100, NULL, NULL);
		assert_int_equal(r->calls, 1);
	}
	assert_int_equal(lt_fake_count(&f->tp, lab(label)), 0);
}

/* A request whose limiter wait is longer than what is left of its deadline is refused at once
 * with LT_CODE_RATE_LIMIT and the wait as retry_after: never written. (Real clock.) */
static void test_limiter_wait_over_deadline_is_refused_real_clock(void **state)
{
	fx *f = *state;
	f->o.now_us = NULL;
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	expect_rate_refused(f, &f->rec[30], "over", 50);
	assert_int_equal(f->tp.nwire, ME_BURST);
}

/* Regression (client.c lt_cl_submit / pump_pool): the deadline is stored on the real clock
 * (r->deadline_us = lt_now_us() + ...) but pump_pool compares it with the limiter's clock
 * (now_of(cl) + d > r->deadline_us). With lt_cl_opts.now_us set the two differ: a clock behind
 * the real one never refuses (the request waits and ends TIMEOUT), a clock ahead refuses every
 * request that has to wait at all. Fix: take the deadline from the same clock,
 * r->deadline_us = now_of(cl) + timeout_ms * 1000 (the sul timer stays on real time). */
static void test_limiter_deadline_uses_the_limiter_clock_behind(void **state)
{
	fx *f = *state;
	start(f, false); /* fake clock at 1 s: far behind the real monotonic clock */
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	expect_rate_refused(f, &f->rec[30], "over", 50); /* needs 0.21 s of credits, has 0.05 s */
	assert_int_equal(f->tp.nwire, ME_BURST);
}

static void test_limiter_deadline_uses_the_limiter_clock_ahead(void **state)
{
	fx *f = *state;
	lt_fake_clock_us = lt_now_us() + 3600LL * 1000000; /* an hour ahead of the real clock */
	start(f, false);
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	rec *r = &f->rec[30];
	lt_req *q = submit(f, r, "fits", LT_POOL_ME, 0, 10000); /* 0.21 s of a 10 s budget */
	if (r->calls)
		fail_msg("refused although its wait fits its deadline: how=%d (%s)", r->how,
			 r->msg);
	assert_int_equal(lt_req_get_state(q), LT_REQ_WAIT_LIMIT);
	tick(f, TOKEN_US, ME_BURST + 1);
	assert_int_equal(lt_req_get_state(q), LT_REQ_SENT);
}

/* The venue's heartbeat test_request is answered with public/test through the limiter: with
 * the non-matching-engine pool empty it waits for credits, then goes first in its pool. */
static void test_heartbeat_answer_goes_through_the_limiter(void **state)
{
	fx *f = *state;
	f->o.answer_test_request = true;
	start(f, false);
	lt_fake_open(&f->tp);
	static const char hb[] = "{\"jsonrpc\":\"2.0\",\"method\":\"heartbeat\","
				 "\"params\":{\"type\":\"test_request\"}}";
	/* with credits: at once, and charged to the pool */
	double level = lt_cl_rl(f->cl)->pool[LT_POOL_NON_ME].level;
	lt_fake_deliver(&f->tp, hb);
	assert_int_equal(f->tp.nwire, 1);
	assert_string_equal(lt_fake_sent(&f->tp, 0),
			    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/test\"}");
	assert_true(fabs(lt_cl_rl(f->cl)->pool[LT_POOL_NON_ME].level - (level - 500)) < 1e-6);
	lt_fake_deliver(&f->tp, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"version\":\"1\"}}");
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	/* pool empty: it waits, then jumps the queue */
	for (int i = 0; i < NON_ME_BURST - 1; i++) {
		char l[16];
		snprintf(l, sizeof l, "n%d", i);
		submit(f, &f->rec[i], l, LT_POOL_NON_ME, 0, 0);
	}
	assert_int_equal(f->tp.nwire, NON_ME_BURST);
	lt_req *w = submit(f, &f->rec[NON_ME_BURST], "waiting", LT_POOL_NON_ME, 0, 0);
	assert_int_equal(lt_req_get_state(w), LT_REQ_WAIT_LIMIT);
	lt_fake_deliver(&f->tp, hb);
	lt_test_run(f->loop, 50, NULL, NULL);
	assert_int_equal(f->tp.nwire, NON_ME_BURST);
	assert_int_equal(lt_fake_count(&f->tp, "public/test"), 1);
	tick(f, NON_ME_US, NON_ME_BURST + 1);
	assert_non_null(strstr(lt_fake_sent(&f->tp, NON_ME_BURST), "public/test"));
	tick(f, NON_ME_US, NON_ME_BURST + 2);
	assert_non_null(strstr(lt_fake_sent(&f->tp, NON_ME_BURST + 1), lab("waiting")));
	assert_ids_sequential(f, 1);
}

/* ---- caps --------------------------------------------------------------------------------- */

static void on_done_big(void *ud, lt_req *req, const lt_req_end *e)
{
	int *calls = ud;
	calls[lt_req_tag(req)]++;
	if (e->how != LT_DONE_REFUSED || e->sent)
		calls[LT_MAX_WAITING + 1]++; /* anomalies */
}

/* LT_MAX_WAITING (the real constant, 100,000) requests may wait; the next is LT_EFULL with its
 * text taken and no callback; closing ends each waiting one exactly once. */
static void test_waiting_is_capped_at_lt_max_waiting(void **state)
{
	fx *f = *state;
	start(f, false);
	f->big_calls = calloc(LT_MAX_WAITING + 2, sizeof *f->big_calls);
	assert_non_null(f->big_calls);
	lt_req_spec s = {.method = "public/get_time", .pool = LT_POOL_NON_ME, .cost = 500};
	static const char t[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"public/get_time\"}";
	lt_err err;
	for (int i = 0; i < LT_MAX_WAITING; i++) {
		lt_buf b;
		lt_buf_init(&b, LWS_PRE);
		lt_buf_add(&b, t, sizeof t - 1);
		if (lt_cl_submit(f->cl, &s, &b, 0, on_done_big, f->big_calls, (uint64_t)i, NULL,
				 &err))
			fail_msg("submit %d refused: %s", i, err.msg);
	}
	assert_int_equal(lt_cl_get_stats(f->cl)->waiting, LT_MAX_WAITING);
	assert_int_equal(lt_cl_get_stats(f->cl)->max_waiting, LT_MAX_WAITING);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, t, sizeof t - 1);
	assert_int_equal(lt_cl_submit(f->cl, &s, &b, 0, on_done_big, f->big_calls, LT_MAX_WAITING,
				      NULL, &err),
			 LT_EFULL);
	assert_null(b.data);
	assert_non_null(strstr(err.msg, "already waiting"));
	lt_cl_free(f->cl);
	f->cl = NULL;
	for (int i = 0; i < LT_MAX_WAITING; i++)
		if (f->big_calls[i] != 1)
			fail_msg("request %d ended %d times", i, f->big_calls[i]);
	assert_int_equal(f->big_calls[LT_MAX_WAITING], 0);     /* the refused one */
	assert_int_equal(f->big_calls[LT_MAX_WAITING + 1], 0); /* all REFUSED, none sent */
	assert_int_equal(f->tp.nwire, 0);
}

/* A request over the venue's 32 kB (LT_MAX_REQUEST) is refused with LT_EINVAL, its text
 * taken, nothing written, no callback; exactly LT_MAX_REQUEST bytes is accepted. */
static void test_request_over_max_request_is_refused(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"public/x\","
				   "\"params\":{\"pad\":\"";
	lt_req_spec s = {.method = "public/x", .pool = LT_POOL_NON_ME, .cost = 500};
	for (int over = 1; over >= 0; over--) {
		size_t len = LT_MAX_REQUEST + (size_t)over;
		char *t = malloc(len + 1);
		assert_non_null(t);
		memcpy(t, head, sizeof head - 1);
		memset(t + sizeof head - 1, 'x', len - (sizeof head - 1) - 3);
		memcpy(t + len - 3, "\"}}", 3);
		t[len] = '\0';
		lt_buf b;
		lt_buf_init(&b, LWS_PRE);
		lt_buf_add(&b, t, len);
		free(t);
		assert_int_equal(b.len, len);
		lt_err err;
		rec *r = &f->rec[over];
		int rc = lt_cl_submit(f->cl, &s, &b, 1000, on_done, r, 0, NULL, &err);
		assert_null(b.data);
		if (over) {
			assert_int_equal(rc, LT_EINVAL);
			assert_int_equal(lt_cl_refusal(f->cl, NULL), LT_CODE_TOO_LARGE);
			assert_non_null(strstr(err.msg, "32768"));
			assert_int_equal(f->tp.nwire, 0);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(f->tp.nwire, 1);
			assert_int_equal(strlen(lt_fake_sent(&f->tp, 0)), len); /* id 1 for id 0 */
		}
	}
	lt_test_run(f->loop, 20, NULL, NULL);
	assert_int_equal(f->rec[1].calls, 0);
}

/* ---- closing ------------------------------------------------------------------------------- */

/* lt_cl_free: every waiting request (WAIT_AUTH, WAIT_LIMIT) ends REFUSED, not sent; every sent
 * one LOST; each exactly once; withdrawn ones silent; the transport closed; no event after. */
static void test_free_ends_every_request_once(void **state)
{
	fx *f = *state;
	start(f, true);
	f->gated_ready = false;
	lt_fake_open(&f->tp);
	fill_me(f, f->rec, "m", 0);
	rec *rw = &f->rec[30], *rl = &f->rec[31], *rs = &f->rec[32], *rx = &f->rec[33],
	    *ry = &f->rec[34];
	lt_req *w = submit(f, rw, "wait-auth", LT_POOL_NON_ME, LT_REQ_GATED, 5000);
	lt_req *l = submit(f, rl, "wait-limit", LT_POOL_ME, 0, 5000);
	lt_req *s = submit(f, rs, "sent", LT_POOL_NON_ME, 0, 5000);
	lt_req *x = submit(f, rx, "withdrawn-sent", LT_POOL_NON_ME, 0, 5000);
	lt_req *y = submit(f, ry, "withdrawn-waiting", LT_POOL_ME, 0, 5000);
	assert_int_equal(lt_req_get_state(w), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_req_get_state(l), LT_REQ_WAIT_LIMIT);
	assert_int_equal(lt_req_get_state(s), LT_REQ_SENT);
	lt_req_withdraw(x);
	lt_req_withdraw(y);
	size_t events = strlen(f->events);
	lt_cl_free(f->cl);
	f->cl = NULL;
	assert_int_equal(rw->calls, 1);
	assert_int_equal(rw->how, LT_DONE_REFUSED);
	assert_false(rw->sent);
	assert_int_equal(rw->code, LT_CODE_NOT_CONNECTED);
	assert_int_equal(rl->calls, 1);
	assert_int_equal(rl->how, LT_DONE_REFUSED);
	assert_false(rl->sent);
	assert_int_equal(rs->calls, 1);
	assert_int_equal(rs->how, LT_DONE_LOST);
	assert_true(rs->sent);
	for (int i = 0; i < ME_BURST; i++) {
		assert_int_equal(f->rec[i].calls, 1);
		assert_int_equal(f->rec[i].how, LT_DONE_LOST);
	}
	assert_int_equal(rx->calls + ry->calls, 0);
	assert_int_equal(f->tp.close_calls, 1);
	assert_int_equal(strlen(f->events), events);
	lt_test_run(f->loop, 30, NULL, NULL); /* no deadline left behind */
	assert_int_equal(rw->calls + rl->calls + rs->calls, 3);
}

/* ---- contract: done never runs inside lt_cl_submit ------------------------------------------ */

/* A write the transport refuses (its queue is full) ends the request REFUSED, not sent (or is
 * refused by lt_cl_submit itself); the next request still goes, with a larger id. */
static void test_send_refused_by_transport_ends_refused(void **state)
{
	fx *f = *state;
	start(f, false);
	lt_fake_open(&f->tp);
	f->tp.send_rc = LT_EFULL;
	f->tp.fail_sends = 1;
	rec *r = &f->rec[0];
	lt_req *q = NULL;
	lt_err err;
	if (submit_x(f, r, "refused", LT_POOL_NON_ME, 0, 1000, &q, &err) == 0) {
		lt_test_run(f->loop, 200, called, r);
		assert_int_equal(r->calls, 1);
		assert_int_equal(r->how, LT_DONE_REFUSED);
		assert_false(r->sent);
		assert_int_equal(r->code, LT_CODE_NOT_SENT);
	} else {
		lt_test_run(f->loop, 50, NULL, NULL);
		assert_int_equal(r->calls, 0);
	}
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	submit(f, &f->rec[1], "next", LT_POOL_NON_ME, 0, 0);
	assert_int_equal(f->tp.nwire, 1);
	assert_true(lt_fake_id(&f->tp, 0) >= 1);
}

/* Regression (client.c lt_cl_submit -> pump -> pump_pool): client.h promises that done is "never
 * [called] from inside lt_cl_submit itself", but lt_cl_submit pumps synchronously, and two
 * refusals in pump_pool end the request right there: the limiter wait over the deadline
 * (req_refuse LT_CODE_RATE_LIMIT) and a write the transport refuses (send_req -> req_refuse
 * LT_CODE_NOT_SENT). A Lua binding that awaits after lt_cl_submit returned 0 would resume a task
 * that has not yielded yet (or have its request handle freed under it: *out points to freed
 * memory when submit returns). Fix: in lt_cl_submit, refuse the over-deadline case before
 * accepting (return LT_EFULL with refusal_code/retry_after, as policy_error does), and defer
 * ends that happen while cl->pumping inside submit (a zero-delay lws_sul "ended" list, or
 * return the error from submit when the request submitted is the one refused). */
static void test_done_runs_inside_lt_cl_submit(void **state)
{
	fx *f = *state;
	f->o.now_us = NULL; /* the real clock, so the deadline check itself works */
	start(f, false);
	lt_fake_open(&f->tp);
	f->tp.send_rc = LT_EFULL;
	f->tp.fail_sends = 1;
	rec *a = &f->rec[30], *b = &f->rec[31];
	lt_req *q = NULL;
	lt_err err;
	int rc = submit_x(f, a, "send-refused", LT_POOL_NON_ME, 0, 1000, &q, &err);
	fill_me(f, f->rec, "m", 0);
	int rc2 = submit_x(f, b, "over-deadline", LT_POOL_ME, 0, 50, &q, &err);
	lt_test_run(f->loop, 300, called, b);
	assert_int_equal(a->calls, rc == 0 ? 1 : 0); /* accepted: ends once; refused: never */
	assert_int_equal(b->calls, rc2 == 0 ? 1 : 0);
	if (rc == 0 && a->in_submit)
		fail_msg("send refused: lt_cl_submit returned 0 and had already called done");
	if (rc2 == 0 && b->in_submit)
		fail_msg("over deadline: lt_cl_submit returned 0 and had already called done");
}

/* ---- every interleaving (bounded random walks) ----------------------------------------------- */

/* Random walks over submit (any pool, BOUND / FIRST, with or without a short deadline), open,
 * drop, answers (result / error / unknown id), withdraw, clock moves and loop turns. After each
 * step: no request ends twice; nothing is written twice; nothing is written while closed; a
 * request that ended REFUSED/TIMEOUT unsent is not on the wire; LOST and sent ones are; ids on
 * the wire are sequential; waiting counts match. At the end lt_cl_free ends the rest: every
 * accepted, not withdrawn request ended exactly once. */
typedef struct walk_req {
	lt_req *q;
	rec r;
	bool withdrawn, accepted;
	char label[16];
} walk_req;

static uint64_t rnd_state;
static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

#define WALK_REQS 48

static void walk_check(fx *f, walk_req *w, int n, bool at_end)
{
	int waiting = 0;
	for (int i = 0; i < n; i++) {
		walk_req *x = &w[i];
		int on_wire = lt_fake_count(&f->tp, lab(x->label));
		if (on_wire > 1)
			fail_msg("%s written %d times", x->label, on_wire);
		if (x->r.calls > 1)
			fail_msg("%s ended %d times", x->label, x->r.calls);
		if (x->r.anomalies)
			fail_msg("%s: value on L mismatched", x->label);
		if (x->withdrawn && x->r.calls)
			fail_msg("%s withdrawn but called back", x->label);
		if (x->r.calls && x->r.sent != (on_wire == 1))
			fail_msg("%s ended how=%d sent=%d but is %son the wire", x->label, x->r.how,
				 x->r.sent, on_wire ? "" : "not ");
		if (x->r.calls && x->r.how == LT_DONE_LOST && !x->r.sent)
			fail_msg("%s LOST but never sent", x->label);
		if (at_end && x->accepted && !x->withdrawn && x->r.calls != 1)
			fail_msg("%s ended %d times at the end", x->label, x->r.calls);
		if (!at_end && x->accepted && !x->withdrawn && !x->r.calls) {
			lt_req_state s = lt_req_get_state(x->q);
			waiting += s == LT_REQ_WAIT_AUTH || s == LT_REQ_WAIT_LIMIT;
		}
	}
	if (!at_end)
		assert_int_equal(lt_cl_get_stats(f->cl)->waiting, waiting);
	for (int i = 1; i < f->tp.nwire; i++)
		if (lt_fake_id(&f->tp, i) <= lt_fake_id(&f->tp, i - 1))
			fail_msg("ids out of order on the wire at %d", i);
}

static void test_random_interleavings_keep_the_invariants(void **state)
{
	fx *f = *state;
	walk_req *w = calloc(WALK_REQS, sizeof *w);
	assert_non_null(w);
	unsigned long long ends[LT_DONE_REFUSED + 1] = {0}, withdrawn = 0, requeued = 0;
	for (uint64_t seed = 1; seed <= 150; seed++) {
		rnd_state = seed * 0x9e3779b97f4a7c15ull;
		lt_fake_tp_init(&f->tp);
		lt_fake_clock_us = CLOCK0;
		f->cl = NULL;
		start(f, false);
		memset(w, 0, WALK_REQS * sizeof *w);
		/* small buckets, so that requests do wait in WAIT_LIMIT: 3 of each at once */
		lt_rl_set_bucket(lt_cl_rl(f->cl), LT_POOL_ME, 4, 5, lt_fake_clock_us);
		lt_rl_set_bucket(lt_cl_rl(f->cl), LT_POOL_NON_ME, 2000, 5000, lt_fake_clock_us);
		int n = 0;
		for (int step = 0; step < 60; step++) {
			int wire_before = f->tp.nwire;
			bool was_open = lt_cl_is_open(f->cl);
			unsigned ev = rnd(100);
			if (ev < 35 && n < WALK_REQS) {
				walk_req *x = &w[n];
				snprintf(x->label, sizeof x->label, "r%d", n);
				unsigned flags = (rnd(4) == 0 ? LT_REQ_BOUND : 0) |
						 (rnd(5) == 0 ? LT_REQ_FIRST : 0);
				lt_pool pool = rnd(2) ? LT_POOL_ME : LT_POOL_NON_ME;
				lt_err err;
				int rc = submit_x(f, &x->r, x->label, pool, flags,
						  rnd(3) == 0 ? 1 + rnd(4) : 0, &x->q, &err);
				x->accepted = rc == 0;
				n++;
			} else if (ev < 45) {
				if (!lt_cl_is_open(f->cl))
					lt_fake_open(&f->tp);
			} else if (ev < 53) {
				lt_fake_drop(&f->tp, "walk");
			} else if (ev < 73 && f->tp.nwire) {
				int64_t id = lt_fake_id(&f->tp, (int)rnd((unsigned)f->tp.nwire));
				if (rnd(3))
					answer_result(f, id, "walk");
				else
					lt_fake_deliverf(
						&f->tp,
						"{\"jsonrpc\":\"2.0\",\"id\":%lld,"
						"\"error\":{\"code\":11044,\"message\":\"x\"}}",
						(long long)id);
			} else if (ev < 80 && n) {
				walk_req *x = &w[rnd((unsigned)n)];
				if (x->accepted && !x->withdrawn && !x->r.calls) {
					lt_req_withdraw(x->q);
					x->withdrawn = true;
				}
			} else if (ev < 92) {
				lt_fake_clock_us += rnd(2) ? TOKEN_US : 2 * NON_ME_US;
				lt_test_run(f->loop, 1 + rnd(3), NULL, NULL);
			} else {
				lt_test_run(f->loop, 1 + rnd(6), NULL, NULL);
			}
			if (!was_open && !lt_cl_is_open(f->cl))
				assert_int_equal(f->tp.nwire, wire_before);
			walk_check(f, w, n, false);
		}
		requeued += lt_cl_get_stats(f->cl)->requeued;
		lt_cl_free(f->cl);
		f->cl = NULL;
		walk_check(f, w, n, true);
		for (int i = 0; i < n; i++) {
			withdrawn += w[i].withdrawn;
			if (w[i].r.calls)
				ends[w[i].r.how]++;
		}
		lt_fake_tp_free(&f->tp);
	}
	free(w);
	print_message("walks: %llu result, %llu error, %llu timeout, %llu lost, %llu refused, "
		      "%llu withdrawn, %llu requeued\n",
		      ends[0], ends[1], ends[2], ends[3], ends[4], withdrawn, requeued);
	for (int i = 0; i <= LT_DONE_REFUSED; i++)
		assert_true(ends[i] > 10);
	assert_true(withdrawn > 10 && requeued > 10);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_submit_while_not_open_waits_for_auth),
		T(test_open_sends_waiting_requests_with_ids_in_order),
		T(test_codec_encoded_request_gets_its_id),
		T(test_ids_follow_send_order_not_submit_order),
		T(test_answer_ends_result_or_error_once),
		T(test_deadline_in_each_state_ends_timeout),
		T(test_withdraw_in_each_state),
		T(test_drop_in_wait_auth_keeps_waiting),
		T(test_drop_in_wait_limit_requeues_until_next_open),
		T(test_drop_in_sent_ends_lost_never_resent),
		T(test_bound_requests_end_refused_on_drop),
		T(test_gated_waits_until_ready_and_kick),
		T(test_gated_stale_auth_epoch_is_rechecked_before_write),
		T(test_stale_gated_requests_keep_fifo_order),
		T(test_limiter_is_fifo_per_pool),
		T(test_policy_error_refuses_at_submit_with_retry_after),
		T(test_limiter_wait_over_deadline_is_refused_real_clock),
		T(test_limiter_deadline_uses_the_limiter_clock_behind),
		T(test_limiter_deadline_uses_the_limiter_clock_ahead),
		T(test_heartbeat_answer_goes_through_the_limiter),
		T(test_waiting_is_capped_at_lt_max_waiting),
		T(test_request_over_max_request_is_refused),
		T(test_free_ends_every_request_once),
		T(test_send_refused_by_transport_ends_refused),
		T(test_done_runs_inside_lt_cl_submit),
		T(test_random_interleavings_keep_the_invariants),
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
