/* sim_faults_more_test.c — the venue's soak faults (src/sim/faults_more.c) and sim/fault's
 * `conn` member (src/sim/faults.c) over real wss on loopback (sim_wire.h): acting on another
 * connection (answered on the asking one, also for drop), an oversize frame past the venue's
 * own queue limit, a frame that is not UTF-8, access tokens expired with the refresh token
 * still valid, a drop at the N-th request before or after processing it (an order placed
 * whose answer is lost), book notifications with a gap, and bad parameters named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_wire.h"

#define ACCOUNTS "alice:sa"
#define PRIV "private/get_cancel_on_disconnect"

static int setup(void **state)
{
	static wire w;
	wire_up(&w, ACCOUNTS);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	wire_down(*state);
	return 0;
}

/* The venue's number for c's connection (sim/events "conn"). */
static int64_t conn_id(wc *c)
{
	yajl_val r = wc_call(c, "sim/events", "{\"max\":1}", 3000);
	int64_t id = jint(r, "result", "conn", NULL);
	yajl_tree_free(r);
	return id;
}

/* ---- conn -------------------------------------------------------------------------------- */

static void test_conn_acts_on_another_connection_and_answers_here(void **state)
{
	wire *w = *state;
	wc *ctl = wc_open(w), *victim = wc_open(w);
	char p[128];
	snprintf(p, sizeof p, "{\"action\":\"drop\",\"conn\":%lld}", (long long)conn_id(victim));
	wc_ok(ctl, "sim/fault", p); /* drop gets no answer on its own connection; here it does */
	wire_until(w, wc_is_closed, victim, 3000);
	assert_true(victim->closed);
	assert_int_equal(victim->close_code, 0);
	wc_alive(ctl);
	/* an error armed on another connection hits that one's next request, not ours */
	wc *v2 = wc_open(w);
	snprintf(p, sizeof p, "{\"action\":\"error\",\"code\":11094,\"conn\":%lld}",
		 (long long)conn_id(v2));
	wc_ok(ctl, "sim/fault", p);
	wc_alive(ctl);
	assert_int_equal(wc_err(v2, "public/get_time", "{}", NULL), 11094);
	wc_alive(v2);
	wc_close(ctl);
	wc_close(v2);
}

static void test_conn_unknown_is_named(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	const char *param;
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"drop\",\"conn\":999999}", &param),
			 -32602);
	assert_string_equal(param, "conn");
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"drop\",\"conn\":\"x\"}", &param),
			 -32602);
	assert_string_equal(param, "conn");
	wc_alive(c);
	wc_close(c);
}

/* ---- oversize, invalid_utf8 -------------------------------------------------------------- */

static bool has_long_msg(void *arg)
{
	wc *c = arg;
	for (size_t i = 0; i < c->nmsgs; i++)
		if (strlen(c->msgs[i]) > 8 * 1024 * 1024)
			return true;
	return c->closed;
}

static void test_oversize_sends_one_frame_past_the_queue_limit(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	wc_ok(c, "sim/fault", "{\"action\":\"oversize\"}");
	wire_until(w, has_long_msg, c, 30000); /* 8 MiB: seconds under ASan on a loaded machine */
	assert_false(c->closed);               /* not dropped as a slow reader */
	size_t n = 0;
	for (size_t i = 0; i < c->nmsgs; i++)
		if (strlen(c->msgs[i]) > 8 * 1024 * 1024) {
			n = strlen(c->msgs[i]);
			assert_non_null(strstr(c->msgs[i], "\"sim.oversize\""));
		}
	assert_int_equal(n, 8 * 1024 * 1024 + 1024);
	wc_alive(c); /* and the connection works on */
	const char *param;
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"oversize\",\"bytes\":0}", &param),
			 -32602);
	assert_string_equal(param, "bytes");
	wc_close(c);
}

static void test_invalid_utf8_sends_bytes_that_are_not_utf8(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	size_t before = c->nmsgs;
	wc_ok(c, "sim/fault", "{\"action\":\"invalid_utf8\"}");
	wc_alive(c);
	bool seen = false;
	for (size_t i = before; i < c->nmsgs; i++)
		seen |= strstr(c->msgs[i], "sim.utf8") && strstr(c->msgs[i], "\xff\xfe");
	assert_true(seen);
	wc_close(c);
}

/* ---- expire_tokens ----------------------------------------------------------------------- */

