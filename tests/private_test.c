/* private_test.c — src/private.c, the private client's authentication state machine over
 * client.c (private.h), on a fake transport and a fake limiter clock (client_test.c says how),
 * with the refresh, retry and deadline timers on a real lt_loop:
 * public/auth is the first message after every open; gated requests go only after its answer;
 * refresh keeps them flowing; a 13009 re-authenticates and fails only that call; hostile auth
 * answers are retried after a backoff, never a wedge or a storm; 10028 is retried, 13004 is
 * final; cancel-on-disconnect is restored before gated requests; random walks over all of it.
 *
 * Teardown frees the client before the lt_priv (the order private.h asks for).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "errors.h"
#include "log.h"
#include "private.h"
#include "support/fake_transport.h"
#include "support/req_rec.h"

#define CLOCK0 1000000  /* the fake clock's start: 1 s */
#define TOKEN_US 210527 /* one matching-engine credit at 4.75/s, rounded up */
#define ME_BURST 19
#define NREC 96
#define BUY "private/buy"
#define AUTH "\"method\":\"public/auth\""

typedef lt_test_rec rec;
#define lab lt_test_label

typedef struct fx {
	lua_State *L;
	lt_loop *loop;
	lt_fake_tp tp;
	lt_cl *cl;
	lt_priv *p;
	lt_cl_opts o;
	lt_priv_opts po;
	bool want_cod;
	rec rec[NREC];
	char events[1024]; /* the lt_priv's on_state events, comma-separated */
	int tokens;        /* auth answers given (token names) */
	/* random walk bookkeeping (on_send) */
	bool walk, conn_authed;
	int since_open;
	int64_t auth_out;
	char violation[256];
} fx;

static void on_priv_state(void *ud, const char *state, const char *reason)
{
	fx *f = ud;
	(void)reason;
	size_t n = strlen(f->events);
	snprintf(f->events + n, sizeof f->events - n, "%s,", state);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	lt_fake_env_open(&f->L, &f->loop, &f->tp, &f->o, CLOCK0);
	f->po.client_id = "cid-1";
	f->po.refresh_fraction = 0.8;
	f->auth_out = -1;
	*state = f;
	return 0;
}

static void stop(fx *f)
{
	lt_cl_free(f->cl); /* first: its requests' callbacks still find the lt_priv */
	lt_priv_free(f->p);
	f->cl = NULL;
	f->p = NULL;
}

static int teardown(void **state)
{
	fx *f = *state;
	lt_test_in_submit = 0;
	stop(f);
	lt_fake_env_close(f->L, f->loop, &f->tp);
	free(f);
	return 0;
}

static void start(fx *f)
{
	lt_err err;
	lt_fake_tp_arm(&f->tp);
	assert_int_equal(lt_cl_new(f->L, f->loop, &f->o, NULL, f, &f->cl, &err), 0);
	static const char secret[] = "s3cr3t-value";
	f->po.secret = lt_secret_new(secret, sizeof secret - 1);
	static const lt_priv_events ev = {on_priv_state};
	assert_int_equal(lt_priv_new(f->cl, &f->po, &ev, f, &f->p, &err), 0);
	lt_priv_want_cod(f->p, f->want_cod);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_NONE);
}

/* A fresh client and lt_priv on a fresh fake wire (for table-driven cases). */
static void restart(fx *f)
{
	stop(f);
	lt_fake_tp_free(&f->tp);
	lt_fake_tp_init(&f->tp);
	f->events[0] = '\0';
	memset(f->rec, 0, sizeof f->rec);
	lt_fake_clock_us = CLOCK0;
	start(f);
}

static lt_req *gated(fx *f, rec *r, const char *label, int64_t timeout_ms)
{
	lt_req *q = NULL;
	lt_err err;
	int rc = lt_test_submit(f->cl, r, BUY, label, LT_POOL_ME, LT_REQ_GATED, timeout_ms, &q,
				&err);
	if (rc)
		fail_msg("gated %s refused: %d %s", label, rc, err.msg);
	return q;
}

static lt_req *public(fx *f, rec *r, const char *label)
{
	lt_req *q = NULL;
	lt_err err;
	int rc = lt_test_submit(f->cl, r, "public/get_time", label, LT_POOL_NON_ME, 0, 0, &q, &err);
	if (rc)
		fail_msg("public %s refused: %d %s", label, rc, err.msg);
	return q;
}

static int auths_from(fx *f, int from) { return lt_fake_count_from(&f->tp, from, AUTH); }

/* Index of the last public/auth on the wire. */
static int last_auth(fx *f)
{
	for (int i = f->tp.nwire - 1; i >= 0; i--)
		if (strstr(f->tp.wire[i], AUTH))
			return i;
	fail_msg("no public/auth on the wire");
	return -1;
}

static void answer_auth_with(fx *f, int64_t id, const char *result)
{
	lt_fake_deliverf(&f->tp,
			 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s,"
			 "\"usIn\":1,\"usOut\":2,\"usDiff\":1,\"testnet\":true}",
			 (long long)id, result);
}

/* A valid answer to the last public/auth: new tokens, expires_in. */
static void answer_auth(fx *f, int expires_in)
{
	char r[256];
	f->tokens++;
	snprintf(r, sizeof r,
		 "{\"access_token\":\"AT%d.x\",\"expires_in\":%d,"
		 "\"refresh_token\":\"RT%d.y\",\"scope\":\"connection mainaccount\","
		 "\"token_type\":\"bearer\"}",
		 f->tokens, expires_in, f->tokens);
	answer_auth_with(f, lt_fake_id(&f->tp, last_auth(f)), r);
}

static void answer_error(fx *f, int64_t id, int code, const char *message)
{
	lt_fake_deliverf(&f->tp,
			 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":%d,"
			 "\"message\":\"%s\"}}",
			 (long long)id, code, message);
}

static void answer_result(fx *f, int64_t id)
{
	lt_fake_deliverf(&f->tp, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tag\":\"ok\"}}",
			 (long long)id);
}

/* Open and authenticate: state OK. */
static void authenticate(fx *f)
{
	lt_fake_open(&f->tp);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
}

typedef struct wait_auths {
	fx *f;
	int from, n;
} wait_auths;

static bool auths_reached(void *a)
{
	wait_auths *w = a;
	return auths_from(w->f, w->from) >= w->n;
}

/* Service the loop until n public/auth texts are on the wire from index from (or ms pass);
 * returns the milliseconds that took. */
