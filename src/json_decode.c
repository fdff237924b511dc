/* json_decode.c — venue JSON to Lua values in one streaming pass (codec.h: lt_json_decode,
 * lt_json_decode_envelope; deribit-api.md §1 envelope and types).
 *
 * yajl's callbacks push Lua values directly; there is no intermediate tree. An open container
 * keeps its elements (arrays) or key/value pairs (objects) on the Lua stack and becomes a table
 * when it closes, created with lua_createtable at its exact size, so no table is ever rehashed
 * while decoding and no memory is spent on slack. A container that grows past SPILL stack
 * slots becomes a table early and takes its remaining entries directly. An object with a
 * schema is created at once, sized from the schema, and takes its pairs directly; its known
 * keys come from a per-schema table of field names (strings interned once per Lua state, in
 * the registry box's cache), other keys are pushed with lua_pushlstring. Numbers arrive as
 * text (yajl's number callback), so the schema decides integer vs float without a round trip
 * through double. Strings are validated once, by utf8_ok (yajl's own check is off).
 *
 * The envelope decoder runs the same callbacks with two extra frame kinds for the top-level
 * object and for "params": their scalars (id, method, channel, usIn, ...) go into lt_envelope,
 * unknown keys are skipped without pushing anything, and only the payload (result, error or
 * params.data) is pushed. A payload decoded before its id/channel was known is retyped after
 * the parse (retype) so the outcome does not depend on key order.
 *
 * Failure leaves the Lua stack as it was on entry. The yajl handle lives in a registry box for
 * the duration of a call, so a Lua memory error raised from inside a callback does not leak it:
 * the next call (or the box's __gc at lua_close) frees it. Its memory comes from an arena in
 * the box, so a parse normally costs no malloc/free.
 */
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <yajl_parse.h>

#include "lua_secret.h"

#define MAX_DEPTH 64
#define SPILL 256 /* stack slots one open container may use before it becomes a table */

typedef enum { F_ROOT, F_OBJ, F_ARR, F_ENVROOT, F_ENV, F_PARAMS } fkind;

/* What the pending key of an envelope frame selects. Payload slots come last. */
typedef enum {
	S_IGNORE, S_ID, S_METHOD, S_PARAMS, S_CHANNEL, S_TYPE, S_USIN, S_USOUT, S_TESTNET,
	S_RESULT, S_ERROR, S_DATA
} slot;

typedef enum { M_NONE, M_SUBSCRIPTION, M_HEARTBEAT, M_OTHER } method;

typedef struct frame {
	const lt_schema *schema;  /* F_OBJ: object schema with fields, else NULL */
	const lt_schema *next;    /* schema of the value that comes next (NULL = ANY) */
	int base;                 /* Lua stack top when the container opened */
	int n;                    /* elements (F_ARR) or complete pairs (F_OBJ) held */
	int tbl;                  /* stack index of the table once it exists, else 0 */
	int hint;                 /* F_OBJ: field index where the next key lookup starts */
	int names;                /* F_OBJ with schema: stack index of its field-name table */
	fkind kind;
	slot slot;                /* F_ENV/F_PARAMS: what the pending key selects */
} frame;

typedef struct dec {
	lua_State *L;
	int root;                 /* stack index of the field-name cache (push_names) */
	int depth;                /* index of the innermost frame; fr[0] is the root pseudo-frame */
	int nest;                 /* open JSON containers, skipped ones included */
	int skip;                 /* > 0 while inside a skipped envelope value */
	char emsg[160];           /* why a callback cancelled the parse */
	int ecode;                /* and the status to return: LT_EJSON or LT_ENOMEM */
	/* envelope only */
	const lt_resolver *res;
	lt_envelope *env;
	method method;
	bool has_channel;
	size_t chan_len;
	int payload;              /* stack index of result/error/params.data, 0 = none yet */
	slot payload_slot;
	bool pending_typed;       /* the payload about to be decoded has its real schema */
	bool payload_typed;
	frame fr[MAX_DEPTH + 1];
} dec;

static int fail(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(dec *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->emsg, sizeof d->emsg, fmt, ap);
	va_end(ap);
	d->ecode = LT_EJSON;
	return 0;
}

/* Room for one value plus the three slots a closing container needs. The decoder holds at
 * most SPILL slots per open container (~16k in all), so a stack that cannot grow means memory
 * ran out (or the caller's stack was already near LUAI_MAXSTACK): LT_ENOMEM. */
static int room(dec *d)
{
	if (lua_checkstack(d->L, 4))
		return 1;
	fail(d, "the Lua stack cannot grow");
	d->ecode = LT_ENOMEM;
	return 0;
}

/* ---- numbers ------------------------------------------------------------------------------ */

