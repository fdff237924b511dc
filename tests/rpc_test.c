/* rpc_test.c — src/rpc.c: sequential ids, the pending table, routing of results, errors and
 * notifications, heartbeat test_request answers, timeouts on a real lt_loop, cancel, fail_all,
 * free with requests pending, a refusing transport, schema typing of results, and malformed and
 * truncated input. The transport is a fake send function that copies each request text; the
 * loop and the Lua state are real. Venue messages come from tests/fixtures where one exists.
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

#include "codec.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"
#include "support/fake_transport.h"
#include "support/lua_helpers.h"

/* ---- fixture: a Lua state, a loop, an rpc and a fake transport ------------------------------ */

#define MAX_SENT 256

typedef struct fx {
	lua_State *L; /* main thread: done/notify callbacks move values here */
	lt_loop *loop;
	lt_rpc *rpc;
	char *sent[MAX_SENT];
	int nsent, send_calls;
	int send_rc; /* what the fake send returns (0 = accept) */
	int notify_calls;
	char channel[256];
	int notify_top; /* lua_gettop of the rpc thread at on_notify */
} fx;

/* Transport: copy the text, then take the memory (lt_buf_free). A refusing send leaves msg. */
static int fake_send(void *ud, lt_buf *msg)
{
	fx *f = ud;
	f->send_calls++;
	if (f->send_rc)
		return f->send_rc;
	assert_true(f->nsent < MAX_SENT);
	char *copy = malloc(msg->len + 1);
	assert_non_null(copy);
	memcpy(copy, lt_buf_text(msg), msg->len);
	copy[msg->len] = '\0';
	f->sent[f->nsent++] = copy;
	lt_buf_free(msg);
	return 0;
}

static void fake_notify(void *ud, const char *channel, lua_State *L)
{
	fx *f = ud;
	f->notify_calls++;
	snprintf(f->channel, sizeof f->channel, "%s", channel);
	f->notify_top = lua_gettop(L);
	lua_xmove(L, f->L, 1); /* pops it from the rpc thread */
}

static void fx_open_with(fx *f, const lt_rpc_cbs *cbs)
{
	memset(f, 0, sizeof *f);
	f->L = lt_test_lua_new();
	lt_err err = {0};
	if (lt_loop_new(&f->loop, &err))
		fail_msg("lt_loop_new: %s", err.msg);
	if (lt_rpc_new(f->L, f->loop, cbs, f, &f->rpc, &err))
		fail_msg("lt_rpc_new: %s", err.msg);
	assert_non_null(f->rpc);
}

static void fx_open(fx *f)
{
	static const lt_rpc_cbs cbs = {fake_send, fake_notify, NULL};
	fx_open_with(f, &cbs);
}

static void fx_close(fx *f)
{
	lt_rpc_free(f->rpc);
	lt_loop_free(f->loop);
	for (int i = 0; i < f->nsent; i++)
		free(f->sent[i]);
	lua_close(f->L);
}

/* What a done callback saw. Values are moved to the main thread for the test to inspect. */
typedef struct rec {
	lua_State *main;
	int calls;
	lt_done how;
	int type;  /* lua_type of the pushed value, LUA_TNONE when nothing pushed */
	int moved; /* values moved to main */
} rec;

static void on_done(void *ud, lt_done how, lua_State *L)
{
	rec *r = ud;
	r->calls++;
	r->how = how;
	r->type = LUA_TNONE;
	if (how == LT_DONE_RESULT || how == LT_DONE_ERROR) {
		r->type = lua_type(L, -1);
		lua_xmove(L, r->main, 1);
		r->moved++;
	}
}

/* Register a request for a fresh id: {"jsonrpc":"2.0","id":N,"method":"<method>"}. */
static int64_t request(fx *f, const char *method, const lt_schema *schema, int64_t timeout_ms,
		       rec *r)
{
	int64_t id = lt_rpc_alloc_id(f->rpc);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0};
	lua_pushnil(f->L);
	assert_int_equal(lt_generic_encode(f->L, -1, method, id, &b, &err), 0);
	lua_pop(f->L, 1);
	int rc = lt_rpc_request(f->rpc, id, &b, schema, timeout_ms, on_done, r);
	if (rc)
		fail_msg("lt_rpc_request: %d", rc);
	lt_buf_free(&b);
	return id;
}

