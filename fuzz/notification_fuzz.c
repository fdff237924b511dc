/* notification_fuzz.c — libFuzzer harness for subscription notifications (deribit-api.md §4):
 * {"jsonrpc":"2.0","method":"subscription","params":{"channel":C,"data":D}} decoded with
 * lt_json_decode_envelope and the runtime's resolver (lt_channel_schema, as rpc.c does).
 * The first input byte picks C from one real channel name of every family lt_channel_schema
 * knows (ticker, incremental_ticker, book (change and grouped), trades, quote, price and
 * volatility index, instrument.state, chart.trades, user.orders (raw and 100ms), user.trades,
 * user.portfolio, user.changes) and a few it does not (decoded as ANY); the rest is D. Bit 7
 * puts data before channel (the second pass, json_retype.c). When the first byte is 0xff the
 * rest is the whole message instead (any channel name, any envelope).
 * Every input is decoded twice: with the channel's schema (the full decode) and with it made
 * lazy (lt_lazy_schema, what rpc.c does for a subscription without `fields`).
 * Invariants: never crashes or raises; 0 means kind NOTIFY with params.channel copied exactly
 * and one value pushed; otherwise LT_EJSON with a message and nothing pushed. The lazy decode
 * succeeds or fails as the full one does, and on success reading every field of it (pairs,
 * recursively, and lt.plain of it) gives the full decode's values with their math types. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json_lazy.h"
#include "support/lua_helpers.h"

static const char *const channels[] = {
	"ticker.BTC-PERPETUAL.100ms",
	"incremental_ticker.BTC-PERPETUAL",
	"book.BTC-PERPETUAL.100ms",
	"book.BTC-PERPETUAL.none.10.100ms",
	"book.ETH-PERPETUAL.5.20.agg2",
	"trades.BTC-PERPETUAL.100ms",
	"trades.future.BTC.raw",
	"quote.BTC-PERPETUAL",
	"deribit_price_index.btc_usd",
	"deribit_volatility_index.btc_usd",
	"instrument.state.any.any",
	"chart.trades.BTC-PERPETUAL.1",
	"user.orders.BTC-PERPETUAL.raw",
	"user.orders.any.any.raw",
	"user.orders.future.BTC.100ms",
	"user.orders.BTC-PERPETUAL.agg2",
	"user.trades.BTC-PERPETUAL.100ms",
	"user.trades.any.any.raw",
	"user.portfolio.btc",
	"user.changes.BTC-PERPETUAL.100ms",
	"user.changes.future.BTC.raw",
	"platform_state",
	"announcements",
	"estimated_expiration_price.btc_usd",
	"markprice.options.btc_usd",
	"perpetual.BTC-PERPETUAL.100ms",
};
#define NCHANNELS (sizeof channels / sizeof channels[0])

static const lt_schema *res_result(void *ud, int64_t id)
{
	(void)ud;
	(void)id;
	return NULL;
}

/* ud is NULL for the full decode, or a schema to fill for the lazy one (as rpc.c does). */
static const lt_schema *res_data(void *ud, const char *channel, size_t len)
{
	const lt_schema *s = lt_channel_schema(channel, len);
	if (!ud)
		return s;
	*(lt_schema *)ud = lt_lazy_schema(s);
	return ud;
}

/* Run under lua_pcall with the full value at 1 and the lazy one at 2: compares them, then the
 * full one with lt.plain of the lazy one (tests/support lt_test_same: pairs, math types);
 * pushes nil, or the first difference. */
static int compare(lua_State *L)
{
	char why[256] = "";
	if (!lt_test_same(L, 1, 2, why, sizeof why)) {
		lua_pushfstring(L, "lazy: %s", why);
		return 1;
	}
	lua_pushcfunction(L, lt_lua_plain);
	lua_pushvalue(L, 2);
	lua_call(L, 1, 1);
	if (!lt_test_same(L, 1, -1, why, sizeof why)) {
		lua_pushfstring(L, "plain: %s", why);
		return 1;
	}
	lua_pushnil(L);
	return 1;
}