enum { N_SLOW, N_INT, N_FLOAT };

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* Scan JSON number text s[0..len) (not NUL-terminated). Integer text within int64 gives N_INT
 * and *iv; text whose value one exact IEEE operation yields (<= 2^53 mantissa, |exp10| <= 22)
 * gives N_FLOAT and *dv, correctly rounded. Anything else (or any unexpected byte) gives
 * N_SLOW: the caller converts with Lua's own reader. */
static int scan_number(const char *s, size_t len, lua_Integer *iv, double *dv)
{
	size_t p = 0;
	bool neg = false, isint = true;
	uint64_t m = 0;
	int nd = 0;
	long e10 = 0;
	if (p < len && s[p] == '-') {
		neg = true;
		p++;
	}
	if (p == len || s[p] < '0' || s[p] > '9')
		return N_SLOW;
	for (; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
		unsigned dig = (unsigned)(s[p] - '0');
		if (nd == 0 && dig == 0)
			continue;
		if (nd == 19)
			return N_SLOW;
		m = m * 10 + dig;
		nd++;
	}
	if (p < len && s[p] == '.') {
		isint = false;
		for (p++; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
			unsigned dig = (unsigned)(s[p] - '0');
			e10--;
			if (nd == 0 && dig == 0)
				continue;
			if (nd == 19)
				return N_SLOW;
			m = m * 10 + dig;
			nd++;
		}
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		long ex = 0, sign = 1;
		isint = false;
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			sign = s[p++] == '-' ? -1 : 1;
		for (; p < len && s[p] >= '0' && s[p] <= '9'; p++)
			if (ex < 100000)
				ex = ex * 10 + (s[p] - '0');
		e10 += sign * ex;
	}
	if (p != len)
		return N_SLOW;
	if (isint) {
		if (m > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
			return N_SLOW;
		*iv = !neg ? (lua_Integer)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(lua_Integer)m;
		return N_INT;
	}
	if (m == 0) {
		*dv = neg ? -0.0 : 0.0;
		return N_FLOAT;
	}
	if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
		return N_SLOW;
	double v = (double)m;
	v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
	*dv = neg ? -v : v;
	return N_FLOAT;
}

/* The integer equal to v, if v is integral and within int64. */
static bool float_to_int(double v, lua_Integer *out)
{
	if (v >= -0x1p63 && v < 0x1p63 && floor(v) == v) {
		*out = (lua_Integer)v;
		return true;
	}
	return false;
}

/* Slow path: Lua's reader (locale-independent, strtod rounding; beyond int64 -> float;
 * 1e400 -> inf). Pushes the number; false if the text is not a number. Raises nothing. */
static bool push_number_slow(lua_State *L, const char *s, size_t len)
{
	char small[64];
	char *t = len < sizeof small ? small : malloc(len + 1);
	if (!t)
		return false;
	memcpy(t, s, len);
	t[len] = '\0';
	size_t used = lua_stringtonumber(L, t);
	if (t != small)
		free(t);
	return used == len + 1;
}

/* Push number text typed by t: LT_T_INT -> integer when integral and within int64, else
 * float; LT_T_FLOAT -> float; anything else -> integer text within int64 is an integer,
 * other text a float. False for text that is no number (nothing pushed). */
static bool push_number(lua_State *L, const char *s, size_t len, lt_type t)
{
	lua_Integer iv;
	double dv;
	switch (scan_number(s, len, &iv, &dv)) {
	case N_INT:
		if (t == LT_T_FLOAT)
			lua_pushnumber(L, (lua_Number)iv);
		else
			lua_pushinteger(L, iv);
		return true;
	case N_FLOAT:
		if (t == LT_T_INT && float_to_int(dv, &iv))
			lua_pushinteger(L, iv);
		else
			lua_pushnumber(L, dv);
		return true;
	default:
		break;
	}
	if (!push_number_slow(L, s, len))
		return false;
	if (lua_isinteger(L, -1)) {
		if (t == LT_T_FLOAT) {
			iv = lua_tointeger(L, -1);
			lua_pop(L, 1);
			lua_pushnumber(L, (lua_Number)iv);
		}
	} else if (t == LT_T_INT && float_to_int(lua_tonumber(L, -1), &iv)) {
		lua_pop(L, 1);
		lua_pushinteger(L, iv);
	}
	return true;
}

/* An integer from integer text (a JSON number's or a string's), e.g. an id or usIn. */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
	lua_Integer iv;
	double dv;
	if (scan_number(s, len, &iv, &dv) != N_INT)
		return false;
	*out = iv;
	return true;
}

/* ---- containers ----------------------------------------------------------------------------- */

