/* private_subscribe_test.c — private/subscribe codec (src/methods/private_subscribe.c) and the
 * user.* channel schemas it leads to (lt_channel_schema, src/schemas.c): request text with
 * and without a label, every rule (channels 1..500 non-empty strings, label 1..16
 * characters), decoding of the subscribed list, and the notifications of user.orders (raw:
 * one order; 100ms / agg2: an array; 4- and 5-part names), user.trades
 * (tests/fixtures/ws_user_trades_exact.json), user.portfolio (ws_portfolio*.json) and
 * user.changes, typed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define M "private/subscribe"
#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" M "\",\"params\":"

static void private_subscribe_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private(M, NULL, LT_POOL_SUBSCRIBE, 3000);
	assert_ptr_equal(m->result, &lt_s_string_array);
	assert_null(lt_method_find_lua(NULL));
	assert_ptr_equal(lt_method_find_lua("subscribe"), mt_method("public/subscribe"));
}

static void private_subscribe_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ channels = { 'user.orders.BTC-PERPETUAL.raw' } }",
		 REQ "{\"channels\":[\"user.orders.BTC-PERPETUAL.raw\"]}}"},
		/* deribit-api.md §10 sample 5 (public and private channels mixed), with a label */
		{"{ label = 'lt-exec', channels = { 'book.BTC-PERPETUAL.100ms', "
		 "'ticker.BTC-PERPETUAL.100ms', 'user.orders.BTC-PERPETUAL.raw', "
		 "'user.trades.BTC-PERPETUAL.raw' } }",
		 REQ "{\"channels\":[\"book.BTC-PERPETUAL.100ms\",\"ticker.BTC-PERPETUAL.100ms\","
		     "\"user.orders.BTC-PERPETUAL.raw\",\"user.trades.BTC-PERPETUAL.raw\"],"
		     "\"label\":\"lt-exec\"}}"},
		{"{ channels = { 'user.portfolio.any' }, label = '0123456789abcdef' }",
		 REQ "{\"channels\":[\"user.portfolio.any\"],\"label\":\"0123456789abcdef\"}}"},
	};
	mt_encode_ok(M, cases, MT_N(cases));
}

static void private_subscribe_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "channels: required"},
		{"{ label = 'x' }", "channels: required"},
		{"{ channels = 'user.orders.any.any.raw' }",
		 "channels: expected array of strings, got string"},
		{"{ channels = {} }", "channels: at least 1 entry"},
		{"{ channels = (function() local c = {} for i = 1, 501 do c[i] = 'x' .. i end "
		 "return c end)() }",
		 "channels: at most 500 entries"},
		{"{ channels = { 'user.trades.any.any.raw', '' } }",
		 "channels[2]: must not be empty"},
		{"{ channels = { 'user.trades.any.any.raw', false } }",
		 "channels[2]: expected string, got boolean"},
		{"{ channels = { 'x' }, label = '0123456789abcdefg' }",
		 "label: at most 16 characters"},
		{"{ channels = { 'x' }, label = '' }", "label: at least 1 characters"},
		{"{ channels = { 'x' }, label = 16 }", "label: expected string, got number"},
		{"{ channels = { 'x' }, access_token = 't' }",
		 "unknown parameter 'access_token' for " M},
	};
	mt_encode_err(M, cases, MT_N(cases));
}

static void private_subscribe_accepts_500_channels(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	mt_push(L, "(function() local c = {} for i = 1, 500 do c[i] = 'user.orders.I' .. i .. "
		   "'.raw' end return { channels = c } end)()");
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	assert_int_equal(lt_method_encode(L, -1, mt_method(M), 1, &b, &err), 0);
	assert_non_null(strstr(lt_buf_text(&b), ",\"user.orders.I500.raw\"]}}"));
	lt_buf_free(&b);
	lua_close(L);
}

static void private_subscribe_decodes_reply(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_subscribe_response.json", mt_method(M), LT_MSG_RESULT, &env);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1", "trades.BTC-PERPETUAL.100ms");
	lua_close(L);
	mt_truncated_rejected("ws_subscribe_response.json", mt_method(M));
	mt_error_reply(mt_method(M));
}

/* ---- user.* channels -------------------------------------------------------------------- */

static const lt_schema *chan(const char *name) { return lt_channel_schema(name, strlen(name)); }

