/* json_decode.c — venue JSON to Lua values in one streaming pass (codec.h: lt_json_decode;
 * the envelope on top of it is json_envelope.c; deribit-api.md §1 types).
 *
 * yajl's callbacks push Lua values directly; there is no intermediate tree. An open container
 * keeps its elements (arrays) or key/value pairs (objects) on the Lua stack and becomes a table
 * when it closes, created with lua_createtable at its exact size, so no table is ever rehashed
 * while decoding and no memory is spent on slack. A container that grows past LT_JD_SPILL
 * stack slots becomes a table early and takes its remaining entries directly. An object with
 * a schema is created at once, sized from the schema, and takes its pairs directly; its known
 * keys come from a per-schema table of field names (strings interned once per Lua state, in
 * the field-name cache of json_arena.c's box), other keys are pushed with lua_pushlstring.
 * Numbers arrive as text (yajl's number callback) and json_number.c types them as the schema
 * says. Strings are validated once, by lt_utf8_ok (yajl's own check is off).
 *
 * A projection (LT_T_ONLY, json_fields.c) keeps only some keys of an object (or of each object
 * element of an array): a key it does not keep is validated and dropped, and its value is
 * skipped like an ignored envelope value (d->skip): yajl still parses it and every string in
 * it still goes through lt_utf8_ok, but no Lua value is made. Its table is sized for the kept
 * keys.
 *
 * Failure leaves the Lua stack as it was on entry. The yajl handle of a call lives in the box
 * (json_arena.c), so a Lua memory error raised from inside a callback does not leak it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "json_decode_internal.h"
#include "json_lazy.h"
#include "lua_secret.h"

/* Contract in json_decode_internal.h. */
int lt_jd_fail(lt_jd *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->emsg, sizeof d->emsg, fmt, ap);
	va_end(ap);
	d->ecode = LT_EJSON;
	return 0;
}

/* Room for one value plus the three slots a closing container needs. The decoder holds at
 * most LT_JD_SPILL slots per open container (~16k in all), so a stack that cannot grow means
 * memory ran out (or the caller's stack was already near LUAI_MAXSTACK): LT_ENOMEM. */
static int room(lt_jd *d)
{
	if (lua_checkstack(d->L, 4))
		return 1;
	lt_jd_fail(d, "the Lua stack cannot grow");
	d->ecode = LT_ENOMEM;
	return 0;
}

/* ---- containers ----------------------------------------------------------------------------- */

/* Turn the n elements above f->base into a table of size narr at f->base + 1. */
static void arr_table(lua_State *L, lt_jd_frame *f, int narr)
{
	lua_createtable(L, narr, 0);
	lua_rotate(L, f->base + 1, 1);
	for (int i = f->n; i >= 1; i--)
		lua_rawseti(L, f->base + 1, i);
	f->tbl = f->base + 1;
}

/* Turn the n key/value pairs above f->base into a table at f->base + 1 (in order, so a
 * repeated key keeps its last value, as a direct store would). */
static void obj_table(lua_State *L, lt_jd_frame *f, int nrec)
{
	lua_createtable(L, 0, nrec);
	f->tbl = f->base + 1;
	if (f->n == 0) /* {}: the new table is already at f->base + 1 */
		return;
	int t = lua_gettop(L);
	for (int i = 0; i < f->n; i++) {
		lua_pushvalue(L, f->base + 1 + 2 * i);
		lua_pushvalue(L, f->base + 2 + 2 * i);
		lua_rawset(L, t);
	}
	lua_replace(L, f->base + 1);
	lua_settop(L, f->base + 1);
}

/* The value just pushed is complete: hand it to the innermost open frame. */
static int store(lt_jd *d)
{
	lua_State *L = d->L;
	lt_jd_frame *f = &d->fr[d->depth];
	switch (f->kind) {
	case JF_ROOT:
		return 1;
	case JF_OBJ:
		if (f->tbl)
			lua_rawset(L, f->tbl);
		else if (++f->n == LT_JD_SPILL / 2)
			obj_table(L, f, 2 * f->n);
		return 1;
	case JF_ARR:
		f->n++;
		if (f->tbl)
			lua_rawseti(L, f->tbl, f->n);
		else if (f->n == LT_JD_SPILL)
			arr_table(L, f, 2 * f->n);
		return 1;
	default:
		return lt_jenv_payload(d, f);
	}
}

/* Push the table of s's field names, in field order, from the cache at d->root; built and
 * cached on first use of s in this Lua state. Raises only on a memory error. */
