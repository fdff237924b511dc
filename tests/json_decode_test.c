/* json_decode_test.c — the decoding machinery of src/json_decode.c and the files it is split
 * into (json_envelope.c, json_number.c, utf8.c, json_arena.c, json_retype.c; see
 * json_decode_internal.h), through the public API of codec.h: lt_json_decode (number
 * typing, null, containers of every size, depth, malformed and truncated input, Lua memory
 * errors) and lt_json_decode_envelope (the four message kinds, resolver calls, key-order
 * independence, envelope errors). Venue messages come from tests/fixtures; variants are made by
 * editing fixture text. The venue schemas themselves are checked in schemas_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "support/lua_helpers.h"

static const char *const all_fixtures[] = {
	"http_get_account_summaries.json",
	"http_get_instrument.json",
	"http_get_instrument_option.json",
	"http_get_instruments.json",
	"http_get_last_trades.json",
	"http_get_order_book.json",
	"http_get_positions.json",
	"http_get_time.json",
	"http_test.json",
	"ws_book_delta.json",
	"ws_book_delta_exact.json",
	"ws_book_grouped_snapshot.json",
	"ws_book_snapshot.json",
	"ws_book_snapshot_exact.json",
	"ws_chart.json",
	"ws_error.json",
	"ws_order_buy_response.json",
	"ws_order_cancel_response.json",
	"ws_order_edit_response.json",
	"ws_order_sell_response.json",
	"ws_order_stop_market_no_filled_amount.json",
	"ws_order_stop_market_response.json",
	"ws_portfolio.json",
	"ws_portfolio_exact.json",
	"ws_quote.json",
	"ws_subscribe_response.json",
	"ws_test_request.json",
	"ws_ticker.json",
	"ws_trades.json",
	"ws_trades_option_combo.json",
	"ws_user_trades_exact.json",
	"ws_volatility_index.json",
};
#define NFIXTURES (sizeof all_fixtures / sizeof all_fixtures[0])

/* ---- helpers ----------------------------------------------------------------------------- */

/* Resolver context: one result schema for every id; channels through lt_channel_schema. */
typedef struct resolver_ctx {
	const lt_schema *result;
	int result_calls, data_calls;
	int64_t last_id;
	char last_channel[256];
} resolver_ctx;

static const lt_schema *resolve_result(void *ud, int64_t id)
{
	resolver_ctx *c = ud;
	c->result_calls++;
	c->last_id = id;
	return c->result;
}

static const lt_schema *resolve_data(void *ud, const char *channel, size_t len)
{
	resolver_ctx *c = ud;
	c->data_calls++;
	snprintf(c->last_channel, sizeof c->last_channel, "%.*s", (int)len, channel);
	return lt_channel_schema(channel, len);
}

/* Decode text through the envelope with a fresh resolver context whose result schema is rs;
 * asserts success and returns with the value on top. */
static void decode_ok(lua_State *L, const char *text, size_t len, const lt_schema *rs,
		      lt_envelope *env, resolver_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->result = rs;
	lt_resolver res = {resolve_result, resolve_data, ctx};
	lt_err err = {0};
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, text, len, &res, env, &err);
	if (rc != 0)
		fail_msg("decode failed: %d %s", rc, err.msg);
	assert_int_equal(lua_gettop(L), top + 1);
}

/* Decode expecting LT_EJSON; checks the stack is unchanged and the message contains want
 * (if not NULL). */
