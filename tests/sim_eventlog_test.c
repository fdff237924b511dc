/* sim_eventlog_test.c — the venue's event log (src/sim/eventlog.c) over real wss on loopback
 * (sim_wire.h): a connection's life in order (open, auth, sub, order received with its label,
 * state change, user.orders notification sent, unsub, close), reading from a seq with a max,
 * the bound (the oldest events are overwritten and "first" says so), the file it appends to
 * (--event-log), and bad parameters named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "sim_wire.h"

#define EVLOG_MAX 4096 /* events kept in memory (eventlog.c) */

static int setup(void **state)
{
	static wire w;
	wire_up(&w, "alice:sa");
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	wire_down(*state);
	return 0;
}

/* Index of the first event from `from` with ev == kind (and, if key, member key == val). */
static long find_ev(yajl_val evs, size_t from, const char *kind, const char *key, const char *val)
{
	for (size_t i = from; i < evs->u.array.len; i++) {
		yajl_val e = evs->u.array.values[i];
		const char *k = jstr(e, "ev", NULL, NULL);
		const char *v = key ? jstr(e, key, NULL, NULL) : NULL;
		if (k && strcmp(k, kind) == 0 && (!key || (v && strcmp(v, val) == 0)))
			return (long)i;
	}
	return -1;
}

static void test_events_of_a_connection_in_order(void **state)
{
	wire *w = *state;
	wc *obs = wc_open(w), *c = wc_open(w);
	yajl_val r = wc_call(obs, "sim/events", "{\"max\":1}", 3000);
	int64_t since = jint(r, "result", "next", NULL);
	yajl_tree_free(r);
	wc_auth(c, "alice", "sa", NULL);
	r = wc_call(c, "private/subscribe", "{\"channels\":[\"user.orders.any.any.raw\"]}", 3000);
	yajl_tree_free(r);
	r = wc_call(c, "private/buy",
		    "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,"
		    "\"type\":\"limit\",\"price\":1000,\"label\":\"ev-1\"}",
		    3000);
	const char *oid = jstr(r, "result", "order", "order_id");
	assert_non_null(oid);
	char order_id[32];
	snprintf(order_id, sizeof order_id, "%s", oid);
	yajl_tree_free(r);
	r = wc_call(c, "private/unsubscribe", "{\"channels\":[\"user.orders.any.any.raw\"]}", 3000);
	yajl_tree_free(r);
	wc_close(c);
	wire_run(w, 100);
	char p[64];
	snprintf(p, sizeof p, "{\"since\":%lld}", (long long)since);
	r = wc_call(obs, "sim/events", p, 3000);
	yajl_val evs = jget(r, "result", "events", NULL);
	assert_non_null(evs);
	assert_int_equal(jint(evs->u.array.values[0], "seq", NULL, NULL), since);
	long auth = find_ev(evs, 0, "auth", "account", "alice");
	long sub = find_ev(evs, 0, "sub", "channel", "user.orders.any.any.raw");
	long ord = find_ev(evs, 0, "order", "label", "ev-1");
	long st = find_ev(evs, 0, "state", "order_id", order_id);
	long uo = find_ev(evs, 0, "uo", "order_id", order_id);
	long unsub = find_ev(evs, 0, "unsub", "channel", "user.orders.any.any.raw");
	long closed = find_ev(evs, 0, "close", NULL, NULL);
	assert_true(auth >= 0 && auth < sub && sub < ord && ord < st && st < uo && uo < unsub &&
		    unsub < closed);
	yajl_val o = evs->u.array.values[ord];
	assert_string_equal(jstr(o, "method", NULL, NULL), "private/buy");
	assert_string_equal(jstr(o, "direction", NULL, NULL), "buy");
	assert_string_equal(jstr(o, "account", NULL, NULL), "alice");
	assert_string_equal(jstr(evs->u.array.values[st], "state", NULL, NULL), "open");
	assert_string_equal(jstr(evs->u.array.values[uo], "state", NULL, NULL), "open");
	assert_int_equal(jint(evs->u.array.values[uo], "conn", NULL, NULL),
			 jint(o, "conn", NULL, NULL));
	yajl_tree_free(r);
	/* max */
	snprintf(p, sizeof p, "{\"since\":%lld,\"max\":2}", (long long)since);
	r = wc_call(obs, "sim/events", p, 3000);
	assert_int_equal(jget(r, "result", "events", NULL)->u.array.len, 2);
	yajl_tree_free(r);
	wc_close(obs);
}

