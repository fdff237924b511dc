/* order_cases.h — the request cases private/buy and private/sell share (their parameters and
 * rules are one table, src/methods/order_params.c): every rule of deribit-api.md §5 as a case
 * that fails when the rule is removed, and accepted orders of every type with their exact
 * params text. The method name is spliced in by the including test (ORDER_METHOD). */
#ifndef LT_ORDER_CASES_H
#define LT_ORDER_CASES_H

#define L64                                                                                        \
	"'"                                                                                        \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"                         \
	"'"
#define L65                                                                                        \
	"'"                                                                                        \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+"                        \
	"'"
#define TYPES                                                                                      \
	"type: must be one of limit, market, stop_limit, stop_market, take_limit, "                \
	"take_market, market_limit, trailing_stop"
#define X "instrument_name = 'BTC-PERPETUAL', "

/* Accepted orders: params in declaration order, whatever the table order. */
static const mt_case order_ok_params[] = {
	/* deribit-api.md §10 sample 8 */
	{"{ instrument_name = 'BTC-PERPETUAL', amount = 100, type = 'limit', price = 93150.0, "
	 "time_in_force = 'good_til_cancelled', post_only = true, reject_post_only = false, "
	 "reduce_only = false, label = 'mm-bid-000123' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":100,\"type\":\"limit\","
	 "\"label\":\"mm-bid-000123\",\"price\":93150,\"time_in_force\":\"good_til_cancelled\","
	 "\"post_only\":true,\"reject_post_only\":false,\"reduce_only\":false}"},
	/* type absent = limit; contracts instead of amount */
	{"{ price = 2973.55, contracts = 1, " X "}",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"contracts\":1,\"price\":2973.55}"},
	{"{ " X "amount = 0.001, price = 3067.2, post_only = true, reject_post_only = true }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":0.001,\"price\":3067.2,"
	 "\"post_only\":true,\"reject_post_only\":true}"},
	{"{ " X "amount = 50, type = 'market', time_in_force = 'immediate_or_cancel' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":50,\"type\":\"market\","
	 "\"time_in_force\":\"immediate_or_cancel\"}"},
	/* false post_only flags are the default and allowed on any type */
	{"{ " X "amount = 50, type = 'market', post_only = false, reject_post_only = false }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":50,\"type\":\"market\","
	 "\"post_only\":false,\"reject_post_only\":false}"},
	{"{ " X "amount = 50, type = 'market_limit' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":50,\"type\":\"market_limit\"}"},
	{"{ " X
	 "amount = 10, type = 'stop_market', trigger_price = 2228.0, trigger = 'mark_price', "
	 "reduce_only = true }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,\"type\":\"stop_market\","
	 "\"reduce_only\":true,\"trigger_price\":2228,\"trigger\":\"mark_price\"}"},
	{"{ " X "amount = 10, type = 'stop_limit', price = 90000, trigger_price = 90100, "
	 "trigger = 'last_price' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,\"type\":\"stop_limit\","
	 "\"price\":90000,\"trigger_price\":90100,\"trigger\":\"last_price\"}"},
	{"{ " X "amount = 10, type = 'take_limit', price = 99000.5, trigger_price = 99000, "
	 "trigger = 'index_price' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,\"type\":\"take_limit\","
	 "\"price\":99000.5,\"trigger_price\":99000,\"trigger\":\"index_price\"}"},
	{"{ " X "amount = 10, type = 'take_market', trigger_price = 99000 }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,\"type\":\"take_market\","
	 "\"trigger_price\":99000}"},
	{"{ " X
	 "amount = 10, type = 'trailing_stop', trigger_offset = 150, trigger = 'mark_price' }",
	 "{\"instrument_name\":\"BTC-PERPETUAL\",\"amount\":10,\"type\":\"trailing_stop\","
	 "\"trigger_offset\":150,\"trigger\":\"mark_price\"}"},
	/* a combo's price may be negative; 64 characters of label are allowed */
	{"{ instrument_name = 'BTC-FS-27DEC24_PERP', amount = 10, price = -5.5, label = " L64 " }",
	 "{\"instrument_name\":\"BTC-FS-27DEC24_PERP\",\"amount\":10,\"label\":"
	 "\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\",\"price\":-5.5}"},
	/* every other parameter, in declaration order */
	/* (otoco_config entries have one key each: Lua's key order is not defined) */
	{"{ otoco_config = { { amount = 1 }, { price = 2 } }, "
	 "trigger_fill_condition = 'first_hit', linked_order_type = 'one_triggers_other', "
	 "valid_until = 1767225660000, mmp = false, advanced = 'implv', display_amount = 1, "
	 "time_in_force = 'good_til_day', price = 55.5, contracts = 3, "
	 "instrument_name = 'BTC-27DEC24-100000-C' }",
	 "{\"instrument_name\":\"BTC-27DEC24-100000-C\",\"contracts\":3,\"price\":55.5,"
	 "\"time_in_force\":\"good_til_day\",\"display_amount\":1,\"advanced\":\"implv\","
	 "\"mmp\":false,\"valid_until\":1767225660000,\"linked_order_type\":\"one_triggers_other\","
	 "\"trigger_fill_condition\":\"first_hit\",\"otoco_config\":[{\"amount\":1},"
	 "{\"price\":2}]}"},
};

