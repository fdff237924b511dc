/* codec.h — the declarative codec machinery shared by every method in src/methods/.
 *
 * A method file declares (a) its request parameters as an lt_param table and (b) the shape of its
 * result as an lt_schema tree, in one const lt_method descriptor. The machinery here, written
 * once, validates a Lua parameter table against the declaration, encodes the JSON-RPC request
 * text, and decodes venue JSON straight into Lua values with the declared types, in one pass
 * with a streaming parser (yajl). Codecs are pure: no I/O, no runtime access.
 *
 * Decoding rules (deribit-api.md §1 "Types/units"):
 *  - a schema of type LT_T_INT makes numbers Lua integers (a value with a fraction or beyond
 *    int64 stays a float); LT_T_FLOAT makes numbers Lua floats; LT_T_ANY (or no schema) keeps
 *    the lexical form: integer text -> integer, text with '.', 'e' or 'E' -> float.
 *  - schemas are lenient: a value of another JSON type than declared is decoded as it comes
 *    (an order's price may be the string "market_price"; ["new", 93201.0, 10.0] levels are an
 *    array of FLOAT whose first element stays a string). Unknown object keys decode as ANY.
 *  - JSON null becomes the sentinel lightuserdata NULL (luatrade.null, same as cjson.null).
 *  - tables are created with lua_createtable sized from the schema (fields) where known.
 */
#ifndef LT_CODEC_H
#define LT_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <lua.h>

#include "lt.h"

/* ---- result schemas --------------------------------------------------------------------- */

typedef enum {
	LT_T_ANY = 0, /* keep the lexical type */
	LT_T_STRING,
	LT_T_INT,   /* numbers -> Lua integer */
	LT_T_FLOAT, /* numbers -> Lua float */
	LT_T_BOOL,
	LT_T_OBJECT, /* fields describes known keys */
	LT_T_ARRAY,  /* elem describes each element */
	LT_T_SECRET, /* a string holding a credential (access/refresh token): decoded into an
			* opaque luatrade.Secret userdata, never into a Lua string */
	LT_T_ONLY,   /* a projection (lt_fields_schema): the value is decoded with schema elem,
			* keeping only the keys in fields (an object), or of each object element (an
			* array); the other keys and their values are parsed and validated (UTF-8
			* included) but never become Lua values. Made by lt_fields_schema only. */
	LT_T_LAZY    /* a lazy object (lt_lazy_schema): an object typed by schema elem is
			* decoded into a luatrade.object userdata whose fields become Lua values when
			* read (src/json_lazy.h); any other value is decoded with elem as usual. */
} lt_type;

typedef struct lt_schema lt_schema;
typedef struct lt_field {
	const char *name;
	const lt_schema *schema;
} lt_field;

struct lt_schema {
	lt_type type;
	const lt_field *fields; /* LT_T_OBJECT: known keys, terminated by {NULL, NULL} */
	const lt_schema *elem;  /* LT_T_ARRAY: schema of every element (NULL = ANY) */
	int nfields;            /* LT_T_OBJECT: size hint for lua_createtable (0 = count fields) */
};

/* ---- projections: decode only the fields a handler reads -------------------------------- */

#define LT_FIELDS_MAX 64     /* names one projection may keep */
#define LT_FIELD_NAME_MAX 64 /* bytes of one name */

/* A set of object keys to keep (client:subscribe's `fields` option). Fixed size, no
 * pointers into other memory: it may live in a Lua userdata and be freed with it. */
typedef struct lt_fields {
	int n;
	lt_field list[LT_FIELDS_MAX + 1]; /* names (into text), schema NULL; {NULL, NULL} ends */
	char text[LT_FIELDS_MAX * (LT_FIELD_NAME_MAX + 1)];
} lt_fields;

/* Empty f, then add names one by one: 0, or LT_EINVAL naming what was wrong (empty, longer
 * than LT_FIELD_NAME_MAX bytes, a duplicate, more than LT_FIELDS_MAX names). Example:
 *     lt_fields f; lt_fields_init(&f);
 *     lt_fields_add(&f, "best_bid_price", 14, &err);
 *     lt_schema proj = lt_fields_schema(&f, &lt_s_ticker);
 *     lt_json_decode(L, text, len, &proj, &err);  -> a table with best_bid_price only */
void lt_fields_init(lt_fields *f);
int lt_fields_add(lt_fields *f, const char *name, size_t len, lt_err *err);
/* f holds name (NUL-terminated). */
bool lt_fields_has(const lt_fields *f, const char *name);
/* The projection of schema (NULL = ANY) onto f's names, an LT_T_ONLY schema. It points at f
 * and schema: both must outlive the decode that uses it. Kept fields are typed by schema. */
lt_schema lt_fields_schema(const lt_fields *f, const lt_schema *schema);

/* ---- lazy objects: decode only the fields a handler reads, found when it reads them ------ */

