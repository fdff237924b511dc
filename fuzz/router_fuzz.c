/* router_fuzz.c — libFuzzer harness for the JSON-RPC router and the request lifecycle
 * (rpc.c, client.c) over the fake transport of the unit tests (tests/support/fake_transport.c)
 * and a frozen fake clock. Per input: a fresh public client; the first byte says how many
 * requests to submit before the connection opens (1..8), each typed with the result schema of
 * a real method (lt_methods[], chosen by the next bytes) and some with a deadline (60 s, or
 * 2 ms for odd method bytes: those fire while the input plays, at "!tick"); the
 * connection opens and they go out with ids 1..n. The rest of the input is split at '\n'
 * into messages delivered one by one through the transport's on_message (answers for known
 * and unknown ids, errors, notifications, heartbeats, garbage, interleaved), except a few
 * commands: "!drop" (the connection drops), "!open" (it opens again), "!sub" (one more
 * request), "!wd<k>" (request k is withdrawn), "!tick" (the loop runs its timers for 3 ms of
 * real time: due deadlines end their requests, before or after an answer arrives; at most 4
 * per input). At the end the client is freed.
 * Invariants: never crashes, leaks nothing (ASan); every accepted request ends exactly once,
 * never inside lt_cl_submit, with the value protocol of lt_req_end (a value on L for RESULT and
 * ERROR only; counted by req_rec.c); a withdrawn request never ends; nothing is called twice.
 * Seeds: fuzz/seeds/router_fuzz/ (answers and notifications of tests/fixtures, one a line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "support/fake_transport.h"
#include "support/req_rec.h"

#define MAXREQ 24

typedef struct slot {
	lt_test_rec rec;
	lt_req *req;
	bool accepted, withdrawn;
} slot;

static lua_State *L;
static lt_loop *loop;
static lt_fake_tp tp;
static lt_cl_opts opts;
static slot slots[MAXREQ];
static int nslots;

static void die(const char *what, int i)
{
	fprintf(stderr, "router_fuzz: request %d: %s (calls %d, anomalies %d, in submit %d)\n", i,
		what, slots[i].rec.calls, slots[i].rec.anomalies, slots[i].rec.in_submit);
	abort();
}

static void submit(lt_cl *cl, unsigned pick)
{
	if (nslots == MAXREQ)
		return;
	size_t nm = 0;
	while (lt_methods[nm])
		nm++;
	const lt_method *m = lt_methods[pick % nm];
	slot *s = &slots[nslots];
	char t[256];
	int n = snprintf(t, sizeof t,
			 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"%s\","
			 "\"params\":{\"label\":\"r%d\"}}",
			 m->name, nslots);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, t, (size_t)n);
	lt_req_spec spec = {.method = m->name,
			    .schema = m->result,
			    .pool = LT_POOL_NON_ME,
			    .cost = 500,
			    .flags = 0};
	lt_err err;
	lt_test_in_submit = 1;
	int64_t timeout_ms = (pick & 0x100) ? ((pick & 1) ? 2 : 60000) : 0;
	int rc =
		lt_cl_submit(cl, &spec, &b, timeout_ms, lt_test_on_done, &s->rec, 0, &s->req, &err);
	lt_test_in_submit = 0;
	lt_buf_free(&b);
	s->accepted = rc == 0;
	nslots++;
}

static int ticks;

static void deliver(lt_cl *cl, const uint8_t *p, size_t n, bool *open)
{
	if (n == 5 && memcmp(p, "!tick", 5) == 0) {
		if (ticks++ < 4)
			lt_test_run(loop, 3, NULL, NULL); /* deadlines (lws_sul, real time) fire */
	} else if (n == 5 && memcmp(p, "!drop", 5) == 0) {
		if (*open)
			lt_fake_drop(&tp, "fuzz drop");
		*open = false;
	} else if (n == 5 && memcmp(p, "!open", 5) == 0) {
		if (!*open)
			lt_fake_open(&tp);
		*open = true;
	} else if (n >= 4 && memcmp(p, "!sub", 4) == 0) {
		submit(cl, n > 4 ? (unsigned)p[4] | (n > 5 ? 0x100u : 0) : 0);
	} else if (n == 4 && memcmp(p, "!wd", 3) == 0) {
		slot *s = &slots[p[3] % MAXREQ];
		if (s < slots + nslots && s->accepted && !s->withdrawn && s->rec.calls == 0) {
			lt_req_withdraw(s->req);
			s->withdrawn = true;
		}
	} else {
		char *copy = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
		memcpy(copy, p, n);
		tp.cbs.on_message(tp.ud, copy, n);
		free(copy);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lt_fake_env_open(&L, &loop, &tp, &opts, 1000000);
	lt_log_set_level(LT_LOG_ERROR); /* quiet: dropped messages (WARN) are expected */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	lt_fake_clock_us = 1000000;
	lt_fake_tp_free(&tp);
	lt_fake_tp_init(&tp);
	memset(slots, 0, sizeof slots);
	nslots = 0;
	ticks = 0;
	lt_test_seq = 0;
	lt_fake_tp_arm(&tp);
	lt_cl *cl;
	lt_err err;
	if (lt_cl_new(L, loop, &opts, NULL, NULL, &cl, &err))
		abort();
	size_t pos = 1;
	int first = 1 + data[0] % 8;
	for (int i = 0; i < first; i++, pos++)
		submit(cl, pos < size ? (unsigned)data[pos] | (data[0] & 0x80 ? 0x100u : 0) : 0);
	bool open = true;
	lt_fake_open(&tp);
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		deliver(cl, data + pos, end - pos, &open);
		pos = end + 1;
	}
	for (int i = 0; i < nslots; i++)
		if (slots[i].rec.calls > 1 || slots[i].rec.in_submit || slots[i].rec.anomalies)
			die("ended twice, inside submit, or with a bad value", i);
	lt_cl_free(cl);
	lua_gc(L, LUA_GCCOLLECT);
	for (int i = 0; i < nslots; i++) {
		const slot *s = &slots[i];
		int want = s->accepted && !s->withdrawn ? 1 : 0;
		if (s->rec.calls != want || s->rec.anomalies)
			die(want ? "did not end exactly once"
				 : "ended although refused or withdrawn",
			    i);
	}
	if (lua_gettop(L) != 0)
		abort();
	return 0;
}
