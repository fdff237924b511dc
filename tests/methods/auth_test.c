/* auth_test.c — public/auth codec (src/methods/auth.c): no Lua name (the C core sends it),
 * request text for the three grant types (deribit-api.md §10 sample 2 exactly), what each
 * grant type needs and refuses (the secret never travels with a signature), the field types,
 * and decoding of the auth result (§10 sample 3: strings, expires_in an integer,
 * enabled_features an array) and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lua_secret.h"
#include "methods/trading_test.h"

#define M "public/auth"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"
#define SIG "97c9abe265685205b581c7b680c10deba882daf27d06910d1321838465a2f9b3"
#define SIGNED "grant_type = 'client_signature', client_id = 'fT3kLq9w', " \
	       "timestamp = 1767225600123, nonce = 'k7d2q9xa', signature = '" SIG "', "

static void auth_descriptor(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	assert_null(m->lua_name);
	assert_false(m->flags & LT_MF_PRIVATE);
	assert_int_equal(m->pool, LT_POOL_NON_ME);
	assert_int_equal(m->cost, 500);
	assert_non_null(m->check);
	assert_null(lt_method_find_lua("auth"));
}

static void auth_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		/* deribit-api.md §10 sample 2 */
		{"{ scope = 'session:lt-exec trade:read_write', signature = '" SIG "', data = '', "
		 "nonce = 'k7d2q9xa', timestamp = 1767225600123, client_id = 'fT3kLq9w', "
		 "grant_type = 'client_signature' }",
		 REQ "{\"grant_type\":\"client_signature\",\"client_id\":\"fT3kLq9w\","
		     "\"timestamp\":1767225600123,\"nonce\":\"k7d2q9xa\",\"data\":\"\","
		     "\"signature\":\"" SIG "\",\"scope\":\"session:lt-exec trade:read_write\"}}"},
		{"{ " SIGNED "data = 'rt-1', state = 's1' }",
		 REQ "{\"grant_type\":\"client_signature\",\"client_id\":\"fT3kLq9w\","
		     "\"timestamp\":1767225600123,\"nonce\":\"k7d2q9xa\",\"data\":\"rt-1\","
		     "\"signature\":\"" SIG "\",\"state\":\"s1\"}}"},
		{"{ grant_type = 'client_credentials', client_id = 'id', client_secret = 'sec', "
		 "scope = 'connection' }",
		 REQ "{\"grant_type\":\"client_credentials\",\"client_id\":\"id\","
		     "\"client_secret\":\"sec\",\"scope\":\"connection\"}}"},
		{"{ grant_type = 'refresh_token', refresh_token = '1767830400150.1HiJkLmN.t5Rz1pQe9uYk' }",
		 REQ "{\"grant_type\":\"refresh_token\","
		     "\"refresh_token\":\"1767830400150.1HiJkLmN.t5Rz1pQe9uYk\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void auth_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "grant_type: required"},
		{"{ client_id = 'id', client_secret = 's' }", "grant_type: required"},
		{"{ grant_type = 'password' }",
		 "grant_type: must be one of client_signature, client_credentials, refresh_token"},
		/* client_credentials */
		{"{ grant_type = 'client_credentials', client_secret = 's' }",
		 "client_id: required for grant_type client_credentials"},
		{"{ grant_type = 'client_credentials', client_id = 'id' }",
		 "client_secret: required for grant_type client_credentials"},
		{"{ grant_type = 'client_credentials', client_id = 'id', client_secret = 's', "
		 "signature = 'ab' }",
		 "signature: not allowed with grant_type client_credentials"},
		{"{ grant_type = 'client_credentials', client_id = 'id', client_secret = 's', "
		 "refresh_token = 'r' }",
		 "refresh_token: not allowed with grant_type client_credentials"},
		/* client_signature */
		{"{ grant_type = 'client_signature', timestamp = 1, nonce = 'n', signature = 's' }",
		 "client_id: required for grant_type client_signature"},
		{"{ grant_type = 'client_signature', client_id = 'i', nonce = 'n', signature = 's' }",
		 "timestamp: required for grant_type client_signature"},
		{"{ grant_type = 'client_signature', client_id = 'i', timestamp = 1, nonce = 'n' }",
		 "signature: required for grant_type client_signature"},
		{"{ grant_type = 'client_signature', client_id = 'i', timestamp = 1, signature = 's' }",
		 "nonce: required for grant_type client_signature"},
		{"{ " SIGNED "client_secret = 'sec' }",
		 "client_secret: not allowed with grant_type client_signature"},
		{"{ " SIGNED "refresh_token = 'r' }",
		 "refresh_token: not allowed with grant_type client_signature"},
		/* refresh_token */
		{"{ grant_type = 'refresh_token' }", "refresh_token: required for grant_type refresh_token"},
		{"{ grant_type = 'refresh_token', refresh_token = 'r', client_id = 'i' }",
		 "client_id: not allowed with grant_type refresh_token"},
		{"{ grant_type = 'refresh_token', refresh_token = 'r', nonce = 'n' }",
		 "nonce: not allowed with grant_type refresh_token"},
		/* field types */
		{"{ " SIGNED "timestamp = 1767225600123.5 }",
		 "timestamp: expected integer, got 1767225600123.5"},
		{"{ " SIGNED "timestamp = '1767225600123' }", "timestamp: expected integer, got string"},
		{"{ " SIGNED "timestamp = 0 }", "timestamp: must be > 0"},
		{"{ " SIGNED "data = 5 }", "data: expected string, got number"},
		{"{ " SIGNED "nonce = '' }", "nonce: must not be empty"},
		{"{ " SIGNED "signature = '' }", "signature: must not be empty"},
		{"{ " SIGNED "scope = {} }", "scope: expected string, got table"},
		{"{ " SIGNED "access_token = 't' }", "unknown parameter 'access_token' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

/* The field of the table on top is a luatrade.Secret holding exactly `value`, and tostring
 * shows only "<secret>". */
static void assert_secret(lua_State *L, const char *field, const char *value)
{
	lua_getfield(L, -1, field);
	const lt_secret *sec = lt_lua_secret(L, -1);
	assert_non_null(sec);
	size_t n;
	const char *p = lt_secret_expose(sec, &n);
	assert_int_equal(n, strlen(value));
	assert_memory_equal(p, value, n);
	assert_string_equal(luaL_tolstring(L, -1, NULL), "<secret>");
	lua_pop(L, 2);
}

static void auth_decodes_result(void **state)
{
	(void)state;
	const lt_method *m = mt_method(M);
	lua_State *L = mt_lua();
	/* deribit-api.md §10 sample 3, plus state and sid */
	tt_reply(L, m,
		 "{\"access_token\":\"1767225600150.1AbCdEfG.q8V0m2Lr7sXw\","
		 "\"refresh_token\":\"1767830400150.1HiJkLmN.t5Rz1pQe9uYk\",\"expires_in\":900,"
		 "\"scope\":\"mainaccount session:lt-exec trade:read_write\","
		 "\"token_type\":\"bearer\",\"state\":\"s1\",\"sid\":\"4e3f\","
		 "\"enabled_features\":[\"mmp\"]}");
	/* tokens decode into opaque secrets (LT_T_SECRET), never into Lua strings */
	assert_secret(L, "access_token", "1767225600150.1AbCdEfG.q8V0m2Lr7sXw");
	assert_secret(L, "refresh_token", "1767830400150.1HiJkLmN.t5Rz1pQe9uYk");
	mt_int(L, -1, "expires_in", 900);
	mt_str(L, -1, "scope", "mainaccount session:lt-exec trade:read_write");
	mt_str(L, -1, "token_type", "bearer");
	mt_str(L, -1, "state", "s1");
	mt_str(L, -1, "sid", "4e3f");
	mt_str(L, -1, "enabled_features.1", "mmp");
	lua_pop(L, 1);
	/* result before id: decoded untyped first, then retyped: the token still ends a secret */
	static const char late_id[] = "{\"jsonrpc\":\"2.0\",\"result\":{\"access_token\":\"tok-late\","
				      "\"expires_in\":60},\"id\":1}";
	tt_decode_text(L, late_id, sizeof late_id - 1, m, LT_MSG_RESULT);
	assert_secret(L, "access_token", "tok-late");
	lua_pop(L, 1);
	tt_reply(L, m, "{\"access_token\":\"a\",\"expires_in\":31536000.0,\"enabled_features\":[]}");
	mt_int(L, -1, "expires_in", 31536000); /* integral float text -> integer */
	assert_int_equal(mt_len(L, -1, "enabled_features"), 0);
	lua_close(L);
	mt_error_reply(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auth_descriptor),
		cmocka_unit_test(auth_request),
		cmocka_unit_test(auth_validation),
		cmocka_unit_test(auth_decodes_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
