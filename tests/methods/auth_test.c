/* auth_test.c — public/auth (src/methods/auth.c): the descriptor (no Lua name and no
 * parameters: the request is src/auth.c's lt_auth_request, tested in tests/auth_test.c) and the
 * decoding of real-shaped answers with its result schema: deribit-api.md §10 sample 3 exactly,
 * the optional fields of §3 with the id last (the result comes before the id that selects its
 * schema), tokens that always end up as luatrade.Secret objects, empty tokens, every truncated
 * prefix fed byte by byte and every single-byte corruption failing cleanly, an error reply,
 * no copy of a token left in the decoder's own memory once a decode is over, and the proof
 * that no token is ever a Lua string, whatever the key order and however the answer is broken:
 * a Lua allocator that looks for token text in every block it hands out.
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

/* The result comes before the id that selects its schema: the tokens still end up as secrets
 * and expires_in as an integer (auth_no_token_in_the_lua_heap: never as strings meanwhile). */
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
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"access_token\":\"\",\"expires_in\":60}"
		"}",
		"{\"jsonrpc\":\"2.0\",\"result\":{\"access_token\":\"\",\"expires_in\":60},\"id\":"
		"3}",
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
	for (size_t t = 0; t < MT_N(texts); t++) { /* (and in auth_no_token_in_the_lua_heap) */
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
 * with the Lua stack balanced either way; in either key order. */
static void auth_corrupted_bytes(void **state)
{
	(void)state;
	static const char bad[] = {'\0', '"', '}', ']', ',', '\\', '1', (char)0xff};
	static const char *const texts[] = {sample3, late_id};
	lua_State *L = mt_lua();
	for (size_t t = 0; t < MT_N(texts); t++) {
		size_t len = strlen(texts[t]);
		char *text = malloc(len);
		assert_non_null(text);
		for (size_t i = 0; i < len * sizeof bad; i++) {
			memcpy(text, texts[t], len);
			text[i / sizeof bad] = bad[i % sizeof bad];
			lt_envelope env;
			lt_err err = {0};
			int rc = decode(L, text, len, &env, &err);
			if (rc != 0 && rc != LT_EJSON)
				fail_msg("byte %zu = 0x%02x gave %d: %s", i / sizeof bad,
					 (unsigned char)bad[i % sizeof bad], rc, err.msg);
			assert_int_equal(lua_gettop(L), rc == 0 ? 1 : 0);
			lua_settop(L, 0);
		}
		free(text);
	}
	lua_close(L);
}

/* ---- a Lua heap that can be searched ------------------------------------------------------
 *
 * A Lua state whose allocator keeps every block it hands out on a list, zeroes the bytes it
 * adds (so what malloc recycled, such as a freed copy of the input, is no finding), and looks
 * for token text in a block whenever the block is freed or moved (lua_close frees them all)
 * and, on demand, in every live block. A Lua string is such a block holding its bytes, so a
 * token decoded as a string, even for a moment, is seen when the string goes, if not before.
 * A secret's box holds only a pointer (secret.c mallocs the bytes), and the decoder's own box
 * (a userdata holding yajl's arena) is cleansed after a parse that copied string text into it,
 * so neither is a false alarm; auth_heap_watch_sees_strings shows that tokens decoded as
 * strings are seen. */

typedef union watch_block {
	struct {
		union watch_block *prev, *next;
		size_t n;
	} h;
	max_align_t align;
} watch_block;

typedef struct heap_watch {
	watch_block *live; /* every block the state holds */
	size_t blocks;
	int hits; /* blocks seen holding token text */
} heap_watch;

/* Any 8 bytes of the random part of a token (its prefix is a timestamp, which usIn shares). */
static bool holds_token(const unsigned char *p, size_t n)
{
	static const char *const tokens[] = {ACCESS, REFRESH};
	for (size_t t = 0; t < MT_N(tokens); t++) {
		const char *rnd = strchr(tokens[t], '.') + 1;
		for (size_t i = 0; i + 8 <= strlen(rnd); i++)
			if (memmem(p, n, rnd + i, 8))
				return true;
	}
	return false;
}

static void watch_look(heap_watch *w, watch_block *b)
{
	if (holds_token((const unsigned char *)(b + 1), b->h.n))
		w->hits++;
}

static void watch_link(heap_watch *w, watch_block *b)
{
	b->h.prev = NULL;
	b->h.next = w->live;
	if (w->live)
		w->live->h.prev = b;
	w->live = b;
	w->blocks++;
}

static void watch_unlink(heap_watch *w, watch_block *b)
{
	if (b->h.prev)
		b->h.prev->h.next = b->h.next;
	else
		w->live = b->h.next;
	if (b->h.next)
		b->h.next->h.prev = b->h.prev;
	w->blocks--;
}

static void *watch_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	heap_watch *w = ud;
	watch_block *b = ptr ? (watch_block *)ptr - 1 : NULL;
	(void)osize;
	if (b) { /* its bytes are about to be freed or moved: look at them now */
		watch_look(w, b);
		watch_unlink(w, b);
	}
	if (nsize == 0) {
		free(b);
		return NULL;
	}
	size_t old = b ? b->h.n : 0;
	watch_block *nb = realloc(b, sizeof *nb + nsize);
	if (!nb) {
		if (b)
			watch_link(w, b);
		return NULL;
	}
	if (nsize > old) /* what malloc recycled (the freed input, say) is no finding */
		memset((unsigned char *)(nb + 1) + old, 0, nsize - old);
	nb->h.n = nsize;
	watch_link(w, nb);
	return nb + 1;
}