/* Turn the n elements above f->base into a table of size narr at f->base + 1. */
static void arr_table(lua_State *L, frame *f, int narr)
{
	lua_createtable(L, narr, 0);
	lua_rotate(L, f->base + 1, 1);
	for (int i = f->n; i >= 1; i--)
		lua_rawseti(L, f->base + 1, i);
	f->tbl = f->base + 1;
}

/* Turn the n key/value pairs above f->base into a table at f->base + 1 (in order, so a
 * repeated key keeps its last value, as a direct store would). */
static void obj_table(lua_State *L, frame *f, int nrec)
{
	lua_createtable(L, 0, nrec);
	int t = lua_gettop(L);
	for (int i = 0; i < f->n; i++) {
		lua_pushvalue(L, f->base + 1 + 2 * i);
		lua_pushvalue(L, f->base + 2 + 2 * i);
		lua_rawset(L, t);
	}
	lua_replace(L, f->base + 1);
	lua_settop(L, f->base + 1);
	f->tbl = f->base + 1;
}

static int env_payload(dec *d, frame *f);

/* The value just pushed is complete: hand it to the innermost open frame. */
static int store(dec *d)
{
	lua_State *L = d->L;
	frame *f = &d->fr[d->depth];
	switch (f->kind) {
	case F_ROOT:
		return 1;
	case F_OBJ:
		if (f->tbl)
			lua_rawset(L, f->tbl);
		else if (++f->n == SPILL / 2)
			obj_table(L, f, 2 * f->n);
		return 1;
	case F_ARR:
		f->n++;
		if (f->tbl)
			lua_rawseti(L, f->tbl, f->n);
		else if (f->n == SPILL)
			arr_table(L, f, 2 * f->n);
		return 1;
	default:
		return env_payload(d, f);
	}
}

/* Push the table of s's field names, in field order, from the cache at d->root; built and
 * cached on first use of s in this Lua state. Raises only on a memory error. */
static void push_names(dec *d, const lt_schema *s)
{
	lua_State *L = d->L;
	if (lua_rawgetp(L, d->root, s) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	int n = 0;
	while (s->fields[n].name)
		n++;
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushstring(L, s->fields[i].name);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pushvalue(L, -1);
	lua_rawsetp(L, d->root, s);
}

/* Open a frame. An object with a schema gets its field-name table and its table at once
 * (sized from the schema: nfields, or the field count) and takes its pairs directly; other
 * containers collect their entries on the stack. Needs 2 free stack slots. */
static frame *push_frame(dec *d, fkind kind, const lt_schema *s)
{
	frame *f = &d->fr[++d->depth];
	f->kind = kind;
	f->schema = kind == F_OBJ && s && s->type == LT_T_OBJECT && s->fields ? s : NULL;
	f->next = kind == F_ARR && s && s->type == LT_T_ARRAY ? s->elem : NULL;
	f->n = 0;
	f->tbl = 0;
	f->hint = 0;
	f->names = 0;
	f->slot = S_IGNORE;
	if (f->schema) {
		push_names(d, s);
		f->names = lua_gettop(d->L);
		lua_createtable(d->L, 0, s->nfields > 0 ? s->nfields : (int)lua_rawlen(d->L, -1));
		f->tbl = f->names + 1;
	}
	f->base = lua_gettop(d->L);
	return f;
}

static bool key_eq(const char *name, const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] != key[i] || name[i] == '\0')
			return false;
	return name[len] == '\0';
}

/* Index of field key in f's object schema, or -1. The scan starts after the previous match
 * and wraps, so keys in declaration order cost one comparison each. */
static int field_index(frame *f, const char *key, size_t len)
{
	const lt_field *fl = f->schema->fields;
	for (int i = f->hint; fl[i].name; i++)
		if (key_eq(fl[i].name, key, len))
			return f->hint = i + 1, i;
	for (int i = 0; i < f->hint; i++)
		if (key_eq(fl[i].name, key, len))
			return f->hint = i + 1, i;
	return -1;
}

/* ---- envelope frames (deribit-api.md §1) ------------------------------------------------------ */

/* The slot key k selects in envelope frame f (top level or params). For a payload key, sets
 * f->next to its schema when the selecting id/channel is already known (asking the resolver)
 * and records in pending_typed whether it was. */
