/* auth_test.c — public/auth (src/methods/auth.c): the descriptor (no Lua name and no
 * parameters: the request is src/auth.c's lt_auth_request, tested in tests/auth_test.c) and the
 * decoding of real-shaped answers with its result schema: deribit-api.md §10 sample 3 exactly,
 * the optional fields of §3 with the id last (decoded before the schema is known, then
 * retyped), tokens that always end up as luatrade.Secret objects, empty tokens, every truncated
 * prefix fed byte by byte and every single-byte corruption failing cleanly, an error reply,
 * and no copy of a token left in the decoder's own memory once a decode is over.
 * The answers are strings here because tests/fixtures has no auth answer (the venue's answer
 * carries live tokens, so none was captured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lua_secret.h"
#include "methods/trading_test.h"

#define M "public/auth"
#define ACCESS "1767225600150.1AbCdEfG.q8V0m2Lr7sXw"
#define REFRESH "1767830400150.1HiJkLmN.t5Rz1pQe9uYk"

/* deribit-api.md §10 sample 3, byte for byte. */
static const char sample3[] =
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"access_token\":\"" ACCESS "\","
	"\"refresh_token\":\"" REFRESH "\",\"expires_in\":900,"
	"\"scope\":\"mainaccount session:lt-exec trade:read_write\",\"token_type\":\"bearer\","
	"\"enabled_features\":[]},\"usIn\":1767225600140012,\"usOut\":1767225600150877,"
	"\"usDiff\":10865,\"testnet\":true}";

/* The optional fields of §3 (state, sid, enabled_features, mandatory_tfa_status,
 * google_login), a connection token's year-long expires_in written as a float, keys in
 * another order, and the id after the result. */
static const char late_id[] =
	"{\"jsonrpc\":\"2.0\",\"result\":{\"token_type\":\"bearer\",\"state\":\"s1\","
	"\"sid\":\"4e3f\",\"scope\":\"connection mainaccount\",\"refresh_token\":\"" REFRESH "\","
	"\"mandatory_tfa_status\":\"disabled\",\"google_login\":false,\"expires_in\":31536000.0,"
	"\"enabled_features\":[\"mmp\",\"block_rfq_self_match_prevention\"],"
	"\"access_token\":\"" ACCESS "\"},\"usIn\":1767225600140012,\"usOut\":1767225600150877,"
	"\"usDiff\":10865,\"testnet\":false,\"id\":7}";

/* Decode text[0..len) as an answer to public/auth, from an exact-size copy so that ASan sees
 * any read past the end. The value is left on the stack on success. */
static int decode(lua_State *L, const char *text, size_t len, lt_envelope *env, lt_err *err)
{
	const lt_method *m = mt_method(M);
	lt_resolver res = {mt_resolve_result, mt_resolve_data, (void *)m};
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, text, len);
	int rc = lt_json_decode_envelope(L, copy, len, &res, env, err);
	free(copy);
	return rc;
}

static void decode_ok(lua_State *L, const char *text, lt_envelope *env)
{
	lt_err err = {0};
	int top = lua_gettop(L);
	if (decode(L, text, strlen(text), env, &err) != 0)
		fail_msg("decode failed: %s\n%s", err.msg, text);
	assert_int_equal(env->kind, LT_MSG_RESULT);
	assert_int_equal(lua_gettop(L), top + 1);
}

/* The field of the table on top is a luatrade.Secret holding exactly `value`, and tostring
 * shows only "<secret>". */
static void assert_secret(lua_State *L, const char *field, const char *value)
{
	lua_getfield(L, -1, field);
	const lt_secret *sec = lt_lua_secret(L, -1);
	if (!sec)
		fail_msg("%s: expected a secret, got %s", field, luaL_typename(L, -1));
	size_t n;
	const char *p = lt_secret_expose(sec, &n);
	assert_int_equal(n, strlen(value));
	assert_memory_equal(p, value, n);
	assert_string_equal(luaL_tolstring(L, -1, NULL), "<secret>");
	lua_pop(L, 2);
}

static void auth_descriptor(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	assert_null(m->lua_name);
	assert_false(m->flags & LT_MF_PRIVATE);
	assert_int_equal(m->pool, LT_POOL_NON_ME);
	assert_int_equal(m->cost, 500);
	assert_null(m->params);
	assert_null(m->check);
	assert_non_null(m->result);
	assert_int_equal(m->result->type, LT_T_OBJECT);
	assert_null(lt_method_find_lua("auth"));
}

/* client:call("public/auth", ...) goes through lt_method_encode: with no declared parameters,
 * credentials are refused instead of being encoded from Lua strings. */
static void auth_takes_no_parameters(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ grant_type = 'client_credentials' }", "unknown parameter 'grant_type' for " M},
		{"{ client_secret = 'sec' }", "unknown parameter 'client_secret' for " M},
		{"{ refresh_token = '" REFRESH "' }", "unknown parameter 'refresh_token' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void auth_decodes_sample(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	decode_ok(L, sample3, &env);
	assert_true(env.has_id);
	assert_int_equal(env.id, 2);
	assert_int_equal(env.us_in, 1767225600140012);
	assert_int_equal(env.us_out, 1767225600150877);
	assert_true(env.testnet);
	assert_secret(L, "access_token", ACCESS);
	assert_secret(L, "refresh_token", REFRESH);
	mt_int(L, -1, "expires_in", 900);
	mt_str(L, -1, "scope", "mainaccount session:lt-exec trade:read_write");
	mt_str(L, -1, "token_type", "bearer");
	assert_int_equal(mt_len(L, -1, "enabled_features"), 0);
	tt_absent(L, -1, "state");
	tt_absent(L, -1, "sid");
	lua_close(L);
}

