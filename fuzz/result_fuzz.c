/* result_fuzz.c — libFuzzer harness for every method's result decoder (lt_methods[],
 * src/methods/registry.c): the first input byte picks the method, the rest is the JSON result.
 * It goes through the entry point the client uses to turn a response into a Lua value,
 * lt_json_decode_envelope with a resolver that gives the pending request's result schema
 * (rpc.c resolve_result), wrapped as a response with the id before the result (one pass) and,
 * when bit 7 of the first byte is set, after it (the second pass, json_retype.c).
 * Invariants: never crashes or raises; returns 0 with kind RESULT, the right id and exactly one
 * value pushed, or LT_EJSON with a message and nothing pushed; the same for the bare result
 * decoded with lt_json_decode and the method's schema. Seeds: fuzz/seeds/result_fuzz/ (results
 * of tests/fixtures, a method byte in front). */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static size_t nmethods(void)
{
	size_t n = 0;
	while (lt_methods[n])
		n++;
	return n;
}

static const lt_schema *res_result(void *ud, int64_t id)
{
	return id == 7 ? ((const lt_method *)ud)->result : NULL;
}

static const lt_schema *res_data(void *ud, const char *channel, size_t len)
{
	(void)ud;
	return lt_channel_schema(channel, len);
}

static void check(bool ok, const char *what, const lt_method *m)
{
	if (!ok) {
		fprintf(stderr, "result_fuzz: %s (%s)\n", what, m->name);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":";
	static const char tail_first[] = ",\"usIn\":1,\"usOut\":2,\"usDiff\":1,\"testnet\":true}";
	if (size < 1)
		return 0;
	const lt_method *m = lt_methods[(data[0] & 0x7f) % nmethods()];
	bool result_first = data[0] & 0x80;
	const char *body = (const char *)data + 1;
	size_t blen = size - 1;
	size_t cap = sizeof head + blen + sizeof tail_first + 16;
	char *msg = malloc(cap);
	size_t n;
	if (result_first) {
		memcpy(msg, "{\"result\":", 10);
		memcpy(msg + 10, body, blen);
		n = 10 + blen;
		static const char rest[] = ",\"jsonrpc\":\"2.0\",\"id\":7}";
		memcpy(msg + n, rest, sizeof rest - 1);
		n += sizeof rest - 1;
	} else {
		memcpy(msg, head, sizeof head - 1);
		memcpy(msg + sizeof head - 1, body, blen);
		n = sizeof head - 1 + blen;
		memcpy(msg + n, tail_first, sizeof tail_first - 1);
		n += sizeof tail_first - 1;
	}
	lt_resolver res = {res_result, res_data, (void *)m};
	lt_envelope env;
	lt_err err = {0, ""};
	/* a fresh state per input: nothing outlives it, so LeakSanitizer sees real leaks only */
	lua_State *L = luaL_newstate();
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, msg, n, &res, &env, &err);
	if (rc == 0) {
		check(lua_gettop(L) == top + 1, "success must push one value", m);
		check(env.kind == LT_MSG_RESULT && env.has_id && env.id == 7, "kind/id", m);
	} else {
		check(rc == LT_EJSON && err.code == LT_EJSON && err.msg[0], "clean LT_EJSON", m);
		check(lua_gettop(L) == top, "failure must push nothing", m);
	}
	lua_settop(L, top);
	free(msg);

	/* The bare result, in an exact-size copy so ASan sees any over-read. */
	char *copy = malloc(blen ? blen : 1);
	memcpy(copy, body, blen);
	lt_err err2 = {0, ""};
	int rc2 = lt_json_decode(L, copy, blen, m->result, &err2);
	if (rc2 == 0)
		check(lua_gettop(L) == top + 1, "bare: success must push one value", m);
	else
		check(rc2 == LT_EJSON && err2.msg[0] && lua_gettop(L) == top, "bare: clean error",
		      m);
	lua_settop(L, top);
	free(copy);
	lua_close(L);
	return 0;
}