static slot env_slot(dec *d, frame *f, const char *k, size_t len)
{
	const lt_resolver *r = d->res;
	f->next = NULL;
	if (f->kind == F_PARAMS) {
		if (len == 7 && !memcmp(k, "channel", 7))
			return S_CHANNEL;
		if (len == 4 && !memcmp(k, "type", 4))
			return S_TYPE;
		if (len == 4 && !memcmp(k, "data", 4)) {
			d->pending_typed = d->has_channel;
			if (d->has_channel && r && r->data)
				f->next = r->data(r->ud, d->env->channel, d->chan_len);
			return S_DATA;
		}
		return S_IGNORE;
	}
	static const struct { const char *name; slot slot; } keys[] = {
		{"id", S_ID}, {"method", S_METHOD}, {"params", S_PARAMS}, {"usIn", S_USIN},
		{"usOut", S_USOUT}, {"testnet", S_TESTNET}, {"error", S_ERROR}, {"result", S_RESULT},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (key_eq(keys[i].name, k, len)) {
			if (keys[i].slot == S_RESULT) {
				d->pending_typed = d->env->has_id;
				if (d->env->has_id && r && r->result)
					f->next = r->result(r->ud, d->env->id);
			} else if (keys[i].slot == S_ERROR) {
				static const lt_field error_fields[] = {
					{"code", &lt_s_int}, {"message", &lt_s_string}, {NULL, NULL}
				};
				static const lt_schema error_schema = {LT_T_OBJECT, error_fields, NULL, 3};
				d->pending_typed = true;
				f->next = &error_schema;
			}
			return keys[i].slot;
		}
	return S_IGNORE;  /* jsonrpc, usDiff and unknown keys */
}

static const char *slot_name(slot s)
{
	return s == S_RESULT ? "result" : s == S_ERROR ? "error" : "params.data";
}

/* The payload (result, error or params.data) is complete at the stack top: remember where.
 * A second payload is an error. */
static int env_payload(dec *d, frame *f)
{
	if (d->payload) {
		if (d->payload_slot == f->slot)
			return fail(d, "json-rpc: duplicate %s", slot_name(f->slot));
		return fail(d, "json-rpc: message has both %s and %s", slot_name(d->payload_slot),
			    slot_name(f->slot));
	}
	d->payload = lua_gettop(d->L);
	d->payload_slot = f->slot;
	d->payload_typed = d->pending_typed;
	return 1;
}

enum { J_NULL, J_BOOL, J_NUMBER, J_STRING };

/* A scalar under an envelope frame, outside any payload: record what the slot wants. */
/* Copy an envelope string into its fixed buffer; fails (0) naming `what` if it does not fit. */
static int copy_text(dec *d, char *dst, size_t cap, const char *s, size_t len, const char *what)
{
	if (len >= cap)
		return fail(d, "json-rpc: %s longer than %zu bytes", what, cap - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 1;
}

static int env_scalar(dec *d, frame *f, int jt, const char *s, size_t len)
{
	lt_envelope *env = d->env;
	if (f->kind == F_ENVROOT)
		return fail(d, "json-rpc: message is not an object");
	switch (f->slot) {
	case S_ID:
		if (jt == J_STRING)
			return fail(d, "json-rpc: string id is not supported");
		if (jt != J_NUMBER || !parse_int(s, len, &env->id))
			return fail(d, "json-rpc: id is not an integer");
		env->has_id = true;
		break;
	case S_METHOD:
		d->method = jt != J_STRING ? M_OTHER
			  : len == 12 && !memcmp(s, "subscription", 12) ? M_SUBSCRIPTION
			  : len == 9 && !memcmp(s, "heartbeat", 9) ? M_HEARTBEAT : M_OTHER;
		break;
	case S_CHANNEL:
		if (jt != J_STRING)
			break;
		if (!copy_text(d, env->channel, sizeof env->channel, s, len, "channel"))
			return 0;
		d->chan_len = len;
		d->has_channel = true;
		break;
	case S_TYPE:
		if (jt != J_STRING)
			break;
		if (!copy_text(d, env->hb_type, sizeof env->hb_type, s, len, "params.type"))
			return 0;
		break;
	case S_USIN:
	case S_USOUT:
		if (jt == J_NUMBER || jt == J_STRING)  /* §1: integers, or strings in some captures */
			(void)parse_int(s, len, f->slot == S_USIN ? &env->us_in : &env->us_out);
		break;
	case S_TESTNET:
		if (jt == J_BOOL)
			env->testnet = len != 0;
		break;
	default:
		break;
	}
	return 1;
}

/* A container opens under an envelope frame, outside any payload. */
static int env_open(dec *d, frame *f, bool map)
{
	if (f->kind == F_ENVROOT) {
		if (!map)
			return fail(d, "json-rpc: message is not an object");
		push_frame(d, F_ENV, NULL);
		return 1;
	}
	if (f->slot == S_PARAMS && map && f->kind == F_ENV) {
		push_frame(d, F_PARAMS, NULL);
		return 1;
	}
	if (f->slot == S_ID)
		return fail(d, "json-rpc: id is not an integer");
	d->skip = 1;
	return 1;
}

/* ---- strings ------------------------------------------------------------------------------- */

/* The one UTF-8 check (yajl's own is off: yajl_dont_validate_strings): every string and key,
 * skipped ones included, must be well-formed UTF-8 with no overlong forms (C0 AF for '/'),
 * no truncated sequence and no code point above U+10FFFF. Encoded surrogates are accepted,
 * because yajl itself produces them when it unescapes a lone "\udc00". ASCII text costs one
 * word-wise scan. */
static bool utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			break;
	}
	while (i < len) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return false;
		size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (len - i < n)
			return false;
		unsigned c1 = s[i + 1];
		if ((c1 & 0xc0) != 0x80 || (c == 0xe0 && c1 < 0xa0) || (c == 0xf0 && c1 < 0x90) ||
		    (c == 0xf4 && c1 > 0x8f))
			return false;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

/* ---- yajl callbacks ------------------------------------------------------------------------- */

/* True when the innermost frame is an envelope frame whose pending value is not a payload. */
static bool in_env(frame *f)
{
	return f->kind >= F_ENVROOT && f->slot < S_RESULT;
}

static int cb_null(void *ctx)
{
	dec *d = ctx;
	frame *f = &d->fr[d->depth];
	if (d->skip)
		return 1;
	if (in_env(f))
		return env_scalar(d, f, J_NULL, NULL, 0);
	if (!room(d))
		return 0;
	lua_pushlightuserdata(d->L, NULL);
	return store(d);
}

static int cb_boolean(void *ctx, int b)
{
	dec *d = ctx;
	frame *f = &d->fr[d->depth];
	if (d->skip)
		return 1;
	if (in_env(f))
		return env_scalar(d, f, J_BOOL, NULL, b != 0);
	if (!room(d))
		return 0;
	lua_pushboolean(d->L, b);
	return store(d);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	dec *d = ctx;
	frame *f = &d->fr[d->depth];
	if (d->skip)
		return 1;
	if (in_env(f))
		return env_scalar(d, f, J_NUMBER, s, len);
	if (!room(d))
		return 0;
	if (!push_number(d->L, s, len, f->next ? f->next->type : LT_T_ANY))
		return fail(d, "bad number '%.*s'", (int)(len < 40 ? len : 40), s);
	return store(d);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	dec *d = ctx;
	frame *f = &d->fr[d->depth];
	if (!utf8_ok(s, len))
		return fail(d, "invalid UTF8 in string");
	if (d->skip)
		return 1;
	if (in_env(f))
		return env_scalar(d, f, J_STRING, (const char *)s, len);
	if (!room(d))
		return 0;
	if (f->next && f->next->type == LT_T_SECRET) /* a token: never a Lua string */
		lt_lua_secret_push(d->L, (const char *)s, len);
	else
		lua_pushlstring(d->L, (const char *)s, len);
	return store(d);
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
	dec *d = ctx;
	frame *f = &d->fr[d->depth];
	int i = !d->skip && f->schema ? field_index(f, (const char *)k, len) : -1;
	if (i < 0 && !utf8_ok(k, len))  /* a key equal to a schema's (ASCII) field name is valid */
		return fail(d, "invalid UTF8 in key");
	if (d->skip)
		return 1;
	if (f->kind == F_ENV || f->kind == F_PARAMS) {
		f->slot = env_slot(d, f, (const char *)k, len);
		return 1;
	}
	if (!room(d))
		return 0;
	if (i >= 0) {  /* a known field: its name is already a Lua string */
		lua_rawgeti(d->L, f->names, i + 1);
		f->next = f->schema->fields[i].schema;
	} else {
		lua_pushlstring(d->L, (const char *)k, len);
		f->next = NULL;
	}
	return 1;
}

/* '{' or '[': count the nesting (skipped values included), then skip, hand to the envelope,
 * or open a frame whose entries will collect on the Lua stack. */
static int open_container(dec *d, bool map)
{
	frame *f = &d->fr[d->depth];
	if (++d->nest > MAX_DEPTH)
		return fail(d, "nesting deeper than %d", MAX_DEPTH);
	if (d->skip) {
		d->skip++;
		return 1;
	}
	if (in_env(f))
		return env_open(d, f, map);
	if (!room(d))
		return 0;
	push_frame(d, map ? F_OBJ : F_ARR, f->next);
	return 1;
}

/* '}' or ']': close the innermost frame; a decoded container becomes its table and is stored
 * in its parent. */
static int close_container(dec *d)
{
	frame *f = &d->fr[d->depth];
	d->nest--;
	if (d->skip) {
		d->skip--;
		return 1;
	}
	if (f->kind == F_ENV || f->kind == F_PARAMS) {
		d->depth--;
		return 1;
	}
	if (!room(d))
		return 0;
	if (f->names)  /* the table replaces the field-name table below it */
		lua_replace(d->L, f->names);
	else if (!f->tbl) {
		if (f->kind == F_OBJ)
			obj_table(d->L, f, f->n);
		else
			arr_table(d->L, f, f->n);
	}
	d->depth--;
	return store(d);
}

static int cb_start_map(void *ctx) { return open_container(ctx, true); }
static int cb_start_array(void *ctx) { return open_container(ctx, false); }
static int cb_end(void *ctx) { return close_container(ctx); }

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* ---- the parse --------------------------------------------------------------------------------- */

static const char box_key = 'j';  /* registry key: its address */

/* The alignment of arena blocks: what yajl stores (pointers, size_t), and no more than Lua
 * guarantees for userdata memory (LUAI_MAXALIGN). */
typedef union word {
	void *p;
	size_t z;
	double d;
	long long ll;
} word;

#define ARENA 4096 /* bytes: a yajl handle, its lexer, stacks and a 2 KiB decode buffer */
#define ALIGN sizeof(word)
#define AHDR ((sizeof(size_t) + ALIGN - 1) / ALIGN * ALIGN) /* size header of an arena block */

typedef struct box {
	yajl_handle h;  /* the handle of the call in progress, NULL between calls */
	size_t used;    /* arena bytes handed out since the last parse started */
	union {
		word align;
		unsigned char arena[ARENA];
	};
} box;

/* yajl's allocator: blocks for the handle of one parse come from the box's arena (a size
 * header, then the block), so a parse costs no malloc/free; what does not fit goes to the
 * heap. Freeing an arena block does nothing: parse() empties the arena before each parse,
 * once the previous handle is freed (so a handle stranded by a Lua error is still intact when
 * the next call or __gc frees it). */
static bool in_arena(box *b, void *p)
{
	return (uintptr_t)p >= (uintptr_t)b->arena && (uintptr_t)p < (uintptr_t)(b->arena + ARENA);
}

static void *arena_malloc(void *ctx, size_t n)
{
	box *b = ctx;
	if (n <= ARENA) {
		size_t need = AHDR + (n + ALIGN - 1) / ALIGN * ALIGN;
		if (ARENA - b->used >= need) {
			unsigned char *p = b->arena + b->used;
			memcpy(p, &n, sizeof n);
			b->used += need;
			return p + AHDR;
		}
	}
	return malloc(n);
}

static void *arena_realloc(void *ctx, void *p, size_t n)
{
	if (!p)
		return arena_malloc(ctx, n);
	if (!in_arena(ctx, p))
		return realloc(p, n);
	size_t old;
	memcpy(&old, (unsigned char *)p - AHDR, sizeof old);
	if (n <= old)
		return p;
	void *q = arena_malloc(ctx, n);
	if (q)
		memcpy(q, p, old);
	return q;
}

static void arena_free(void *ctx, void *p)
{
	if (!in_arena(ctx, p))
		free(p);
}

static int box_gc(lua_State *L)
{
	box *b = lua_touserdata(L, 1);
	if (b && b->h) {
		yajl_free(b->h);
		b->h = NULL;
	}
	return 0;
}

/* The per-state box, created on first use (raises only on a memory error). Pushes the box's
 * user value, the field-name cache: a table {[schema address] = {field names in field order}}
 * (push_names), so a known key is pushed as an existing string instead of hashed and
 * interned again in every message. */
static box *push_box(lua_State *L)
{
	box *b;
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &box_key) == LUA_TUSERDATA) {
		b = lua_touserdata(L, -1);
		lua_getiuservalue(L, -1, 1);
		lua_remove(L, -2);
		return b;
	}
	lua_pop(L, 1);
	b = lua_newuserdatauv(L, sizeof *b, 1);
	b->h = NULL;
	b->used = 0;
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, box_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	lua_newtable(L);
	lua_pushvalue(L, -1);
	lua_setiuservalue(L, -3, 1);
	lua_rotate(L, -2, 1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &box_key);
	return b;
}