static void decode_fails(lua_State *L, const char *text, size_t len, const char *want)
{
	resolver_ctx ctx = {0};
	lt_resolver res = {resolve_result, resolve_data, &ctx};
	lt_envelope env;
	lt_err err = {0};
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, text, len, &res, &env, &err);
	if (rc != LT_EJSON)
		fail_msg("expected LT_EJSON for <%.*s>, got %d", (int)(len > 80 ? 80 : len), text,
			 rc);
	assert_int_equal(err.code, LT_EJSON);
	assert_int_equal(lua_gettop(L), top);
	assert_true(strlen(err.msg) > 0);
	if (want && !strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

/* Plain decode of a NUL-terminated text with schema s; asserts success, value on top. */
static void plain_ok(lua_State *L, const char *text, const lt_schema *s)
{
	lt_err err = {0};
	int top = lua_gettop(L);
	int rc = lt_json_decode(L, text, strlen(text), s, &err);
	if (rc != 0)
		fail_msg("decode of <%.60s> failed: %s", text, err.msg);
	assert_int_equal(lua_gettop(L), top + 1);
}

static void plain_fails(lua_State *L, const char *text, size_t len, const char *want)
{
	lt_err err = {0};
	int top = lua_gettop(L);
	int rc = lt_json_decode(L, text, len, NULL, &err);
	if (rc != LT_EJSON)
		fail_msg("expected LT_EJSON for <%.*s>, got %d", (int)(len > 60 ? 60 : len), text,
			 rc);
	assert_int_equal(lua_gettop(L), top);
	if (want && !strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

/* A malloc'ed copy of text with the first occurrence of from replaced by to. */
static char *replace(const char *text, const char *from, const char *to, size_t *len)
{
	const char *at = strstr(text, from);
	if (!at)
		fail_msg("fixture lacks \"%s\"", from);
	size_t pre = (size_t)(at - text), nf = strlen(from), nt = strlen(to);
	size_t n = strlen(text) - nf + nt;
	char *out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, text, pre);
	memcpy(out + pre, to, nt);
	strcpy(out + pre + nt, at + nf);
	*len = n;
	return out;
}

/* The text of the JSON value following "key": in text (first occurrence). */
static const char *value_span(const char *text, const char *key, size_t *len)
{
	char quoted[64];
	snprintf(quoted, sizeof quoted, "\"%s\"", key);
	const char *p = strstr(text, quoted);
	assert_non_null(p);
	p += strlen(quoted);
	while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	const char *start = p;
	int level = 0;
	bool str = false;
	for (; *p; p++) {
		if (str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				str = false;
			if (!str && level == 0)
				break;
			continue;
		}
		if (*p == '"')
			str = true;
		else if (*p == '{' || *p == '[')
			level++;
		else if (*p == '}' || *p == ']') {
			if (--level == 0)
				break;
		} else if (level == 0 && (*p == ',' || *p == '}' || *p == '\n')) {
			p--;
			break;
		}
	}
	*len = (size_t)(p - start) + 1;
	return start;
}

/* Where the top-level value of a fixture ends (just after its closing brace). */
static size_t json_end(const char *text, size_t len)
{
	while (len > 0 && text[len - 1] != '}')
		len--;
	return len;
}

/* ---- plain decoding: types ----------------------------------------------------------------- */

static void test_any_keeps_lexical_types(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("http_get_last_trades.json", &len);
	lt_err err = {0};
	assert_int_equal(lt_json_decode(L, text, len, NULL, &err), 0);
	lt_test_assert_int(L, -1, "id", 2);
	lt_test_assert_bool(L, -1, "result.has_more", 1);
	lt_test_assert_float(L, -1, "result.trades.1.amount", 1.0);
	lt_test_assert_float(L, -1, "result.trades.1.index_price", 2967.73);
	lt_test_assert_int(L, -1, "result.trades.1.tick_direction", 0);
	lt_test_assert_int(L, -1, "result.trades.1.trade_seq", 203024587);
	lt_test_assert_str(L, -1, "result.trades.1.trade_id", "ETH-284830839");
	lt_test_assert_int(L, -1, "result.trades.10.timestamp", 1766332079917);
	lt_test_assert_float(L, -1, "result.trades.10.amount", 106.0);
	lt_test_assert_int(L, -1, "usIn", 1766335632425192);
	lt_test_push_path(L, -1, "result.trades");
	assert_int_equal(lua_rawlen(L, -1), 10);
	lua_close(L);
	free(text);
}

static void test_null_is_the_lightuserdata_sentinel(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_book_snapshot.json", &len);
	lt_err err = {0};
	assert_int_equal(lt_json_decode(L, text, len, NULL, &err), 0);
	lt_test_assert_null(L, -1, "params.data.prev_change_id");
	plain_ok(L, "null", NULL);
	assert_true(lua_islightuserdata(L, -1));
	assert_null(lua_touserdata(L, -1));
	plain_ok(L, "[null, null]", NULL);
	assert_int_equal(lua_rawlen(L, -1), 2);
	lt_test_assert_null(L, -1, "2");
	lua_close(L);
	free(text);
}

static void test_numbers_follow_the_schema(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	plain_ok(L, "93201", &lt_s_float);
	lt_test_assert_float(L, -1, "", 93201.0);
	plain_ok(L, "93201.5", &lt_s_float);
	lt_test_assert_float(L, -1, "", 93201.5);
	plain_ok(L, "2.0", &lt_s_int);
	lt_test_assert_int(L, -1, "", 2);
	plain_ok(L, "1e3", &lt_s_int);
	lt_test_assert_int(L, -1, "", 1000);
	plain_ok(L, "1.5", &lt_s_int); /* a fraction stays a float */
	lt_test_assert_float(L, -1, "", 1.5);
	plain_ok(L, "1700000000000", &lt_s_int);
	lt_test_assert_int(L, -1, "", 1700000000000);
	plain_ok(L, "10", NULL);
	lt_test_assert_int(L, -1, "", 10);
	plain_ok(L, "10.0", NULL);
	lt_test_assert_float(L, -1, "", 10.0);
	plain_ok(L, "1E2", NULL);
	lt_test_assert_float(L, -1, "", 100.0);
	plain_ok(L, "-2.5e-3", &lt_s_float);
	lt_test_assert_float(L, -1, "", -2.5e-3);
	/* a string where a number is declared stays a string (an order's "market_price") */
	plain_ok(L, "\"market_price\"", &lt_s_float);
	lt_test_assert_str(L, -1, "", "market_price");
	/* a number where a string is declared keeps its lexical type */
	plain_ok(L, "[7, 7.5]", &lt_s_string_array);
	lt_test_assert_int(L, -1, "1", 7);
	lt_test_assert_float(L, -1, "2", 7.5);
	lua_close(L);
}

static void test_number_edge_cases(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	plain_ok(L, "9223372036854775807", NULL);
	lt_test_assert_int(L, -1, "", INT64_MAX);
	plain_ok(L, "-9223372036854775808", NULL);
	lt_test_assert_int(L, -1, "", INT64_MIN);
	plain_ok(L, "9223372036854775808", NULL); /* beyond int64: float */
	lt_test_assert_float(L, -1, "", 9223372036854775808.0);
	plain_ok(L, "99999999999999999999", &lt_s_int);
	lt_test_assert_float(L, -1, "", 1e20);
	plain_ok(L, "-0", NULL);
	lt_test_assert_int(L, -1, "", 0);
	plain_ok(L, "-0", &lt_s_float);
	lt_test_assert_float(L, -1, "", 0.0);
	plain_ok(L, "-0.0", NULL);
	lt_test_assert_float(L, -1, "", -0.0);
	plain_ok(L, "1e400", NULL);
	lt_test_assert_float(L, -1, "", HUGE_VAL);
	plain_ok(L, "-1e400", &lt_s_int);
	lt_test_assert_float(L, -1, "", -HUGE_VAL);
	plain_ok(L, "1e-400", &lt_s_float);
	lt_test_assert_float(L, -1, "", 0.0);
	plain_ok(L, "0.000000000000000000000000001", NULL);
	lt_test_assert_float(L, -1, "", 1e-27);
	/* 400 digits: the long-text path */
	char big[512] = "1";
	memset(big + 1, '0', 400);
	big[401] = '\0';
	plain_ok(L, big, NULL);
	lt_test_assert_float(L, -1, "", HUGE_VAL);
	memcpy(big, "0.", 2);
	memset(big + 2, '3', 398);
	plain_ok(L, big, &lt_s_float);
	lt_test_assert_float(L, -1, "", strtod(big, NULL));
	lua_close(L);
}

/* The fast decimal path must round exactly like strtod. */
static void test_floats_round_like_strtod(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	unsigned seed = 12345;
	char text[64];
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned long long m = ((unsigned long long)seed << 20) ^ (seed >> 3);
		int digits = 1 + (int)(seed % 17);
		int frac = (int)((seed >> 8) % (unsigned)(digits + 1));
		char d[32];
		snprintf(d, sizeof d, "%0*llu", digits, m % 100000000000000000ull);
		d[digits] = '\0';
		int exp = (int)((seed >> 16) % 61) - 30;
		if (i % 3 == 0)
			snprintf(text, sizeof text, "%.*s.%s", digits - frac, d, d + digits - frac);
		else
			snprintf(text, sizeof text, "%.*s.%se%d", digits - frac, d,
				 d + digits - frac, exp);
		if (text[0] == '.')
			memmove(text + 1, text, strlen(text) + 1), text[0] = '0';
		size_t n = strlen(text);
		if (text[n - 1] == '.' || strstr(text, ".e")) /* "12." is not JSON */
			continue;
		if (text[0] == '0' && text[1] >= '0' && text[1] <= '9')
			continue; /* leading zeros are not JSON */
		plain_ok(L, text, &lt_s_float);
		double want = strtod(text, NULL), got = lua_tonumber(L, -1);
		if (memcmp(&want, &got, sizeof got) != 0)
			fail_msg("%s: strtod %.17g, decoded %.17g", text, want, got);
		lua_pop(L, 1);
	}
	lua_close(L);
}

static void test_strings_and_utf8(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	plain_ok(L, "\"caf\\u00e9 \\\"q\\\" \\n\"", NULL);
	lt_test_assert_str(L, -1, "", "caf\xc3\xa9 \"q\" \n");
	plain_ok(L, "\"\xe2\x82\xac\"", NULL);
	lt_test_assert_str(L, -1, "", "\xe2\x82\xac");
	plain_ok(L, "[\"\\ud800\"]", NULL); /* a lone surrogate escape: yajl substitutes */
	assert_int_equal(lt_test_push_path(L, -1, "1"), LUA_TSTRING);
	/* an escaped NUL inside a key must not match a schema field */
	plain_ok(L, "{\"timestamp\\u0000x\": 1.0, \"timestamp\": 2.0}", &lt_s_ticker);
	lt_test_assert_int(L, -1, "timestamp", 2);
	lua_pushlstring(L, "timestamp\0x", 11);
	lua_rawget(L, -2);
	assert_true(lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1));
	lua_close(L);
}

