/* schemas.c — the leaf schemas and the venue object schemas shared by several methods and
 * subscription channels (deribit-api.md §1 types, §4 subscriptions, §5 trading objects, §6
 * market data), and lt_channel_schema, which picks a channel's data schema from its name.
 *
 * Field order follows the order the venue sends (the decoder starts each key lookup just after
 * the previous match, so matching order makes lookups one comparison). Only the types matter
 * for decoding: INT fields become Lua integers, FLOAT fields Lua floats; STRING/BOOL fields are
 * listed for documentation and keep whatever JSON type arrives. Unknown keys decode as ANY.
 */
#include "codec.h"

#include <string.h>

/* clang-format off: the tables below are laid out by hand, one venue object per block */
#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)
#define OBJECT(fields)                                                                             \
	{                                                                                          \
		LT_T_OBJECT, fields, NULL, NFIELDS(fields)                                         \
	}
#define ARRAY(elem)                                                                                \
	{                                                                                          \
		LT_T_ARRAY, NULL, elem, 0                                                          \
	}

/* ---- leaves --------------------------------------------------------------------------- */

const lt_schema lt_s_any = {LT_T_ANY, NULL, NULL, 0};
const lt_schema lt_s_string = {LT_T_STRING, NULL, NULL, 0};
const lt_schema lt_s_secret = {LT_T_SECRET, NULL, NULL, 0};
const lt_schema lt_s_int = {LT_T_INT, NULL, NULL, 0};
const lt_schema lt_s_float = {LT_T_FLOAT, NULL, NULL, 0};
const lt_schema lt_s_bool = {LT_T_BOOL, NULL, NULL, 0};
const lt_schema lt_s_float_array = ARRAY(&lt_s_float);
const lt_schema lt_s_levels = ARRAY(&lt_s_float_array);
const lt_schema lt_s_string_array = ARRAY(&lt_s_string);

#define S (&lt_s_string)
#define I (&lt_s_int)
#define F (&lt_s_float)
#define B (&lt_s_bool)

/* ---- ticker (§4 "Ticker object"; also public/ticker, §6) -------------------------------- */

static const lt_field stats_fields[] = {{"high", F},   {"low", F},        {"price_change", F},
					{"volume", F}, {"volume_usd", F}, {"volume_notional", F},
					{NULL, NULL}};
static const lt_schema stats_schema = OBJECT(stats_fields);

static const lt_field greeks_fields[] = {{"delta", F}, {"gamma", F}, {"vega", F},
					 {"theta", F}, {"rho", F},   {NULL, NULL}};
static const lt_schema greeks_schema = OBJECT(greeks_fields);

/* Shared by the ticker and the order book (public/get_order_book = ticker fields + book). */
#define TICKER_FIELDS                                                                              \
	{"timestamp", I}, {"state", S}, {"stats", &stats_schema}, {"index_price", F},              \
		{"instrument_name", S}, {"last_price", F}, {"settlement_price", F},                \
		{"min_price", F}, {"max_price", F}, {"open_interest", F}, {"mark_price", F},       \
		{"interest_value", F}, {"best_ask_price", F}, {"best_bid_price", F},               \
		{"estimated_delivery_price", F}, {"best_ask_amount", F}, {"best_bid_amount", F},   \
		{"current_funding", F}, {"funding_8h", F}, {"delivery_price", F},                  \
		{"underlying_price", F}, {"underlying_index", S}, {"interest_rate", F},            \
		{"bid_iv", F}, {"ask_iv", F}, {"mark_iv", F},                                      \
	{                                                                                          \
		"greeks", &greeks_schema                                                           \
	}

static const lt_field ticker_fields[] = {TICKER_FIELDS, {NULL, NULL}};
const lt_schema lt_s_ticker = OBJECT(ticker_fields);

/* public/get_order_book (§6): venue sends keys sorted, so books first. */
static const lt_field order_book_fields[] = {{"asks", &lt_s_levels},
					     {"bids", &lt_s_levels},
					     {"change_id", I},
					     TICKER_FIELDS,
					     {NULL, NULL}};
const lt_schema lt_s_order_book = OBJECT(order_book_fields);

/* ---- books (§4 book.{instr}.{interval} and book.{instr}.{group}.{depth}.{interval}) ------ */

