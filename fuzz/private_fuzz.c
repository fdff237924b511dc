/* private_fuzz.c — libFuzzer harness for the private client's authentication state machine
 * (src/private.c) over client.c, on the fake transport of the unit tests
 * (tests/support/fake_transport.c). Per input: a fresh client and lt_priv; the first byte
 * picks the grant (bit 0: client_credentials, else client_signature), cancel on disconnect
 * (bit 1) and a 2 ms auth timeout (bit 2); the connection opens and public/auth goes out. The
 * rest of the input is split at '\n' into messages delivered one by one through on_message,
 * except commands that make hitting the live request ids easy:
 *   "!auth<json>"  answer the latest public/auth on the wire with result <json>
 *   "!err<code>"   answer the latest request on the wire with error <code> (e.g. 13009, 10028)
 *   "!ans<json>"   answer the latest request on the wire with result <json>
 *   "!gated"       submit a private request (gated on authentication, 2 ms or no deadline)
 *   "!drop" / "!open"  the connection drops / opens again;  "!tick"  3 ms of loop timers
 *                  (deadlines; at most 4 per input)
 * Invariants: never crashes, leaks nothing (ASan); the state is one of lt_auth_state with a
 * name; with client_signature the secret never appears in anything written; every accepted
 * request ends exactly once (after lt_cl_free at the latest), never inside lt_cl_submit.
 * Seeds: fuzz/seeds/private_fuzz/. */
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
#include "private.h"
#include "support/fake_transport.h"
#include "support/req_rec.h"

#define MAXREQ 16
#define SECRET "fuzz-s3cr3t-value-7f3a"

typedef struct slot {
	lt_test_rec rec;
	bool accepted;
} slot;

static lua_State *L;
static lt_loop *loop;
static lt_fake_tp tp;
static lt_cl_opts opts;
static slot slots[MAXREQ];
static int nslots, ticks;

static void die(const char *what, int i)
{
	fprintf(stderr, "private_fuzz: %s (request %d)\n", what, i);
	abort();
}

static void on_state(void *ud, const char *state, const char *reason)
{
	(void)ud;
	if (!state || (reason && strstr(reason, SECRET)))
		die("a state event without a name, or with the secret", -1);
}

static void gated(lt_cl *cl, bool deadline)
{
	if (nslots == MAXREQ)
		return;
	slot *s = &slots[nslots];
	char t[160];
	int n = snprintf(t, sizeof t,
			 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"private/"
			 "get_position\",\"params\":{\"instrument_name\":\"BTC-PERPETUAL\"}}");
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, t, (size_t)n);
	lt_req_spec spec = {.method = "private/get_position",
			    .schema = NULL,
			    .pool = LT_POOL_NON_ME,
			    .cost = 500,
			    .flags = LT_REQ_GATED};
	lt_err err;
	lt_test_in_submit = 1;
	int rc = lt_cl_submit(cl, &spec, &b, deadline ? 2 : 0, lt_test_on_done, &s->rec, 0, NULL,
			      &err);
	lt_test_in_submit = 0;
	lt_buf_free(&b);
	s->accepted = rc == 0;
	nslots++;
}

/* The id of the latest text on the wire containing needle (any text when NULL), or -1. */
static int64_t latest(const char *needle)
{
	for (int i = tp.nwire - 1; i >= 0; i--)
		if (!needle || strstr(tp.wire[i], needle))
			return lt_fake_id(&tp, i);
	return -1;
}

static void answer(int64_t id, const char *member, const uint8_t *body, size_t n)
{
	if (id < 0)
		return;
	size_t cap = n + 96;
	char *m = malloc(cap);
	int k = snprintf(m, cap, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"%s\":%.*s}", (long long)id,
			 member, (int)n, (const char *)body);
	size_t len = (size_t)k < cap ? (size_t)k : cap - 1;
	char *exact = malloc(len ? len : 1); /* exact size, so ASan sees any over-read */
	memcpy(exact, m, len);
	free(m);
	tp.cbs.on_message(tp.ud, exact, len);
	free(exact);
}

static void deliver(lt_cl *cl, const uint8_t *p, size_t n, bool *open)
{
	if (n >= 5 && memcmp(p, "!auth", 5) == 0) {
		answer(latest("\"public/auth\""), "result", p + 5, n - 5);
	} else if (n >= 4 && memcmp(p, "!err", 4) == 0) {
		char e[96];
		int k = snprintf(e, sizeof e, "{\"code\":%.*s,\"message\":\"fuzz\"}",
				 (int)(n - 4 < 20 ? n - 4 : 20), (const char *)p + 4);
		answer(latest(NULL), "error", (const uint8_t *)e, (size_t)k);
	} else if (n >= 4 && memcmp(p, "!ans", 4) == 0) {
		answer(latest(NULL), "result", p + 4, n - 4);
	} else if (n >= 6 && memcmp(p, "!gated", 6) == 0) {
		gated(cl, n > 6);
	} else if (n == 5 && memcmp(p, "!tick", 5) == 0) {
		if (ticks++ < 4)
			lt_test_run(loop, 3, NULL, NULL);
	} else if (n == 5 && memcmp(p, "!drop", 5) == 0) {
		if (*open)
			lt_fake_drop(&tp, "fuzz drop");
		*open = false;
	} else if (n == 5 && memcmp(p, "!open", 5) == 0) {
		if (!*open)
			lt_fake_open(&tp);
		*open = true;
	} else {
		char *copy = malloc(n ? n : 1);
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
	lt_log_set_level(LT_LOG_ERROR); /* quiet: refused answers (WARN) are expected */
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
	nslots = ticks = 0;
	lt_test_seq = 0;
	lt_fake_tp_arm(&tp);
	lt_cl *cl;
	lt_priv *pv;
	lt_err err;
	if (lt_cl_new(L, loop, &opts, NULL, NULL, &cl, &err))
		abort();
	bool signature = !(data[0] & 1);
	lt_priv_opts po = {.client_id = "fuzz-id",
			   .refresh_fraction = 0.8,
			   .grant = signature ? LT_GRANT_SIGNATURE : LT_GRANT_CREDENTIALS,
			   .auth_timeout_ms = (data[0] & 4) ? 2 : 0,
			   .secret = lt_secret_new(SECRET, sizeof SECRET - 1)};
	static const lt_priv_events ev = {on_state};
	if (lt_priv_new(cl, &po, &ev, NULL, &pv, &err))
		abort();
	lt_priv_want_cod(pv, (data[0] & 2) != 0);
	bool open = true;
	lt_fake_open(&tp);
	size_t pos = 1;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		deliver(cl, data + pos, end - pos, &open);
		pos = end + 1;
		if (lt_priv_state(pv) > LT_AUTH_FAILED || !lt_priv_state_name(pv))
			die("state out of range", -1);
	}
	if (signature)
		for (int i = 0; i < tp.nwire; i++)
			if (strstr(tp.wire[i], SECRET))
				die("the secret was written", i);
	for (int i = 0; i < nslots; i++)
		if (slots[i].rec.calls > 1 || slots[i].rec.in_submit || slots[i].rec.anomalies)
			die("ended twice, inside submit, or with a bad value", i);
	lt_cl_free(cl); /* first: its requests' callbacks still find the lt_priv */
	lt_priv_free(pv);
	lua_gc(L, LUA_GCCOLLECT);
	for (int i = 0; i < nslots; i++)
		if (slots[i].rec.calls != (slots[i].accepted ? 1 : 0) || slots[i].rec.anomalies)
			die("did not end exactly once", i);
	if (lua_gettop(L) != 0)
		abort();
	return 0;
}