static int64_t run_until_auths(fx *f, int from, int n, int64_t ms)
{
	wait_auths w = {f, from, n};
	return lt_test_run(f->loop, ms, auths_reached, &w);
}

typedef struct wait_wire {
	fx *f;
	int n;
} wait_wire;

static bool wire_has(void *a)
{
	wait_wire *w = a;
	return w->f->tp.nwire >= w->n;
}

static void tick(fx *f, int64_t us, int want)
{
	lt_fake_clock_us += us;
	wait_wire w = {f, want};
	lt_test_run(f->loop, 1500, wire_has, &w);
	assert_int_equal(f->tp.nwire, want);
}

/* ---- authentication first ------------------------------------------------------------------ */

/* After every open public/auth is the first text (client_signature, the client id, never the
 * secret); non-gated requests follow it, gated ones wait for its answer. */
static void test_auth_is_the_first_message_after_every_open(void **state)
{
	fx *f = *state;
	f->o.heartbeat_s = 10;
	start(f);
	lt_req *p = public(f, &f->rec[0], "p0");
	lt_req *g = gated(f, &f->rec[1], "g0", 0);
	assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
	for (int conn = 0; conn < 3; conn++) {
		int from = f->tp.nwire;
		lt_fake_open(&f->tp);
		const char *first = lt_fake_sent(&f->tp, from);
		assert_non_null(strstr(first, AUTH));
		assert_non_null(strstr(first, "\"grant_type\":\"client_signature\""));
		assert_non_null(strstr(first, "\"client_id\":\"cid-1\""));
		assert_null(strstr(first, "s3cr3t"));
		assert_int_equal(lt_priv_state(f->p), LT_AUTH_PENDING);
		assert_non_null(strstr(lt_fake_sent(&f->tp, from + 1), "public/set_heartbeat"));
		if (conn == 0) {
			assert_int_equal(lt_req_get_state(p), LT_REQ_SENT);
			assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
		}
		lt_fake_clock_us += 10 * 1000000;
		lt_test_run(f->loop, 30, NULL, NULL);
		assert_int_equal(lt_fake_count_from(&f->tp, from, BUY), 0);
		answer_auth(f, 900);
		assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
		assert_int_equal(lt_priv_epoch(f->p), (uint64_t)conn + 1);
		if (conn == 0) {
			assert_int_equal(lt_req_get_state(g), LT_REQ_SENT);
			assert_int_equal(lt_req_auth_epoch(g), 1);
		}
		lt_fake_drop(&f->tp, "test");
		assert_int_equal(lt_priv_state(f->p), LT_AUTH_NONE);
	}
	assert_int_equal(f->rec[1].calls, 1);
	assert_int_equal(f->rec[1].how, LT_DONE_LOST);
	assert_int_equal(lt_fake_count(&f->tp, lab("g0")), 1);
	assert_int_equal(lt_priv_get_stats(f->p)->auths, 3);
	assert_string_equal(f->events, "authenticating,authenticated,authenticating,authenticated,"
				       "authenticating,authenticated,");
}

/* A valid answer makes the state OK, the auth epoch 1, the connection ready, and the waiting
 * gated requests go in their order under that epoch. */
static void test_valid_answer_releases_gated_requests_in_order(void **state)
{
	fx *f = *state;
	start(f);
	lt_req *g[3];
	const char *l[3] = {"g1", "g2", "g3"};
	for (int i = 0; i < 3; i++)
		g[i] = gated(f, &f->rec[i], l[i], 5000);
	lt_fake_open(&f->tp);
	assert_int_equal(f->tp.nwire, 1);
	assert_int_equal(f->tp.set_ready_calls, 0);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_string_equal(lt_priv_state_name(f->p), "authenticated");
	assert_int_equal(lt_priv_epoch(f->p), 1);
	assert_int_equal(f->tp.set_ready_calls, 1);
	assert_int_equal(f->tp.nwire, 4);
	for (int i = 0; i < 3; i++) {
		assert_non_null(strstr(lt_fake_sent(&f->tp, 1 + i), lab(l[i])));
		assert_int_equal(lt_req_auth_epoch(g[i]), 1);
		assert_int_equal(lt_fake_id(&f->tp, 1 + i), 2 + i);
	}
	assert_string_equal(f->events, "authenticating,authenticated,");
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 3);
}

/* The defect this design fixes (30 queued orders + a drop -> 2 answered 13009): orders waiting
 * in the limiter when the connection drops go back to WAIT_AUTH and are not written on the new
 * connection before its public/auth is answered, however long the credits have been there;
 * then they go, in order, under the new epoch; the 19 lost ones are never re-sent. */
static void test_queued_orders_wait_for_the_new_auth_after_a_drop(void **state)
{
	fx *f = *state;
	start(f);
	authenticate(f);
	lt_req *o[30];
	for (int i = 0; i < 30; i++) {
		char l[16];
		snprintf(l, sizeof l, "o%d", i);
		o[i] = gated(f, &f->rec[i], l, 0);
	}
	assert_int_equal(lt_fake_count(&f->tp, BUY), ME_BURST);
	assert_int_equal(lt_req_get_state(o[ME_BURST]), LT_REQ_WAIT_LIMIT);
	int64_t lost_id = lt_req_id(o[0]);
	lt_fake_drop(&f->tp, "test");
	for (int i = 0; i < 30; i++) {
		if (i < ME_BURST) {
			assert_int_equal(f->rec[i].calls, 1);
			assert_int_equal(f->rec[i].how, LT_DONE_LOST);
		} else {
			assert_int_equal(f->rec[i].calls, 0);
			assert_int_equal(lt_req_get_state(o[i]), LT_REQ_WAIT_AUTH);
		}
	}
	int from = f->tp.nwire;
	lt_fake_open(&f->tp);
	assert_non_null(strstr(lt_fake_sent(&f->tp, from), AUTH));
	lt_fake_clock_us += 100LL * TOKEN_US; /* the bucket is full again */
	lt_test_run(f->loop, 400, NULL, NULL);
	answer_error(f, lost_id, 13009, "unauthorized"); /* a late answer to a lost order */
	lt_test_run(f->loop, 20, NULL, NULL);
	assert_int_equal(lt_fake_count_from(&f->tp, from, BUY), 0);
	assert_int_equal(f->tp.nwire, from + 1);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_epoch(f->p), 2);
	assert_int_equal(lt_fake_count_from(&f->tp, from, BUY), 30 - ME_BURST);
	for (int i = ME_BURST; i < 30; i++) {
		char l[16];
		snprintf(l, sizeof l, "o%d", i);
		assert_non_null(strstr(lt_fake_sent(&f->tp, from + 1 + i - ME_BURST), lab(l)));
		assert_int_equal(lt_req_auth_epoch(o[i]), 2);
	}
	for (int i = 0; i < 30; i++) {
		char l[16];
		snprintf(l, sizeof l, "o%d", i);
		assert_int_equal(lt_fake_count(&f->tp, lab(l)), 1);
	}
	for (int i = ME_BURST; i < 30; i++)
		answer_result(f, lt_req_id(o[i]));
	for (int i = ME_BURST; i < 30; i++) {
		assert_int_equal(f->rec[i].calls, 1);
		assert_int_equal(f->rec[i].how, LT_DONE_RESULT);
	}
	assert_int_equal(lt_priv_get_stats(f->p)->revoked, 0);
}

