/* edit_test.c — private/edit codec (src/methods/edit.c): request text (size, price, flags,
 * trigger fields), every rule (order_id required; at most one of amount or contracts, each
 * > 0; reject_post_only needs post_only = true; advanced enum; types), and decoding of
 * tests/fixtures/ws_order_edit_response.json (replaced = true), truncated prefixes and an
 * error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/trading_test.h"

#define REQ "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"private/edit\",\"params\":"

static void edit_descriptor(void **state)
{
	(void)state;
	const lt_method *m = tt_private("private/edit", "edit", LT_POOL_ME, 1);
	assert_ptr_equal(m->result, &lt_s_order_result);
}

static void edit_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		/* deribit-api.md §10 sample 12 */
		{"{ order_id = '63018852741', amount = 100, price = 93120.5, post_only = true }",
		 REQ "{\"order_id\":\"63018852741\",\"amount\":100,\"price\":93120.5,"
		     "\"post_only\":true}}"},
		{"{ order_id = 'USDC-104819327443', price = 3067.2 }",
		 REQ "{\"order_id\":\"USDC-104819327443\",\"price\":3067.2}}"},
		{"{ order_id = 'X', contracts = 2 }", REQ "{\"order_id\":\"X\",\"contracts\":2}}"},
		{"{ display_amount = 10, valid_until = 1767225660000, mmp = true, trigger_offset = "
		 "5, "
		 "trigger_price = 90000.5, advanced = 'usd', reduce_only = true, reject_post_only "
		 "= true, "
		 "post_only = true, price = 0.05, amount = 1, order_id = 'Y' }",
		 REQ "{\"order_id\":\"Y\",\"amount\":1,\"price\":0.05,\"post_only\":true,"
		     "\"reject_post_only\":true,\"reduce_only\":true,\"advanced\":\"usd\","
		     "\"trigger_price\":90000.5,\"trigger_offset\":5,\"mmp\":true,"
		     "\"valid_until\":1767225660000,\"display_amount\":10}}"},
		{"{ order_id = 'Z', reject_post_only = false }",
		 REQ "{\"order_id\":\"Z\",\"reject_post_only\":false}}"},
	};
	mt_encode_ok("private/edit", cases, MT_N(cases));
}

static void edit_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", "order_id: required"},
		{"{ amount = 10 }", "order_id: required"},
		{"{ order_id = 63018852741 }", "order_id: expected string, got number"},
		{"{ order_id = 'X', amount = 10, contracts = 1 }",
		 "amount: give at most one of amount or contracts"},
		{"{ order_id = 'X', amount = 0 }", "amount: must be > 0"},
		{"{ order_id = 'X', contracts = -1 }", "contracts: must be > 0"},
		{"{ order_id = 'X', price = '1' }", "price: expected number, got string"},
		{"{ order_id = 'X', price = 1, reject_post_only = true }",
		 "reject_post_only: requires post_only = true"},
		{"{ order_id = 'X', price = 1, post_only = false, reject_post_only = true }",
		 "reject_post_only: requires post_only = true"},
		{"{ order_id = 'X', post_only = 1 }", "post_only: expected boolean, got number"},
		{"{ order_id = 'X', reduce_only = 'no' }",
		 "reduce_only: expected boolean, got string"},
		{"{ order_id = 'X', advanced = 'iv' }", "advanced: must be one of usd, implv"},
		{"{ order_id = 'X', trigger_price = 0 }", "trigger_price: must be > 0"},
		{"{ order_id = 'X', trigger_offset = '5' }",
		 "trigger_offset: expected number, got string"},
		{"{ order_id = 'X', mmp = 'yes' }", "mmp: expected boolean, got string"},
		{"{ order_id = 'X', valid_until = 1.5 }", "valid_until: expected integer, got 1.5"},
		{"{ order_id = 'X', display_amount = -1 }", "display_amount: must be > 0"},
		{"{ order_id = 'X', type = 'market' }",
		 "unknown parameter 'type' for private/edit"},
		{"{ order_id = 'X', label = 'l' }", "unknown parameter 'label' for private/edit"},
	};
	mt_encode_err("private/edit", cases, MT_N(cases));
}

static void edit_decodes_fixture(void **state)
{
	(void)state;
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "ws_order_edit_response.json", mt_method("private/edit"), LT_MSG_RESULT, &env);
	assert_int_equal(env.id, 7);
	mt_str(L, -1, "order.order_id", "USDC-104819327443");
	mt_bool(L, -1, "order.replaced", true);
	mt_float(L, -1, "order.price", 3067.2);
	mt_int(L, -1, "order.creation_timestamp", 1767978363493);
	mt_int(L, -1, "order.last_update_timestamp", 1767978368488);
	mt_float(L, -1, "order.amount", 0.001);
	mt_str(L, -1, "order.order_state", "open");
	assert_int_equal(mt_len(L, -1, "trades"), 0);
	lua_close(L);
}

static void edit_rejects_truncated(void **state)
{
	(void)state;
	mt_truncated_rejected("ws_order_edit_response.json", mt_method("private/edit"));
}

static void edit_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("private/edit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(edit_descriptor),        cmocka_unit_test(edit_request),
		cmocka_unit_test(edit_validation),        cmocka_unit_test(edit_decodes_fixture),
		cmocka_unit_test(edit_rejects_truncated), cmocka_unit_test(edit_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