/* The schema that decodes an object typed by schema (NULL = ANY) into a lazy object
 * (src/json_lazy.h): the parse checks everything the full decode checks (syntax, UTF-8,
 * depth), but keeps the object as a tape in one userdata; a field becomes a Lua value, typed by
 * schema as the full decode types it, when it is read; a nested object or array is decoded in
 * full on its first read. From Lua it reads, iterates (pairs) and takes writes as the table
 * of the full decode (type() "table"; rawget and next see only what was written; lt.plain(v)
 * gives the plain table). rpc.c decodes every notification's data with it unless the
 * subscription asks for `fields` or `lazy = false`. schema must hold no LT_T_SECRET (a token
 * is never kept as text): the channel schemas hold none (tests/json_lazy_test.c checks).
 * Example:
 *     lt_schema lazy = lt_lazy_schema(&lt_s_ticker);
 *     lt_json_decode(L, text, len, &lazy, &err);  -> a luatrade.object */
lt_schema lt_lazy_schema(const lt_schema *schema);

/* Leaf schemas every method may point at. */
extern const lt_schema lt_s_any, lt_s_string, lt_s_int, lt_s_float, lt_s_bool, lt_s_secret;
extern const lt_schema lt_s_float_array; /* [x, y, ...] of floats; e.g. a [price, amount] level */
extern const lt_schema lt_s_levels;      /* array of lt_s_float_array: book bids/asks */
extern const lt_schema lt_s_string_array;

/* Shared venue object schemas (src/schemas.c; deribit-api.md §4-§6). */
extern const lt_schema lt_s_ticker, lt_s_book_change, lt_s_book_grouped, lt_s_order_book,
	lt_s_public_trade, lt_s_public_trades, lt_s_instrument, lt_s_instruments;

/* Shared trading schemas (src/schemas.c; deribit-api.md §5 objects, §4 user.* channels):
 * order and array of orders, user trade and array, position and array, account summary
 * (get_account_summary, user.portfolio.*), {order, trades} (buy/sell/edit) and the
 * user.changes.* object {instrument_name, orders, trades, positions}. */
extern const lt_schema lt_s_order, lt_s_orders, lt_s_user_trade, lt_s_user_trades, lt_s_position,
	lt_s_positions, lt_s_account_summary, lt_s_order_result, lt_s_user_changes;

/* Push the JSON text buf[0..len) as one Lua value decoded with schema (NULL = ANY).
 * Returns 0, or LT_EJSON with a message naming the offset and what was wrong (truncated input,
 * bad token, invalid UTF-8, nesting deeper than 64); on failure nothing is left on the stack.
 * Raises only on Lua memory errors; call it in protected mode when that matters. */
int lt_json_decode(lua_State *L, const char *buf, size_t len, const lt_schema *schema, lt_err *err);

/* ---- JSON-RPC envelope decoding -------------------------------------------------------------- */

typedef enum {
	LT_MSG_RESULT = 1, /* {"id":N,"result":...}                */
	LT_MSG_ERROR,      /* {"id":N,"error":{code,message,data}} */
	LT_MSG_NOTIFY,     /* {"method":"subscription","params":{"channel":C,"data":...}} */
	LT_MSG_HEARTBEAT   /* {"method":"heartbeat","params":{"type":T}}                  */
} lt_msg_kind;

typedef struct lt_envelope {
	lt_msg_kind kind;
	bool has_id;
	int64_t id;            /* request id (integer ids only; a string id is an error) */
	int64_t error_code;    /* LT_MSG_ERROR: error.code */
	char channel[256];     /* LT_MSG_NOTIFY: params.channel */
	char hb_type[16];      /* LT_MSG_HEARTBEAT: "heartbeat" or "test_request" */
	int64_t us_in, us_out; /* usIn / usOut when present (int or string), else 0 */
	bool testnet;
} lt_envelope;

/* Tells the decoder which schema to use for a response's result (by id) or a notification's
 * data (by channel). Either may return NULL (decode as ANY). ud is the resolver's context. */
typedef struct lt_resolver {
	const lt_schema *(*result)(void *ud, int64_t id);
	const lt_schema *(*data)(void *ud, const char *channel, size_t len);
	void *ud;
} lt_resolver;

/* Decode one venue message. On success fills *env and pushes exactly one Lua value:
 * the result (LT_MSG_RESULT), the error object as a table {code=int, message=str, data=any}
 * (LT_MSG_ERROR), params.data (LT_MSG_NOTIFY), or nil (LT_MSG_HEARTBEAT).
 * The resolver is asked once, as soon as "id" / "params.channel" is known; a payload that comes
 * before the key that selects its schema is skipped and decoded in a second pass with that
 * schema, so the outcome does not depend on key order and a secret (LT_T_SECRET) never exists
 * as a Lua string. Returns LT_EJSON (nothing pushed) for malformed JSON, a message that is none
 * of the four kinds, a missing channel, a non-integer id, a second id or params.channel. */
int lt_json_decode_envelope(lua_State *L, const char *buf, size_t len, const lt_resolver *res,
			    lt_envelope *env, lt_err *err);

/* ---- JSON writing ------------------------------------------------------------------------- */

/* A growable output buffer. Reserve `pre` bytes of headroom at the front (LWS_PRE for
 * libwebsockets writes). lt_buf_free accepts NULL-initialised buffers and is idempotent. */
