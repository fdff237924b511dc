/* schemas_test.c — the shared schemas of src/schemas.c: lt_channel_schema picks the right schema
 * per channel name, and every market-data fixture decodes through lt_json_decode_envelope
 * into the value and math.type deribit-api.md §1/§4/§6 declare (timestamps, ids, sequence
 * numbers integers; prices, amounts, sizes, commissions floats; order and trade ids strings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "support/lua_helpers.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static const lt_schema *result_schema(void *ud, int64_t id)
{
	(void)id;
	return ud;
}

static const lt_schema *data_schema(void *ud, const char *channel, size_t len)
{
	(void)ud;
	return lt_channel_schema(channel, len);
}

/* Decode text as a venue message whose result (if any) has schema rs; value on top. */
static void decode_text(lua_State *L, const char *text, size_t len, const lt_schema *rs,
			lt_msg_kind want)
{
	lt_resolver res = {result_schema, data_schema, (void *)rs};
	lt_envelope env;
	lt_err err = {0};
	int rc = lt_json_decode_envelope(L, text, len, &res, &env, &err);
	if (rc != 0)
		fail_msg("decode failed: %s", err.msg);
	assert_int_equal(env.kind, want);
}

static void decode_fixture(lua_State *L, const char *name, const lt_schema *rs, lt_msg_kind want)
{
	size_t len;
	char *text = lt_test_fixture(name, &len);
	decode_text(L, text, len, rs, want);
	free(text);
}

/* The fixture with the first occurrence of from replaced by to, decoded. */
static void decode_edited(lua_State *L, const char *name, const char *from, const char *to,
			  const lt_schema *rs, lt_msg_kind want)
{
	size_t len;
	char *text = lt_test_fixture(name, &len);
	char *at = strstr(text, from);
	if (!at)
		fail_msg("%s lacks \"%s\"", name, from);
	size_t pre = (size_t)(at - text), nf = strlen(from), nt = strlen(to);
	char *out = malloc(len - nf + nt + 1);
	assert_non_null(out);
	memcpy(out, text, pre);
	memcpy(out + pre, to, nt);
	strcpy(out + pre + nt, at + nf);
	decode_text(L, out, len - nf + nt, rs, want);
	free(out);
	free(text);
}

static size_t len_at(lua_State *L, const char *path)
{
	lt_test_push_path(L, -1, path);
	size_t n = lua_rawlen(L, -1);
	lua_pop(L, 1);
	return n;
}

/* ---- lt_channel_schema ---------------------------------------------------------------------- */

static const lt_schema *chan(const char *name) { return lt_channel_schema(name, strlen(name)); }

static void test_channel_schema_by_name(void **state)
{
	(void)state;
	assert_ptr_equal(chan("ticker.BTC-PERPETUAL.100ms"), &lt_s_ticker);
	assert_ptr_equal(chan("ticker.BTC_USDC-PERPETUAL.raw"), &lt_s_ticker);
	assert_ptr_equal(chan("book.BTC-PERPETUAL.100ms"), &lt_s_book_change);
	assert_ptr_equal(chan("book.XRP_USDC-30JUN23-0d625-C.raw"), &lt_s_book_change);
	assert_ptr_equal(chan("book.BTC-PERPETUAL.none.10.100ms"), &lt_s_book_grouped);
	assert_ptr_equal(chan("book.BTC-27DEC24-100000-C.5.20.agg2"), &lt_s_book_grouped);
	assert_null(chan("book.BTC-PERPETUAL"));
	assert_null(chan("book.BTC-PERPETUAL.none.100ms"));
	assert_ptr_equal(chan("trades.BTC-PERPETUAL.100ms"), &lt_s_public_trades);
	assert_ptr_equal(chan("trades.future.BTC.raw"), &lt_s_public_trades);
	const lt_schema *idx = chan("deribit_price_index.btc_usd");
	assert_non_null(idx);
	assert_int_equal(idx->type, LT_T_OBJECT);
	assert_non_null(chan("quote.BTC-PERPETUAL"));
	assert_non_null(chan("deribit_volatility_index.btc_usd"));
	assert_ptr_equal(chan("user.orders.BTC-PERPETUAL.raw"),
			 &lt_s_order); /* see private/subscribe */
	assert_null(chan("platform_state"));
	assert_null(chan(""));
	assert_null(lt_channel_schema(NULL, 0));
	/* only len bytes count: the name need not be NUL-terminated */
	assert_null(lt_channel_schema("ticker.BTC-PERPETUAL.100ms", 6));
	assert_ptr_equal(lt_channel_schema("book.BTC-PERPETUAL.100msXXXX", 24), &lt_s_book_change);
	assert_ptr_equal(lt_channel_schema("book.A.B.C.D.E", 12), &lt_s_book_grouped);
}