static void feed(fx *f, const char *text)
{
	int top = lua_gettop(f->L);
	lt_rpc_on_message(f->rpc, text, strlen(text));
	/* the rpc decodes on its own thread: the main thread is untouched by routing itself */
	assert_true(lua_gettop(f->L) >= top);
}

/* A result message for id with the given result JSON. */
static void feed_result(fx *f, int64_t id, const char *result)
{
	char text[512];
	snprintf(text, sizeof text,
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s,\"usIn\":1,\"usOut\":2,"
		 "\"usDiff\":1,\"testnet\":true}",
		 (long long)id, result);
	feed(f, text);
}

static const lt_rpc_stats *stats(fx *f) { return lt_rpc_get_stats(f->rpc); }

/* ---- driving the loop ------------------------------------------------------------------------ */

typedef struct until_calls {
	const int *calls;
	int want;
} until_calls;

static bool reached(void *arg)
{
	const until_calls *u = arg;
	return *u->calls >= u->want;
}

/* Service the loop until *calls reaches want or ms milliseconds pass (calls may be NULL: run
 * for the whole time), through lt_test_run. Returns the elapsed milliseconds. */
static int64_t drive(lt_loop *loop, const int *calls, int want, int64_t ms)
{
	until_calls u = {calls, want};
	return lt_test_run(loop, ms, calls ? reached : NULL, &u);
}

/* Trailing bytes after the last '}' of a fixture (its final newline) are cut off. */
static size_t json_end(const char *text, size_t len)
{
	while (len > 0 && text[len - 1] != '}')
		len--;
	return len;
}

/* ---- ids --------------------------------------------------------------------------------------- */

static void test_ids_are_sequential_from_one(void **state)
{
	(void)state;
	fx f, g;
	fx_open(&f);
	fx_open(&g);
	for (int64_t want = 1; want <= 100; want++)
		assert_int_equal(lt_rpc_alloc_id(f.rpc), want);
	/* per rpc: another instance starts at 1 again */
	assert_int_equal(lt_rpc_alloc_id(g.rpc), 1);
	assert_int_equal(lt_rpc_alloc_id(g.rpc), 2);
	/* ids are never reused, even after a request with that id completed */
	rec r = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 0, &r);
	assert_int_equal(id, 101);
	feed_result(&f, id, "{}");
	assert_int_equal(r.calls, 1);
	lua_pop(f.L, 1);
	assert_int_equal(lt_rpc_alloc_id(f.rpc), 102);
	fx_close(&f);
	fx_close(&g);
}

static void test_request_rejects_ids_not_allocated_or_pending(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	/* never allocated, zero, negative */
	assert_int_equal(lt_rpc_request(f.rpc, 1, &b, NULL, 0, on_done, &r), LT_EINVAL);
	assert_int_equal(lt_rpc_request(f.rpc, 0, &b, NULL, 0, on_done, &r), LT_EINVAL);
	assert_int_equal(lt_rpc_request(f.rpc, -5, &b, NULL, 0, on_done, &r), LT_EINVAL);
	assert_int_equal(f.send_calls, 0);
	/* an id that is already pending */
	int64_t id = request(&f, "public/test", NULL, 0, &r);
	assert_int_equal(lt_rpc_request(f.rpc, id, &b, NULL, 0, on_done, &r), LT_EINVAL);
	assert_int_equal(f.send_calls, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	lt_buf_free(&b);
	fx_close(&f);
	assert_int_equal(r.calls, 1); /* the pending one was lost at free */
	assert_int_equal(r.how, LT_DONE_LOST);
}

/* ---- routing ------------------------------------------------------------------------------------ */

static void test_result_reaches_done_once(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 0, &r);
	assert_int_equal(id, 1);
	assert_int_equal(f.nsent, 1);
	assert_string_equal(f.sent[0], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/test\"}");
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	assert_int_equal(r.calls, 0);

	int top = lua_gettop(f.L);
	feed(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"version\":\"1.2.26\"},\"usIn\":1,"
		 "\"usOut\":2,\"usDiff\":1,\"testnet\":true}");
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.how, LT_DONE_RESULT);
	assert_int_equal(r.type, LUA_TTABLE);
	assert_int_equal(lua_gettop(f.L), top + 1);
	lt_test_assert_str(f.L, -1, "version", "1.2.26");
	lua_pop(f.L, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	assert_int_equal(stats(&f)->results, 1);
	assert_int_equal(stats(&f)->unknown_ids, 0);

	/* the same answer again: the id is no longer pending */
	feed(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"version\":\"1.2.26\"}}");
	assert_int_equal(r.calls, 1);
	assert_int_equal(stats(&f)->results, 1);
	assert_int_equal(stats(&f)->unknown_ids, 1);
	assert_int_equal(lua_gettop(f.L), top);
	fx_close(&f);
	assert_int_equal(r.calls, 1);
}