static void user_channel_schemas(void **state)
{
	(void)state;
	assert_ptr_equal(chan("user.orders.BTC-PERPETUAL.raw"), &lt_s_order);
	assert_ptr_equal(chan("user.orders.future.BTC.raw"), &lt_s_order);
	assert_ptr_equal(chan("user.orders.any.any.raw"), &lt_s_order);
	assert_ptr_equal(chan("user.orders.BTC-PERPETUAL.100ms"), &lt_s_orders);
	assert_ptr_equal(chan("user.orders.XRP_USDC-30JUN23-0d625-C.agg2"), &lt_s_orders);
	assert_ptr_equal(chan("user.orders.option.ETH.100ms"), &lt_s_orders);
	assert_ptr_equal(chan("user.orders.option.ETH.agg2"), &lt_s_orders);
	assert_null(chan("user.orders.BTC-PERPETUAL"));    /* 3 parts */
	assert_null(chan("user.orders.a.b.c.raw"));        /* 6 parts */
	assert_null(chan("user.orders.BTC-PERPETUAL.1s")); /* unknown interval */
	assert_null(chan("user.orders.BTC-PERPETUAL.raw2"));
	assert_ptr_equal(chan("user.trades.BTC-PERPETUAL.raw"), &lt_s_user_trades);
	assert_ptr_equal(chan("user.trades.any.any.raw"), &lt_s_user_trades);
	assert_ptr_equal(chan("user.trades.future.BTC.100ms"), &lt_s_user_trades);
	assert_ptr_equal(chan("user.portfolio.btc"), &lt_s_account_summary);
	assert_ptr_equal(chan("user.portfolio.any"), &lt_s_account_summary);
	assert_ptr_equal(chan("user.changes.BTC-PERPETUAL.raw"), &lt_s_user_changes);
	assert_ptr_equal(chan("user.changes.future.BTC.100ms"), &lt_s_user_changes);
	assert_null(chan("user.access_log"));
	assert_null(chan("user.mmp_trigger.btc"));
	assert_ptr_equal(lt_s_user_trades.elem, &lt_s_user_trade);
	assert_ptr_equal(lt_s_orders.elem, &lt_s_order);
	/* only len bytes count */
	assert_ptr_equal(lt_channel_schema("user.orders.X.rawXYZ", 17), &lt_s_order);
	assert_ptr_equal(lt_channel_schema("user.orders.X.100msYY", 19), &lt_s_orders);
	/* the object schemas: every field typed, nfields counts them */
	const lt_schema *objects[] = {&lt_s_order,        &lt_s_user_trade,
				      &lt_s_position,     &lt_s_account_summary,
				      &lt_s_order_result, &lt_s_user_changes};
	for (size_t i = 0; i < MT_N(objects); i++) {
		int n = 0;
		assert_int_equal(objects[i]->type, LT_T_OBJECT);
		for (const lt_field *f = objects[i]->fields; f->name; f++, n++)
			assert_non_null(f->schema);
		assert_int_equal(objects[i]->nfields, n);
	}
}

/* raw: one order object; 100ms / agg2: an array of them (deribit-api.md §4). */
static void user_orders_notifications(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	char *order = tt_fixture_value("ws_order_stop_market_no_filled_amount.json", "order");
	tt_notify(L, "user.orders.BTC_USDC-PERPETUAL.raw", order);
	mt_str(L, -1, "order_id", "USDC-SLMB-19641");
	mt_str(L, -1, "price", "market_price");
	tt_absent(L, -1, "filled_amount");
	mt_float(L, -1, "amount", 0.01);
	mt_int(L, -1, "creation_timestamp", 1777923420773);
	lua_pop(L, 1);
	char *cancelled = tt_fixture_value("ws_order_cancel_response.json", "result");
	char *list = malloc(strlen(order) + strlen(cancelled) + 8);
	assert_non_null(list);
	sprintf(list, "[%s, %s]", cancelled, order);
	tt_notify(L, "user.orders.future.USDC.100ms", list);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1.cancel_reason", "user_request");
	mt_float(L, -1, "1.price", 3067.2);
	mt_int(L, -1, "1.last_update_timestamp", 1767978373490);
	mt_str(L, -1, "2.price", "market_price");
	lua_pop(L, 1);
	tt_notify(L, "user.orders.ETH_USDC-PERPETUAL.agg2", list);
	mt_float(L, -1, "1.contracts", 1.0);
	lua_close(L);
	free(list);
	free(cancelled);
	free(order);
}