/* Look at every block the state holds now; returns the hits so far. */
static int watch_all(heap_watch *w)
{
	for (watch_block *b = w->live; b; b = b->h.next)
		watch_look(w, b);
	return w->hits;
}

static lua_State *watched_lua(heap_watch *w)
{
	memset(w, 0, sizeof *w);
	lua_State *L = lua_newstate(watch_alloc, w);
	assert_non_null(L);
	return L;
}

/* Collect, look at what is left, close (every block is looked at as it is freed): the hits. */
static int watched_close(lua_State *L, heap_watch *w)
{
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT);
	watch_all(w);
	lua_close(L);
	assert_null(w->live);
	assert_int_equal(w->blocks, 0);
	return w->hits;
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
	heap_watch w;
	lua_State *L = watched_lua(&w); /* its new blocks are zeroed: no stale bytes from malloc */
	lt_envelope env;
	static const char escaped[] =
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"access_token\":"
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

/* ---- the proof: no token is ever a Lua string -------------------------------------------- */

#define TOKENS "\"access_token\":\"" ACCESS "\",\"refresh_token\":\"" REFRESH "\""
#define META                                                                                       \
	"\"usIn\":1767225600140012,\"usOut\":1767225600150877,\"usDiff\":10865,\"testnet\":false"

/* Answers whose "id" is late, nested, missing or doubled, next to tokens. */
static const struct proof_case {
	const char *what, *text;
	int rc;
	const char *want; /* in the error message */
} proof_cases[] = {
	{"result before id", late_id, 0, NULL},
	{"an id inside the result, the real one after it",
	 "{\"jsonrpc\":\"2.0\",\"result\":{\"id\":99," TOKENS ",\"expires_in\":900,"
	 "\"token_type\":\"bearer\",\"sid\":{\"id\":98}}," META ",\"id\":7}",
	 0, NULL},
	{"an id only inside the result",
	 "{\"jsonrpc\":\"2.0\",\"result\":{" TOKENS ",\"id\":7,\"expires_in\":900}," META "}",
	 LT_EJSON, "result without an id"},
	{"no id", "{\"jsonrpc\":\"2.0\",\"result\":{" TOKENS ",\"expires_in\":900}," META "}",
	 LT_EJSON, "result without an id"},
	{"an error before the id, then a result",
	 "{\"jsonrpc\":\"2.0\",\"error\":{\"message\":\"invalid_credentials\",\"code\":13004},"
	 "\"result\":{" TOKENS "}," META ",\"id\":7}",
	 LT_EJSON, "both error and result"},
	{"a result, then an error, then the id",
	 "{\"jsonrpc\":\"2.0\",\"result\":{" TOKENS "},\"error\":{\"code\":13004,"
	 "\"message\":\"invalid_credentials\"}," META ",\"id\":7}",
	 LT_EJSON, "both result and error"},
	{"a string id after the result",
	 "{\"jsonrpc\":\"2.0\",\"result\":{" TOKENS "}," META ",\"id\":\"7\"}", LT_EJSON,
	 "string id"},
	{"two ids after the result",
	 "{\"jsonrpc\":\"2.0\",\"result\":{" TOKENS "},\"id\":7," META ",\"id\":8}", LT_EJSON,
	 "duplicate id"},
	{"an error reply with the id last (§3: 13004)",
	 "{\"jsonrpc\":\"2.0\",\"error\":{\"message\":\"invalid_credentials\",\"code\":13004}," META
	 ",\"id\":7}",
	 0, NULL},
};

