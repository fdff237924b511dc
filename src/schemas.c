/* schemas.c — the leaf schemas and the venue object schemas shared by several methods and
 * subscription channels (deribit-api.md §1 types, §4 subscriptions, §6 market data), and
 * lt_channel_schema, which picks a channel's data schema from its name.
 *
 * Field order follows the order the venue sends (the decoder starts each key lookup just after
 * the previous match, so matching order makes lookups one comparison). Only the types matter
 * for decoding: INT fields become Lua integers, FLOAT fields Lua floats; STRING/BOOL fields are
 * listed for documentation and keep whatever JSON type arrives. Unknown keys decode as ANY.
 */
#include "codec.h"

#include <string.h>

#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)
#define OBJECT(fields) {LT_T_OBJECT, fields, NULL, NFIELDS(fields)}
#define ARRAY(elem) {LT_T_ARRAY, NULL, elem, 0}

/* ---- leaves --------------------------------------------------------------------------- */

const lt_schema lt_s_any = {LT_T_ANY, NULL, NULL, 0};
const lt_schema lt_s_string = {LT_T_STRING, NULL, NULL, 0};
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

static const lt_field stats_fields[] = {
	{"high", F}, {"low", F}, {"price_change", F}, {"volume", F}, {"volume_usd", F},
	{"volume_notional", F}, {NULL, NULL}
};
static const lt_schema stats_schema = OBJECT(stats_fields);

static const lt_field greeks_fields[] = {
	{"delta", F}, {"gamma", F}, {"vega", F}, {"theta", F}, {"rho", F}, {NULL, NULL}
};
static const lt_schema greeks_schema = OBJECT(greeks_fields);

/* Shared by the ticker and the order book (public/get_order_book = ticker fields + book). */
#define TICKER_FIELDS \
	{"timestamp", I}, {"state", S}, {"stats", &stats_schema}, {"index_price", F}, \
	{"instrument_name", S}, {"last_price", F}, {"settlement_price", F}, {"min_price", F}, \
	{"max_price", F}, {"open_interest", F}, {"mark_price", F}, {"interest_value", F}, \
	{"best_ask_price", F}, {"best_bid_price", F}, {"estimated_delivery_price", F}, \
	{"best_ask_amount", F}, {"best_bid_amount", F}, {"current_funding", F}, \
	{"funding_8h", F}, {"delivery_price", F}, {"underlying_price", F}, \
	{"underlying_index", S}, {"interest_rate", F}, {"bid_iv", F}, {"ask_iv", F}, \
	{"mark_iv", F}, {"greeks", &greeks_schema}

static const lt_field ticker_fields[] = {TICKER_FIELDS, {NULL, NULL}};
const lt_schema lt_s_ticker = OBJECT(ticker_fields);

/* public/get_order_book (§6): venue sends keys sorted, so books first. */
static const lt_field order_book_fields[] = {
	{"asks", &lt_s_levels}, {"bids", &lt_s_levels}, {"change_id", I}, TICKER_FIELDS,
	{NULL, NULL}
};
const lt_schema lt_s_order_book = OBJECT(order_book_fields);

/* ---- books (§4 book.{instr}.{interval} and book.{instr}.{group}.{depth}.{interval}) ------ */

/* Levels are ["new", price, amount]: an array of FLOAT whose action string stays a string. */
static const lt_field book_change_fields[] = {
	{"type", S}, {"instrument_name", S}, {"timestamp", I}, {"change_id", I},
	{"prev_change_id", I}, {"bids", &lt_s_levels}, {"asks", &lt_s_levels}, {NULL, NULL}
};
const lt_schema lt_s_book_change = OBJECT(book_change_fields);

static const lt_field book_grouped_fields[] = {
	{"instrument_name", S}, {"timestamp", I}, {"change_id", I}, {"bids", &lt_s_levels},
	{"asks", &lt_s_levels}, {NULL, NULL}
};
const lt_schema lt_s_book_grouped = OBJECT(book_grouped_fields);

/* ---- public trades (§4 "Public trade"; combo trades carry their legs) ------------------- */

