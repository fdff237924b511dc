/* trading_test.h — helpers for the private-method codec tests (tests/methods/<method>_test.c
 * of buy, sell, edit, cancel..., private/subscribe), on top of method_test.h: the descriptor
 * of a private method (which may have no Lua name), an "absent" assertion, fixtures decoded
 * after a textual edit, and venue notifications composed from values cut out of fixtures and
 * decoded with lt_channel_schema (the user.* channels). Include after method_test.h.
 */
#ifndef LT_TRADING_TEST_H
#define LT_TRADING_TEST_H

#include "methods/method_test.h"

/* The registry finds m by name (and by lua_name unless it is NULL), m is private and draws
 * cost credits from pool. */
static inline const lt_method *tt_private(const char *name, const char *lua_name, lt_pool pool,
					  int cost)
{
	const lt_method *m = mt_method(name);
	if (lua_name) {
		mt_descriptor(name, lua_name, pool, cost);
	} else {
		assert_null(m->lua_name);
		assert_int_equal(m->pool, pool);
		assert_int_equal(m->cost, cost);
	}
	assert_true(m->flags & LT_MF_PRIVATE);
	return m;
}

/* Assert nothing (nil) is at path: the field was absent from the message. */
static inline void tt_absent(lua_State *L, int idx, const char *path)
{
	mt_get(L, idx, path);
	if (!lua_isnil(L, -1))
		fail_msg("%s: expected absent, got %s", path, luaL_typename(L, -1));
	lua_pop(L, 1);
}

/* Fixture name with the first occurrence of from replaced by to (malloc'd, NUL-terminated). */
static inline char *tt_fixture_edited(const char *name, const char *from, const char *to,
				      size_t *len)
{
	size_t n;
	char *text = mt_fixture(name, &n);
	char *at = strstr(text, from);
	if (!at)
		fail_msg("%s lacks \"%s\"", name, from);
	size_t pre = (size_t)(at - text), nf = strlen(from), nt = strlen(to);
	char *out = malloc(n - nf + nt + 1);
	assert_non_null(out);
	memcpy(out, text, pre);
	memcpy(out + pre, to, nt);
	strcpy(out + pre + nt, at + nf);
	free(text);
	*len = n - nf + nt;
	return out;
}

/* The JSON value following the first "key": of fixture name, as a malloc'd string (objects
 * and arrays by bracket matching, strings skipped whole). */
static inline char *tt_fixture_value(const char *name, const char *key)
{
	size_t n;
	char *text = mt_fixture(name, &n);
	char pat[128];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	char *at = strstr(text, pat);
	if (!at)
		fail_msg("%s lacks %s", name, pat);
	const char *s = at + strlen(pat);
	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	const char *e = s;
	int depth = 0;
	bool str = false;
	do {
		if (str) {
			if (*e == '\\')
				e++;
			else if (*e == '"')
				str = false;
		} else if (*e == '"') {
			str = true;
		} else if (*e == '{' || *e == '[') {
			depth++;
		} else if (*e == '}' || *e == ']') {
			depth--;
		}
		e++;
	} while (*e && (depth > 0 || str));
	char *out = strndup(s, (size_t)(e - s));
	assert_non_null(out);
	free(text);
	return out;
}

static inline const lt_schema *tt_no_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

static inline const lt_schema *tt_channel(void *ud, const char *channel, size_t len)
{
	(void)ud;
	return lt_channel_schema(channel, len);
}

/* Decode text as a venue message, notifications typed by lt_channel_schema (as rpc.c does);
 * the decoded value is left on the stack. */
static inline void tt_decode_channel(lua_State *L, const char *text, size_t len)
{
	lt_resolver res = {tt_no_result, tt_channel, NULL};
	lt_envelope env;
	lt_err err = {0};
	int top = lua_gettop(L);
	if (lt_json_decode_envelope(L, text, len, &res, &env, &err) != 0)
		fail_msg("decode failed: %s\n%s", err.msg, text);
	assert_int_equal(env.kind, LT_MSG_NOTIFY);
	assert_int_equal(lua_gettop(L), top + 1);
}

/* A subscription notification on channel carrying data (JSON text), decoded as above. */
static inline void tt_notify(lua_State *L, const char *channel, const char *data)
{
	size_t n = strlen(channel) + strlen(data) + 128;
	char *text = malloc(n);
	assert_non_null(text);
	n = (size_t)snprintf(text, n,
			     "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":"
			     "{\"channel\":\"%s\",\"data\":%s}}",
			     channel, data);
	tt_decode_channel(L, text, n);
	free(text);
}

/* Decode text as the reply to m (its result schema); the value is left on the stack. */
static inline void tt_decode_text(lua_State *L, const char *text, size_t len, const lt_method *m,
				  lt_msg_kind kind)
{
	lt_resolver res = {mt_resolve_result, mt_resolve_data, (void *)m};
	lt_envelope env;
	lt_err err = {0};
	if (lt_json_decode_envelope(L, text, len, &res, &env, &err) != 0)
		fail_msg("decode failed: %s", err.msg);
	assert_int_equal(env.kind, kind);
}

/* A reply {"jsonrpc":"2.0","id":1,"result":<result>} to m (result: JSON text, usually cut
 * out of a fixture with tt_fixture_value), decoded with m's result schema; value left on the
 * stack. */
static inline void tt_reply(lua_State *L, const lt_method *m, const char *result)
{
	size_t n = strlen(result) + 64;
	char *text = malloc(n);
	assert_non_null(text);
	n = (size_t)snprintf(text, n, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":%s}", result);
	tt_decode_text(L, text, n, m, LT_MSG_RESULT);
	free(text);
}

/* "[ {...} ]" -> "{...}": the object of a one-element array text, in place. */
static inline char *tt_unwrap(char *array)
{
	char *open = strchr(array, '{'), *close = strrchr(array, '}');
	assert_non_null(open);
	assert_non_null(close);
	close[1] = '\0';
	memmove(array, open, strlen(open) + 1);
	return array;
}

#endif