/* yajl's "lexical error: invalid char in json text.\n" -> kind "lexical", text after ": ". */
static int yajl_failure(yajl_handle h, const char *buf, size_t len, bool truncated, lt_err *err)
{
	size_t at = truncated ? len : yajl_get_bytes_consumed(h);
	unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
	const char *m = msg ? (const char *)msg : "unknown error";
	const char *colon = strstr(m, " error: ");
	int kind_len = colon ? (int)(colon - m) : 5;
	const char *text = colon ? colon + 8 : m;
	int text_len = (int)strcspn(text, "\n");
	if (truncated)
		lt_err_set(err, LT_EJSON, "json: truncated input at byte %zu: %.*s", at, text_len, text);
	else
		lt_err_set(err, LT_EJSON, "json: %.*s error at byte %zu: %.*s", kind_len,
			   colon ? m : "parse", at, text_len, text);
	if (msg)
		yajl_free_error(h, msg);
	return LT_EJSON;
}

/* Run yajl over buf with d's frames set up. Pushes the field-name cache (d->root), then the
 * decoded value(s) above it. 0, or LT_EJSON/LT_ENOMEM with err filled; the caller restores
 * the stack on failure. */
static int parse(dec *d, const char *buf, size_t len, lt_err *err)
{
	box *b = push_box(d->L);
	d->root = lua_gettop(d->L);
	if (b->h) {  /* left by a call that a Lua memory error interrupted */
		yajl_free(b->h);
		b->h = NULL;
	}
	b->used = 0;
	yajl_alloc_funcs af = {arena_malloc, arena_realloc, arena_free, b};
	yajl_handle h = yajl_alloc(&callbacks, &af, d);
	if (!h)
		return lt_err_set(err, LT_ENOMEM, "json: out of memory");
	b->h = h;
	yajl_config(h, yajl_dont_validate_strings, 1);  /* utf8_ok checks every string */
	bool truncated = false;
	yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		truncated = st == yajl_status_error;
	}
	int rc = 0;
	if (st == yajl_status_client_canceled)
		rc = lt_err_set(err, d->ecode, "json: at byte %zu: %s", yajl_get_bytes_consumed(h),
				d->emsg);
	else if (st != yajl_status_ok)
		rc = yajl_failure(h, buf, len, truncated, err);
	b->h = NULL;
	yajl_free(h);
	return rc;
}