/* Decoded as ANY first, then retyped with the result schema: the tokens still end up as
 * secrets and expires_in as an integer. */
static void auth_decodes_late_id(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	decode_ok(L, late_id, &env);
	assert_int_equal(env.id, 7);
	assert_false(env.testnet);
	assert_secret(L, "access_token", ACCESS);
	assert_secret(L, "refresh_token", REFRESH);
	mt_int(L, -1, "expires_in", 31536000);
	mt_str(L, -1, "scope", "connection mainaccount");
	mt_str(L, -1, "state", "s1");
	mt_str(L, -1, "sid", "4e3f");
	mt_str(L, -1, "enabled_features.1", "mmp");
	mt_str(L, -1, "enabled_features.2", "block_rfq_self_match_prevention");
	mt_str(L, -1, "mandatory_tfa_status", "disabled"); /* unknown keys: ANY */
	mt_bool(L, -1, "google_login", false);
	lua_close(L);
}

/* An empty token holds nothing to protect: it stays "", in either key order, and decoding it
 * raises nothing (a secret cannot be empty). */
static void auth_empty_token(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"access_token\":\"\",\"expires_in\":60}}",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"access_token\":\"\",\"expires_in\":60},\"id\":3}",
	};
	for (size_t i = 0; i < MT_N(texts); i++) {
		lua_State *L = mt_lua();
		lt_envelope env;
		decode_ok(L, texts[i], &env);
		mt_str(L, -1, "access_token", "");
		mt_int(L, -1, "expires_in", 60);
		lua_close(L);
	}
}

/* Every proper prefix, fed one byte longer each time, is rejected with LT_EJSON and leaves
 * nothing on the stack. */
static void auth_truncated_rejected(void **state)
{
	(void)state;
	static const char *const texts[] = {sample3, late_id};
	lua_State *L = mt_lua();
	for (size_t t = 0; t < MT_N(texts); t++) {
		size_t len = strlen(texts[t]);
		for (size_t n = 0; n < len; n++) {
			lt_envelope env;
			lt_err err = {0};
			int rc = decode(L, texts[t], n, &env, &err);
			if (rc != LT_EJSON)
				fail_msg("prefix of %zu bytes gave %d, want LT_EJSON", n, rc);
			assert_int_equal(lua_gettop(L), 0);
		}
	}
	lua_close(L);
}

/* Every byte replaced in turn by each of a few troublemakers decodes or fails with LT_EJSON,
 * with the Lua stack balanced either way. */
static void auth_corrupted_bytes(void **state)
{
	(void)state;
	static const char bad[] = {'\0', '"', '}', ']', ',', '\\', '1', (char)0xff};
	lua_State *L = mt_lua();
	size_t len = strlen(sample3);
	char *text = malloc(len);
	assert_non_null(text);
	for (size_t i = 0; i < len; i++)
		for (size_t k = 0; k < sizeof bad; k++) {
			memcpy(text, sample3, len);
			text[i] = bad[k];
			lt_envelope env;
			lt_err err = {0};
			int rc = decode(L, text, len, &env, &err);
			if (rc != 0 && rc != LT_EJSON)
				fail_msg("byte %zu = 0x%02x gave %d: %s", i, (unsigned char)bad[k], rc,
					 err.msg);
			assert_int_equal(lua_gettop(L), rc == 0 ? 1 : 0);
			lua_settop(L, 0);
		}
	free(text);
	lua_close(L);
}

/* Whether a full userdata held by the registry (the decoder's box, with yajl's arena, among
 * them) contains needle[0..n). */
static bool registry_holds(lua_State *L, const char *needle, size_t n)
{
	bool found = false;
	lua_pushnil(L);
	while (lua_next(L, LUA_REGISTRYINDEX)) {
		if (lua_type(L, -1) == LUA_TUSERDATA &&
		    memmem(lua_touserdata(L, -1), lua_rawlen(L, -1), needle, n))
			found = true;
		lua_pop(L, 1);
	}
	return found;
}

/* Where yajl copies token text into its own buffers (a string with escapes is unescaped into
 * its decode buffer; input that ends inside a string leaves the partial token in the lexer's
 * buffer), the decoder cleanses them once the parse is over. */
static void auth_leaves_no_copy(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	static const char escaped[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"access_token\":"
				      "\"1767225600150.1AbCdEfG\\/q8V0m2Lr7sXw\",\"expires_in\":900}}";
	decode_ok(L, escaped, &env);
	assert_secret(L, "access_token", "1767225600150.1AbCdEfG/q8V0m2Lr7sXw");
	lua_settop(L, 0);
	assert_false(registry_holds(L, "AbCdEfG/q8V0m2Lr7sXw", 20));
	/* cut inside the access token, at least 16 of its bytes in */
	size_t start = (size_t)(strstr(sample3, ACCESS) - sample3);
	for (size_t n = start + 16; n < start + strlen(ACCESS); n++) {
		lt_err err = {0};
		assert_int_equal(decode(L, sample3, n, &env, &err), LT_EJSON);
		if (registry_holds(L, ACCESS, 16))
			fail_msg("a prefix of %zu bytes left the token in the decoder's memory", n);
	}
	lua_close(L);
}

static void auth_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method(M));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auth_descriptor),
		cmocka_unit_test(auth_takes_no_parameters),
		cmocka_unit_test(auth_decodes_sample),
		cmocka_unit_test(auth_decodes_late_id),
		cmocka_unit_test(auth_empty_token),
		cmocka_unit_test(auth_truncated_rejected),
		cmocka_unit_test(auth_corrupted_bytes),
		cmocka_unit_test(auth_leaves_no_copy),
		cmocka_unit_test(auth_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