/* user.trades.*: always an array; digits beyond double precision round like strtod. */
static void user_trades_notification(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	size_t len;
	char *text = mt_fixture("ws_user_trades_exact.json", &len);
	tt_decode_channel(L, text, len);
	free(text);
	assert_int_equal(mt_len(L, -1, ""), 3);
	mt_str(L, -1, "1.trade_id", "BTC-1");
	mt_str(L, -1, "1.order_id", "BTC-101");
	mt_int(L, -1, "1.trade_seq", 1);
	mt_int(L, -1, "1.timestamp", 1590480712800);
	mt_int(L, -1, "1.tick_direction", 3);
	mt_float(L, -1, "1.price", strtod("100000000.123456789", NULL));
	mt_float(L, -1, "1.amount", strtod("100000000.123456789", NULL));
	mt_float(L, -1, "1.fee", strtod("1000000000.12345678", NULL));
	mt_float(L, -1, "1.index_price", strtod("100000000.123456789", NULL));
	mt_float(L, -1, "1.mark_price", strtod("100000000.123456788", NULL));
	mt_float(L, -1, "1.profit_loss", 0.30000000000000004);
	mt_null(L, -1, "1.liquidation");
	mt_bool(L, -1, "1.reduce_only", false);
	mt_str(L, -1, "1.liquidity", "T");
	mt_null(L, -1, "2.profit_loss");
	mt_int(L, -1, "2.trade_seq", 2);
	mt_float(L, -1, "2.fee", strtod("1000000000.12345679", NULL));
	mt_float(L, -1, "3.fee", 1.1403e-4);
	mt_float(L, -1, "3.price", strtod("100000000.005000001", NULL));
	mt_float(L, -1, "3.mark_price", 100000000.005);
	mt_str(L, -1, "3.direction", "sell");
	lua_close(L);
	mt_truncated_rejected("ws_user_trades_exact.json", mt_method(M));
}

static void user_portfolio_notifications(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	size_t len;
	char *text = mt_fixture("ws_portfolio.json", &len);
	tt_decode_channel(L, text, len);
	free(text);
	mt_str(L, -1, "currency", "USDT");
	mt_float(L, -1, "equity", 55.00055);
	mt_float(L, -1, "projected_initial_margin", 1.100011);
	mt_float(L, -1, "total_delta_total_usd", 0.0);
	mt_bool(L, -1, "portfolio_margining_enabled", false);
	lua_pop(L, 1);
	text = mt_fixture("ws_portfolio_exact.json", &len);
	tt_decode_channel(L, text, len);
	free(text);
	mt_float(L, -1, "balance", strtod("1000000000.12345679", NULL));
	mt_float(L, -1, "initial_margin", strtod("1000000000.12345678", NULL));
	mt_float(L, -1, "maintenance_margin", 5.551115123125783e-17);
	lua_pop(L, 1);
	/* integer text in a float field */
	text = tt_fixture_edited("ws_portfolio_exact.json", "\"equity\": 1000000000.12345679",
				 "\"equity\": 1000", &len);
	tt_decode_channel(L, text, len);
	free(text);
	mt_float(L, -1, "equity", 1000.0);
	lua_close(L);
	mt_truncated_rejected("ws_portfolio.json", mt_method(M));
}

/* user.changes.*: {instrument_name, orders, trades, positions}, each typed. */
static void user_changes_notification(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	char *order = tt_fixture_value("ws_order_cancel_response.json", "result");
	char *trades = tt_fixture_value("ws_user_trades_exact.json", "data");
	char *positions = tt_fixture_value("http_get_positions.json", "result");
	size_t n = strlen(order) + strlen(trades) + strlen(positions) + 128;
	char *data = malloc(n);
	assert_non_null(data);
	snprintf(data, n,
		 "{\"instrument_name\":\"BTC-PERPETUAL\",\"orders\":[%s],\"trades\":%s,"
		 "\"positions\":%s}",
		 order, trades, positions);
	tt_notify(L, "user.changes.BTC-PERPETUAL.raw", data);
	mt_str(L, -1, "instrument_name", "BTC-PERPETUAL");
	mt_str(L, -1, "orders.1.order_state", "cancelled");
	mt_float(L, -1, "orders.1.filled_amount", 0.0);
	mt_int(L, -1, "orders.1.creation_timestamp", 1767978363493);
	assert_int_equal(mt_len(L, -1, "trades"), 3);
	mt_int(L, -1, "trades.3.trade_seq", 3);
	mt_float(L, -1, "trades.3.fee", 1.1403e-4);
	mt_float(L, -1, "positions.1.size", 50.0);
	mt_int(L, -1, "positions.1.user_id", 1234);
	lua_close(L);
	free(data);
	free(positions);
	free(trades);
	free(order);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(private_subscribe_descriptor),
		cmocka_unit_test(private_subscribe_request),
		cmocka_unit_test(private_subscribe_validation),
		cmocka_unit_test(private_subscribe_accepts_500_channels),
		cmocka_unit_test(private_subscribe_decodes_reply),
		cmocka_unit_test(user_channel_schemas),
		cmocka_unit_test(user_orders_notifications),
		cmocka_unit_test(user_trades_notification),
		cmocka_unit_test(user_portfolio_notifications),
		cmocka_unit_test(user_changes_notification),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