static void dec_init(dec *d, lua_State *L, fkind root, const lt_schema *schema)
{
	d->L = L;
	d->depth = 0;
	d->nest = 0;
	d->skip = 0;
	d->emsg[0] = '\0';
	d->ecode = LT_EJSON;
	d->res = NULL;
	d->env = NULL;
	d->method = M_NONE;
	d->has_channel = false;
	d->chan_len = 0;
	d->payload = 0;
	d->payload_slot = S_IGNORE;
	d->pending_typed = d->payload_typed = false;
	d->fr[0] = (frame){.kind = root, .next = schema, .slot = S_IGNORE};
}

/* Contract in codec.h. In detail: the error message reads "json: <kind> error at byte N: ..."
 * (N = bytes consumed when yajl stopped), "json: truncated input at byte N: premature EOF", or
 * "json: at byte N: nesting deeper than 64"; UTF-8 is checked strictly (structure, overlong
 * forms and code points beyond U+10FFFF: "json: at byte N: invalid UTF8 in string"; encoded
 * surrogates pass); numbers beyond double range become +-inf. Returns LT_ENOMEM (nothing
 * pushed) in the one non-raising memory failure, a Lua stack that cannot grow; other Lua
 * memory errors raise, and the yajl handle they strand is freed by the next call or at
 * lua_close. Not reentrant per Lua state: a resolver must not decode JSON itself. */