static void push_names(lt_jd *d, const lt_schema *s)
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

/* s, if it is an object schema with fields (the frame of such an object looks keys up in it). */
static const lt_schema *obj_schema(const lt_schema *s)
{
	return s && s->type == LT_T_OBJECT && s->fields ? s : NULL;
}

/* Open a frame with schema s (not a projection) and projection only (or NULL). An object with
 * a schema gets its field-name table and its table at once (sized from the projection, or the
 * schema: nfields, or the field count) and takes its pairs directly; other containers collect
 * their entries on the stack. Needs 2 free stack slots. */
static lt_jd_frame *push_frame(lt_jd *d, lt_jd_kind kind, const lt_schema *s, const lt_schema *only)
{
	lt_jd_frame *f = &d->fr[++d->depth];
	f->only = only;
	f->ohint = 0;
	f->kind = kind;
	f->schema = kind == JF_OBJ ? obj_schema(s) : NULL;
	f->next = kind == JF_ARR && s && s->type == LT_T_ARRAY ? s->elem : NULL;
	f->n = 0;
	f->tbl = 0;
	f->hint = 0;
	f->names = 0;
	f->slot = JS_IGNORE;
	if (f->schema) {
		push_names(d, s);
		f->names = lua_gettop(d->L);
		int size = only             ? only->nfields
			   : s->nfields > 0 ? s->nfields
					    : (int)lua_rawlen(d->L, -1);
		lua_createtable(d->L, 0, size);
		f->tbl = f->names + 1;
	}
	f->base = lua_gettop(d->L);
	return f;
}

/* Open the frame of a lazy object typed by s (json_lazy.h): its entries go to the tape. */
static lt_jd_frame *push_lazy(lt_jd *d, const lt_schema *s)
{
	lt_jd_frame *f = push_frame(d, JF_LAZY, NULL, NULL);
	f->schema = obj_schema(s);
	lt_lazy_begin(d->lz);
	return f;
}

/* Contract in json_decode_internal.h. */
lt_jd_frame *lt_jd_push_frame(lt_jd *d, lt_jd_kind kind, const lt_schema *s)
{
	if (s && s->type == LT_T_LAZY && kind == JF_OBJ)
		return push_lazy(d, s->elem);
	return push_frame(d, kind, lt_jd_typed(s), s && s->type == LT_T_ONLY ? s : NULL);
}

/* The scratch of a lazy object could not grow. */
static int lazy_oom(lt_jd *d)
{
	lt_jd_fail(d, "out of memory for a lazy object");
	d->ecode = LT_ENOMEM;
	return 0;
}

/* A value of the lazy object under construction. */
static int lazy_value(lt_jd *d, lt_lazy_kind kind, const char *s, size_t len)
{
	return lt_lazy_add_value(d->lz, kind, s, len) ? 1 : lazy_oom(d);
}

/* A projection dropped the key before this value: skip it (a container: d->skip). */
static inline bool skip_one(lt_jd *d)
{
	if (!d->skip_one)
		return false;
	d->skip_one = false;
	return true;
}

/* Index of field key in f's object schema, or -1. The scan starts after the previous match
 * and wraps, so keys in declaration order cost one comparison each. */
static int field_index(lt_jd_frame *f, const char *key, size_t len)
{
	const lt_field *fl = f->schema->fields;
	for (int i = f->hint; fl[i].name; i++)
		if (lt_jd_key_eq(fl[i].name, key, len))
			return f->hint = i + 1, i;
	for (int i = 0; i < f->hint; i++)
		if (lt_jd_key_eq(fl[i].name, key, len))
			return f->hint = i + 1, i;
	return -1;
}

/* ---- yajl callbacks ------------------------------------------------------------------------- */

static int cb_null(void *ctx)
{
	lt_jd *d = ctx;
	lt_jd_frame *f = &d->fr[d->depth];
	if (d->skip || skip_one(d))
		return 1;
	if (lt_jenv_in(f))
		return lt_jenv_scalar(d, f, LT_J_NULL, NULL, 0);
	if (f->kind == JF_LAZY)
		return lazy_value(d, LZ_NULL, NULL, 0);
	if (!room(d))
		return 0;
	lua_pushlightuserdata(d->L, NULL);
	return store(d);
}