/* ---- refresh ----------------------------------------------------------------------------- */

/* At refresh_fraction of expires_in (at least 1 s) a refresh_token public/auth goes; the state
 * stays OK, so a gated request submitted meanwhile goes at once, before the refresh answer;
 * the answer keeps the epoch. */
static void test_refresh_keeps_gated_requests_flowing(void **state)
{
	fx *f = *state;
	f->po.refresh_fraction = 0.5;
	start(f);
	lt_fake_open(&f->tp);
	answer_auth(f, 1); /* refresh in max(0.5 s, 1 s) */
	int from = f->tp.nwire;
	int64_t ms = run_until_auths(f, from, 1, 2500);
	assert_int_equal(auths_from(f, from), 1);
	assert_true(ms >= 900);
	int r = last_auth(f);
	assert_non_null(strstr(lt_fake_sent(&f->tp, r), "\"grant_type\":\"refresh_token\""));
	assert_non_null(strstr(lt_fake_sent(&f->tp, r), "RT1.y"));
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	lt_req *g = gated(f, &f->rec[0], "during", 0);
	assert_int_equal(lt_req_get_state(g), LT_REQ_SENT);
	assert_true(f->tp.nwire - 1 > r);
	answer_auth_with(f, lt_fake_id(&f->tp, r),
			 "{\"access_token\":\"AT2\",\"expires_in\":900,\"refresh_token\":\"RT2\"}");
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_int_equal(lt_priv_epoch(f->p), 1);
	assert_int_equal(lt_priv_get_stats(f->p)->refreshes, 1);
	assert_int_equal(lt_priv_get_stats(f->p)->auths, 1);
	lt_req *h = gated(f, &f->rec[1], "after", 0);
	assert_int_equal(lt_req_get_state(h), LT_REQ_SENT);
	assert_string_equal(f->events, "authenticating,authenticated,");
	assert_int_equal(auths_from(f, 0), 2);
}

/* ---- 13009 ------------------------------------------------------------------------------- */

/* A 13009 to a gated request while OK: the state leaves OK, a fresh public/auth goes at once,
 * the failed call ends ERROR (never re-sent); a 13009 to a call of the old epoch starts no
 * second auth; later gated calls go after the new auth, under epoch 2. */
static void test_13009_reauthenticates_and_fails_only_that_call(void **state)
{
	fx *f = *state;
	start(f);
	authenticate(f);
	lt_req *a = gated(f, &f->rec[0], "a", 5000);
	lt_req *c = gated(f, &f->rec[1], "c", 5000);
	int64_t aid = lt_req_id(a), cid = lt_req_id(c);
	int from = f->tp.nwire;
	answer_error(f, aid, 13009, "unauthorized");
	rec *ra = &f->rec[0];
	assert_int_equal(ra->calls, 1);
	assert_int_equal(ra->how, LT_DONE_ERROR);
	assert_int_equal(ra->code, 13009);
	assert_true(ra->sent);
	assert_int_not_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_int_equal(f->tp.nwire, from + 1);
	assert_non_null(strstr(lt_fake_sent(&f->tp, from), AUTH));
	assert_non_null(strstr(lt_fake_sent(&f->tp, from), "client_signature"));
	assert_int_equal(lt_priv_get_stats(f->p)->revoked, 1);
	answer_error(f, cid, 13009, "unauthorized");
	assert_int_equal(f->rec[1].calls, 1);
	assert_int_equal(auths_from(f, from), 1);
	lt_req *b = gated(f, &f->rec[2], "b", 5000);
	assert_int_equal(lt_req_get_state(b), LT_REQ_WAIT_AUTH);
	assert_int_equal(lt_fake_count(&f->tp, lab("b")), 0);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_int_equal(lt_priv_epoch(f->p), 2);
	assert_int_equal(lt_req_get_state(b), LT_REQ_SENT);
	assert_int_equal(lt_req_auth_epoch(b), 2);
	lt_test_run(f->loop, 30, NULL, NULL);
	assert_int_equal(lt_fake_count(&f->tp, lab("a")), 1);
	assert_int_equal(lt_fake_count(&f->tp, lab("c")), 1);
	assert_int_equal(ra->calls, 1);
	assert_int_equal(lt_priv_get_stats(f->p)->revoked, 1);
}

/* Regression (client.c pump_pool, seen through private.c): a 13009 while orders wait in the limiter
 * sends them in REVERSE order after the new authentication (q3, q2, q1): see
 * client_test.c test_stale_gated_requests_keep_fifo_order for the cause and fix. */
static void test_13009_keeps_the_order_of_queued_orders(void **state)
{
	fx *f = *state;
	start(f);
	authenticate(f);
	lt_req *m[ME_BURST];
	for (int i = 0; i < ME_BURST; i++) {
		char l[16];
		snprintf(l, sizeof l, "m%d", i);
		m[i] = gated(f, &f->rec[i], l, 0);
	}
	const char *q[3] = {"q1", "q2", "q3"};
	for (int i = 0; i < 3; i++)
		gated(f, &f->rec[40 + i], q[i], 0);
	answer_error(f, lt_req_id(m[0]), 13009, "unauthorized");
	answer_auth(f, 900);
	int base = f->tp.nwire;
	for (int i = 0; i < 3; i++)
		tick(f, TOKEN_US, base + i + 1);
	for (int i = 0; i < 3; i++)
		if (!strstr(lt_fake_sent(&f->tp, base + i), lab(q[i])))
			fail_msg("position %d: expected %s, the wire has %s", i, q[i],
				 lt_fake_sent(&f->tp, base + i));
}