static void test_invalid_utf8_is_rejected(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	static const char *const bad[] = {
		"\xff",
		"\xc3\x28",
		"\xe2\x82",
		"\xc0\xaf",
		"\xe0\x80\xaf",
		"\xf0\x80\x80\xaf",
		"\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80",
		"\x80",
		"\xc3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char in_value[64], in_key[64];
		size_t n;
		snprintf(in_value, sizeof in_value, "\"BTC-%sPERPETUAL\"", bad[i]);
		char *t = replace(text, "\"BTC-PERPETUAL\"", in_value, &n);
		decode_fails(L, t, n, "UTF8");
		plain_fails(L, t, n, "UTF8");
		free(t);
		snprintf(in_key, sizeof in_key, "\"state%s\"", bad[i]);
		t = replace(text, "\"state\"", in_key, &n);
		decode_fails(L, t, n, "UTF8");
		free(t);
	}
	/* encoded surrogates pass, as yajl's own unescaping of a lone "\udc00" produces them */
	plain_ok(L, "[\"\xed\xb0\x80\", \"\\udc00\"]", NULL);
	lt_test_assert_str(L, -1, "1", "\xed\xb0\x80");
	lua_close(L);
	free(text);
}

/* ---- plain decoding: containers ---------------------------------------------------------- */

/* Arrays and objects of sizes around the point where an open container becomes a table. */
static void test_containers_of_every_size(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const int sizes[] = {0, 1, 2, 3, 127, 128, 129, 255, 256, 257, 511, 512, 513, 3000};
	size_t cap = 64 * 3000 + 64;
	char *text = malloc(cap);
	assert_non_null(text);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int n = sizes[s];
		size_t p = 0;
		p += (size_t)snprintf(text + p, cap - p, "[");
		for (int i = 1; i <= n; i++)
			p += (size_t)snprintf(text + p, cap - p, "%s[%d, %d.5, \"s%d\"]",
					      i > 1 ? "," : "", i, i, i);
		snprintf(text + p, cap - p, "]");
		plain_ok(L, text, &lt_s_levels);
		assert_int_equal(lua_rawlen(L, -1), n);
		for (int i = 1; i <= n; i++) {
			char path[32];
			snprintf(path, sizeof path, "%d.1", i);
			lt_test_assert_float(L, -1, path, (double)i);
			snprintf(path, sizeof path, "%d.2", i);
			lt_test_assert_float(L, -1, path, i + 0.5);
		}
		lua_pop(L, 1);

		p = 0;
		p += (size_t)snprintf(text + p, cap - p, "{");
		for (int i = 1; i <= n; i++)
			p += (size_t)snprintf(text + p, cap - p, "%s\"k%d\": [%d]",
					      i > 1 ? "," : "", i, i);
		snprintf(text + p, cap - p, "}");
		plain_ok(L, text, NULL);
		int count = 0;
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			count++;
			lua_pop(L, 1);
		}
		assert_int_equal(count, n);
		for (int i = 1; i <= n; i++) {
			char path[32];
			snprintf(path, sizeof path, "k%d.1", i);
			lt_test_assert_int(L, -1, path, i);
		}
		lua_pop(L, 1);
	}
	free(text);
	lua_close(L);
}

/* An empty object is an empty table wherever it stands (it once decoded to nil, so its key
 * vanished: the portfolio's empty options_*_map fields). */
static void test_empty_object_is_a_table(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	plain_ok(L, "{\"a\":{},\"b\":[{},{}],\"c\":{\"d\":{}},\"e\":1}", NULL);
	static const char *const paths[] = {"a", "b.1", "b.2", "c.d"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (lt_test_push_path(L, -1, paths[i]) != LUA_TTABLE)
			fail_msg("%s is not a table", paths[i]);
		lua_pushnil(L);
		assert_int_equal(lua_next(L, -2), 0);
		lua_pop(L, 1);
	}
	lt_test_assert_int(L, -1, "e", 1);
	lua_pop(L, 1);
	plain_ok(L, "{}", NULL);
	assert_true(lua_istable(L, -1));
	lua_close(L);
}