static int cb_boolean(void *ctx, int b)
{
	lt_jd *d = ctx;
	lt_jd_frame *f = &d->fr[d->depth];
	if (d->skip || skip_one(d))
		return 1;
	if (lt_jenv_in(f))
		return lt_jenv_scalar(d, f, LT_J_BOOL, NULL, b != 0);
	if (f->kind == JF_LAZY)
		return lazy_value(d, b ? LZ_TRUE : LZ_FALSE, NULL, 0);
	if (!room(d))
		return 0;
	lua_pushboolean(d->L, b);
	return store(d);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	lt_jd *d = ctx;
	lt_jd_frame *f = &d->fr[d->depth];
	if (d->skip || skip_one(d))
		return 1;
	if (lt_jenv_in(f))
		return lt_jenv_scalar(d, f, LT_J_NUMBER, s, len);
	if (f->kind == JF_LAZY)
		return lazy_value(d, LZ_NUM, s, len);
	if (!room(d))
		return 0;
	const lt_schema *t = lt_jd_typed(f->next);
	if (!lt_jnum_push(d->L, s, len, t ? t->type : LT_T_ANY))
		return lt_jd_fail(d, "bad number '%.*s'", (int)(len < 40 ? len : 40), s);
	return store(d);
}

/* yajl passes string text by pointer: into the input, or into its own memory when it had to
 * copy (unescaped text, a token lexed from its buffer). Note the copy: it gets cleansed. */
static inline void note_copy(lt_jd *d, const unsigned char *s)
{
	uintptr_t p = (uintptr_t)s, in = (uintptr_t)d->in;
	if (p < in || p > in + d->in_len)
		d->copied = true;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	lt_jd *d = ctx;
	lt_jd_frame *f = &d->fr[d->depth];
	note_copy(d, s);
	if (!lt_utf8_ok(s, len))
		return lt_jd_fail(d, "invalid UTF8 in string");
	if (d->skip || skip_one(d))
		return 1;
	if (lt_jenv_in(f))
		return lt_jenv_scalar(d, f, LT_J_STRING, (const char *)s, len);
	if (f->kind == JF_LAZY)
		return lazy_value(d, LZ_STR, (const char *)s, len);
	if (!room(d))
		return 0;
	const lt_schema *t = lt_jd_typed(f->next);
	if (t && t->type == LT_T_SECRET && len > 0) /* a token: never a Lua string */
		lt_lua_secret_push(d->L, (const char *)s,
				   len); /* ("" holds nothing: it stays "") */
	else
		lua_pushlstring(d->L, (const char *)s, len);
	return store(d);
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
	lt_jd *d = ctx;
	lt_jd_frame *f = &d->fr[d->depth];
	note_copy(d, k);
	if (!d->skip && f->only && !lt_jd_kept(f->only, (const char *)k, len, &f->ohint)) {
		if (!lt_utf8_ok(k, len)) /* dropped, but still checked */
			return lt_jd_fail(d, "invalid UTF8 in key");
		d->skip_one = true;
		return 1;
	}
	int i = !d->skip && f->schema ? field_index(f, (const char *)k, len) : -1;
	if (i < 0 &&
	    !lt_utf8_ok(k, len)) /* a key equal to a schema's (ASCII) field name is valid */
		return lt_jd_fail(d, "invalid UTF8 in key");
	if (d->skip)
		return 1;
	if (f->kind == JF_ENV || f->kind == JF_PARAMS)
		return lt_jenv_key(d, f, (const char *)k, len);
	if (f->kind == JF_LAZY)
		return lt_lazy_add_key(d->lz, i, (const char *)k, len) ? 1 : lazy_oom(d);
	if (!room(d))
		return 0;
	if (i >= 0) { /* a known field: its name is already a Lua string */
		lua_rawgeti(d->L, f->names, i + 1);
		f->next = f->schema->fields[i].schema;
	} else {
		lua_pushlstring(d->L, (const char *)k, len);
		f->next = NULL;
	}
	return 1;
}

/* '{' or '[': count the nesting (skipped values included), then skip, hand to the envelope,
 * or open a frame whose entries will collect on the Lua stack. Only the payload or root value
 * carries a projection (f->next of type LT_T_ONLY); an array's projection passes to its
 * object elements, not deeper. */