/* ---- hostile answers --------------------------------------------------------------------- */

/* Malformed auth results: each is retried after a backoff (0.25..0.5 s for the first), not at
 * once; nothing stays pending; the state is PENDING (neither OK nor FAILED); a valid answer to
 * the retry then works. */
static void test_hostile_auth_answers_are_retried_after_a_backoff(void **state)
{
	fx *f = *state;
	static const char *const cases[] = {
		"{\"refresh_token\":\"RT\",\"expires_in\":900}",      /* no access_token */
		"{\"access_token\":12345,\"expires_in\":900}",        /* not a string */
		"{\"access_token\":\"AT\",\"refresh_token\":\"RT\"}", /* no expires_in */
		"{\"access_token\":\"AT\",\"expires_in\":0}",
		"{\"access_token\":\"AT\",\"expires_in\":-900}",
		"{\"access_token\":\"AT\",\"expires_in\":1.5}",
		"{\"access_token\":\"AT\",\"expires_in\":\"900\"}",
		"{\"access_token\":\"AT\",\"expires_in\":1e19}", /* beyond int64 */
		"{\"access_token\":\"AT\",\"expires_in\":-9223372036854775808}",
		"\"ok\"",
		"null",
		"[]",
	};
	start(f);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		restart(f);
		lt_req *g = gated(f, &f->rec[0], "g", 0);
		lt_fake_open(&f->tp);
		answer_auth_with(f, lt_fake_id(&f->tp, 0), cases[i]);
		if (lt_priv_state(f->p) != LT_AUTH_PENDING)
			fail_msg("case %zu %s: state %s", i, cases[i], lt_priv_state_name(f->p));
		assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
		assert_int_equal(lt_rpc_get_stats(lt_cl_rpc(f->cl))->malformed, 0);
		assert_int_equal(auths_from(f, 0), 1); /* not at once */
		assert_true(lt_priv_get_stats(f->p)->auth_errors >= 1);
		int64_t ms = run_until_auths(f, 0, 2, 1500);
		if (auths_from(f, 0) != 2)
			fail_msg("case %zu %s: no retry within 1.5 s", i, cases[i]);
		if (ms < 200)
			fail_msg("case %zu %s: retried after %lld ms", i, cases[i], (long long)ms);
		assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
		answer_auth(f, 900);
		if (lt_priv_state(f->p) != LT_AUTH_OK)
			fail_msg("case %zu %s: wedged in %s", i, cases[i],
				 lt_priv_state_name(f->p));
		assert_int_equal(lt_req_get_state(g), LT_REQ_SENT);
		assert_null(strstr(f->events, "auth_failed"));
	}
}

/* Hostile answers again and again: the retries back off (0.5 s doubling, jittered), never a
 * storm: over 2.6 s at most 4 public/auth and at least 3; at most one in flight. */
static void test_repeated_hostile_answers_never_storm(void **state)
{
	fx *f = *state;
	start(f);
	lt_fake_open(&f->tp);
	int answered = 0;
	int64_t t0 = lt_now_us();
	while (lt_now_us() - t0 < 2600 * 1000) {
		int n = auths_from(f, 0);
		if (n > answered) {
			assert_int_equal(n, answered + 1);
			assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 1);
			answer_auth_with(f, lt_fake_id(&f->tp, last_auth(f)),
					 "{\"access_token\":\"AT\",\"expires_in\":0}");
			answered = n;
			assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
		}
		lt_test_run(f->loop, 5, NULL, NULL);
	}
	int n = auths_from(f, 0);
	if (n < 3 || n > 4)
		fail_msg("%d public/auth in 2.6 s (expected 3 or 4)", n);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_PENDING);
	assert_int_equal((int)lt_priv_get_stats(f->p)->auth_retries, answered);
}

/* expires_in huge (9e18, INT64_MAX) is clamped: authenticated, no refresh soon, no overflow
 * (UBSan build). */
static void test_huge_expires_in_is_clamped(void **state)
{
	fx *f = *state;
	static const char *const cases[] = {
		"{\"access_token\":\"AT\",\"refresh_token\":\"RT\",\"expires_in\":9e18}",
		"{\"access_token\":\"AT\",\"refresh_token\":\"RT\",\"expires_in\":"
		"9223372036854775807}",
		"{\"access_token\":\"AT\",\"refresh_token\":\"RT\",\"expires_in\":315360001}",
	};
	start(f);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		restart(f);
		lt_fake_open(&f->tp);
		answer_auth_with(f, lt_fake_id(&f->tp, 0), cases[i]);
		if (lt_priv_state(f->p) != LT_AUTH_OK)
			fail_msg("case %zu: state %s", i, lt_priv_state_name(f->p));
		lt_test_run(f->loop, 100, NULL, NULL);
		assert_int_equal(auths_from(f, 0), 1);
	}
}

/* Regression (json_decode.c / lua_secret.c, as private.c meets it): an auth result with
 * "access_token":"" is dropped whole as a malformed message: the decoder pushes the token with
 * lt_lua_secret_push, which raises ("secret: empty or out of memory") for an empty string, so
 * the answer never reaches auth_done; the request stays pending until auth_timeout_ms (10 s by
 * default) and only then is retried, instead of the promised backoff for "an empty one"
 * (private.h). Fix: decode an empty secret as nil (or an empty secret) instead of raising, in
 * json_decode.c cb_string (check len == 0 before lt_lua_secret_push). */
static void test_empty_access_token_is_retried_after_a_backoff(void **state)
{
	fx *f = *state;
	f->po.auth_timeout_ms = 5000;
	start(f);
	lt_fake_open(&f->tp);
	answer_auth_with(f, lt_fake_id(&f->tp, 0),
			 "{\"access_token\":\"\",\"refresh_token\":\"RT\",\"expires_in\":900}");
	unsigned long long malformed = lt_rpc_get_stats(lt_cl_rpc(f->cl))->malformed;
	int pending = lt_rpc_pending_count(lt_cl_rpc(f->cl));
	run_until_auths(f, 0, 2, 1500);
	if (auths_from(f, 0) != 2)
		fail_msg("no retry within 1.5 s (answer counted malformed: %llu, auth still "
			 "pending: "
			 "%d, state %s)",
			 malformed, pending, lt_priv_state_name(f->p));
	assert_int_equal(malformed, 0);
}

