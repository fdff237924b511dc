/* registry.c — the table of every method that has a codec (codec.h lt_methods[]) and the two
 * look-ups the clients use: by JSON-RPC name and by Lua method name. Method descriptors live
 * one per file in this directory; add a new one here and to lt_methods[]. Methods used only by
 * the C core (public/auth, private/subscribe, private/unsubscribe) have no Lua name. */
#include "codec.h"

#include <string.h>

extern const lt_method lt_m_hello, lt_m_test, lt_m_get_time, lt_m_set_heartbeat,
	lt_m_disable_heartbeat, lt_m_subscribe, lt_m_unsubscribe, lt_m_unsubscribe_all,
	lt_m_get_instruments, lt_m_get_instrument, lt_m_ticker, lt_m_get_order_book,
	lt_m_get_index_price, lt_m_auth, lt_m_buy, lt_m_sell, lt_m_edit, lt_m_cancel,
	lt_m_cancel_all, lt_m_cancel_all_by_instrument, lt_m_cancel_all_by_currency,
	lt_m_cancel_by_label, lt_m_get_open_orders_by_instrument, lt_m_get_open_orders_by_label,
	lt_m_get_order_state, lt_m_get_order_state_by_label, lt_m_get_positions, lt_m_get_position,
	lt_m_get_account_summary, lt_m_private_subscribe, lt_m_private_unsubscribe,
	lt_m_enable_cancel_on_disconnect, lt_m_disable_cancel_on_disconnect,
	lt_m_get_cancel_on_disconnect, lt_m_logout;

const lt_method *const lt_methods[] = {
	&lt_m_hello,
	&lt_m_test,
	&lt_m_get_time,
	&lt_m_set_heartbeat,
	&lt_m_disable_heartbeat,
	&lt_m_subscribe,
	&lt_m_unsubscribe,
	&lt_m_unsubscribe_all,
	&lt_m_get_instruments,
	&lt_m_get_instrument,
	&lt_m_ticker,
	&lt_m_get_order_book,
	&lt_m_get_index_price,
	&lt_m_auth,
	&lt_m_buy,
	&lt_m_sell,
	&lt_m_edit,
	&lt_m_cancel,
	&lt_m_cancel_all,
	&lt_m_cancel_all_by_instrument,
	&lt_m_cancel_all_by_currency,
	&lt_m_cancel_by_label,
	&lt_m_get_open_orders_by_instrument,
	&lt_m_get_open_orders_by_label,
	&lt_m_get_order_state,
	&lt_m_get_order_state_by_label,
	&lt_m_get_positions,
	&lt_m_get_position,
	&lt_m_get_account_summary,
	&lt_m_private_subscribe,
	&lt_m_private_unsubscribe,
	&lt_m_enable_cancel_on_disconnect,
	&lt_m_disable_cancel_on_disconnect,
	&lt_m_get_cancel_on_disconnect,
	&lt_m_logout,
	NULL,
};

const lt_method *lt_method_find(const char *name)
{
	for (const lt_method *const *m = lt_methods; name && *m; m++)
		if (strcmp((*m)->name, name) == 0)
			return *m;
	return NULL;
}

const lt_method *lt_method_find_lua(const char *lua_name)
{
	for (const lt_method *const *m = lt_methods; lua_name && *m; m++)
		if ((*m)->lua_name && strcmp((*m)->lua_name, lua_name) == 0)
			return *m;
	return NULL;
}