static void test_fixture_result_and_scalar_result(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r1 = {.main = f.L}, r2 = {.main = f.L};
	assert_int_equal(request(&f, "public/test", NULL, 0, &r1), 1);
	size_t len;
	char *text = lt_test_fixture("http_test.json", &len);
	lt_rpc_on_message(f.rpc, text, len);
	free(text);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r1.how, LT_DONE_RESULT);
	lt_test_assert_str(f.L, -1, "version", "1.2.26");
	lua_pop(f.L, 1);

	/* http_get_time.json answers id 1 too: edit its id to 2 */
	assert_int_equal(request(&f, "public/get_time", NULL, 0, &r2), 2);
	text = lt_test_fixture("http_get_time.json", &len);
	char *p = strstr(text, "\"id\": 1");
	assert_non_null(p);
	p[6] = '2';
	lt_rpc_on_message(f.rpc, text, len);
	free(text);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.how, LT_DONE_RESULT);
	assert_int_equal(r2.type, LUA_TNUMBER);
	assert_true(lua_isinteger(f.L, -1));
	assert_int_equal(lua_tointeger(f.L, -1), 1733338800000LL);
	lua_pop(f.L, 1);
	assert_int_equal(stats(&f)->results, 2);
	fx_close(&f);
}

static void test_error_response(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	assert_int_equal(request(&f, "public/get_time", NULL, 0, &r), 1);
	size_t len;
	char *text = lt_test_fixture("ws_error.json", &len);
	lt_rpc_on_message(f.rpc, text, len);
	free(text);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.how, LT_DONE_ERROR);
	assert_int_equal(r.type, LUA_TTABLE);
	lt_test_assert_int(f.L, -1, "code", 10028);
	lt_test_assert_str(f.L, -1, "message", "too_many_requests");
	lt_test_assert_null(f.L, -1, "data");
	lua_pop(f.L, 1);
	assert_int_equal(stats(&f)->errors, 1);
	assert_int_equal(stats(&f)->results, 0);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	fx_close(&f);
	assert_int_equal(r.calls, 1);
}

static void test_out_of_order_answers_reach_their_own_request(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	enum { N = 130 }; /* more than the 64 hash buckets: chains of two and three */
	rec r[N];
	int64_t ids[N];
	for (int i = 0; i < N; i++) {
		r[i] = (rec){.main = f.L};
		ids[i] = request(&f, "public/test", NULL, 0, &r[i]);
	}
	assert_int_equal(lt_rpc_pending_count(f.rpc), N);
	/* answer in a scrambled order (7 is coprime with 130): result = the id times 10 */
	for (int k = 0; k < N; k++) {
		int i = (k * 7) % N;
		char result[64];
		snprintf(result, sizeof result, "{\"n\":%lld}", (long long)ids[i] * 10);
		feed_result(&f, ids[i], result);
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].how, LT_DONE_RESULT);
		lt_test_assert_int(f.L, -1, "n", ids[i] * 10);
		lua_pop(f.L, 1);
		assert_int_equal(lt_rpc_pending_count(f.rpc), N - 1 - k);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].calls, 1);
	assert_int_equal(stats(&f)->results, N);
	fx_close(&f);
}

static void test_unknown_id_is_counted_and_dropped(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 0, &r);
	int top = lua_gettop(f.L);
	feed_result(&f, id + 64, "{\"x\":1}"); /* same hash bucket, not pending */
	feed_result(&f, 999, "{\"x\":1}");
	feed(&f, "{\"jsonrpc\":\"2.0\",\"id\":77,\"error\":{\"code\":1,\"message\":\"m\"}}");
	assert_int_equal(stats(&f)->unknown_ids, 3);
	assert_int_equal(stats(&f)->results, 0);
	assert_int_equal(stats(&f)->errors, 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(lua_gettop(f.L), top);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	feed_result(&f, id, "7");
	assert_int_equal(r.calls, 1);
	assert_int_equal(lua_tointeger(f.L, -1), 7);
	lua_pop(f.L, 1);
	fx_close(&f);
}