static const lt_field public_trade_fields[] = {
	{"timestamp", I}, {"price", F}, {"amount", F}, {"direction", S}, {"index_price", F},
	{"instrument_name", S}, {"trade_seq", I}, {"mark_price", F}, {"tick_direction", I},
	{"iv", F}, {"legs", &lt_s_public_trades}, {"combo_id", S}, {"contracts", F},
	{"trade_id", S}, {"combo_trade_id", S}, {"liquidation", S}, {"block_trade_id", S},
	{"block_trade_leg_count", I}, {NULL, NULL}
};
const lt_schema lt_s_public_trade = OBJECT(public_trade_fields);
const lt_schema lt_s_public_trades = ARRAY(&lt_s_public_trade);

/* ---- instruments (§6 public/get_instruments, public/get_instrument) --------------------- */

static const lt_field tick_step_fields[] = {{"above_price", F}, {"tick_size", F}, {NULL, NULL}};
static const lt_schema tick_step_schema = OBJECT(tick_step_fields);
static const lt_schema tick_steps_schema = ARRAY(&tick_step_schema);

static const lt_field instrument_fields[] = {
	{"price_index", S}, {"kind", S}, {"instrument_name", S}, {"option_type", S},
	{"strike", F}, {"max_leverage", I}, {"maker_commission", F}, {"taker_commission", F},
	{"instrument_type", S}, {"expiration_timestamp", I}, {"creation_timestamp", I},
	{"is_active", B}, {"tick_size", F}, {"contract_size", F}, {"instrument_id", I},
	{"min_trade_amount", F}, {"future_type", S}, {"max_liquidation_commission", F},
	{"max_non_default_leverage", I}, {"block_trade_commission", F},
	{"block_trade_min_trade_amount", F}, {"block_trade_tick_size", F},
	{"settlement_currency", S}, {"settlement_period", S}, {"base_currency", S},
	{"counter_currency", S}, {"quote_currency", S}, {"tick_size_steps", &tick_steps_schema},
	{"state", S}, {NULL, NULL}
};
const lt_schema lt_s_instrument = OBJECT(instrument_fields);
const lt_schema lt_s_instruments = ARRAY(&lt_s_instrument);

/* ---- channel-only objects (§4 channel table) ------------------------------------------- */

static const lt_field price_index_fields[] = {
	{"index_name", S}, {"price", F}, {"timestamp", I}, {NULL, NULL}
};
static const lt_schema price_index_schema = OBJECT(price_index_fields);

static const lt_field volatility_index_fields[] = {
	{"timestamp", I}, {"volatility", F}, {"index_name", S}, {NULL, NULL}
};
static const lt_schema volatility_index_schema = OBJECT(volatility_index_fields);

static const lt_field quote_fields[] = {
	{"timestamp", I}, {"instrument_name", S}, {"best_ask_price", F}, {"best_bid_price", F},
	{"best_ask_amount", F}, {"best_bid_amount", F}, {NULL, NULL}
};
static const lt_schema quote_schema = OBJECT(quote_fields);

static const lt_field instrument_state_fields[] = {
	{"instrument_name", S}, {"state", S}, {"timestamp", I}, {NULL, NULL}
};
static const lt_schema instrument_state_schema = OBJECT(instrument_state_fields);

static const lt_field chart_fields[] = {
	{"tick", I}, {"open", F}, {"high", F}, {"low", F}, {"close", F}, {"volume", F},
	{"cost", F}, {NULL, NULL}
};
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

/* Contract in codec.h. channel need not be NUL-terminated; NULL for unknown channels and for
 * the user.* channels, whose objects belong to the trading method schemas. */
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
	};
	if (!channel)
		return NULL;
	if (has_prefix(channel, len, "book.")) {
		int parts = channel_parts(channel, len);
		return parts == 3 ? &lt_s_book_change : parts == 5 ? &lt_s_book_grouped : NULL;
	}
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (has_prefix(channel, len, table[i].prefix))
			return table[i].schema;
	return NULL;
}