typedef struct lt_buf {
	char *data;           /* headroom + text; text starts at data + pre */
	size_t pre, len, cap; /* len counts text bytes after pre */
	bool oom;             /* sticky: an append failed */
	bool sensitive;       /* holds a credential: cleansed on growth and on free */
} lt_buf;
void lt_buf_init(lt_buf *b, size_t pre);
void lt_buf_free(lt_buf *b);
void lt_buf_reset(lt_buf *b); /* len = 0, keeps memory */
void lt_buf_add(lt_buf *b, const char *s, size_t n);
static inline const char *lt_buf_text(const lt_buf *b) { return b->data ? b->data + b->pre : ""; }

void lt_jw_string(lt_buf *b, const char *s, size_t n); /* quoted, escaped; bytes must be UTF-8 */
void lt_jw_double(lt_buf *b, double v);                /* lt_fmt_double */
void lt_jw_int(lt_buf *b, int64_t v);

/* Encode the Lua value at idx as JSON (tables with keys 1..n and nothing else are arrays, an
 * empty table is {}; luatrade.null is null; integers stay integers, floats round-trip).
 * Returns LT_EINVAL naming the offending key path for functions, userdata, cycles, depth > 32,
 * non-string keys in objects, NaN/inf, or strings that are not valid UTF-8. */
int lt_json_encode_value(lua_State *L, int idx, lt_buf *b, lt_err *err);

/* ---- request parameters ------------------------------------------------------------------- */

typedef enum {
	LT_P_STRING = 1,   /* Lua string; min/max bound the length (0,0 = any non-empty) */
	LT_P_ENUM,         /* Lua string, one of enums */
	LT_P_INT,          /* Lua integer (or float with integral value); min/max bound the value */
	LT_P_NUMBER,       /* Lua number, finite; min/max bound the value; LT_PF_POSITIVE for > 0 */
	LT_P_BOOL,         /* Lua boolean */
	LT_P_STRING_ARRAY, /* sequence of strings; min/max bound the count */
	LT_P_ANY           /* any JSON-encodable value (lt_json_encode_value) */
} lt_ptype;

enum { LT_PF_REQUIRED = 1, LT_PF_POSITIVE = 2 };

typedef struct lt_param {
	const char *name;
	lt_ptype type;
	unsigned flags;
	const char *const *enums; /* LT_P_ENUM: NULL-terminated list; LT_P_INT: allowed values
				    * as decimal text ({"1", "5", NULL}), NULL = any */
	double min, max;          /* see lt_ptype; both 0 = no bound; max ignored unless > min */
} lt_param;

/* Rate-limit pool a method draws on (deribit-api.md §7). */
typedef enum { LT_POOL_NON_ME = 0, LT_POOL_ME, LT_POOL_SUBSCRIBE, LT_POOL_INSTRUMENTS } lt_pool;

enum { LT_MF_PRIVATE = 1 /* needs an authenticated connection */ };

typedef struct lt_method {
	const char *name;       /* "public/ticker" */
	const char *lua_name;   /* "ticker": the Lua client method */
	const lt_param *params; /* terminated by {NULL}; NULL = takes no parameters */
	/* Optional cross-field rule on the parameter table at idx (after per-field checks), e.g.
	 * "exactly one of amount or contracts". Returns 0 or LT_EINVAL naming the parameter. */
	int (*check)(lua_State *L, int idx, lt_err *err);
	const lt_schema *result; /* NULL = ANY */
	lt_pool pool;
	int cost; /* credits (non-ME pools) or 1 (ME) */
	unsigned flags;
} lt_method;

/* Validate the Lua table at idx (nil or absent = no parameters) against m->params and m->check
 * and append the complete request text
 *   {"jsonrpc":"2.0","id":<id>,"method":"<name>","params":{...}}
 * to b (params in declaration order; omitted when empty; absent optional params left out).
 * Unknown keys are rejected ("unknown parameter 'x' for public/ticker"). On LT_EINVAL the
 * message names the parameter and the rule, e.g. "instrument_name: required",
 * "depth: must be one of 1, 5, 10, ...", "label: at most 64 characters", and b is unchanged.
 * Must not raise (uses only non-raising Lua API: lua_getfield on a plain table, lua_next). */
int lt_method_encode(lua_State *L, int idx, const lt_method *m, int64_t id, lt_buf *b, lt_err *err);

/* The same request envelope for a method without a codec (client:call): params at idx is
 * any table (or nil) encoded with lt_json_encode_value. */
int lt_generic_encode(lua_State *L, int idx, const char *method, int64_t id, lt_buf *b,
		      lt_err *err);

/* Every method with a codec, terminated by NULL (src/methods/registry.c). */
extern const lt_method *const lt_methods[];
const lt_method *lt_method_find(const char *name);         /* by JSON-RPC name */
const lt_method *lt_method_find_lua(const char *lua_name); /* by Lua method name */

/* Schema for a subscription channel's data by channel name prefix (ticker., book.{i}.{iv} vs
 * book.{i}.{g}.{d}.{iv}, trades., ...); NULL for unknown channels (decoded as ANY). */
const lt_schema *lt_channel_schema(const char *channel, size_t len);

#endif