static void test_malformed_input_is_counted(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 0, &r);
	static const char *const bad[] = {
		"",
		"{",
		"not json",
		"[]",
		"{}",
		"null",
		"\"x\"",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"version\":\"1.2", /* truncated */
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":1}", /* string id */
		"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"data\":1}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}garbage",
	};
	size_t n = sizeof bad / sizeof bad[0];
	int top = lua_gettop(f.L);
	for (size_t i = 0; i < n; i++) {
		feed(&f, bad[i]);
		if (stats(&f)->malformed != i + 1)
			fail_msg("message %zu (%s) not counted as malformed", i, bad[i]);
	}
	/* embedded NUL: the length, not strlen, bounds the message */
	lt_rpc_on_message(f.rpc, "{\"id\":1,\0\"result\":1}", 20);
	assert_int_equal(stats(&f)->malformed, n + 1);
	assert_int_equal(r.calls, 0);
	assert_int_equal(f.notify_calls, 0);
	assert_int_equal(stats(&f)->results + stats(&f)->unknown_ids + stats(&f)->notifications, 0);
	assert_int_equal(lua_gettop(f.L), top);
	/* the request is still pending and answerable */
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	feed_result(&f, id, "true");
	assert_int_equal(r.calls, 1);
	assert_true(lua_toboolean(f.L, -1));
	lua_pop(f.L, 1);
	fx_close(&f);
}

static void test_notification_reaches_on_notify(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	int top = lua_gettop(f.L);
	lt_rpc_on_message(f.rpc, text, len);
	assert_int_equal(f.notify_calls, 1);
	assert_string_equal(f.channel, "ticker.BTC-PERPETUAL.100ms");
	assert_true(f.notify_top >= 1);
	assert_int_equal(lua_gettop(f.L), top + 1);
	/* the channel's schema (ticker) typed the data */
	lt_test_assert_int(f.L, -1, "timestamp", 1765541474086LL);
	lt_test_assert_float(f.L, -1, "best_bid_price", 92283.5);
	lt_test_assert_float(f.L, -1, "stats.high", 93612.0);
	lt_test_assert_str(f.L, -1, "instrument_name", "BTC-PERPETUAL");
	lua_pop(f.L, 1);
	assert_int_equal(stats(&f)->notifications, 1);
	assert_int_equal(stats(&f)->malformed, 0);
	fx_close(&f);

	/* without an on_notify the data is dropped, still counted */
	static const lt_rpc_cbs no_notify = {fake_send, NULL, NULL};
	fx_open_with(&f, &no_notify);
	lt_rpc_on_message(f.rpc, text, len);
	lt_rpc_on_message(f.rpc, text, len);
	assert_int_equal(stats(&f)->notifications, 2);
	assert_int_equal(f.notify_calls, 0);
	fx_close(&f);
	free(text);
}

/* ---- heartbeat ---------------------------------------------------------------------------------- */