int lt_json_decode(lua_State *L, const char *buf, size_t len, const lt_schema *schema, lt_err *err)
{
	dec d;
	if (!lua_checkstack(L, 8))
		return lt_err_set(err, LT_ENOMEM, "json: Lua stack overflow");
	int top = lua_gettop(L);
	dec_init(&d, L, F_ROOT, schema);
	int rc = parse(&d, buf ? buf : "", buf ? len : 0, err);
	if (rc == 0 && lua_gettop(L) != top + 2)
		rc = lt_err_set(err, LT_EJSON, "json: no value");
	if (rc)
		lua_settop(L, top);
	else
		lua_replace(L, top + 1);  /* the value over the cache */
	return rc;
}

/* ---- retyping a value decoded before its schema was known ---------------------------------- */

static bool retype_needed(const lt_schema *s)
{
	return s && (s->type == LT_T_INT || s->type == LT_T_FLOAT || s->type == LT_T_SECRET ||
		     (s->type == LT_T_OBJECT && s->fields) || (s->type == LT_T_ARRAY && s->elem));
}

/* Give the value at the top of the stack the number types schema s declares, as a direct
 * decode with s would have: INT turns integral floats within int64 into integers, FLOAT turns
 * integers into floats, objects and arrays recurse (tables change in place, a number is
 * replaced at the top). Values of another type than declared are left alone. */