static void test_duplicate_keys_keep_the_last_value(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	plain_ok(L, "{\"a\": 1, \"b\": 2, \"a\": 3}", NULL);
	lt_test_assert_int(L, -1, "a", 3);
	lt_test_assert_int(L, -1, "b", 2);
	/* beyond the size where the object becomes a table while open */
	char *text = malloc(20 * 300 + 64);
	assert_non_null(text);
	size_t p = (size_t)sprintf(text, "{\"a\": 1");
	for (int i = 0; i < 300; i++)
		p += (size_t)sprintf(text + p, ", \"k%d\": %d", i, i);
	sprintf(text + p, ", \"a\": 2}");
	plain_ok(L, text, NULL);
	lt_test_assert_int(L, -1, "a", 2);
	free(text);
	lua_close(L);
}

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
	size_t n = strlen(open) * (size_t)depth + strlen(close) * (size_t)depth + strlen(inner) + 1;
	char *t = malloc(n);
	assert_non_null(t);
	size_t p = 0;
	for (int i = 0; i < depth; i++)
		p += (size_t)sprintf(t + p, "%s", open);
	p += (size_t)sprintf(t + p, "%s", inner);
	for (int i = 0; i < depth; i++)
		p += (size_t)sprintf(t + p, "%s", close);
	return t;
}

static void test_depth_limit(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	char *t = nested(64, "[", "]", "1");
	plain_ok(L, t, NULL);
	char path[200] = "1";
	for (int i = 1; i < 64; i++)
		strcat(path, ".1");
	lt_test_assert_int(L, -1, path, 1);
	free(t);
	t = nested(65, "[", "]", "1");
	plain_fails(L, t, strlen(t), "nesting deeper than 64");
	free(t);
	t = nested(100, "{\"a\":", "}", "[]");
	plain_fails(L, t, strlen(t), "nesting deeper than 64");
	free(t);
	t = nested(100000, "[", "]", "");
	plain_fails(L, t, strlen(t), "nesting deeper than 64");
	free(t);
	/* the limit also holds inside skipped envelope keys and inside a payload */
	char *inner = nested(100, "[", "]", "");
	size_t n;
	char *e = malloc(strlen(inner) + 64);
	assert_non_null(e);
	n = (size_t)sprintf(e, "{\"unknown\": %s, \"id\": 1, \"result\": 1}", inner);
	decode_fails(L, e, n, "nesting deeper than 64");
	n = (size_t)sprintf(e, "{\"id\": 1, \"result\": %s}", inner);
	decode_fails(L, e, n, "nesting deeper than 64");
	free(e);
	free(inner);
	lua_close(L);
}

/* ---- malformed and truncated input -------------------------------------------------------------- */

static void test_malformed_documents(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{"", "truncated"},
		{"   ", "truncated"},
		{"{", "truncated"},
		{"[1,", "truncated"},
		{"\"abc", "truncated"},
		{"{\"a\"", "truncated"},
		{"{} x", "trailing garbage"},
		{"[1] [", "trailing garbage"},
		{"{}{}", "parse error"},
		{"[1,]", "parse error"},
		{"{'a': 1}", "error"},
		{"[tru]", "error"},
		{"[nul]", "error"},
		{"{\"a\" 1}", "parse error"},
		{"[01]", "error"},
		{"[1.]", "error"},
		{"[.5]", "error"},
		{"[+1]", "error"},
		{"[NaN]", "error"},
		{"[Infinity]", "error"},
		{"[0x10]", "error"},
		{"[\"\\x\"]", "error"},
		{"[\"a\nb\"]", "error"},
		{"// c\n1", "error"},
		{"{\"a\":1,}", "parse error"},
		{"]", "parse error"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lua_pushinteger(L, 42); /* the stack below must survive */
		plain_fails(L, cases[i].text, strlen(cases[i].text), cases[i].want);
		decode_fails(L, cases[i].text, strlen(cases[i].text), NULL);
		assert_int_equal(lua_tointeger(L, -1), 42);
		lua_pop(L, 1);
	}
	lt_err err = {0};
	assert_int_equal(lt_json_decode(L, NULL, 0, NULL, &err), LT_EJSON);
	assert_int_equal(lua_gettop(L), 0);
	lua_close(L);
}

static void test_error_message_names_the_byte(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, n;
	char *text = lt_test_fixture("ws_error.json", &len);
	char *t = replace(text, "10028", "10028x", &n);
	lt_err err = {0};
	assert_int_equal(lt_json_decode(L, t, n, NULL, &err), LT_EJSON);
	size_t at = (size_t)(strstr(t, "10028x") - t);
	char want[64];
	snprintf(want, sizeof want, "at byte %zu", at + 6); /* bytes consumed, bad one included */
	if (!strstr(err.msg, want) || strncmp(err.msg, "json: ", 6) != 0)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	free(t);
	free(text);
	lua_close(L);
}

/* Every proper prefix of every fixture is incomplete: LT_EJSON, stack unchanged. */
static void test_every_prefix_fails_cleanly(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	for (size_t f = 0; f < NFIXTURES; f++) {
		size_t len;
		char *text = lt_test_fixture(all_fixtures[f], &len);
		size_t end = json_end(text, len);
		assert_true(end > 0);
		for (size_t n = 0; n < end; n++) {
			plain_fails(L, text, n, NULL);
			decode_fails(L, text, n, NULL);
		}
		lt_err err = {0};
		assert_int_equal(lt_json_decode(L, text, end, NULL, &err), 0);
		lua_pop(L, 1);
		free(text);
	}
	lua_close(L);
}

/* Overwrite every byte of a fixture with bytes that break it: never a crash, and either a
 * value or LT_EJSON with the stack as it was. */
static void test_corrupted_bytes_never_crash(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const char *const names[] = {"ws_ticker.json", "ws_book_delta.json",
					    "ws_error.json"};
	static const char repl[] = {'x', '\xff', '"', '}', ']', '{', ',', ':', '\0', '9', '\\'};
	for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
		size_t len;
		char *text = lt_test_fixture(names[f], &len);
		char *t = malloc(len);
		assert_non_null(t);
		for (size_t i = 0; i < len; i++)
			for (size_t r = 0; r < sizeof repl; r++) {
				memcpy(t, text, len);
				t[i] = repl[r];
				resolver_ctx ctx = {0};
				lt_resolver res = {resolve_result, resolve_data, &ctx};
				lt_envelope env;
				lt_err err = {0};
				int rc = lt_json_decode_envelope(L, t, len, &res, &env, &err);
				if (rc == 0) {
					assert_int_equal(lua_gettop(L), 1);
					lua_pop(L, 1);
				} else {
					assert_int_equal(rc, LT_EJSON);
					assert_int_equal(lua_gettop(L), 0);
					assert_true(err.msg[0] != '\0');
				}
			}
		free(t);
		free(text);
	}
	lua_close(L);
}