static void test_heartbeat_test_request_is_answered(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	size_t len;
	char *text = lt_test_fixture("ws_test_request.json", &len);
	lt_rpc_on_message(f.rpc, text, len);
	assert_int_equal(stats(&f)->heartbeats, 1);
	assert_int_equal(f.nsent, 1);
	assert_non_null(strstr(f.sent[0], "\"method\":\"public/test\""));
	assert_non_null(strstr(f.sent[0], "\"id\":1")); /* the rpc's own next id */
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	/* the venue's answer to it completes silently */
	feed_result(&f, 1, "{\"version\":\"1.2.26\"}");
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	assert_int_equal(stats(&f)->results, 1);
	assert_int_equal(stats(&f)->unknown_ids, 0);
	/* ids stay sequential across heartbeat answers */
	assert_int_equal(lt_rpc_alloc_id(f.rpc), 2);

	/* type "heartbeat" needs no answer */
	char *plain = strdup(text);
	assert_non_null(plain);
	char *p = strstr(plain, "test_request");
	assert_non_null(p);
	memcpy(p, "heartbeat\"   ", 13); /* same length as test_request" */
	lt_rpc_on_message(f.rpc, plain, len);
	assert_int_equal(stats(&f)->heartbeats, 2);
	assert_int_equal(f.nsent, 1);
	free(plain);

	/* switched off: test_request is counted but not answered */
	lt_rpc_set_answer_test_request(f.rpc, false);
	lt_rpc_on_message(f.rpc, text, len);
	assert_int_equal(stats(&f)->heartbeats, 3);
	assert_int_equal(f.nsent, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	lt_rpc_set_answer_test_request(f.rpc, true);
	lt_rpc_on_message(f.rpc, text, len);
	assert_int_equal(f.nsent, 2);
	assert_non_null(strstr(f.sent[1], "public/test"));
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	free(text);
	fx_close(&f); /* the unanswered public/test is lost without a done function */
}

static void test_heartbeat_answer_with_refusing_transport(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	f.send_rc = LT_EIO;
	size_t len;
	char *text = lt_test_fixture("ws_test_request.json", &len);
	lt_rpc_on_message(f.rpc, text, len);
	free(text);
	assert_int_equal(f.send_calls, 1);
	assert_int_equal(f.nsent, 0);
	assert_int_equal(stats(&f)->heartbeats, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	fx_close(&f);
}

/* ---- timeouts, cancel, loss ---------------------------------------------------------------------- */

static void test_timeout_fires_once(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 50, &r);
	int64_t ms = drive(f.loop, &r.calls, 1, 2000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.how, LT_DONE_TIMEOUT);
	assert_int_equal(r.type, LUA_TNONE);
	assert_true(ms >= 45);
	assert_true(ms < 2000);
	assert_int_equal(stats(&f)->timeouts, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	/* nothing more later; a late answer is an unknown id */
	drive(f.loop, NULL, 0, 100);
	assert_int_equal(r.calls, 1);
	feed_result(&f, id, "1");
	assert_int_equal(r.calls, 1);
	assert_int_equal(stats(&f)->unknown_ids, 1);
	assert_int_equal(stats(&f)->timeouts, 1);
	fx_close(&f);
	assert_int_equal(r.calls, 1);
}

static void test_answered_request_never_times_out(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec answered = {.main = f.L}, waits = {.main = f.L}, no_timeout = {.main = f.L};
	int64_t a = request(&f, "public/test", NULL, 30, &answered);
	request(&f, "public/test", NULL, 60, &waits);
	request(&f, "public/test", NULL, 0, &no_timeout);
	feed_result(&f, a, "1");
	assert_int_equal(answered.calls, 1);
	lua_pop(f.L, 1);
	drive(f.loop, &waits.calls, 1, 2000);
	drive(f.loop, NULL, 0, 100);
	assert_int_equal(answered.calls, 1);
	assert_int_equal(answered.how, LT_DONE_RESULT);
	assert_int_equal(waits.calls, 1);
	assert_int_equal(waits.how, LT_DONE_TIMEOUT);
	assert_int_equal(no_timeout.calls, 0);
	assert_int_equal(stats(&f)->timeouts, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	fx_close(&f);
	assert_int_equal(no_timeout.calls, 1);
	assert_int_equal(no_timeout.how, LT_DONE_LOST);
}

static void test_cancel_calls_nothing(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L}, other = {.main = f.L};
	int64_t id = request(&f, "public/test", NULL, 50, &r);
	int64_t o = request(&f, "public/test", NULL, 0, &other);
	assert_int_equal(lt_rpc_cancel(f.rpc, id), 0);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	assert_int_equal(lt_rpc_cancel(f.rpc, id), LT_ENOTFOUND);
	assert_int_equal(lt_rpc_cancel(f.rpc, 12345), LT_ENOTFOUND);
	drive(f.loop, NULL, 0, 150); /* past the cancelled timeout */
	assert_int_equal(r.calls, 0);
	assert_int_equal(stats(&f)->timeouts, 0);
	feed_result(&f, id, "{}");
	assert_int_equal(r.calls, 0);
	assert_int_equal(stats(&f)->unknown_ids, 1);
	lt_rpc_fail_all(f.rpc);
	assert_int_equal(r.calls, 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.how, LT_DONE_LOST);
	assert_int_equal(stats(&f)->lost, 1);
	(void)o;
	fx_close(&f);
	assert_int_equal(r.calls, 0);
}

static void test_fail_all_loses_every_pending_once(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	enum { N = 70 };
	rec r[N];
	for (int i = 0; i < N; i++) {
		r[i] = (rec){.main = f.L};
		request(&f, "public/test", NULL, i % 2 ? 40 : 0, &r[i]);
	}
	lt_rpc_fail_all(f.rpc);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].how, LT_DONE_LOST);
		assert_int_equal(r[i].type, LUA_TNONE);
	}
	assert_int_equal(stats(&f)->lost, N);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	/* their timers are gone; a second fail_all finds nothing */
	drive(f.loop, NULL, 0, 120);
	lt_rpc_fail_all(f.rpc);
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].calls, 1);
	assert_int_equal(stats(&f)->timeouts, 0);
	assert_int_equal(stats(&f)->lost, N);
	/* the rpc stays usable, ids continue */
	rec again = {.main = f.L};
	assert_int_equal(request(&f, "public/test", NULL, 0, &again), N + 1);
	feed_result(&f, N + 1, "2");
	assert_int_equal(again.calls, 1);
	lua_pop(f.L, 1);
	fx_close(&f);
}