static void test_leaf_schemas(void **state)
{
	(void)state;
	assert_int_equal(lt_s_any.type, LT_T_ANY);
	assert_int_equal(lt_s_string.type, LT_T_STRING);
	assert_int_equal(lt_s_int.type, LT_T_INT);
	assert_int_equal(lt_s_float.type, LT_T_FLOAT);
	assert_int_equal(lt_s_bool.type, LT_T_BOOL);
	assert_int_equal(lt_s_float_array.type, LT_T_ARRAY);
	assert_ptr_equal(lt_s_float_array.elem, &lt_s_float);
	assert_ptr_equal(lt_s_levels.elem, &lt_s_float_array);
	assert_ptr_equal(lt_s_string_array.elem, &lt_s_string);
	assert_ptr_equal(lt_s_instruments.elem, &lt_s_instrument);
	assert_ptr_equal(lt_s_public_trades.elem, &lt_s_public_trade);
	/* object schemas: every field has a schema, and nfields counts them */
	const lt_schema *objects[] = {&lt_s_ticker,     &lt_s_book_change,  &lt_s_book_grouped,
				      &lt_s_order_book, &lt_s_public_trade, &lt_s_instrument};
	for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
		int n = 0;
		assert_int_equal(objects[i]->type, LT_T_OBJECT);
		for (const lt_field *f = objects[i]->fields; f->name; f++, n++)
			assert_non_null(f->schema);
		assert_int_equal(objects[i]->nfields, n);
	}
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static void test_ticker(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_ticker.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "timestamp", 1765541474086);
	lt_test_assert_str(L, -1, "state", "open");
	lt_test_assert_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	lt_test_assert_float(L, -1, "stats.high", 93612.0);
	lt_test_assert_float(L, -1, "stats.volume", 11897.27640428);
	lt_test_assert_float(L, -1, "stats.volume_usd", 1092371540.0);
	lt_test_assert_float(L, -1, "stats.price_change", 2.3275);
	lt_test_assert_float(L, -1, "open_interest", 1132329370.0);
	lt_test_assert_float(L, -1, "best_bid_price", 92283.5);
	lt_test_assert_float(L, -1, "best_ask_amount", 186520.0);
	lt_test_assert_float(L, -1, "current_funding", 0.0);
	lt_test_assert_float(L, -1, "funding_8h", 0.00001742);
	lt_test_assert_float(L, -1, "interest_value", 0.0028213400122472977);
	lua_pop(L, 1);
	/* option fields, and integer text where floats are declared */
	decode_edited(
		L, "ws_ticker.json", "\"state\": \"open\",",
		"\"state\": \"open\", \"greeks\": {\"delta\": 1, \"gamma\": 0, \"vega\": 0.1, "
		"\"theta\": -5, \"rho\": 0}, \"mark_iv\": 50, \"underlying_index\": "
		"\"BTC-27DEC24\", \"underlying_price\": 92000, \"best_bid_price\": null,",
		NULL, LT_MSG_NOTIFY);
	lt_test_assert_float(L, -1, "greeks.delta", 1.0);
	lt_test_assert_float(L, -1, "greeks.theta", -5.0);
	lt_test_assert_float(L, -1, "mark_iv", 50.0);
	lt_test_assert_float(L, -1, "underlying_price", 92000.0);
	lt_test_assert_str(L, -1, "underlying_index", "BTC-27DEC24");
	lt_test_assert_float(L, -1, "best_bid_price", 92283.5); /* the later key wins */
	lua_close(L);
}