/* A 10028 (too_many_requests) to public/auth is retryable: retried after a backoff (the pool
 * was drained and the transport told to hold off), not auth_failed. */
static void test_10028_on_auth_is_retried_later(void **state)
{
	fx *f = *state;
	start(f);
	lt_fake_open(&f->tp);
	answer_error(f, lt_fake_id(&f->tp, 0), 10028, "too_many_requests");
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_PENDING);
	assert_null(strstr(f->events, "auth_failed"));
	assert_int_equal(f->tp.hold_off_calls, 1);
	assert_int_equal(f->tp.last_hold_off_ms, 5000);
	assert_int_equal(auths_from(f, 0), 1);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 0);
	lt_fake_clock_us += 1000000; /* the drained pool refills */
	int64_t ms = run_until_auths(f, 0, 2, 1500);
	assert_int_equal(auths_from(f, 0), 2);
	assert_true(ms >= 200);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_int_equal(lt_priv_get_stats(f->p)->auth_retries, 1);
}

/* A 13004 (invalid_credentials) is final: FAILED and auth_failed; waiting gated requests end
 * REFUSED with 13004, new ones are refused at submit with 13004; public requests still go; no
 * retry, not even after a reconnect. */
static void test_13004_fails_for_good_and_refuses_gated_requests(void **state)
{
	fx *f = *state;
	start(f);
	rec *rg = &f->rec[0];
	gated(f, rg, "g1", 5000);
	public(f, &f->rec[1], "p1");
	lt_fake_open(&f->tp);
	assert_int_equal(lt_fake_count(&f->tp, lab("p1")), 1);
	answer_error(f, lt_fake_id(&f->tp, 0), 13004, "invalid_credentials");
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_FAILED);
	assert_string_equal(f->events, "authenticating,auth_failed,");
	const char *msg = NULL;
	assert_int_equal(lt_priv_fail(f->p, &msg), 13004);
	assert_non_null(strstr(msg, "invalid_credentials"));
	assert_null(strstr(msg, "s3cr3t"));
	assert_int_equal(rg->calls, 1);
	assert_int_equal(rg->how, LT_DONE_REFUSED);
	assert_int_equal(rg->code, 13004);
	assert_false(rg->sent);
	lt_req *q = (lt_req *)1;
	lt_err err;
	assert_int_equal(
		lt_test_submit(f->cl, &f->rec[2], BUY, "g2", LT_POOL_ME, LT_REQ_GATED, 0, &q, &err),
		LT_ESTATE);
	assert_null(q);
	assert_int_equal(lt_cl_refusal(f->cl, NULL), 13004);
	assert_non_null(strstr(err.msg, "authentication failed"));
	public(f, &f->rec[3], "p2");
	assert_int_equal(lt_fake_count(&f->tp, lab("p2")), 1);
	lt_test_run(f->loop, 800, NULL, NULL);
	assert_int_equal(auths_from(f, 0), 1);
	lt_fake_drop(&f->tp, "test");
	int from = f->tp.nwire;
	lt_fake_open(&f->tp);
	public(f, &f->rec[4], "p3");
	assert_int_equal(auths_from(f, from), 0);
	assert_int_equal(lt_fake_count(&f->tp, lab("p3")), 1);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_FAILED);
	assert_int_equal(f->rec[2].calls, 0);
	assert_int_equal(lt_fake_count(&f->tp, BUY), 0);
}

/* No answer within auth_timeout_ms: retried after a backoff; a late answer to the first
 * attempt is an unknown id and does not authenticate. */
static void test_auth_timeout_is_retried(void **state)
{
	fx *f = *state;
	f->po.auth_timeout_ms = 100;
	start(f);
	lt_fake_open(&f->tp);
	int64_t first = lt_fake_id(&f->tp, 0);
	int64_t ms = run_until_auths(f, 0, 2, 1500);
	assert_int_equal(auths_from(f, 0), 2);
	assert_true(ms >= 300);
	assert_int_equal(lt_rpc_pending_count(lt_cl_rpc(f->cl)), 1);
	answer_auth_with(f, first, "{\"access_token\":\"AT\",\"expires_in\":900}");
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_PENDING);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
}

/* Regression (private.c auth_done): an auth request that ends REFUSED while the connection is open
 * (the transport refused the write: its send queue is full; or the limiter refused it) is
 * ignored ("LOST / REFUSED: the connection went away"), so nothing ever retries: the state
 * stays PENDING with no auth in flight and no retry timer, and every gated request waits
 * until its deadline (forever without one) — a wedge until the connection happens to drop.
 * Fix: in auth_done, on LT_DONE_REFUSED (and LOST) while lt_cl_is_open(p->cl) and the
 * request's connection is the current one, retry_later(p, ...) as for a timeout. */
static void test_auth_refused_by_the_transport_is_retried(void **state)
{
	fx *f = *state;
	start(f);
	gated(f, &f->rec[0], "g", 0);
	f->tp.send_rc = LT_EFULL;
	f->tp.fail_sends = 1;
	lt_fake_open(&f->tp);
	assert_int_equal(auths_from(f, 0), 0);
	run_until_auths(f, 0, 1, 2000);
	if (auths_from(f, 0) != 1)
		fail_msg("wedged: state %s, %d pending, no public/auth retried within 2 s",
			 lt_priv_state_name(f->p), lt_rpc_pending_count(lt_cl_rpc(f->cl)));
}

/* Regression (private.c, the shared p->refreshing flag): "was this answer a refresh?" is read from
 * one flag that send_auth overwrites. When a 13009 starts a fresh authentication while a
 * refresh is in flight, send_auth(p, false) clears p->refreshing, so the refresh's answer is
 * taken for the fresh auth's: a refresh refused (its token died with the session) becomes
 * auth_failed — FAILED, gated requests refused with an auth error, "auth_failed" emitted —
 * although the fresh authentication is still under way (and then un-fails the "sticky" state
 * when it succeeds). Fix: carry the kind per request (e.g. lt_req_tag = 1 for a refresh,
 * read with lt_req_tag(r) in auth_done) and ignore answers of an auth request that a newer
 * one superseded (keep the current one's lt_req and compare). */