static void test_free_with_pending_loses_them(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec a = {.main = f.L}, b = {.main = f.L};
	request(&f, "public/test", NULL, 1000, &a);
	request(&f, "public/test", NULL, 0, &b);
	lt_rpc_free(f.rpc);
	f.rpc = NULL;
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.how, LT_DONE_LOST);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.how, LT_DONE_LOST);
	/* the timer of a is gone with it: servicing the loop touches no freed memory */
	drive(f.loop, NULL, 0, 50);
	lt_rpc_free(NULL);
	fx_close(&f);
	assert_int_equal(a.calls, 1);
}

static void test_refused_send_registers_nothing(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	f.send_rc = LT_ESTATE;
	int64_t id = lt_rpc_alloc_id(f.rpc);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0};
	lua_pushnil(f.L);
	assert_int_equal(lt_generic_encode(f.L, -1, "public/test", id, &b, &err), 0);
	lua_pop(f.L, 1);
	assert_int_equal(lt_rpc_request(f.rpc, id, &b, NULL, 30, on_done, &r), LT_ESTATE);
	lt_buf_free(&b);
	assert_int_equal(f.send_calls, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 0);
	drive(f.loop, NULL, 0, 100); /* no timer was armed */
	feed_result(&f, id, "1");
	lt_rpc_fail_all(f.rpc);
	assert_int_equal(r.calls, 0);
	assert_int_equal(stats(&f)->timeouts, 0);
	assert_int_equal(stats(&f)->unknown_ids, 1);
	assert_int_equal(stats(&f)->lost, 0);
	/* the id stays used: the next one is fresh */
	f.send_rc = 0;
	assert_int_equal(request(&f, "public/test", NULL, 0, &r), id + 1);
	fx_close(&f);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.how, LT_DONE_LOST);
}

/* A done callback may start the next request (a task resuming and calling again). */
typedef struct chain {
	fx *f;
	rec next;
	int calls;
	int64_t next_id;
} chain;

static void chain_done(void *ud, lt_done how, lua_State *L)
{
	chain *c = ud;
	c->calls++;
	if (how == LT_DONE_RESULT)
		lua_pop(L, 1);
	c->next_id = lt_rpc_alloc_id(c->f->rpc);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	if (lt_rpc_request(c->f->rpc, c->next_id, &b, NULL, 0, on_done, &c->next))
		c->next_id = -1;
	lt_buf_free(&b);
}

static void test_done_may_issue_a_new_request(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	chain c = {.f = &f, .next = {.main = f.L}};
	int64_t id = lt_rpc_alloc_id(f.rpc);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, "{}", 2);
	assert_int_equal(lt_rpc_request(f.rpc, id, &b, NULL, 0, chain_done, &c), 0);
	lt_buf_free(&b);
	feed_result(&f, id, "{\"a\":1}");
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.next_id, 2);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	feed_result(&f, 2, "{\"b\":2}");
	assert_int_equal(c.next.calls, 1);
	lt_test_assert_int(f.L, -1, "b", 2);
	lua_pop(f.L, 1);
	fx_close(&f);
}

/* ---- schemas and truncated input ------------------------------------------------------------------ */

