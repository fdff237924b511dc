/* order_params.h — the parameter table and cross-field check shared by private/buy and
 * private/sell (deribit-api.md §5: "same params"), defined once in order_params.c. */
#ifndef LT_ORDER_PARAMS_H
#define LT_ORDER_PARAMS_H

#include "codec.h"

extern const lt_param lt_order_params[];

/* The cross-field rules of an order (lt_method.check): exactly one of amount or contracts;
 * price required or forbidden by type; post_only / reject_post_only only on limit orders;
 * trigger_price for stop/take orders, trigger_offset for trailing stops. */
int lt_order_check(lua_State *L, int idx, lt_err *err);

#endif