/* Levels are ["new", price, amount]: an array of FLOAT whose action string stays a string. */
static const lt_field book_change_fields[] = {
	{"type", S},           {"instrument_name", S}, {"timestamp", I},       {"change_id", I},
	{"prev_change_id", I}, {"bids", &lt_s_levels}, {"asks", &lt_s_levels}, {NULL, NULL}};
const lt_schema lt_s_book_change = OBJECT(book_change_fields);

static const lt_field book_grouped_fields[] = {{"instrument_name", S}, {"timestamp", I},
					       {"change_id", I},       {"bids", &lt_s_levels},
					       {"asks", &lt_s_levels}, {NULL, NULL}};
const lt_schema lt_s_book_grouped = OBJECT(book_grouped_fields);

/* ---- public trades (§4 "Public trade"; combo trades carry their legs) ------------------- */

static const lt_field public_trade_fields[] = {{"timestamp", I},
					       {"price", F},
					       {"amount", F},
					       {"direction", S},
					       {"index_price", F},
					       {"instrument_name", S},
					       {"trade_seq", I},
					       {"mark_price", F},
					       {"tick_direction", I},
					       {"iv", F},
					       {"legs", &lt_s_public_trades},
					       {"combo_id", S},
					       {"contracts", F},
					       {"trade_id", S},
					       {"combo_trade_id", S},
					       {"liquidation", S},
					       {"block_trade_id", S},
					       {"block_trade_leg_count", I},
					       {NULL, NULL}};
const lt_schema lt_s_public_trade = OBJECT(public_trade_fields);
const lt_schema lt_s_public_trades = ARRAY(&lt_s_public_trade);

/* ---- instruments (§6 public/get_instruments, public/get_instrument) --------------------- */

static const lt_field tick_step_fields[] = {{"above_price", F}, {"tick_size", F}, {NULL, NULL}};
static const lt_schema tick_step_schema = OBJECT(tick_step_fields);
static const lt_schema tick_steps_schema = ARRAY(&tick_step_schema);

static const lt_field instrument_fields[] = {{"price_index", S},
					     {"kind", S},
					     {"instrument_name", S},
					     {"option_type", S},
					     {"strike", F},
					     {"max_leverage", I},
					     {"maker_commission", F},
					     {"taker_commission", F},
					     {"instrument_type", S},
					     {"expiration_timestamp", I},
					     {"creation_timestamp", I},
					     {"is_active", B},
					     {"tick_size", F},
					     {"contract_size", F},
					     {"instrument_id", I},
					     {"min_trade_amount", F},
					     {"future_type", S},
					     {"max_liquidation_commission", F},
					     {"max_non_default_leverage", I},
					     {"block_trade_commission", F},
					     {"block_trade_min_trade_amount", F},
					     {"block_trade_tick_size", F},
					     {"settlement_currency", S},
					     {"settlement_period", S},
					     {"base_currency", S},
					     {"counter_currency", S},
					     {"quote_currency", S},
					     {"tick_size_steps", &tick_steps_schema},
					     {"state", S},
					     {NULL, NULL}};
const lt_schema lt_s_instrument = OBJECT(instrument_fields);
const lt_schema lt_s_instruments = ARRAY(&lt_s_instrument);

/* ---- trading objects (§5 "Order object", "User trade", "Position", "Account summary") ---- */

/* Order: price may be the string "market_price" (untriggered stop/take-market; lenient rule
 * keeps it a string). Fields the venue leaves out (filled_amount on some untriggered orders)
 * are simply absent. */
static const lt_field order_fields[] = {{"label", S},
					{"price", F},
					{"user_id", I},
					{"amount", F},
					{"direction", S},
					{"time_in_force", S},
					{"instrument_name", S},
					{"web", B},
					{"api", B},
					{"order_id", S},
					{"creation_timestamp", I},
					{"replaced", B},
					{"filled_amount", F},
					{"last_update_timestamp", I},
					{"post_only", B},
					{"reduce_only", B},
					{"cancel_reason", S},
					{"average_price", F},
					{"trigger_price", F},
					{"trigger", S},
					{"mmp", B},
					{"contracts", F},
					{"reject_post_only", B},
					{"order_state", S},
					{"order_type", S},
					{"is_liquidation", B},
					{"risk_reducing", B},
					{"original_order_type", S},
					{"mobile", B},
					{"auto_replaced", B},
					{"is_rebalance", B},
					{"mmp_cancelled", B},
					{"triggered", B},
					{"trigger_offset", F},
					{"trigger_reference_price", F},
					{"trigger_order_id", S},
					{"advanced", S},
					{"implv", F},
					{"usd", F},
					{"display_amount", F},
					{"refresh_amount", F},
					{"max_show", F},
					{"block_trade", B},
					{"quote", B},
					{"quote_id", S},
					{"quote_set_id", S},
					{"mmp_group", S},
					{"app_name", S},
					{"oto_order_ids", &lt_s_string_array},
					{"trigger_fill_condition", S},
					{"oco_ref", S},
					{"primary_order_id", S},
					{"is_secondary_oto", B},
					{"is_primary_otoco", B},
					{"profit_loss", F},
					{NULL, NULL}};