static void test_book_snapshot_and_delta(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_book_snapshot.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_str(L, -1, "type", "snapshot");
	lt_test_assert_int(L, -1, "timestamp", 1699999999000);
	lt_test_assert_int(L, -1, "change_id", 123456789);
	lt_test_assert_null(L, -1, "prev_change_id");
	assert_int_equal(len_at(L, "bids"), 5);
	assert_int_equal(len_at(L, "asks"), 5);
	lt_test_assert_str(L, -1, "bids.1.1", "new");
	lt_test_assert_float(L, -1, "bids.1.2", 42500.0);
	lt_test_assert_float(L, -1, "bids.1.3", 1000.0);
	lt_test_assert_float(L, -1, "asks.5.2", 42503.0);
	lua_pop(L, 1);

	decode_fixture(L, "ws_book_delta.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_str(L, -1, "type", "change");
	lt_test_assert_int(L, -1, "change_id", 123456790);
	lt_test_assert_int(L, -1, "prev_change_id", 123456789);
	lt_test_assert_str(L, -1, "bids.1.1", "change");
	lt_test_assert_float(L, -1, "bids.1.3", 950.0);
	lt_test_assert_str(L, -1, "asks.1.1", "delete");
	lt_test_assert_float(L, -1, "asks.1.3", 0.0);
	lua_pop(L, 1);

	/* integer text in a level is still a float: ["new", 93201.0, 10] -> 10.0 */
	decode_edited(L, "ws_book_delta.json", "[\"new\", 42498.5, 300.0]", "[\"new\", 93201, 10]",
		      NULL, LT_MSG_NOTIFY);
	lt_test_assert_str(L, -1, "bids.2.1", "new");
	lt_test_assert_float(L, -1, "bids.2.2", 93201.0);
	lt_test_assert_float(L, -1, "bids.2.3", 10.0);
	lua_pop(L, 1);

	/* empty sides occur (§4) */
	decode_edited(L, "ws_book_delta.json",
		      "[[\"delete\", 42501.0, 0.0], [\"change\", 42501.5, 700.0]]", "[]", NULL,
		      LT_MSG_NOTIFY);
	assert_int_equal(len_at(L, "asks"), 0);
	lua_close(L);
}

/* Digits beyond double precision round like strtod. */
static void test_book_exact_numbers(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_book_snapshot_exact.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_float(L, -1, "bids.1.2", strtod("100000000.123456789", NULL));
	lt_test_assert_float(L, -1, "asks.1.3", strtod("100000000.123456788", NULL));
	lua_pop(L, 1);
	decode_fixture(L, "ws_book_delta_exact.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_float(L, -1, "bids.1.3", strtod("0.12345678901234567890123456789", NULL));
	lt_test_assert_float(L, -1, "asks.1.3", strtod("1.2345678901234567890123456789e-5", NULL));
	lt_test_assert_int(L, -1, "prev_change_id", 123456789);
	lua_close(L);
}

static void test_book_grouped(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_book_grouped_snapshot.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "timestamp", 1769246173071);
	lt_test_assert_int(L, -1, "change_id", 136725664747);
	lt_test_assert_absent(L, -1, "type");
	assert_int_equal(len_at(L, "bids"), 10);
	assert_int_equal(len_at(L, "asks"), 10);
	assert_int_equal(len_at(L, "bids.1"), 2);
	lt_test_assert_float(L, -1, "bids.1.1", 89532.5);
	lt_test_assert_float(L, -1, "bids.1.2", 254900.0);
	lt_test_assert_float(L, -1, "asks.10.1", 89545.5);
	lt_test_assert_float(L, -1, "asks.10.2", 29500.0);
	lua_close(L);
}

static void test_order_book(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "http_get_order_book.json", &lt_s_order_book, LT_MSG_RESULT);
	lt_test_assert_int(L, -1, "change_id", 133112427566);
	lt_test_assert_int(L, -1, "timestamp", 1766554855140);
	lt_test_assert_float(L, -1, "open_interest",
			     1139551440.0); /* integer text, declared FLOAT */
	lt_test_assert_float(L, -1, "funding_8h", 6.55e-6);
	lt_test_assert_float(L, -1, "stats.price_change", -0.8292);
	lt_test_assert_float(L, -1, "best_bid_price", 87002.5);
	assert_int_equal(len_at(L, "bids"), 20);
	assert_int_equal(len_at(L, "asks"), 20);
	lt_test_assert_float(L, -1, "bids.1.1", 87002.5);
	lt_test_assert_float(L, -1, "bids.1.2", 199190.0);
	lt_test_assert_float(L, -1, "asks.20.2", 32930.0);
	lt_test_assert_str(L, -1, "state", "open");
	lua_close(L);
}