static void retype(lua_State *L, const lt_schema *s, int depth)
{
	lua_Integer iv;
	if (!retype_needed(s) || depth > MAX_DEPTH || !lua_checkstack(L, 3))
		return;
	int t = lua_type(L, -1);
	if (s->type == LT_T_INT && t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
		if (float_to_int(lua_tonumber(L, -1), &iv)) {
			lua_pop(L, 1);
			lua_pushinteger(L, iv);
		}
	} else if (s->type == LT_T_SECRET && t == LUA_TSTRING) {
		size_t n;
		const char *p = lua_tolstring(L, -1, &n);
		lt_lua_secret_push(L, p, n);
		lua_remove(L, -2);
	} else if (s->type == LT_T_FLOAT && lua_isinteger(L, -1)) {
		iv = lua_tointeger(L, -1);
		lua_pop(L, 1);
		lua_pushnumber(L, (lua_Number)iv);
	} else if (s->type == LT_T_OBJECT && t == LUA_TTABLE) {
		for (const lt_field *f = s->fields; f->name; f++) {
			if (!retype_needed(f->schema))
				continue;
			lua_pushstring(L, f->name);
			lua_pushvalue(L, -1);
			if (lua_rawget(L, -3) == LUA_TNIL) {
				lua_pop(L, 2);
				continue;
			}
			retype(L, f->schema, depth + 1);
			lua_rawset(L, -3);
		}
	} else if (s->type == LT_T_ARRAY && t == LUA_TTABLE) {
		lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, i);
			retype(L, s->elem, depth + 1);
			lua_rawseti(L, -2, i);
		}
	}
}

/* ---- the envelope ---------------------------------------------------------------------------- */

/* After a successful parse: classify the message (§1), retype a payload that was decoded
 * before its id/channel, and leave exactly the one value to return above top. */
static int finish_envelope(dec *d, int top, lt_err *err)
{
	lua_State *L = d->L;
	lt_envelope *env = d->env;
	const lt_resolver *r = d->res;
	if (env->has_id) {
		if (d->payload_slot == S_RESULT) {
			env->kind = LT_MSG_RESULT;
			if (!d->payload_typed && r && r->result)
				retype(L, r->result(r->ud, env->id), 0);
			return 0;
		}
		if (d->payload_slot != S_ERROR)
			return lt_err_set(err, LT_EJSON, "json-rpc: response %lld has neither result nor error",
					  (long long)env->id);
		if (!lua_istable(L, -1))
			return lt_err_set(err, LT_EJSON, "json-rpc: error of response %lld is not an object",
					  (long long)env->id);
		env->kind = LT_MSG_ERROR;
		lua_pushliteral(L, "code");
		if (lua_rawget(L, -2) == LUA_TNUMBER && lua_isinteger(L, -1))
			env->error_code = lua_tointeger(L, -1);
		lua_pop(L, 1);
		return 0;
	}
	if (d->payload_slot == S_RESULT || d->payload_slot == S_ERROR)
		return lt_err_set(err, LT_EJSON, "json-rpc: %s without an id", slot_name(d->payload_slot));
	if (d->method == M_HEARTBEAT) {
		env->kind = LT_MSG_HEARTBEAT;
		lua_settop(L, top);
		lua_pushnil(L);
		return 0;
	}
	if (d->method != M_SUBSCRIPTION)
		return lt_err_set(err, LT_EJSON, "json-rpc: message has no id and no known method");
	if (!d->has_channel)
		return lt_err_set(err, LT_EJSON, "json-rpc: notification without params.channel");
	if (d->payload_slot != S_DATA)
		return lt_err_set(err, LT_EJSON, "json-rpc: notification on %s without params.data",
				  env->channel);
	env->kind = LT_MSG_NOTIFY;
	if (!d->payload_typed && r && r->data)
		retype(L, r->data(r->ud, env->channel, d->chan_len), 0);
	return 0;
}

/* Contract in codec.h; errors as lt_json_decode, plus "json-rpc: ..." messages for messages of
 * the wrong shape. *env is zeroed first and again on failure. The resolver (or either of its
 * functions) may be NULL: ANY. resolver->result is not asked for error responses (they have
 * their own {code INT, message STRING} schema). Unknown top-level and params keys are skipped
 * without being pushed; "jsonrpc" and "usDiff" are not checked. */
int lt_json_decode_envelope(lua_State *L, const char *buf, size_t len, const lt_resolver *res,
			    lt_envelope *env, lt_err *err)
{
	dec d;
	memset(env, 0, sizeof *env);
	if (!lua_checkstack(L, 8))
		return lt_err_set(err, LT_ENOMEM, "json: Lua stack overflow");
	int top = lua_gettop(L);
	dec_init(&d, L, F_ENVROOT, NULL);
	d.res = res;
	d.env = env;
	int rc = parse(&d, buf ? buf : "", buf ? len : 0, err);
	if (rc == 0)
		rc = finish_envelope(&d, top + 1, err);
	if (rc == 0 && lua_gettop(L) != top + 2)
		rc = lt_err_set(err, LT_EJSON, "json-rpc: internal error: %d values",
				lua_gettop(L) - top - 1);
	if (rc) {
		lua_settop(L, top);
		memset(env, 0, sizeof *env);
	} else {
		lua_replace(L, top + 1);  /* the value over the cache */
	}
	return rc;
}