static int open_container(lt_jd *d, bool map)
{
	lt_jd_frame *f = &d->fr[d->depth];
	if (++d->nest > LT_JD_MAX_DEPTH)
		return lt_jd_fail(d, "nesting deeper than %d", LT_JD_MAX_DEPTH);
	if (d->skip) {
		d->skip++;
		return 1;
	}
	if (skip_one(d)) {
		d->skip = 1;
		return 1;
	}
	if (lt_jenv_in(f))
		return lt_jenv_open(d, f, map);
	if (f->kind == JF_LAZY) { /* kept as its raw text, from its '{' or '[' on */
		d->lz_start = yajl_get_bytes_consumed(d->h) - 1;
		d->lz_capture = true;
		d->lz_array = !map;
		d->skip = 1;
		return 1;
	}
	if (!room(d))
		return 0;
	if (f->kind == JF_ARR && f->only && map) /* an object element of a projected array */
		push_frame(d, JF_OBJ, f->next, f->only);
	else
		lt_jd_push_frame(d, map ? JF_OBJ : JF_ARR, f->next);
	return 1;
}

/* '}' or ']': close the innermost frame; a decoded container becomes its table and is stored
 * in its parent. */
static int close_container(lt_jd *d)
{
	lt_jd_frame *f = &d->fr[d->depth];
	d->nest--;
	if (d->skip) {
		if (--d->skip == 0 && d->lz_capture) { /* a nested container of a lazy object */
			size_t end = yajl_get_bytes_consumed(d->h);
			d->lz_capture = false;
			return lazy_value(d, d->lz_array ? LZ_ARR : LZ_OBJ, d->in + d->lz_start,
					  end - d->lz_start);
		}
		return 1;
	}
	if (f->kind == JF_ENV || f->kind == JF_PARAMS) {
		d->depth--;
		return 1;
	}
	if (!room(d))
		return 0;
	if (f->kind == JF_LAZY) {
		lt_lazy_push(d->L, d->lz, f->schema);
		d->depth--;
		return store(d);
	}
	if (f->names) /* the table replaces the field-name table below it */
		lua_replace(d->L, f->names);
	else if (!f->tbl) {
		if (f->kind == JF_OBJ)
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

/* ---- the parse ------------------------------------------------------------------------------- */

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
		lt_err_set(err, LT_EJSON, "json: truncated input at byte %zu: %.*s", at, text_len,
			   text);
	else
		lt_err_set(err, LT_EJSON, "json: %.*s error at byte %zu: %.*s", kind_len,
			   colon ? m : "parse", at, text_len, text);
	if (msg)
		yajl_free_error(h, msg);
	return LT_EJSON;
}

/* Contract in json_decode_internal.h. */
int lt_jd_parse(lt_jd *d, const char *buf, size_t len, lt_err *err)
{
	lt_jarena *a = lt_jarena_push(d->L);
	d->root = lua_gettop(d->L);
	d->in = buf;
	d->in_len = len;
	d->copied = false;
	yajl_handle h = lt_jarena_open(a, &callbacks, d);
	if (!h)
		return lt_err_set(err, LT_ENOMEM, "json: out of memory");
	d->h = h;
	d->lz = lt_jarena_lazy(a);
	yajl_config(h, yajl_dont_validate_strings, 1); /* lt_utf8_ok checks every string */
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
	lt_jarena_close(a, rc != 0 || d->copied); /* a failed parse may leave a partial token */
	return rc;
}

void lt_jd_init(lt_jd *d, lua_State *L, lt_jd_kind root, const lt_schema *schema)
{
	d->L = L;
	d->depth = 0;
	d->nest = 0;
	d->skip = 0;
	d->skip_one = false;
	d->lz_capture = false;
	d->emsg[0] = '\0';
	d->ecode = LT_EJSON;
	d->res = NULL;
	d->env = NULL;
	d->method = JM_NONE;
	d->has_channel = false;
	d->chan_len = 0;
	d->payload = 0;
	d->payload_slot = JS_IGNORE;
	d->deferred = false;
	d->known = NULL;
	d->fr[0] = (lt_jd_frame){.kind = root, .next = schema, .slot = JS_IGNORE};
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
	lt_jd d;
	if (!lua_checkstack(L, 8))
		return lt_err_set(err, LT_ENOMEM, "json: Lua stack overflow");
	int top = lua_gettop(L);
	lt_jd_init(&d, L, JF_ROOT, schema);
	int rc = lt_jd_parse(&d, buf ? buf : "", buf ? len : 0, err);
	if (rc == 0 && lua_gettop(L) != top + 2)
		rc = lt_err_set(err, LT_EJSON, "json: no value");
	if (rc)
		lua_settop(L, top);
	else
		lua_replace(L, top + 1); /* the value over the cache */
	return rc;
}