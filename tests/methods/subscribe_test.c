/* subscribe_test.c — public/subscribe codec (src/methods/subscribe.c): request text for one and
 * many channels, every rule on channels (required, array, 1..500 entries, non-empty UTF-8
 * strings), the subscribe rate-limit pool, and decoding of
 * tests/fixtures/ws_subscribe_response.json (an array of channel names) and of an error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void subscribe_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/subscribe", "subscribe", LT_POOL_SUBSCRIBE, 3000);
	const lt_method *m = mt_method("public/subscribe");
	assert_true(m->flags & LT_MF_WS_ONLY);
	assert_ptr_equal(m->result, &lt_s_string_array);
}

static void subscribe_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ channels = { 'ticker.BTC-PERPETUAL.100ms' } }",
		 REQ("public/subscribe") ",\"params\":{\"channels\":[\"ticker.BTC-PERPETUAL.100ms\"]}}"},
		{"{ channels = { 'trades.BTC-PERPETUAL.100ms', 'book.BTC-PERPETUAL.100ms', "
		 "'book.BTC-PERPETUAL.none.10.100ms' } }",
		 REQ("public/subscribe") ",\"params\":{\"channels\":[\"trades.BTC-PERPETUAL.100ms\","
			    "\"book.BTC-PERPETUAL.100ms\",\"book.BTC-PERPETUAL.none.10.100ms\"]}}"},
	};
	mt_encode_ok("public/subscribe", cases, MT_N(cases));
}

/* 500 channels are accepted. */
static void subscribe_accepts_500_channels(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	mt_push(L, "(function() local c = {} for i = 1, 500 do c[i] = 'ticker.I' .. i .. '.raw' end "
		   "return { channels = c } end)()");
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	assert_int_equal(lt_method_encode(L, -1, mt_method("public/subscribe"), 1, &b, &err), 0);
	assert_non_null(strstr(lt_buf_text(&b), "[\"ticker.I1.raw\",\"ticker.I2.raw\","));
	assert_non_null(strstr(lt_buf_text(&b), ",\"ticker.I500.raw\"]}}"));
	lt_buf_free(&b);
	lua_close(L);
}

static void subscribe_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "channels: required"},
		{"{}", "channels: required"},
		{"{ channels = 'ticker.BTC-PERPETUAL.100ms' }",
		 "channels: expected array of strings, got string"},
		{"{ channels = { a = 'ticker.BTC-PERPETUAL.100ms' } }",
		 "channels: expected array of strings, got table"},
		{"{ channels = {} }", "channels: at least 1 entry"},
		{"{ channels = (function() local c = {} for i = 1, 501 do c[i] = 'x' .. i end "
		 "return c end)() }",
		 "channels: at most 500 entries"},
		{"{ channels = { 'ticker.BTC-PERPETUAL.100ms', 7 } }",
		 "channels[2]: expected string, got number"},
		{"{ channels = { '' } }", "channels[1]: must not be empty"},
		{"{ channels = { 'ok', 'bad\\xFF' } }", "channels[2]: invalid UTF-8"},
		{"{ channels = { 'x' }, label = 'mm' }", "unknown parameter 'label' for public/subscribe"},
	};
	mt_encode_err("public/subscribe", cases, MT_N(cases));
}

static void subscribe_decodes_channels(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_subscribe_response.json", mt_method("public/subscribe"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 1);
	assert_true(env.testnet);
	assert_int_equal(env.us_in, 1699999999000000);
	assert_int_equal(env.us_out, 1699999999001000);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1", "trades.BTC-PERPETUAL.100ms");
	mt_str(L, -1, "2", "book.BTC-PERPETUAL.100ms");
	lua_close(L);
}

static void subscribe_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_subscribe_response.json", mt_method("public/subscribe"));
}

static void subscribe_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/subscribe"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(subscribe_descriptor),
		cmocka_unit_test(subscribe_request),
		cmocka_unit_test(subscribe_accepts_500_channels),
		cmocka_unit_test(subscribe_validation),
		cmocka_unit_test(subscribe_decodes_channels),
		cmocka_unit_test(subscribe_rejects_truncated),
		cmocka_unit_test(subscribe_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