const lt_schema lt_s_order = OBJECT(order_fields);
const lt_schema lt_s_orders = ARRAY(&lt_s_order);

/* User trade (fills of your orders; combo trades carry their legs). */
static const lt_field user_trade_fields[] = {{"trade_id", S},
					     {"order_id", S},
					     {"instrument_name", S},
					     {"direction", S},
					     {"price", F},
					     {"amount", F},
					     {"fee", F},
					     {"fee_currency", S},
					     {"timestamp", I},
					     {"trade_seq", I},
					     {"liquidity", S},
					     {"order_type", S},
					     {"index_price", F},
					     {"mark_price", F},
					     {"tick_direction", I},
					     {"state", S},
					     {"label", S},
					     {"reduce_only", B},
					     {"post_only", B},
					     {"liquidation", S},
					     {"profit_loss", F},
					     {"contracts", F},
					     {"matching_id", S},
					     {"mmp", B},
					     {"risk_reducing", B},
					     {"api", B},
					     {"iv", F},
					     {"underlying_price", F},
					     {"advanced", S},
					     {"block_trade_id", S},
					     {"block_rfq_id", I},
					     {"combo_id", S},
					     {"combo_trade_id", S},
					     {"legs", &lt_s_user_trades},
					     {"user_id", I},
					     {NULL, NULL}};
const lt_schema lt_s_user_trade = OBJECT(user_trade_fields);
const lt_schema lt_s_user_trades = ARRAY(&lt_s_user_trade);

/* Position (the venue sends keys sorted). */
static const lt_field position_fields[] = {{"average_price", F},
					   {"average_price_usd", F},
					   {"delta", F},
					   {"direction", S},
					   {"estimated_liquidation_price", F},
					   {"floating_profit_loss", F},
					   {"floating_profit_loss_usd", F},
					   {"gamma", F},
					   {"index_price", F},
					   {"initial_margin", F},
					   {"instrument_name", S},
					   {"interest_value", F},
					   {"kind", S},
					   {"leverage", F},
					   {"maintenance_margin", F},
					   {"mark_price", F},
					   {"open_orders_margin", F},
					   {"realized_funding", F},
					   {"realized_profit_loss", F},
					   {"settlement_price", F},
					   {"size", F},
					   {"size_currency", F},
					   {"theta", F},
					   {"total_profit_loss", F},
					   {"user_id", I},
					   {"vega", F},
					   {NULL, NULL}};
const lt_schema lt_s_position = OBJECT(position_fields);
const lt_schema lt_s_positions = ARRAY(&lt_s_position);

/* {order, trades}: private/buy, private/sell, private/edit (and cancel_all's detailed reports). */
static const lt_field order_result_fields[] = {
	{"order", &lt_s_order}, {"trades", &lt_s_user_trades}, {NULL, NULL}};
const lt_schema lt_s_order_result = OBJECT(order_result_fields);

static const lt_field user_changes_fields[] = {{"instrument_name", S},
					       {"orders", &lt_s_orders},
					       {"trades", &lt_s_user_trades},
					       {"positions", &lt_s_positions},
					       {NULL, NULL}};
const lt_schema lt_s_user_changes = OBJECT(user_changes_fields);

/* Account limits (§7 "Actual limits"): rate = requests/s, burst = requests, both integers.
 * matching_engine holds global buckets and, with limits_per_currency, one set per currency
 * (btc, eth, ...) of the same shape, hence the self-reference. */