/* ---- Lua memory errors ------------------------------------------------------------------------- */

typedef struct limit_alloc {
	size_t used, limit;
} limit_alloc;

static void *limited(void *ud, void *ptr, size_t osize, size_t nsize)
{
	limit_alloc *a = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		a->used -= old;
		return NULL;
	}
	if (nsize > old && a->used + nsize - old > a->limit)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p)
		a->used = a->used + nsize - old;
	return p;
}

static int decode_in_lua(lua_State *L)
{
	size_t len;
	const char *text = lua_tolstring(L, 1, &len);
	lt_err err = {0};
	int rc = lt_json_decode(L, text, len, &lt_s_any, &err);
	if (rc == LT_ENOMEM) { /* the stack could not grow: reported, not raised */
		lua_pushliteral(L, "enomem");
		return 1;
	}
	if (rc != 0)
		return luaL_error(L, "%s", err.msg);
	return 1;
}

/* A memory error inside the parse raises (caught by pcall) or, when only the stack cannot
 * grow, returns LT_ENOMEM; either way nothing leaks (ASan checks) and the state stays usable. */
static void test_memory_errors_raise_without_leaking(void **state)
{
	(void)state;
	size_t len;
	char *text = lt_test_fixture("http_get_account_summaries.json", &len);
	int raised = 0, decoded = 0;
	for (size_t extra = 0; extra < 40000; extra += 1000) {
		limit_alloc a = {0, (size_t)-1};
		lua_State *L = lua_newstate(limited, &a);
		assert_non_null(L);
		luaL_openlibs(L);
		lua_gc(L, LUA_GCSTOP);
		lua_pushlstring(L, text, len);
		lua_checkstack(L, 10);
		a.limit = a.used + extra;
		for (int round = 0; round < 2; round++) { /* round 2 reuses a state after a raise */
			lua_pushcfunction(L, decode_in_lua);
			lua_pushvalue(L, 1);
			int rc = lua_pcall(L, 1, 1, 0);
			if (rc == LUA_OK && lua_istable(L, -1))
				decoded++;
			else if (rc == LUA_ERRMEM || (rc == LUA_OK && lua_isstring(L, -1)))
				raised++;
			else
				fail_msg("unexpected status %d: %s", rc, lua_tostring(L, -1));
			lua_settop(L, 1);
		}
		a.limit = (size_t)-1;
		lua_close(L);
	}
	assert_true(raised > 0);
	assert_true(decoded > 0);
	free(text);
}

/* ---- envelopes ----------------------------------------------------------------------------------- */

static void test_envelope_notification(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_ticker.json", &len);
	lt_envelope env;
	resolver_ctx ctx;
	decode_ok(L, text, len, NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_NOTIFY);
	assert_false(env.has_id);
	assert_string_equal(env.channel, "ticker.BTC-PERPETUAL.100ms");
	assert_int_equal(ctx.data_calls, 1);
	assert_int_equal(ctx.result_calls, 0);
	assert_string_equal(ctx.last_channel, "ticker.BTC-PERPETUAL.100ms");
	lt_test_assert_float(L, -1, "open_interest", 1132329370.0);
	lt_test_assert_int(L, -1, "timestamp", 1765541474086);
	lt_test_assert_float(L, -1, "current_funding", 0.0);
	lua_close(L);
	free(text);
}

static void test_envelope_result_and_metadata(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_subscribe_response.json", &len);
	lt_envelope env;
	resolver_ctx ctx;
	decode_ok(L, text, len, &lt_s_string_array, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_RESULT);
	assert_true(env.has_id);
	assert_int_equal(env.id, 1);
	assert_int_equal(ctx.result_calls, 1);
	assert_int_equal(ctx.last_id, 1);
	assert_true(env.testnet);
	assert_int_equal(env.us_in, 1699999999000000);
	assert_int_equal(env.us_out, 1699999999001000);
	lt_test_assert_str(L, -1, "2", "book.BTC-PERPETUAL.100ms");
	lua_pop(L, 1);

	/* usIn/usOut as strings (§1: some captures) */
	size_t n;
	char *t = replace(text, "1699999999000000", "\"1699999999000007\"", &n);
	decode_ok(L, t, n, NULL, &env, &ctx);
	assert_int_equal(env.us_in, 1699999999000007);
	assert_int_equal(env.us_out, 1699999999001000);
	free(t);
	free(text);

	text = lt_test_fixture("http_get_time.json", &len);
	decode_ok(L, text, len, &lt_s_int, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_RESULT);
	lt_test_assert_int(L, -1, "", 1733338800000);
	assert_int_equal(env.us_in, 0);
	assert_false(env.testnet);
	free(text);

	/* no schema for the id: ANY */
	text = lt_test_fixture("http_test.json", &len);
	decode_ok(L, text, len, NULL, &env, &ctx);
	lt_test_assert_str(L, -1, "version", "1.2.26");
	free(text);
	lua_close(L);
}

static void test_envelope_error(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, n;
	char *text = lt_test_fixture("ws_error.json", &len);
	lt_envelope env;
	resolver_ctx ctx;
	decode_ok(L, text, len, &lt_s_ticker, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_ERROR);
	assert_int_equal(env.id, 1);
	assert_int_equal(env.error_code, 10028);
	assert_int_equal(ctx.result_calls, 0);
	lt_test_assert_int(L, -1, "code", 10028);
	lt_test_assert_str(L, -1, "message", "too_many_requests");
	lt_test_assert_null(L, -1, "data");
	lua_pop(L, 1);

	/* -32602 carries {reason, param}; data may also be absent */
	char *t = replace(text, "null", "{\"reason\": \"must be positive\", \"param\": \"amount\"}",
			  &n);
	char *t2 = replace(t, "10028", "-32602", &n);
	decode_ok(L, t2, n, NULL, &env, &ctx);
	assert_int_equal(env.error_code, -32602);
	lt_test_assert_str(L, -1, "data.param", "amount");
	free(t2);
	free(t);
	t = replace(text, ",\n        \"data\": null", "", &n);
	decode_ok(L, t, n, NULL, &env, &ctx);
	lt_test_assert_absent(L, -1, "data");
	free(t);
	t = replace(text, "\"code\": 10028", "\"code\": 10028.0", &n); /* code is declared INT */
	decode_ok(L, t, n, NULL, &env, &ctx);
	lt_test_assert_int(L, -1, "code", 10028);
	assert_int_equal(env.error_code, 10028);
	free(t);
	free(text);
	lua_close(L);
}