static void test_refresh_answer_is_not_taken_for_the_fresh_auth(void **state)
{
	fx *f = *state;
	f->po.refresh_fraction = 0.5;
	start(f);
	lt_fake_open(&f->tp);
	answer_auth(f, 1);
	lt_req *a = gated(f, &f->rec[0], "a", 0);
	int64_t aid = lt_req_id(a);
	int from = f->tp.nwire;
	run_until_auths(f, from, 1, 2500);
	assert_int_equal(auths_from(f, from), 1);
	int r = last_auth(f);
	assert_non_null(strstr(lt_fake_sent(&f->tp, r), "refresh_token"));
	int64_t rid = lt_fake_id(&f->tp, r);
	answer_error(f, aid, 13009, "unauthorized"); /* the session is gone */
	int fi = last_auth(f);
	assert_true(fi > r);
	assert_non_null(strstr(lt_fake_sent(&f->tp, fi), "client_signature"));
	answer_error(f, rid, 13009, "unauthorized"); /* so is the refresh token */
	if (lt_priv_state(f->p) == LT_AUTH_FAILED || strstr(f->events, "auth_failed"))
		fail_msg("the refresh's error was taken for the fresh auth's: state %s, events %s",
			 lt_priv_state_name(f->p), f->events);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
}

/* Regression (client.c rpc_done): the private layer hears of a gated answer only when the request
 * still has an owner ("if (... && cl->hooks.on_answer && r->done)"): a 13009 to a request that
 * was withdrawn (its task went away) is dropped without re-authenticating, although it says the
 * same thing — the venue no longer knows the session — and the next orders are written into the
 * dead session (each then costs a 13009). Fix: call hooks.on_answer for every GATED answer,
 * withdrawn or not (on_answer does not touch the owner). */
static void test_13009_to_a_withdrawn_request_still_reauthenticates(void **state)
{
	fx *f = *state;
	start(f);
	authenticate(f);
	lt_req *a = gated(f, &f->rec[0], "a", 0);
	int64_t aid = lt_req_id(a);
	lt_req_withdraw(a);
	int from = f->tp.nwire;
	answer_error(f, aid, 13009, "unauthorized");
	assert_int_equal(f->rec[0].calls, 0);
	if (lt_priv_state(f->p) == LT_AUTH_OK || auths_from(f, from) != 1)
		fail_msg("a 13009 to a withdrawn order: state %s, %d public/auth sent",
			 lt_priv_state_name(f->p), auths_from(f, from));
}

/* Closing a private client (lt_cl_free, then lt_priv_free) with requests in every state: the
 * waiting ones end REFUSED, the sent ones LOST, each exactly once; its own requests (auth,
 * restore) end quietly; ASan/LSan clean. */
static void test_free_with_requests_in_every_state(void **state)
{
	fx *f = *state;
	start(f);
	authenticate(f);
	for (int i = 0; i < ME_BURST + 2; i++) {
		char l[16];
		snprintf(l, sizeof l, "o%d", i);
		gated(f, &f->rec[i], l, 5000);
	}
	public(f, &f->rec[40], "p");
	lt_req *wl = gated(f, &f->rec[41], "wl", 0);
	assert_int_equal(lt_req_get_state(wl), LT_REQ_WAIT_LIMIT);
	answer_error(f, lt_fake_id(&f->tp, 1), 13009, "unauthorized"); /* a re-auth in flight */
	lt_req *wa = gated(f, &f->rec[42], "wa", 5000);
	assert_int_equal(lt_req_get_state(wa), LT_REQ_WAIT_AUTH);
	lt_cl_free(f->cl);
	f->cl = NULL;
	lt_priv_free(f->p);
	f->p = NULL;
	for (int i = 0; i < 43; i++) {
		rec *r = &f->rec[i];
		if (i > ME_BURST + 1 && i < 40)
			continue;
		if (r->calls != 1)
			fail_msg("request %d ended %d times", i, r->calls);
		if (i == 0)
			assert_int_equal(r->how, LT_DONE_ERROR); /* the 13009 */
		else if (i < ME_BURST || i == 40)
			assert_int_equal(r->how, LT_DONE_LOST);
		else {
			assert_int_equal(r->how, LT_DONE_REFUSED);
			assert_false(r->sent);
		}
	}
	lt_test_run(f->loop, 30, NULL, NULL); /* no timer of theirs left */
}

/* ---- restore after authentication -------------------------------------------------------- */

/* With cancel-on-disconnect wanted, private/enable_cancel_on_disconnect (connection scope)
 * goes right after the auth answer and gated requests wait until it is answered. */
static void test_cancel_on_disconnect_is_restored_before_gated_requests(void **state)
{
	fx *f = *state;
	f->want_cod = true;
	start(f);
	assert_true(lt_priv_cod_wanted(f->p));
	lt_req *g = gated(f, &f->rec[0], "g", 0);
	lt_fake_open(&f->tp);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_RESTORING);
	assert_int_equal(f->tp.nwire, 2);
	assert_non_null(strstr(lt_fake_sent(&f->tp, 1), "private/enable_cancel_on_disconnect"));
	assert_non_null(strstr(lt_fake_sent(&f->tp, 1), "\"scope\":\"connection\""));
	assert_int_equal(lt_req_get_state(g), LT_REQ_WAIT_AUTH);
	assert_string_equal(f->events, "authenticating,");
	lt_fake_deliverf(&f->tp, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"ok\"}",
			 (long long)lt_fake_id(&f->tp, 1));
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	assert_string_equal(f->events, "authenticating,authenticated,");
	assert_int_equal(lt_req_get_state(g), LT_REQ_SENT);
	assert_int_equal(f->tp.nwire, 3);
}

/* Regression (private.c cod_done / limits_done -> restored_one): when the connection drops while a
 * restore is in flight, the client ends it LOST (or REFUSED) and its done callback counts it as
 * "restored": the state becomes OK, "authenticated" is emitted and lt_cl_set_ready resets the
 * reconnect backoff — on a connection that just dropped (on_drop then sets NONE). Fix: in
 * cod_done / limits_done, only count the restore when e->how is RESULT or ERROR (or when the
 * request's connection epoch is still the current one); on LOST/REFUSED do nothing. */
static void test_drop_while_restoring_does_not_report_authenticated(void **state)
{
	fx *f = *state;
	f->want_cod = true;
	start(f);
	lt_fake_open(&f->tp);
	answer_auth(f, 900);
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_RESTORING);
	size_t mark = strlen(f->events);
	lt_fake_drop(&f->tp, "test");
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_NONE);
	if (strstr(f->events + mark, "authenticated") || f->tp.set_ready_calls)
		fail_msg("after the drop: events \"%s\", set_ready called %d times",
			 f->events + mark, f->tp.set_ready_calls);
}