static void proof_decode(lua_State *L, const struct proof_case *c)
{
	lt_envelope env;
	lt_err err = {0};
	int rc = decode(L, c->text, strlen(c->text), &env, &err);
	if (rc != c->rc)
		fail_msg("%s: got %d (%s), want %d", c->what, rc, err.msg, c->rc);
	if (rc != 0) {
		if (!strstr(err.msg, c->want))
			fail_msg("%s: message \"%s\" lacks \"%s\"", c->what, err.msg, c->want);
		assert_int_equal(lua_gettop(L), 0);
		return;
	}
	assert_int_equal(env.id, 7);
	assert_int_equal(lua_gettop(L), 1);
	if (env.kind == LT_MSG_ERROR) {
		assert_int_equal(env.error_code, 13004);
		mt_str(L, -1, "message", "invalid_credentials");
		return;
	}
	assert_int_equal(env.kind, LT_MSG_RESULT);
	assert_secret(L, "access_token", ACCESS);
	assert_secret(L, "refresh_token", REFRESH);
	mt_int(L, -1, "expires_in", c->text == late_id ? 31536000 : 900);
}

/* Each answer, decoded in its own watched state: the outcome it should have, and no block of
 * the Lua heap ever held token text, neither after the decode (live blocks) nor at any moment
 * (every block freed or moved, until lua_close). */
static void auth_no_token_in_the_lua_heap(void **state)
{
	(void)state;
	for (size_t i = 0; i < MT_N(proof_cases); i++) {
		heap_watch w;
		lua_State *L = watched_lua(&w);
		proof_decode(L, &proof_cases[i]);
		assert_int_equal(lua_gettop(L), proof_cases[i].rc == 0 ? 1 : 0);
		if (watch_all(&w) || watched_close(L, &w))
			fail_msg("%s: token text in %d Lua heap block(s)", proof_cases[i].what,
				 w.hits);
	}
}

/* Every proper prefix of each answer, one byte longer each time, in one watched state: always
 * LT_EJSON with a message, nothing pushed, and never token text in the Lua heap. */
static void auth_no_token_in_the_lua_heap_when_truncated(void **state)
{
	(void)state;
	heap_watch w;
	lua_State *L = watched_lua(&w);
	for (size_t i = 0; i < MT_N(proof_cases); i++) {
		const char *text = proof_cases[i].text;
		for (size_t n = 0; n < strlen(text); n++) {
			lt_envelope env;
			lt_err err = {0};
			int rc = decode(L, text, n, &env, &err);
			if (rc != LT_EJSON || err.msg[0] == '\0')
				fail_msg("%s: prefix of %zu bytes gave %d", proof_cases[i].what, n,
					 rc);
			assert_int_equal(lua_gettop(L), 0);
			if (watch_all(&w))
				fail_msg("%s: prefix of %zu bytes left token text in the Lua heap",
					 proof_cases[i].what, n);
		}
	}
	if (watched_close(L, &w))
		fail_msg("token text in %d Lua heap block(s)", w.hits);
}

/* Where the id is cut off, the message says the input is truncated. */
static void auth_truncated_before_the_id(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	size_t n = (size_t)(strstr(late_id, "\"id\":7") - late_id);
	lt_envelope env;
	lt_err err = {0};
	assert_int_equal(decode(L, late_id, n, &env, &err), LT_EJSON);
	assert_non_null(strstr(err.msg, "json: truncated input at byte"));
	assert_int_equal(lua_gettop(L), 0);
	lua_close(L);
}

static const lt_schema *no_schema(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

/* The instrument works: the same answer decoded without its schema (ANY) leaves the tokens as
 * Lua strings, and the watch sees them. */
static void auth_heap_watch_sees_strings(void **state)
{
	(void)state;
	heap_watch w;
	lua_State *L = watched_lua(&w);
	lt_resolver res = {no_schema, NULL, NULL};
	lt_envelope env;
	lt_err err = {0};
	assert_int_equal(lt_json_decode_envelope(L, late_id, strlen(late_id), &res, &env, &err), 0);
	mt_str(L, -1, "access_token", ACCESS);
	assert_true(watch_all(&w) > 0);
	assert_true(watched_close(L, &w) > 0);
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
		cmocka_unit_test(auth_no_token_in_the_lua_heap),
		cmocka_unit_test(auth_no_token_in_the_lua_heap_when_truncated),
		cmocka_unit_test(auth_truncated_before_the_id),
		cmocka_unit_test(auth_heap_watch_sees_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