static void test_public_trades(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_trades.json", NULL, LT_MSG_NOTIFY);
	assert_int_equal(len_at(L, ""), 2);
	lt_test_assert_str(L, -1, "1.trade_id", "403691824");
	lt_test_assert_int(L, -1, "1.trade_seq", 271252854);
	lt_test_assert_int(L, -1, "1.timestamp", 1765531356452);
	lt_test_assert_int(L, -1, "1.tick_direction", 2);
	lt_test_assert_float(L, -1, "1.price", 92294.5);
	lt_test_assert_float(L, -1, "1.amount", 10.0);
	lt_test_assert_float(L, -1, "1.contracts", 1.0);
	lt_test_assert_float(L, -1, "2.amount", 750.0);
	lt_test_assert_str(L, -1, "2.direction", "sell");
	lua_pop(L, 1);

	decode_fixture(L, "ws_trades_option_combo.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_float(L, -1, "1.price", 0.0639);
	lt_test_assert_int(L, -1, "1.trade_seq", 1);
	assert_int_equal(len_at(L, "1.legs"), 2);
	lt_test_assert_float(L, -1, "1.legs.1.iv", 41.01);
	lt_test_assert_int(L, -1, "1.legs.1.timestamp", 1779118041757);
	lt_test_assert_int(L, -1, "1.legs.2.trade_seq", 20);
	lt_test_assert_str(L, -1, "1.legs.2.trade_id", "244365194");
	lt_test_assert_float(L, -1, "1.legs.2.contracts", 0.1);
	lua_pop(L, 1);

	/* public/get_last_trades: {has_more, trades: [public trade]} */
	static const lt_field last_fields[] = {
		{"has_more", &lt_s_bool}, {"trades", &lt_s_public_trades}, {NULL, NULL}};
	static const lt_schema last = {LT_T_OBJECT, last_fields, NULL, 2};
	decode_fixture(L, "http_get_last_trades.json", &last, LT_MSG_RESULT);
	lt_test_assert_bool(L, -1, "has_more", 1);
	lt_test_assert_int(L, -1, "trades.10.trade_seq", 203024596);
	lt_test_assert_float(L, -1, "trades.10.amount", 106.0);
	lt_test_assert_int(L, -1, "trades.1.tick_direction", 0);
	lt_test_assert_str(L, -1, "trades.1.trade_id", "ETH-284830839");
	lua_close(L);
}

static void test_instruments(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "http_get_instruments.json", &lt_s_instruments, LT_MSG_RESULT);
	assert_int_equal(len_at(L, ""), 4);
	lt_test_assert_int(L, -1, "1.instrument_id", 124972);
	lt_test_assert_int(L, -1, "1.expiration_timestamp", 32503708800000);
	lt_test_assert_int(L, -1, "1.creation_timestamp", 1534167754000);
	lt_test_assert_int(L, -1, "1.max_leverage", 50);
	lt_test_assert_float(L, -1, "1.contract_size", 10.0);
	lt_test_assert_float(L, -1, "1.tick_size", 0.5);
	lt_test_assert_float(L, -1, "1.min_trade_amount", 10.0);
	lt_test_assert_float(L, -1, "1.maker_commission", 0.0);
	lt_test_assert_float(L, -1, "1.taker_commission", 0.0005);
	lt_test_assert_float(L, -1, "1.block_trade_min_trade_amount", 200000.0);
	lt_test_assert_bool(L, -1, "1.is_active", 1);
	lt_test_assert_str(L, -1, "1.settlement_period", "perpetual");
	assert_int_equal(len_at(L, "1.tick_size_steps"), 0);
	lt_test_assert_float(L, -1, "3.strike", 100000.0);
	lt_test_assert_str(L, -1, "3.option_type", "call");
	lt_test_assert_float(L, -1, "3.tick_size", 0.0005);
	lt_test_assert_str(L, -1, "4.kind", "future_combo");
	lt_test_assert_absent(L, -1, "4.expiration_timestamp");
	lt_test_assert_float(L, -1, "4.contract_size", 1.0);
	lua_close(L);
}