static void test_envelope_heartbeat(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, n;
	char *text = lt_test_fixture("ws_test_request.json", &len);
	lt_envelope env;
	resolver_ctx ctx;
	decode_ok(L, text, len, NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_HEARTBEAT);
	assert_string_equal(env.hb_type, "test_request");
	assert_true(lua_isnil(L, -1));
	lua_pop(L, 1);
	char *t = replace(text, "test_request", "heartbeat", &n);
	decode_ok(L, t, n, NULL, &env, &ctx);
	assert_string_equal(env.hb_type, "heartbeat");
	free(t);
	/* params before method */
	size_t plen;
	const char *params = value_span(text, "params", &plen);
	char doc[256];
	n = (size_t)snprintf(doc, sizeof doc, "{\"params\": %.*s, \"method\": \"heartbeat\"}",
			     (int)plen, params);
	decode_ok(L, doc, n, NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_HEARTBEAT);
	assert_string_equal(env.hb_type, "test_request");
	free(text);
	lua_close(L);
}

/* "result" before "id" and "data" before "channel" give the same values and types. */
static void test_key_order_does_not_matter(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const struct {
		const char *file;
		const lt_schema *schema;
	} results[] = {
		{"http_get_instrument_option.json", &lt_s_instrument},
		{"http_get_instruments.json", &lt_s_instruments},
		{"http_get_order_book.json", &lt_s_order_book},
		{"http_get_time.json", &lt_s_int},
	};
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
		size_t len, vlen;
		char *text = lt_test_fixture(results[i].file, &len);
		lt_envelope env;
		resolver_ctx ctx;
		decode_ok(L, text, len, results[i].schema, &env, &ctx);
		const char *v = value_span(text, "result", &vlen);
		size_t n = vlen + 64;
		char *doc = malloc(n);
		assert_non_null(doc);
		n = (size_t)snprintf(doc, n, "{\"result\": %.*s, \"id\": %lld}", (int)vlen, v,
				     (long long)env.id);
		decode_ok(L, doc, n, results[i].schema, &env, &ctx);
		assert_int_equal(env.kind, LT_MSG_RESULT);
		assert_int_equal(ctx.result_calls, 1);
		lt_test_assert_same(L, -1, -2);
		lua_pop(L, 2);
		free(doc);
		free(text);
	}
	static const char *const notes[] = {
		"ws_ticker.json",
		"ws_book_snapshot.json",
		"ws_book_delta_exact.json",
		"ws_book_grouped_snapshot.json",
		"ws_trades_option_combo.json",
		"ws_quote.json",
		"ws_volatility_index.json",
		"ws_chart.json",
	};
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
		size_t len, dlen, clen;
		char *text = lt_test_fixture(notes[i], &len);
		lt_envelope env;
		resolver_ctx ctx;
		decode_ok(L, text, len, NULL, &env, &ctx);
		const char *data = value_span(text, "data", &dlen);
		const char *chan = value_span(text, "channel", &clen);
		size_t n = dlen + clen + 128;
		char *doc = malloc(n);
		assert_non_null(doc);
		n = (size_t)snprintf(
			doc, n,
			"{\"params\": {\"data\": %.*s, \"channel\": %.*s}, \"method\": "
			"\"subscription\", \"jsonrpc\": \"2.0\"}",
			(int)dlen, data, (int)clen, chan);
		decode_ok(L, doc, n, NULL, &env, &ctx);
		assert_int_equal(env.kind, LT_MSG_NOTIFY);
		assert_int_equal(ctx.data_calls, 1);
		lt_test_assert_same(L, -1, -2);
		lua_pop(L, 2);
		free(doc);
		free(text);
	}
	lua_close(L);
}

static void test_unknown_keys_are_skipped(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, n;
	char *text = lt_test_fixture("ws_book_delta.json", &len);
	char *t = replace(text, "\"method\"",
			  "\"extra\": {\"a\": [1, {\"b\": null}, \"channel\"], \"id\": \"x\"}, "
			  "\"more\": [[], {}], \"method\"",
			  &n);
	char *t2 = replace(t, "\"channel\": ", "\"x\": {\"data\": 1}, \"channel\": ", &n);
	lt_envelope env;
	resolver_ctx ctx;
	decode_ok(L, t2, n, NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_NOTIFY);
	assert_false(env.has_id);
	lt_test_assert_int(L, -1, "prev_change_id", 123456789);
	lt_test_assert_str(L, -1, "asks.1.1", "delete");
	free(t2);
	free(t);
	free(text);
	lua_close(L);
}