static void test_the_log_is_bounded_and_says_what_it_lost(void **state)
{
	wire *w = *state;
	wc *c = wc_open(w);
	/* every order request is an event, even refused ones (13009 here: not authenticated) */
	int64_t last = 0;
	for (int i = 0; i < EVLOG_MAX + 100; i++)
		last = wc_req(c, "private/cancel", "{\"order_id\":\"1\"}");
	yajl_val r = wc_wait_id(c, last, 20000);
	assert_non_null(r);
	yajl_tree_free(r);
	r = wc_call(c, "sim/events", "{\"since\":1,\"max\":4096}", 3000);
	int64_t first = jint(r, "result", "first", NULL), next = jint(r, "result", "next", NULL);
	assert_int_equal(next - first, EVLOG_MAX);
	yajl_val evs = jget(r, "result", "events", NULL);
	assert_int_equal(evs->u.array.len, EVLOG_MAX);
	assert_int_equal(jint(evs->u.array.values[0], "seq", NULL, NULL), first);
	yajl_tree_free(r);
	const char *param;
	assert_int_equal(wc_err(c, "sim/events", "{\"max\":4097}", &param), -32602);
	assert_string_equal(param, "max");
	assert_int_equal(wc_err(c, "sim/events", "{\"since\":0}", &param), -32602);
	assert_string_equal(param, "since");
	wc_close(c);
}

static void test_event_log_file_gets_every_event_as_a_line(void **state)
{
	wire *w = *state;
	char path[] = "/tmp/lt-evlog-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	lt_sim_opts o = {.seed = 7,
			 .cert_file = LT_CERT_DIR "/server.pem",
			 .key_file = LT_CERT_DIR "/server.key",
			 .event_log = path,
			 .order_id_base = 777000};
	lt_sim *sim2 = NULL;
	lt_err err = {0, ""};
	assert_int_equal(lt_sim_new(w->ctx, &o, &sim2, &err), 0);
	int port = w->port;
	w->port = lt_sim_port(sim2);
	wc *c = wc_open(w);
	const char *id, *secret;
	assert_int_equal(lt_sim_demo_account(sim2, &id, &secret), 0);
	wc_auth(c, id, secret, NULL);
	yajl_val r = wc_call(c, "private/buy",
			     "{\"instrument_name\":\"BTC-PERPETUAL\","
			     "\"amount\":10,\"type\":\"limit\",\"price\":1000}",
			     3000);
	assert_string_equal(jstr(r, "result", "order", "order_id"), "777000"); /* order_id_base */
	yajl_tree_free(r);
	wc_close(c);
	w->port = port;
	lt_sim_free(sim2);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[1024];
	int n = 0, starts = 0, opens = 0, states = 0;
	while (fgets(line, sizeof line, f)) {
		n++;
		yajl_val e = yajl_tree_parse(line, NULL, 0);
		assert_non_null(e); /* each line is one JSON object */
		const char *k = jstr(e, "ev", NULL, NULL);
		starts += k && strcmp(k, "start") == 0;
		opens += k && strcmp(k, "open") == 0;
		states += k && strcmp(k, "state") == 0;
		yajl_tree_free(e);
	}
	fclose(f);
	unlink(path);
	assert_int_equal(starts, 1);
	assert_int_equal(opens, 1);
	assert_int_equal(states, 1);
	assert_true(n >= 3);
	o.event_log = "/nonexistent-dir/x.log";
	assert_int_equal(lt_sim_new(w->ctx, &o, &sim2, &err), LT_EIO);
	assert_non_null(strstr(err.msg, "event log"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_of_a_connection_in_order),
		cmocka_unit_test(test_the_log_is_bounded_and_says_what_it_lost),
		cmocka_unit_test(test_event_log_file_gets_every_event_as_a_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