static void check(bool ok, const char *what, const char *ch)
{
	if (!ok) {
		fprintf(stderr, "notification_fuzz: %s (%s)\n", what, ch ? ch : "raw");
		abort();
	}
}

/* Build the message for a picked channel; returns its length (msg is malloc'd). */
static size_t build(const char *ch, bool data_first, const char *d, size_t dlen, char **out)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{";
	size_t cap = sizeof head + strlen(ch) + dlen + 64;
	char *msg = malloc(cap);
	size_t n = 0;
	memcpy(msg, head, sizeof head - 1);
	n = sizeof head - 1;
	char chan[160];
	int cn = snprintf(chan, sizeof chan, "\"channel\":\"%s\"", ch);
	if (!data_first) {
		memcpy(msg + n, chan, (size_t)cn);
		n += (size_t)cn;
		memcpy(msg + n, ",\"data\":", 8);
		n += 8;
		memcpy(msg + n, d, dlen);
		n += dlen;
	} else {
		memcpy(msg + n, "\"data\":", 7);
		n += 7;
		memcpy(msg + n, d, dlen);
		n += dlen;
		msg[n++] = ',';
		memcpy(msg + n, chan, (size_t)cn);
		n += (size_t)cn;
	}
	memcpy(msg + n, "}}", 2);
	n += 2;
	*out = msg;
	return n;
}

/* Decode msg again lazily: it must succeed or fail as the full decode did (rc), and on success
 * read as the full decode's value, which is on top when rc is 0. Leaves the stack as it was. */
static void lazy_matches(lua_State *L, const char *msg, size_t n, int rc, const char *ch)
{
	int top = lua_gettop(L);
	lt_schema lazy;
	lt_resolver res = {res_result, res_data, &lazy};
	lt_envelope env;
	lt_err err = {0, ""};
	int lrc = lt_json_decode_envelope(L, msg, n, &res, &env, &err);
	check(lrc == rc, "lazy decode succeeds or fails as the full one", ch);
	if (rc != 0)
		return;
	lua_pushcfunction(L, compare);
	lua_pushvalue(L, top);
	lua_pushvalue(L, top + 1);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		fprintf(stderr, "notification_fuzz: reading the lazy value raised: %s\n",
			lua_tostring(L, -1));
		abort();
	}
	if (!lua_isnil(L, -1)) {
		fprintf(stderr, "notification_fuzz: lazy differs: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_settop(L, top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *ch = NULL;
	char *msg;
	size_t n;
	if (data[0] == 0xff) {
		n = size - 1;
		msg = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
		memcpy(msg, data + 1, n);
	} else {
		ch = channels[(data[0] & 0x7f) % NCHANNELS];
		n = build(ch, data[0] & 0x80, (const char *)data + 1, size - 1, &msg);
	}
	lt_resolver res = {res_result, res_data, NULL};
	lt_envelope env;
	lt_err err = {0, ""};
	/* a fresh state per input: nothing outlives it, so LeakSanitizer sees real leaks only */
	lua_State *L = luaL_newstate();
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, msg, n, &res, &env, &err);
	lazy_matches(L, msg, n, rc, ch);
	if (rc == 0) {
		check(lua_gettop(L) == top + 1, "success must push one value", ch);
		if (ch && env.kind == LT_MSG_NOTIFY)
			check(strcmp(env.channel, ch) == 0, "channel copied exactly", ch);
		/* a picked channel can only decode as a notification, unless the data closed the
		 * envelope early and another kind followed: then it must still be a kind */
		check(env.kind >= LT_MSG_RESULT && env.kind <= LT_MSG_HEARTBEAT, "kind", ch);
		if (env.kind == LT_MSG_NOTIFY)
			check(memchr(env.channel, '\0', sizeof env.channel) != NULL, "channel NUL",
			      ch);
	} else {
		check(rc == LT_EJSON && err.msg[0], "clean LT_EJSON", ch);
		check(lua_gettop(L) == top, "failure must push nothing", ch);
	}
	lua_settop(L, top);
	free(msg);
	lua_close(L);
	return 0;
}