/* Every rule, with the exact message. */
static const mt_case order_invalid[] = {
	{"nil", "instrument_name: required"},
	{"{ amount = 10, price = 1 }", "instrument_name: required"},
	{"{ instrument_name = 5, amount = 10, price = 1 }",
	 "instrument_name: expected string, got number"},
	{"{ instrument_name = '', amount = 10, price = 1 }", "instrument_name: must not be empty"},
	/* exactly one of amount or contracts, positive */
	{"{ " X "price = 1 }", "amount: give exactly one of amount or contracts"},
	{"{ " X "amount = 10, contracts = 1, price = 1 }",
	 "amount: give exactly one of amount or contracts"},
	{"{ " X "amount = 0, price = 1 }", "amount: must be > 0"},
	{"{ " X "amount = -10, price = 1 }", "amount: must be > 0"},
	{"{ " X "contracts = 0, price = 1 }", "contracts: must be > 0"},
	{"{ " X "amount = '10', price = 1 }", "amount: expected number, got string"},
	{"{ " X "amount = 0/0, price = 1 }", "amount: must be a finite number"},
	/* type */
	{"{ " X "amount = 10, price = 1, type = 'stop' }", TYPES},
	{"{ " X "amount = 10, price = 1, type = 'LIMIT' }", TYPES},
	/* price required (absent type = limit) or forbidden by type */
	{"{ " X "amount = 10 }", "price: required for limit orders"},
	{"{ " X "amount = 10, type = 'limit' }", "price: required for limit orders"},
	{"{ " X "amount = 10, type = 'stop_limit', trigger_price = 1 }",
	 "price: required for stop_limit orders"},
	{"{ " X "amount = 10, type = 'take_limit', trigger_price = 1 }",
	 "price: required for take_limit orders"},
	{"{ " X "amount = 10, type = 'market', price = 1 }",
	 "price: not allowed for market orders"},
	{"{ " X "amount = 10, type = 'stop_market', price = 1, trigger_price = 1 }",
	 "price: not allowed for stop_market orders"},
	{"{ " X "amount = 10, type = 'take_market', price = 1, trigger_price = 1 }",
	 "price: not allowed for take_market orders"},
	{"{ " X "amount = 10, type = 'market_limit', price = 1 }",
	 "price: not allowed for market_limit orders"},
	{"{ " X "amount = 10, price = '93150' }", "price: expected number, got string"},
	{"{ " X "amount = 10, price = math.huge }", "price: must be a finite number"},
	/* time_in_force */
	{"{ " X "amount = 10, price = 1, time_in_force = 'gtc' }",
	 "time_in_force: must be one of good_til_cancelled, good_til_day, fill_or_kill, "
	 "immediate_or_cancel"},
	/* label */
	{"{ " X "amount = 10, price = 1, label = " L65 " }", "label: at most 64 characters"},
	{"{ " X "amount = 10, price = 1, label = 7 }", "label: expected string, got number"},
	/* post_only / reject_post_only */
	{"{ " X "amount = 10, type = 'market', post_only = true }",
	 "post_only: only for limit orders"},
	{"{ " X
	 "amount = 10, type = 'stop_limit', price = 1, trigger_price = 1, post_only = true }",
	 "post_only: only for limit orders"},
	{"{ " X "amount = 10, type = 'market', reject_post_only = true }",
	 "reject_post_only: only for limit orders"},
	{"{ " X "amount = 10, price = 1, reject_post_only = true }",
	 "reject_post_only: requires post_only = true"},
	{"{ " X "amount = 10, price = 1, post_only = false, reject_post_only = true }",
	 "reject_post_only: requires post_only = true"},
	{"{ " X "amount = 10, price = 1, post_only = 'yes' }",
	 "post_only: expected boolean, got string"},
	{"{ " X "amount = 10, price = 1, reject_post_only = 1 }",
	 "reject_post_only: expected boolean, got number"},
	/* reduce_only */
	{"{ " X "amount = 10, price = 1, reduce_only = 1 }",
	 "reduce_only: expected boolean, got number"},
	/* trigger, trigger_price, trigger_offset */
	{"{ " X "amount = 10, type = 'stop_market', trigger_price = 1, trigger = 'mark' }",
	 "trigger: must be one of index_price, mark_price, last_price"},
	{"{ " X "amount = 10, type = 'stop_market' }",
	 "trigger_price: required for stop_market orders"},
	{"{ " X "amount = 10, type = 'stop_limit', price = 1 }",
	 "trigger_price: required for stop_limit orders"},
	{"{ " X "amount = 10, type = 'take_limit', price = 1 }",
	 "trigger_price: required for take_limit orders"},
	{"{ " X "amount = 10, type = 'take_market' }",
	 "trigger_price: required for take_market orders"},
	{"{ " X "amount = 10, type = 'stop_market', trigger_price = 0 }",
	 "trigger_price: must be > 0"},
	{"{ " X "amount = 10, type = 'trailing_stop' }",
	 "trigger_offset: required for trailing_stop orders"},
	{"{ " X "amount = 10, type = 'trailing_stop', trigger_offset = 'x' }",
	 "trigger_offset: expected number, got string"},
	{"{ " X "amount = 10, type = 'trailing_stop', trigger_offset = -1 }",
	 "trigger_offset: must be > 0"},
	/* advanced, display_amount, valid_until, mmp, linked orders */
	{"{ " X "amount = 10, price = 1, advanced = 'usdc' }",
	 "advanced: must be one of usd, implv"},
	{"{ " X "amount = 10, price = 1, display_amount = '1' }",
	 "display_amount: expected number, got string"},
	{"{ " X "amount = 10, price = 1, display_amount = 0 }", "display_amount: must be > 0"},
	{"{ " X "amount = 10, price = 1, valid_until = 1.5 }",
	 "valid_until: expected integer, got 1.5"},
	{"{ " X "amount = 10, price = 1, valid_until = '1' }",
	 "valid_until: expected integer, got string"},
	{"{ " X "amount = 10, price = 1, mmp = 'true' }", "mmp: expected boolean, got string"},
	{"{ " X "amount = 10, price = 1, linked_order_type = 'oco' }",
	 "linked_order_type: must be one of one_triggers_other, one_cancels_other, "
	 "one_triggers_one_cancels_other"},
	{"{ " X "amount = 10, price = 1, trigger_fill_condition = 'all' }",
	 "trigger_fill_condition: must be one of first_hit, complete_fill, incremental"},
	{"{ " X "amount = 10, price = 1, otoco_config = { print } }",
	 "otoco_config[1]: cannot encode a function as JSON"},
};

#undef X
#endif