static const lt_field rate_limit_fields[] = {{"burst", I}, {"rate", I}, {NULL, NULL}};
static const lt_schema rate_limit_schema = OBJECT(rate_limit_fields);
#define RL (&rate_limit_schema)

static const lt_field trading_limit_fields[] = {{"total", RL},   {"perpetuals", RL},
						{"futures", RL}, {"options", RL},
						{"spots", RL},   {NULL, NULL}};
static const lt_schema trading_limit_schema = OBJECT(trading_limit_fields);

static const lt_schema me_limits_schema;
static const lt_field me_limits_fields[] = {{"trading", &trading_limit_schema},
					    {"spot", RL},
					    {"quotes", RL},
					    {"max_quotes", RL},
					    {"guaranteed_quotes", RL},
					    {"cancel_all", RL},
					    {"maximum_quotes", RL},
					    {"maximum_mass_quotes", RL},
					    {"guaranteed_mass_quotes", RL},
					    {"btc", &me_limits_schema},
					    {"eth", &me_limits_schema},
					    {"usdc", &me_limits_schema},
					    {"usdt", &me_limits_schema},
					    {"eurr", &me_limits_schema},
					    {NULL, NULL}};
static const lt_schema me_limits_schema = OBJECT(me_limits_fields);

static const lt_field limits_fields[] = {{"limits_per_currency", B},
					 {"non_matching_engine", RL},
					 {"matching_engine", &me_limits_schema},
					 {NULL, NULL}};
static const lt_schema limits_schema = OBJECT(limits_fields);

static const lt_field fee_default_fields[] = {
	{"type", S}, {"taker", F}, {"maker", F}, {NULL, NULL}};
static const lt_schema fee_default_schema = OBJECT(fee_default_fields);
static const lt_field fee_value_fields[] = {
	{"default", &fee_default_schema}, {"block_trade", F}, {NULL, NULL}};
static const lt_schema fee_value_schema = OBJECT(fee_value_fields);
static const lt_field fee_fields[] = {
	{"value", &fee_value_schema}, {"kind", S}, {"index_name", S}, {NULL, NULL}};
static const lt_schema fee_schema = OBJECT(fee_fields);
static const lt_schema fees_schema = ARRAY(&fee_schema);
static const lt_schema account_summaries_schema = ARRAY(&lt_s_account_summary);

/* Account summary: every amount is a float; the *_map objects (keyed by index name) are not
 * typed (their values keep the lexical form). The account fields of extended = true (id,
 * creation_timestamp, limits, fees...) and private/get_account_summaries' `summaries` list
 * (an array of this same object) are declared too. */
static const lt_field account_summary_fields[] = {{"id", I},
						  {"email", S},
						  {"system_name", S},
						  {"username", S},
						  {"creation_timestamp", I},
						  {"type", S},
						  {"referrer_id", S},
						  {"summaries", &account_summaries_schema},
						  {"currency", S},
						  {"total_maintenance_margin_usd", F},
						  {"projected_initial_margin", F},
						  {"total_delta_total_usd", F},
						  {"options_session_rpl", F},
						  {"options_session_upl", F},
						  {"futures_session_rpl", F},
						  {"fee_balance", F},
						  {"projected_maintenance_margin", F},
						  {"session_upl", F},
						  {"projected_delta_total", F},
						  {"initial_margin", F},
						  {"options_pl", F},
						  {"margin_balance", F},
						  {"balance", F},
						  {"maintenance_margin", F},
						  {"total_initial_margin_usd", F},
						  {"additional_reserve", F},
						  {"locked_balance", F},
						  {"options_value", F},
						  {"options_delta", F},
						  {"margin_model", S},
						  {"portfolio_margining_enabled", B},
						  {"options_gamma", F},
						  {"available_funds", F},
						  {"cross_collateral_enabled", B},
						  {"delta_total", F},
						  {"spot_reserve", F},
						  {"total_equity_usd", F},
						  {"options_theta", F},
						  {"futures_session_upl", F},
						  {"session_rpl", F},
						  {"futures_pl", F},
						  {"available_withdrawal_funds", F},
						  {"options_vega", F},
						  {"equity", F},
						  {"total_pl", F},
						  {"total_margin_balance_usd", F},
						  {"estimated_liquidation_ratio", F},
						  {"limits", &limits_schema},
						  {"fees", &fees_schema},
						  {"deposit_address", S},
						  {"interuser_transfers_enabled", B},
						  {"login_enabled", B},
						  {"security_keys_enabled", B},
						  {"mmp_enabled", B},
						  {"self_trading_reject_mode", S},
						  {"self_trading_extended_to_subaccounts", B},
						  {"block_rfq_self_match_prevention", B},
						  {"receive_notifications", B},
						  {NULL, NULL}};