static void test_instrument(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "http_get_instrument.json", &lt_s_instrument, LT_MSG_RESULT);
	lt_test_assert_int(L, -1, "instrument_id", 124972);
	lt_test_assert_int(L, -1, "max_non_default_leverage", 5);
	lt_test_assert_float(L, -1, "max_liquidation_commission", 0.0075);
	lt_test_assert_float(L, -1, "block_trade_tick_size", 0.01);
	lua_pop(L, 1);
	decode_fixture(L, "http_get_instrument_option.json", &lt_s_instrument, LT_MSG_RESULT);
	lt_test_assert_int(L, -1, "expiration_timestamp", 1735300800000);
	lt_test_assert_float(L, -1, "strike", 100000.0);
	lt_test_assert_float(L, -1, "min_trade_amount", 0.1);
	lt_test_assert_float(L, -1, "block_trade_min_trade_amount", 25.0);
	lt_test_assert_str(L, -1, "quote_currency", "BTC");
	lua_pop(L, 1);
	/* tick_size_steps entries are {above_price, tick_size} floats */
	decode_edited(L, "http_get_instrument_option.json", "\"tick_size_steps\": []",
		      "\"tick_size_steps\": [{\"above_price\": 5, \"tick_size\": 0.001}]",
		      &lt_s_instrument, LT_MSG_RESULT);
	lt_test_assert_float(L, -1, "tick_size_steps.1.above_price", 5.0);
	lt_test_assert_float(L, -1, "tick_size_steps.1.tick_size", 0.001);
	lua_close(L);
}

static void test_small_channels(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	decode_fixture(L, "ws_quote.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "timestamp", 1765541767174);
	lt_test_assert_float(L, -1, "best_bid_price", 92288.0);
	lt_test_assert_float(L, -1, "best_ask_amount", 99470.0);
	lua_pop(L, 1);
	decode_fixture(L, "ws_volatility_index.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "timestamp", 1619777946007);
	lt_test_assert_float(L, -1, "volatility", 129.36);
	lt_test_assert_str(L, -1, "index_name", "btc_usd");
	lua_pop(L, 1);
	decode_edited(L, "ws_volatility_index.json", "\"volatility\": 129.36", "\"price\": 92000",
		      NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "price", 92000); /* not a price index channel: ANY */
	lua_pop(L, 1);
	decode_fixture(L, "ws_chart.json", NULL, LT_MSG_NOTIFY);
	lt_test_assert_int(L, -1, "tick", 1767200040000);
	lt_test_assert_float(L, -1, "open", 87490.0);
	lt_test_assert_float(L, -1, "volume", 0.95978896);
	lua_pop(L, 1);
	decode_fixture(L, "ws_subscribe_response.json", &lt_s_string_array, LT_MSG_RESULT);
	lt_test_assert_str(L, -1, "1", "trades.BTC-PERPETUAL.100ms");
	lua_pop(L, 1);
	decode_fixture(L, "http_get_time.json", &lt_s_int, LT_MSG_RESULT);
	lt_test_assert_int(L, -1, "", 1733338800000);
	lua_close(L);
}

/* The price index channel: fields declared FLOAT/INT are typed even from integer text. */
static void test_price_index_channel(void **state)
{
	(void)state;
	lua_State *L = lt_test_lua_new();
	size_t len;
	char *text = lt_test_fixture("ws_volatility_index.json", &len);
	char *a = strstr(text, "deribit_volatility_index");
	assert_non_null(a);
	char *b = strstr(text, "\"volatility\": 129.36");
	assert_non_null(b);
	size_t n = len + 64;
	char *doc = malloc(n);
	assert_non_null(doc);
	n = (size_t)snprintf(
		doc, n, "%.*sderibit_price_index%.*s\"price\": 92000%s", (int)(a - text), text,
		(int)(b - a - (long)strlen("deribit_volatility_index")),
		a + strlen("deribit_volatility_index"), b + strlen("\"volatility\": 129.36"));
	decode_text(L, doc, n, NULL, LT_MSG_NOTIFY);
	lt_test_assert_float(L, -1, "price", 92000.0);
	lt_test_assert_int(L, -1, "timestamp", 1619777946007);
	lt_test_assert_str(L, -1, "index_name", "btc_usd");
	free(doc);
	free(text);
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_schema_by_name),
		cmocka_unit_test(test_leaf_schemas),
		cmocka_unit_test(test_ticker),
		cmocka_unit_test(test_book_snapshot_and_delta),
		cmocka_unit_test(test_book_exact_numbers),
		cmocka_unit_test(test_book_grouped),
		cmocka_unit_test(test_order_book),
		cmocka_unit_test(test_public_trades),
		cmocka_unit_test(test_instruments),
		cmocka_unit_test(test_instrument),
		cmocka_unit_test(test_small_channels),
		cmocka_unit_test(test_price_index_channel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