static void test_expire_tokens_needs_a_new_auth_and_refresh_still_works(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w), *anon = wc_open(w);
	char refresh[128], p[256];
	snprintf(refresh, sizeof refresh, "%s", wc_auth(c, "alice", "sa", NULL));
	yajl_val r = wc_call(c, PRIV, "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	wc_ok(anon, "sim/fault", "{\"action\":\"expire_tokens\",\"account\":\"alice\"}");
	assert_int_equal(wc_err(c, PRIV, "{}", NULL), 13009);
	snprintf(p, sizeof p, "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"%s\"}",
		 refresh);
	r = wc_call(c, "public/auth", p, 3000);
	assert_non_null(jstr(r, "result", "access_token", NULL)); /* unlike revoke_tokens */
	yajl_tree_free(r);
	r = wc_call(c, PRIV, "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL));
	yajl_tree_free(r);
	const char *param;
	assert_int_equal(wc_err(anon, "sim/fault", "{\"action\":\"expire_tokens\"}", &param),
			 -32602);
	assert_string_equal(param, "account");
	wc_close(c);
	wc_close(anon);
}

/* ---- drop_after -------------------------------------------------------------------------- */

static void test_drop_after_drops_at_the_nth_request_unprocessed(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	wc_ok(c, "sim/fault", "{\"action\":\"drop_after\",\"count\":2,\"method\":\"public/test\"}");
	wc_alive(c); /* another method does not count */
	yajl_val r = wc_call(c, "public/test", "{}", 3000);
	assert_non_null(jget(r, "result", NULL, NULL)); /* the first one is answered */
	yajl_tree_free(r);
	int64_t id = wc_req(c, "public/test", "{}");
	wire_until(w, wc_is_closed, c, 3000);
	assert_true(c->closed);
	assert_int_equal(c->close_code, 0);
	assert_null(wc_wait_id(c, id, 10));
	wc_close(c);
}

static void test_drop_after_process_places_the_order_and_loses_the_answer(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w), *obs = wc_open(w);
	wc_auth(c, "alice", "sa", NULL);
	wc_ok(c, "sim/fault",
	      "{\"action\":\"drop_after\",\"method\":\"private/buy\",\"process\":true}");
	int64_t id =
		wc_req(c, "private/buy",
		       "{\"instrument_name\":\"BTC-PERPETUAL\","
		       "\"amount\":10,\"type\":\"limit\",\"price\":1000,\"label\":\"lost-1\"}");
	wire_until(w, wc_is_closed, c, 3000);
	assert_true(c->closed);
	assert_null(wc_wait_id(c, id, 10));
	/* the venue did place it: the event log has its state */
	yajl_val r = wc_call(obs, "sim/events", "{\"max\":4096}", 3000);
	yajl_val evs = jget(r, "result", "events", NULL);
	assert_non_null(evs);
	int placed = 0;
	for (size_t i = 0; i < evs->u.array.len; i++) {
		const char *ev = jstr(evs->u.array.values[i], "ev", NULL, NULL);
		const char *label = jstr(evs->u.array.values[i], "label", NULL, NULL);
		const char *st = jstr(evs->u.array.values[i], "state", NULL, NULL);
		if (ev && strcmp(ev, "state") == 0 && label && strcmp(label, "lost-1") == 0 && st &&
		    strcmp(st, "open") == 0)
			placed++;
	}
	assert_int_equal(placed, 1);
	yajl_tree_free(r);
	const char *param;
	assert_int_equal(
		wc_err(obs, "sim/fault", "{\"action\":\"drop_after\",\"count\":0}", &param),
		-32602);
	assert_string_equal(param, "count");
	assert_int_equal(
		wc_err(obs, "sim/fault", "{\"action\":\"drop_after\",\"process\":1}", &param),
		-32602);
	assert_string_equal(param, "process");
	wc_close(obs);
}

/* ---- book_gap ---------------------------------------------------------------------------- */

/* Gaps among c's book change notifications from msgs[from]: prev_change_id != the last
 * change_id; *changes counts the changes seen. */
static int gaps(wc *c, size_t from, int *changes)
{
	int n = 0;
	int64_t last = -1;
	*changes = 0;
	for (size_t i = from; i < c->nmsgs; i++) {
		yajl_val m = yajl_tree_parse(c->msgs[i], NULL, 0);
		const char *ch = jstr(m, "params", "channel", NULL);
		if (ch && strncmp(ch, "book.", 5) == 0) {
			const char *type = jstr(m, "params", "data", "type");
			int64_t cid = jint(m, "params", "data", "change_id");
			if (type && strcmp(type, "change") == 0) {
				(*changes)++;
				if (last >= 0 &&
				    jint(m, "params", "data", "prev_change_id") != last)
					n++;
			}
			last = cid;
		}
		yajl_tree_free(m);
	}
	return n;
}

static void test_book_gap_breaks_the_change_id_chain(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	size_t from = c->nmsgs;
	yajl_val r = wc_call(c, "public/subscribe", "{\"channels\":[\"book.BTC-PERPETUAL.100ms\"]}",
			     3000);
	assert_non_null(r);
	yajl_tree_free(r);
	wire_run(w, 600);
	int changes;
	assert_int_equal(gaps(c, from, &changes), 0); /* the chain holds without the fault */
	assert_true(changes > 0);
	int before = changes;
	wc_ok(c, "sim/fault", "{\"action\":\"book_gap\",\"count\":2}");
	wire_run(w, 1500);
	assert_int_equal(gaps(c, from, &changes), 2); /* exactly the next two changes */
	assert_true(changes > before + 2);
	const char *param;
	assert_int_equal(wc_err(c, "sim/fault", "{\"action\":\"book_gap\",\"count\":0}", &param),
			 -32602);
	assert_string_equal(param, "count");
	wc_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_acts_on_another_connection_and_answers_here),
		cmocka_unit_test(test_conn_unknown_is_named),
		cmocka_unit_test(test_oversize_sends_one_frame_past_the_queue_limit),
		cmocka_unit_test(test_invalid_utf8_sends_bytes_that_are_not_utf8),
		cmocka_unit_test(test_expire_tokens_needs_a_new_auth_and_refresh_still_works),
		cmocka_unit_test(test_drop_after_drops_at_the_nth_request_unprocessed),
		cmocka_unit_test(test_drop_after_process_places_the_order_and_loses_the_answer),
		cmocka_unit_test(test_book_gap_breaks_the_change_id_chain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