const lt_schema lt_s_account_summary = OBJECT(account_summary_fields);

#undef RL

/* ---- channel-only objects (§4 channel table) ------------------------------------------- */

static const lt_field price_index_fields[] = {
	{"index_name", S}, {"price", F}, {"timestamp", I}, {NULL, NULL}};
static const lt_schema price_index_schema = OBJECT(price_index_fields);

static const lt_field volatility_index_fields[] = {
	{"timestamp", I}, {"volatility", F}, {"index_name", S}, {NULL, NULL}};
static const lt_schema volatility_index_schema = OBJECT(volatility_index_fields);

static const lt_field quote_fields[] = {
	{"timestamp", I},      {"instrument_name", S}, {"best_ask_price", F},
	{"best_bid_price", F}, {"best_ask_amount", F}, {"best_bid_amount", F},
	{NULL, NULL}};
static const lt_schema quote_schema = OBJECT(quote_fields);

static const lt_field instrument_state_fields[] = {
	{"instrument_name", S}, {"state", S}, {"timestamp", I}, {NULL, NULL}};
static const lt_schema instrument_state_schema = OBJECT(instrument_state_fields);

static const lt_field chart_fields[] = {{"tick", I},  {"open", F},   {"high", F}, {"low", F},
					{"close", F}, {"volume", F}, {"cost", F}, {NULL, NULL}};
static const lt_schema chart_schema = OBJECT(chart_fields);

/* ---- channel name -> schema ------------------------------------------------------------ */

static int has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

/* Number of '.'-separated parts of channel[0..len). Instrument names contain '-' and '_' but
 * never '.', so the part count tells book.{i}.{iv} (3) from book.{i}.{g}.{d}.{iv} (5). */
static int channel_parts(const char *s, size_t len)
{
	int parts = 1;
	for (size_t i = 0; i < len; i++)
		parts += s[i] == '.';
	return parts;
}

/* user.orders.{instrument}.{interval} or user.orders.{kind}.{currency}.{interval} (§4): raw
 * sends one order per notification, 100ms and agg2 an array of orders. */
static const lt_schema *user_orders_schema(const char *s, size_t len)
{
	int parts = channel_parts(s, len);
	if (parts != 4 && parts != 5)
		return NULL;
	size_t i = len;
	while (i > 0 && s[i - 1] != '.')
		i--;
	const char *iv = s + i;
	size_t n = len - i;
	if (n == 3 && memcmp(iv, "raw", 3) == 0)
		return &lt_s_order;
	if ((n == 5 && memcmp(iv, "100ms", 5) == 0) || (n == 4 && memcmp(iv, "agg2", 4) == 0))
		return &lt_s_orders;
	return NULL;
}

/* Contract in codec.h. channel need not be NUL-terminated; NULL for unknown channels. */
const lt_schema *lt_channel_schema(const char *channel, size_t len)
{
	static const struct {
		const char *prefix;
		const lt_schema *schema;
	} table[] = {
		{"ticker.", &lt_s_ticker},
		{"incremental_ticker.", &lt_s_ticker},
		{"trades.", &lt_s_public_trades},
		{"quote.", &quote_schema},
		{"deribit_price_index.", &price_index_schema},
		{"deribit_volatility_index.", &volatility_index_schema},
		{"instrument.state.", &instrument_state_schema},
		{"chart.trades.", &chart_schema},
		{"user.trades.", &lt_s_user_trades},
		{"user.portfolio.", &lt_s_account_summary},
		{"user.changes.", &lt_s_user_changes},
	};
	if (!channel)
		return NULL;
	if (has_prefix(channel, len, "user.orders."))
		return user_orders_schema(channel, len);
	if (has_prefix(channel, len, "book.")) {
		int parts = channel_parts(channel, len);
		return parts == 3 ? &lt_s_book_change : parts == 5 ? &lt_s_book_grouped : NULL;
	}
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (has_prefix(channel, len, table[i].prefix))
			return table[i].schema;
	return NULL;
}
