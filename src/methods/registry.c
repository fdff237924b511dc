/* registry.c — the table of every method that has a codec (codec.h lt_methods[]) and the two
 * look-ups the clients use: by JSON-RPC name and by Lua method name. Method descriptors live
 * one per file in this directory; add a new one here and to lt_methods[]. */
#include "codec.h"

#include <string.h>

extern const lt_method lt_m_hello, lt_m_test, lt_m_get_time, lt_m_set_heartbeat,
	lt_m_disable_heartbeat, lt_m_subscribe, lt_m_unsubscribe, lt_m_unsubscribe_all,
	lt_m_get_instruments, lt_m_get_instrument, lt_m_ticker, lt_m_get_order_book,
	lt_m_get_index_price;

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
		if (strcmp((*m)->lua_name, lua_name) == 0)
			return *m;
	return NULL;
}
