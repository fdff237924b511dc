/* channels_cases.h — the tests of public/subscribe and public/unsubscribe, which take the same
 * parameters and give the same result shape: request text for one and many channels, every rule
 * on channels (required, array, 1..500 entries, non-empty UTF-8 strings), the rate-limit pool
 * (CH_POOL and CH_COST, defined by the including file), decoding of tests/fixtures/ws_subscribe_response.json (an array of channel
 * names), truncated input and an error reply. The including file defines CH_METHOD (the JSON-RPC
 * name) and CH_LUA (the Lua method name), then lists CH_TESTS in its main. */
#ifndef LT_CHANNELS_CASES_H
#define LT_CHANNELS_CASES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void ch_descriptor(void **state)
{
	(void)state;
	mt_descriptor(CH_METHOD, CH_LUA, CH_POOL, CH_COST);
	const lt_method *m = mt_method(CH_METHOD);
	assert_ptr_equal(m->result, &lt_s_string_array);
}

static void ch_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ channels = { 'ticker.BTC-PERPETUAL.100ms' } }",
		 REQ(CH_METHOD) ",\"params\":{\"channels\":[\"ticker.BTC-PERPETUAL.100ms\"]}}"},
		{"{ channels = { 'trades.BTC-PERPETUAL.100ms', 'book.BTC-PERPETUAL.100ms', "
		 "'book.BTC-PERPETUAL.none.10.100ms' } }",
		 REQ(CH_METHOD) ",\"params\":{\"channels\":[\"trades.BTC-PERPETUAL.100ms\","
				"\"book.BTC-PERPETUAL.100ms\",\"book.BTC-PERPETUAL.none.10.100ms\"]"
				"}}"},
	};
	mt_encode_ok(CH_METHOD, cases, MT_N(cases));
}

/* 500 channels are accepted. */
static void ch_accepts_500_channels(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	mt_push(L,
		"(function() local c = {} for i = 1, 500 do c[i] = 'ticker.I' .. i .. '.raw' end "
		"return { channels = c } end)()");
	lt_buf b;
	lt_buf_init(&b, 0);
	lt_err err = {0};
	assert_int_equal(lt_method_encode(L, -1, mt_method(CH_METHOD), 1, &b, &err), 0);
	assert_non_null(strstr(lt_buf_text(&b), "[\"ticker.I1.raw\",\"ticker.I2.raw\","));
	assert_non_null(strstr(lt_buf_text(&b), ",\"ticker.I500.raw\"]}}"));
	lt_buf_free(&b);
	lua_close(L);
}

static void ch_validation(void **state)
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
		{"{ channels = { 'x' }, label = 'mm' }",
		 "unknown parameter 'label' for " CH_METHOD},
	};
	mt_encode_err(CH_METHOD, cases, MT_N(cases));
}

static void ch_decodes_channels(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_subscribe_response.json", mt_method(CH_METHOD), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 1);
	assert_true(env.testnet);
	assert_int_equal(env.us_in, 1699999999000000);
	assert_int_equal(env.us_out, 1699999999001000);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1", "trades.BTC-PERPETUAL.100ms");
	mt_str(L, -1, "2", "book.BTC-PERPETUAL.100ms");
	lua_close(L);
}

static void ch_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_subscribe_response.json", mt_method(CH_METHOD));
}

static void ch_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method(CH_METHOD));
}

#define CH_TESTS                                                                                   \
	cmocka_unit_test(ch_descriptor), cmocka_unit_test(ch_request),                             \
		cmocka_unit_test(ch_accepts_500_channels), cmocka_unit_test(ch_validation),        \
		cmocka_unit_test(ch_decodes_channels), cmocka_unit_test(ch_rejects_truncated),     \
		cmocka_unit_test(ch_error_reply)

#endif