static void test_envelope_errors(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, n;
	char *err_text = lt_test_fixture("ws_error.json", &len);
	char *time_text = lt_test_fixture("http_get_time.json", &len);
	char *ticker = lt_test_fixture("ws_ticker.json", &len);
	char *t;

	t = replace(err_text, "\"id\": 1", "\"id\": \"1\"", &n);
	decode_fails(L, t, n, "string id");
	free(t);
	t = replace(time_text, "\"id\": 1", "\"id\": 1.5", &n);
	decode_fails(L, t, n, "id is not an integer");
	free(t);
	t = replace(time_text, "\"id\": 1", "\"id\": null", &n);
	decode_fails(L, t, n, "id is not an integer");
	free(t);
	t = replace(time_text, "\"id\": 1", "\"id\": [1]", &n);
	decode_fails(L, t, n, "id is not an integer");
	free(t);
	t = replace(time_text, "\"id\": 1,", "", &n);
	decode_fails(L, t, n, "result without an id");
	free(t);
	t = replace(time_text, "\"result\": 1733338800000", "\"jsonrpc2\": 1", &n);
	decode_fails(L, t, n, "neither result nor error");
	free(t);
	t = replace(time_text, "\"result\"", "\"result\": 1, \"error\": {\"code\": 1}, \"x\"", &n);
	decode_fails(L, t, n, "both result and error");
	free(t);
	t = replace(time_text, "\"result\"", "\"result\": 1, \"result\"", &n);
	decode_fails(L, t, n, "duplicate result");
	free(t);
	t = replace(err_text, "{\n        \"code\": 10028,", "\"boom\", \"x\": {", &n);
	decode_fails(L, t, n, "not an object");
	free(t);

	t = replace(ticker, "\"channel\"", "\"chanel\"", &n);
	decode_fails(L, t, n, "without params.channel");
	free(t);
	t = replace(ticker, "\"data\"", "\"dta\"", &n);
	decode_fails(L, t, n, "without params.data");
	free(t);
	t = replace(ticker, "\"subscription\"", "\"subscriptions\"", &n);
	decode_fails(L, t, n, "no id and no known method");
	free(t);
	t = replace(ticker, "\"method\": \"subscription\",", "", &n);
	decode_fails(L, t, n, "no id and no known method");
	free(t);
	t = replace(ticker, "\"params\": {", "\"params\": {\"data\": 1, ", &n);
	decode_fails(L, t, n, "duplicate params.data");
	free(t);
	char longchan[400];
	memset(longchan, 'a', sizeof longchan);
	sprintf(longchan, "\"ticker.%0300d\"", 0);
	t = replace(ticker, "\"ticker.BTC-PERPETUAL.100ms\"", longchan, &n);
	decode_fails(L, t, n, "channel longer than 255");
	free(t);

	static const char *const not_objects[] = {"[]", "1", "\"x\"", "null", "true"};
	for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++)
		decode_fails(L, not_objects[i], strlen(not_objects[i]), "not an object");
	decode_fails(L, "{}", 2, "no id and no known method");

	free(ticker);
	free(time_text);
	free(err_text);
	lua_close(L);
}

/* Decode expecting LT_EJSON with want in the message, and the resolver never asked. */
static void decode_fails_unasked(lua_State *L, const char *text, const char *want)
{
	resolver_ctx ctx = {0};
	lt_resolver res = {resolve_result, resolve_data, &ctx};
	lt_envelope env;
	lt_err err = {0};
	if (lt_json_decode_envelope(L, text, strlen(text), &res, &env, &err) != LT_EJSON)
		fail_msg("expected LT_EJSON for <%s>", text);
	assert_int_equal(lua_gettop(L), 0);
	if (!strstr(err.msg, want))
		fail_msg("<%s>: message \"%s\" lacks \"%s\"", text, err.msg, want);
	if (ctx.result_calls || ctx.data_calls)
		fail_msg("<%s>: the resolver was asked", text);
	assert_false(env.has_id);
}

/* The selector is the top-level id / params.channel only: one nested in the payload (or in an
 * unknown key) selects nothing, before or after the payload. */
static void test_nested_id_or_channel_selects_nothing(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	lt_envelope env;
	resolver_ctx ctx;
	static const char with_id[] = "{\"result\": {\"id\": 5, \"x\": [{\"id\": 6}]}, \"id\": 9}";
	decode_ok(L, with_id, strlen(with_id), &lt_s_any, &env, &ctx);
	assert_int_equal(env.id, 9);
	assert_int_equal(ctx.result_calls, 1);
	assert_int_equal(ctx.last_id, 9);
	lt_test_assert_int(L, -1, "id", 5);
	lt_test_assert_int(L, -1, "x.1.id", 6);
	lua_pop(L, 1);
	decode_fails_unasked(
		L, "{\"result\": {\"id\": 5, \"x\": [{\"id\": 6}]}, \"jsonrpc\": \"2.0\"}",
		"result without an id");
	decode_fails_unasked(L, "{\"result\": 1, \"x\": {\"id\": 5}}", "result without an id");
	decode_fails_unasked(L, "{\"result\": {\"a\": {\"b\": {\"id\": 5}}}}",
			     "result without an id");

	static const char with_chan[] =
		"{\"params\": {\"data\": {\"channel\": \"ticker.ETH-PERPETUAL.raw\", \"id\": 3}, "
		"\"channel\": \"ticker.BTC-PERPETUAL.100ms\"}, \"method\": \"subscription\"}";
	decode_ok(L, with_chan, strlen(with_chan), NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_NOTIFY);
	assert_false(env.has_id);
	assert_string_equal(env.channel, "ticker.BTC-PERPETUAL.100ms");
	assert_int_equal(ctx.data_calls, 1);
	assert_string_equal(ctx.last_channel, "ticker.BTC-PERPETUAL.100ms");
	lt_test_assert_str(L, -1, "channel", "ticker.ETH-PERPETUAL.raw");
	lua_pop(L, 1);
	decode_fails_unasked(
		L,
		"{\"params\": {\"data\": {\"channel\": \"ticker.X.raw\"}}, \"method\": "
		"\"subscription\"}",
		"without params.channel");
	decode_fails_unasked(L,
			     "{\"method\": \"subscription\", \"channel\": \"ticker.X.raw\", "
			     "\"params\": {\"data\": 1}}",
			     "without params.channel");
	lua_close(L);
}

/* A payload before its selector is checked like one after it: a second payload, a second or
 * bad id or channel fail, and the resolver is never asked for a message that fails. */