static void test_result_is_typed_by_the_schema(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	/* a public/ticker answer: the data object of ws_ticker.json as the result, with two
	 * numbers edited to integer text so the schema has something to do */
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	char *data = strstr(text, "\"data\":");
	assert_non_null(data);
	data = strchr(data, '{');
	size_t end = json_end(text, len);
	/* drop the two closing braces of params and the message */
	char *close = text + end - 1;
	close = (char *)memrchr(text, '}', (size_t)(close - text));
	assert_non_null(close);
	size_t dlen = (size_t)(close - data);
	char *msg = malloc(dlen + 128);
	assert_non_null(msg);
	for (int pass = 0; pass < 2; pass++) {
		rec r = {.main = f.L};
		int64_t id = request(&f, "public/ticker", pass ? NULL : &lt_s_ticker, 0, &r);
		int n = snprintf(msg, dlen + 128,
				 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%.*s,"
				 "\"usIn\":1,\"usOut\":2,\"usDiff\":1,\"testnet\":true}",
				 (long long)id, (int)dlen, data);
		char *amt = strstr(msg, "\"best_bid_amount\": 117660.0");
		assert_non_null(amt);
		memcpy(amt + strlen("\"best_bid_amount\": 117660"), "  ", 2);
		lt_rpc_on_message(f.rpc, msg, (size_t)n);
		assert_int_equal(r.calls, 1);
		assert_int_equal(r.how, LT_DONE_RESULT);
		lua_getfield(f.L, -1, "timestamp");
		assert_true(lua_isinteger(f.L, -1));
		assert_int_equal(lua_tointeger(f.L, -1), 1765541474086LL);
		lua_pop(f.L, 1);
		lt_test_assert_float(f.L, -1, "best_bid_price", 92283.5);
		lua_getfield(f.L, -1, "best_bid_amount");
		if (pass == 0) {
			/* LT_T_FLOAT makes integer text a float */
			assert_false(lua_isinteger(f.L, -1));
			assert_true(lua_tonumber(f.L, -1) == 117660.0);
		} else {
			/* no schema: the lexical type */
			assert_true(lua_isinteger(f.L, -1));
		}
		lua_pop(f.L, 2);
	}
	free(msg);
	free(text);
	fx_close(&f);
}

static void test_every_prefix_of_a_fixture_is_malformed(void **state)
{
	(void)state;
	fx f;
	fx_open(&f);
	rec r = {.main = f.L};
	request(&f, "public/test", NULL, 0, &r);
	static const char *const names[] = {"ws_ticker.json", "http_test.json", "ws_error.json",
					    "ws_test_request.json"};
	unsigned long long want = 0;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		size_t len;
		char *text = lt_test_fixture(names[k], &len);
		size_t end = json_end(text, len);
		assert_true(end > 0);
		for (size_t n = 0; n < end; n++) {
			/* an exact-size copy, so ASan sees any read past the prefix */
			char *t = malloc(n ? n : 1);
			assert_non_null(t);
			memcpy(t, text, n);
			lt_rpc_on_message(f.rpc, t, n);
			free(t);
			want++;
			if (stats(&f)->malformed != want)
				fail_msg("%s: prefix of %zu bytes not counted as malformed",
					 names[k], n);
		}
		free(text);
	}
	assert_int_equal(f.notify_calls, 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(stats(&f)->heartbeats, 0);
	assert_int_equal(f.nsent, 1);
	assert_int_equal(lt_rpc_pending_count(f.rpc), 1);
	/* and the whole message still works afterwards */
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	lt_rpc_on_message(f.rpc, text, len);
	free(text);
	assert_int_equal(f.notify_calls, 1);
	lua_pop(f.L, 1);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_are_sequential_from_one),
		cmocka_unit_test(test_request_rejects_ids_not_allocated_or_pending),
		cmocka_unit_test(test_result_reaches_done_once),
		cmocka_unit_test(test_fixture_result_and_scalar_result),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_out_of_order_answers_reach_their_own_request),
		cmocka_unit_test(test_unknown_id_is_counted_and_dropped),
		cmocka_unit_test(test_malformed_input_is_counted),
		cmocka_unit_test(test_notification_reaches_on_notify),
		cmocka_unit_test(test_heartbeat_test_request_is_answered),
		cmocka_unit_test(test_heartbeat_answer_with_refusing_transport),
		cmocka_unit_test(test_timeout_fires_once),
		cmocka_unit_test(test_answered_request_never_times_out),
		cmocka_unit_test(test_cancel_calls_nothing),
		cmocka_unit_test(test_fail_all_loses_every_pending_once),
		cmocka_unit_test(test_free_with_pending_loses_them),
		cmocka_unit_test(test_refused_send_registers_nothing),
		cmocka_unit_test(test_done_may_issue_a_new_request),
		cmocka_unit_test(test_result_is_typed_by_the_schema),
		cmocka_unit_test(test_every_prefix_of_a_fixture_is_malformed),
	};
	lt_log_set_level(LT_LOG_ERROR); /* dropped messages are logged as warnings */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
