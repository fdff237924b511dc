/* cancel_counts.h — decoding shared by the cancel-all style tests (cancel_all,
 * cancel_all_by_instrument, cancel_all_by_currency): the plain result is a count, an integer
 * (any integer reply does: tests/fixtures/http_get_time.json's), and with detailed = true an
 * array of {order, trades} reports (composed from ws_order_buy_response.json's result). */
#ifndef LT_CANCEL_COUNTS_H
#define LT_CANCEL_COUNTS_H

static inline void cc_decodes_count_and_reports(const lt_method *m)
{
	lua_State *L = mt_lua();
	lt_envelope env;
	mt_decode(L, "http_get_time.json", m, LT_MSG_RESULT, &env);
	mt_int(L, -1, "", 1733338800000);
	lua_pop(L, 1);
	tt_reply(L, m, "4");
	mt_int(L, -1, "", 4);
	lua_pop(L, 1);
	char *report = tt_fixture_value("ws_order_buy_response.json", "result");
	char *list = malloc(2 * strlen(report) + 8);
	assert_non_null(list);
	sprintf(list, "[%s, %s]", report, report);
	tt_reply(L, m, list);
	free(list);
	free(report);
	assert_int_equal(mt_len(L, -1, ""), 2);
	mt_str(L, -1, "1.order.order_id", "USDC-104819327443");
	mt_int(L, -1, "2.order.creation_timestamp", 1767978363493);
	mt_float(L, -1, "2.order.price", 2973.55);
	assert_int_equal(mt_len(L, -1, "1.trades"), 0);
	lua_close(L);
	mt_truncated_rejected("http_get_time.json", m);
	mt_error_reply(m);
}

#endif
