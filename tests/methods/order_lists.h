/* order_lists.h — decoding shared by the tests of methods returning an array of orders
 * (get_open_orders_by_instrument, get_open_orders_by_label, get_order_state_by_label): a reply
 * composed from the orders of tests/fixtures/ws_order_cancel_response.json and
 * ws_order_stop_market_no_filled_amount.json, typed per order; an empty list; an error
 * reply. */
#ifndef LT_ORDER_LISTS_H
#define LT_ORDER_LISTS_H

static inline void ol_decodes_orders(const lt_method *m)
{
	char *a = tt_fixture_value("ws_order_cancel_response.json", "result");
	char *b = tt_fixture_value("ws_order_stop_market_no_filled_amount.json", "order");
	char *list = malloc(strlen(a) + strlen(b) + 8);
	assert_non_null(list);
	sprintf(list, "[%s, %s]", a, b);
	lua_State *L = mt_lua();
	tt_reply(L, m, list);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1.order_id", "USDC-104819327443");
	mt_float(L, -1, "1.price", 3067.2);
	mt_float(L, -1, "1.filled_amount", 0.0);
	mt_int(L, -1, "1.creation_timestamp", 1767978363493);
	mt_str(L, -1, "2.order_id", "USDC-SLMB-19641");
	mt_str(L, -1, "2.price", "market_price");
	mt_float(L, -1, "2.amount", 0.01);
	mt_float(L, -1, "2.trigger_price", 2228.0);
	tt_absent(L, -1, "2.filled_amount");
	mt_int(L, -1, "2.last_update_timestamp", 1777923420773);
	lua_pop(L, 1);
	tt_reply(L, m, "[]");
	assert_int_equal(mt_len(L, -1, ""), 0);
	lua_close(L);
	free(list);
	free(a);
	free(b);
	mt_error_reply(m);
}

#endif