/* Regression (private.c limits_done): tier = "auto" applies the account's limits with
 * lt_rl_set_bucket(..., lt_now_us()) — the real clock — while the client's limiter runs on
 * lt_cl_opts.now_us; with a fake clock the bucket's last refill lands in its future and it
 * never refills (the next order waits forever). Fix: use the client's clock (expose it, e.g.
 * int64_t lt_cl_now_us(const lt_cl *), and call it in limits_done). */
static void test_tier_auto_limits_use_the_client_clock(void **state)
{
	fx *f = *state;
	f->po.tier_auto = true;
	start(f);
	lt_fake_open(&f->tp);
	answer_auth(f, 900);
	int s = lt_fake_find(&f->tp, 0, "private/get_account_summary");
	assert_true(s > 0);
	lt_fake_deliverf(&f->tp,
			 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"currency\":\"BTC\","
			 "\"limits\":{\"limits_per_currency\":false,\"non_matching_engine\":"
			 "{\"rate\":20,\"burst\":100},\"matching_engine\":{\"trading\":{\"total\":"
			 "{\"rate\":5,\"burst\":20}}}}}}",
			 (long long)lt_fake_id(&f->tp, s));
	assert_int_equal(lt_priv_state(f->p), LT_AUTH_OK);
	for (int i = 0; i < ME_BURST; i++) {
		char l[16];
		snprintf(l, sizeof l, "m%d", i);
		gated(f, &f->rec[i], l, 0);
	}
	int base = f->tp.nwire;
	assert_int_equal(lt_fake_count(&f->tp, BUY), ME_BURST);
	lt_req *w = gated(f, &f->rec[40], "w", 0);
	assert_int_equal(lt_req_get_state(w), LT_REQ_WAIT_LIMIT);
	lt_fake_clock_us += 2 * TOKEN_US;
	wait_wire ww = {f, base + 1};
	lt_test_run(f->loop, 1000, wire_has, &ww);
	if (lt_req_get_state(w) != LT_REQ_SENT)
		fail_msg("the matching-engine bucket never refilled on the client's clock");
}

/* The order private.h documents, lt_cl_free then lt_priv_free, with the auth and restore
 * requests in flight: lt_cl_free ends them through auth_done / cod_done while the lt_priv is
 * alive; nothing touches it after lt_priv_free. Run in a child process so that an
 * AddressSanitizer report fails this test instead of the whole binary. */
static void test_cl_free_then_priv_free_with_requests_in_flight(void **state)
{
	fx *f = *state;
	f->want_cod = true;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		start(f);
		lt_fake_open(&f->tp);
		answer_auth(f, 900); /* the cod restore is in flight */
		gated(f, &f->rec[0], "g", 0);
		lt_fake_drop(&f->tp, "test");
		lt_fake_open(&f->tp); /* a new public/auth is in flight */
		lt_cl_free(f->cl);    /* the order private.h documents */
		lt_priv_free(f->p);
		_exit(0);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("lt_cl_free then lt_priv_free crashed the child (status 0x%x): see the "
			 "AddressSanitizer report above",
			 st);
}

/* ---- every interleaving (bounded random walks) ---------------------------------------------- */

/* Watches each text as it is written: an order (private/buy) only while the state is OK on a
 * connection whose public/auth was answered; public/auth first after each open (unless
 * FAILED); never two public/auth in flight on one connection. */
static void walk_on_send(void *ud, const char *text)
{
	fx *f = ud;
	bool is_auth = strstr(text, AUTH) != NULL;
	if (f->since_open++ == 0 && !is_auth && lt_priv_state(f->p) != LT_AUTH_FAILED &&
	    !f->violation[0])
		snprintf(f->violation, sizeof f->violation, "first text after open: %.80s", text);
	if (is_auth) {
		if (f->auth_out >= 0 && !f->violation[0])
			snprintf(f->violation, sizeof f->violation,
				 "a second public/auth in flight");
		f->auth_out = strtoll(text + strlen("{\"jsonrpc\":\"2.0\",\"id\":"), NULL, 10);
	}
	if (strstr(text, BUY) && !(f->conn_authed && lt_priv_state(f->p) == LT_AUTH_OK) &&
	    !f->violation[0])
		snprintf(f->violation, sizeof f->violation, "an order written while %s (authed %d)",
			 lt_priv_state_name(f->p), f->conn_authed);
}

#define WALK_REQS 40