static void test_payload_before_selector_errors(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"{\"result\": 1, \"error\": {\"code\": 1}, \"id\": 1}", "both result and error"},
		{"{\"error\": {\"code\": 1}, \"result\": {\"a\": 1}, \"id\": 1}",
		 "both error and result"},
		{"{\"result\": 1, \"result\": 2, \"id\": 1}", "duplicate result"},
		{"{\"result\": 1, \"params\": {\"data\": 1}, \"id\": 1}",
		 "both result and params.data"},
		{"{\"params\": {\"data\": 1, \"data\": 2, \"channel\": \"x\"}, \"method\": "
		 "\"subscription\"}",
		 "duplicate params.data"},
		{"{\"result\": 1, \"id\": 1, \"id\": 2}", "duplicate id"},
		{"{\"result\": 1, \"id\": \"1\"}", "string id"},
		{"{\"result\": 1, \"id\": 1.5}", "id is not an integer"},
		{"{\"result\": 1, \"id\": {\"id\": 1}}", "id is not an integer"},
		{"{\"params\": {\"data\": 1, \"channel\": \"a\", \"channel\": \"b\"}, \"method\": "
		 "\"subscription\"}",
		 "duplicate params.channel"},
		{"{\"result\": {\"a\": [1, 2}, \"id\": 1}", "parse error"},
		{"{\"result\": {\"a\": \"\xff\"}, \"id\": 1}", "invalid UTF8"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		decode_fails_unasked(L, cases[i].text, cases[i].want);
	/* id first: a second id or channel fails too (it could select another schema) */
	static const char ids[] = "{\"id\": 1, \"result\": 1, \"id\": 2}";
	decode_fails(L, ids, strlen(ids), "duplicate id");
	static const char chans[] =
		"{\"method\": \"subscription\", \"params\": {\"channel\": \"a\", "
		"\"data\": 1, \"channel\": \"b\"}}";
	decode_fails(L, chans, strlen(chans), "duplicate params.channel");
	/* a heartbeat's params.data is not returned, in either order */
	lt_envelope env;
	resolver_ctx ctx;
	static const char hb[] = "{\"params\": {\"data\": {\"x\": 1}, \"type\": \"heartbeat\"}, "
				 "\"method\": \"heartbeat\"}";
	decode_ok(L, hb, strlen(hb), NULL, &env, &ctx);
	assert_int_equal(env.kind, LT_MSG_HEARTBEAT);
	assert_true(lua_isnil(L, -1));
	assert_int_equal(ctx.data_calls, 0);
	lua_close(L);
}

/* Every prefix of a message whose payload comes before its selector (fed one byte longer each
 * time) fails with LT_EJSON and a message, without asking the resolver: the payload of a
 * message that never names its selector is never decoded. The whole message decodes. */
static void test_every_prefix_of_a_late_selector(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len, vlen, dlen, clen;
	char *book = lt_test_fixture("http_get_order_book.json", &len);
	char *ticker = lt_test_fixture("ws_ticker.json", &len);
	const char *v = value_span(book, "result", &vlen);
	const char *data = value_span(ticker, "data", &dlen);
	const char *chan = value_span(ticker, "channel", &clen);
	size_t cap = vlen + dlen + clen + 256;
	char *docs[2];
	docs[0] = malloc(cap);
	docs[1] = malloc(cap);
	assert_non_null(docs[0]);
	assert_non_null(docs[1]);
	snprintf(docs[0], cap, "{\"jsonrpc\": \"2.0\", \"result\": %.*s, \"usIn\": 1, \"id\": 3}",
		 (int)vlen, v);
	snprintf(docs[1], cap,
		 "{\"params\": {\"data\": %.*s, \"channel\": %.*s}, \"method\": \"subscription\"}",
		 (int)dlen, data, (int)clen, chan);
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(docs[i]);
		for (size_t k = 0; k < n; k++) {
			resolver_ctx ctx = {0};
			lt_resolver res = {resolve_result, resolve_data, &ctx};
			lt_envelope env;
			lt_err err = {0};
			char *copy = malloc(k ? k : 1); /* exact size: ASan sees any read past it */
			assert_non_null(copy);
			memcpy(copy, docs[i], k);
			int rc = lt_json_decode_envelope(L, copy, k, &res, &env, &err);
			free(copy);
			if (rc != LT_EJSON || strncmp(err.msg, "json", 4) != 0)
				fail_msg("prefix of %zu bytes: %d \"%s\"", k, rc, err.msg);
			assert_int_equal(lua_gettop(L), 0);
			assert_int_equal(ctx.result_calls + ctx.data_calls, 0);
		}
		lt_envelope env;
		resolver_ctx ctx;
		decode_ok(L, docs[i], n, &lt_s_order_book, &env, &ctx);
		assert_int_equal(ctx.result_calls + ctx.data_calls, 1);
		lua_pop(L, 1);
		/* cut where the selector would begin: truncated */
		const char *at = strstr(docs[i], i == 0 ? "\"id\": 3" : "\"channel\"");
		decode_fails(L, docs[i], (size_t)(at - docs[i]), "truncated input");
	}
	free(docs[1]);
	free(docs[0]);
	free(ticker);
	free(book);
	lua_close(L);
}

static void test_resolver_may_be_absent(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("http_get_order_book.json", &len);
	lt_envelope env;
	lt_err err = {0};
	lt_resolver none = {NULL, NULL, NULL};
	assert_int_equal(lt_json_decode_envelope(L, text, len, &none, &env, &err), 0);
	lt_test_assert_int(L, -1, "open_interest", 1139551440); /* ANY: integer text */
	lua_pop(L, 1);
	assert_int_equal(lt_json_decode_envelope(L, text, len, NULL, &env, &err), 0);
	lt_test_assert_float(L, -1, "bids.1.1", 87002.5);
	assert_int_equal(env.id, 3);
	free(text);
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_keeps_lexical_types),
		cmocka_unit_test(test_null_is_the_lightuserdata_sentinel),
		cmocka_unit_test(test_numbers_follow_the_schema),
		cmocka_unit_test(test_number_edge_cases),
		cmocka_unit_test(test_floats_round_like_strtod),
		cmocka_unit_test(test_strings_and_utf8),
		cmocka_unit_test(test_invalid_utf8_is_rejected),
		cmocka_unit_test(test_containers_of_every_size),
		cmocka_unit_test(test_empty_object_is_a_table),
		cmocka_unit_test(test_duplicate_keys_keep_the_last_value),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_malformed_documents),
		cmocka_unit_test(test_error_message_names_the_byte),
		cmocka_unit_test(test_every_prefix_fails_cleanly),
		cmocka_unit_test(test_corrupted_bytes_never_crash),
		cmocka_unit_test(test_memory_errors_raise_without_leaking),
		cmocka_unit_test(test_envelope_notification),
		cmocka_unit_test(test_envelope_result_and_metadata),
		cmocka_unit_test(test_envelope_error),
		cmocka_unit_test(test_envelope_heartbeat),
		cmocka_unit_test(test_key_order_does_not_matter),
		cmocka_unit_test(test_unknown_keys_are_skipped),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_nested_id_or_channel_selects_nothing),
		cmocka_unit_test(test_payload_before_selector_errors),
		cmocka_unit_test(test_every_prefix_of_a_late_selector),
		cmocka_unit_test(test_resolver_may_be_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