typedef struct walk_req {
	lt_req *q;
	rec r;
	bool withdrawn, accepted, gated;
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

static void walk_check(fx *f, walk_req *w, int n, bool at_end)
{
	if (f->violation[0])
		fail_msg("%s", f->violation);
	for (int i = 0; i < n; i++) {
		walk_req *x = &w[i];
		int on_wire = lt_fake_count(&f->tp, lab(x->label));
		if (on_wire > 1)
			fail_msg("%s written %d times", x->label, on_wire);
		if (x->r.calls > 1)
			fail_msg("%s ended %d times", x->label, x->r.calls);
		if (x->withdrawn && x->r.calls)
			fail_msg("%s withdrawn but called back", x->label);
		if (x->r.calls && x->r.sent != (on_wire == 1))
			fail_msg("%s ended how=%d sent=%d, on the wire %d times", x->label,
				 x->r.how, x->r.sent, on_wire);
		if (x->r.anomalies)
			fail_msg("%s: value on L mismatched", x->label);
		if (at_end && x->accepted && !x->withdrawn && x->r.calls != 1)
			fail_msg("%s ended %d times at the end", x->label, x->r.calls);
	}
}

static void test_random_interleavings_keep_the_invariants(void **state)
{
	fx *f = *state;
	walk_req *w = calloc(WALK_REQS, sizeof *w);
	assert_non_null(w);
	start(f);
	/* what the walks went through, so that they are known to reach every path */
	unsigned long long orders = 0, revoked = 0, retries = 0, auths = 0, failed = 0, lost = 0,
			   refused = 0, requeued = 0;
	for (uint64_t seed = 1; seed <= 150; seed++) {
		rnd_state = seed * 0x2545f4914f6cdd1dull;
		restart(f);
		f->tp.on_send = walk_on_send;
		/* small buckets, so that requests do wait in WAIT_LIMIT: 3 of each at once */
		lt_rl_set_bucket(lt_cl_rl(f->cl), LT_POOL_ME, 4, 5, lt_fake_clock_us);
		lt_rl_set_bucket(lt_cl_rl(f->cl), LT_POOL_NON_ME, 2000, 5000, lt_fake_clock_us);
		f->tp.on_send_ud = f;
		f->violation[0] = '\0';
		f->conn_authed = false;
		f->auth_out = -1;
		memset(w, 0, WALK_REQS * sizeof *w);
		int n = 0;
		bool waited = false;
		for (int step = 0; step < 70; step++) {
			unsigned ev = rnd(100);
			if (ev < 30 && n < WALK_REQS) {
				walk_req *x = &w[n];
				snprintf(x->label, sizeof x->label, "r%d", n);
				x->gated = rnd(3) != 0;
				lt_err err;
				int rc = lt_test_submit(
					f->cl, &x->r, x->gated ? BUY : "public/get_time", x->label,
					x->gated ? LT_POOL_ME : LT_POOL_NON_ME,
					x->gated ? LT_REQ_GATED : 0, rnd(4) == 0 ? 1 + rnd(5) : 0,
					&x->q, &err);
				x->accepted = rc == 0;
				n++;
			} else if (ev < 40) {
				if (!lt_cl_is_open(f->cl)) {
					f->since_open = 0;
					f->conn_authed = false;
					f->auth_out = -1;
					lt_fake_open(&f->tp);
				}
			} else if (ev < 46) {
				lt_fake_drop(&f->tp, "walk");
				f->conn_authed = false;
				f->auth_out = -1;
			} else if (ev < 62) {
				if (f->auth_out >= 0) {
					int64_t id = f->auth_out;
					unsigned k = rnd(100);
					f->auth_out = -1;
					if (k < 70) {
						f->conn_authed =
							true; /* before: orders go inside */
						answer_auth_with(f, id,
								 "{\"access_token\":\"AT\","
								 "\"refresh_token\":\"RT\","
								 "\"expires_in\":900}");
					} else if (k < 85)
						answer_auth_with(f, id,
								 "{\"access_token\":\"AT\","
								 "\"expires_in\":-1}");
					else if (k < 97)
						answer_error(f, id, 10028, "too_many_requests");
					else
						answer_error(f, id, 13004, "invalid_credentials");
				}
			} else if (ev < 76 && n) {
				walk_req *x = &w[rnd((unsigned)n)];
				int i = lt_fake_find(&f->tp, 0, lab(x->label));
				if (i >= 0) {
					int64_t id = lt_fake_id(&f->tp, i);
					if (x->gated && rnd(3) == 0)
						answer_error(f, id, 13009, "unauthorized");
					else
						answer_result(f, id);
				}
			} else if (ev < 82 && n) {
				walk_req *x = &w[rnd((unsigned)n)];
				if (x->accepted && !x->withdrawn && !x->r.calls) {
					lt_req_withdraw(x->q);
					x->withdrawn = true;
				}
			} else if (ev < 94) {
				lt_fake_clock_us += rnd(2) ? TOKEN_US : 1000000;
				lt_test_run(f->loop, 1 + rnd(4), NULL, NULL);
			} else if (ev < 98) {
				lt_test_run(f->loop, 1 + rnd(6), NULL, NULL);
			} else if (seed % 3 == 0 && !waited && lt_cl_is_open(f->cl) &&
				   lt_priv_state(f->p) == LT_AUTH_PENDING && f->auth_out < 0) {
				/* a retry is due: let its timer fire (once per walk: it is slow) */
				waited = true;
				run_until_auths(f, f->tp.nwire, 1, 600);
			}
			walk_check(f, w, n, false);
		}
		orders += (unsigned long long)lt_fake_count(&f->tp, BUY);
		revoked += lt_priv_get_stats(f->p)->revoked;
		retries += lt_priv_get_stats(f->p)->auth_retries;
		auths += lt_priv_get_stats(f->p)->auths;
		failed += lt_priv_state(f->p) == LT_AUTH_FAILED;
		requeued += lt_cl_get_stats(f->cl)->requeued;
		f->tp.on_send = NULL;
		lt_cl_free(f->cl);
		f->cl = NULL;
		walk_check(f, w, n, true);
		for (int i = 0; i < n; i++) {
			lost += w[i].r.how == LT_DONE_LOST && w[i].r.calls;
			refused += w[i].r.how == LT_DONE_REFUSED && w[i].r.calls && w[i].gated;
		}
	}
	free(w);
	print_message("walks: %llu orders written, %llu auths, %llu retries, %llu revoked, "
		      "%llu failed, %llu lost, %llu gated refused, %llu requeued\n",
		      orders, auths, retries, revoked, failed, lost, refused, requeued);
	assert_true(orders > 100 && auths > 100 && retries > 10 && revoked > 10 && failed > 0 &&
		    lost > 10 && refused > 10 && requeued > 10);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_auth_is_the_first_message_after_every_open),
		T(test_valid_answer_releases_gated_requests_in_order),
		T(test_queued_orders_wait_for_the_new_auth_after_a_drop),
		T(test_refresh_keeps_gated_requests_flowing),
		T(test_13009_reauthenticates_and_fails_only_that_call),
		T(test_13009_keeps_the_order_of_queued_orders),
		T(test_hostile_auth_answers_are_retried_after_a_backoff),
		T(test_repeated_hostile_answers_never_storm),
		T(test_huge_expires_in_is_clamped),
		T(test_empty_access_token_is_retried_after_a_backoff),
		T(test_10028_on_auth_is_retried_later),
		T(test_13004_fails_for_good_and_refuses_gated_requests),
		T(test_auth_timeout_is_retried),
		T(test_auth_refused_by_the_transport_is_retried),
		T(test_refresh_answer_is_not_taken_for_the_fresh_auth),
		T(test_13009_to_a_withdrawn_request_still_reauthenticates),
		T(test_free_with_requests_in_every_state),
		T(test_cancel_on_disconnect_is_restored_before_gated_requests),
		T(test_drop_while_restoring_does_not_report_authenticated),
		T(test_tier_auto_limits_use_the_client_clock),
		T(test_random_interleavings_keep_the_invariants),
		T(test_cl_free_then_priv_free_with_requests_in_flight),
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
