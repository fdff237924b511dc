/* json_decode_internal.h — what the files of the JSON decoder share; not part of the API
 * (that is codec.h: lt_json_decode, lt_json_decode_envelope).
 *
 *   json_decode.c    the decoder proper: frames, containers, yajl callbacks, the parse
 *   json_envelope.c  the JSON-RPC envelope state machine (deribit-api.md §1)
 *   json_number.c    number text -> Lua integer or float, as a schema asks
 *   json_arena.c     the per-Lua-state box: the yajl handle of a call and its memory arena
 *   json_retype.c    the schema of an envelope payload that comes before its id/channel
 *   json_fields.c    projections (LT_T_ONLY): the keys a decode keeps
 *   json_lazy.c      lazy objects (LT_T_LAZY): the tape a decode builds instead of a table
 */
#ifndef LT_JSON_DECODE_INTERNAL_H
#define LT_JSON_DECODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <yajl_parse.h>

#include "codec.h"
#include "utf8.h" /* lt_utf8_ok: the one check of strings and keys */

#define LT_JD_MAX_DEPTH 64
#define LT_JD_SPILL 256 /* stack slots one open container may use before it becomes a table */

/* ---- decoder state (json_decode.c, json_envelope.c) --------------------------------------- */

typedef enum { JF_ROOT, JF_OBJ, JF_ARR, JF_LAZY, JF_ENVROOT, JF_ENV, JF_PARAMS } lt_jd_kind;

/* What the pending key of an envelope frame selects. Payload slots come last. */
typedef enum {
	JS_IGNORE,
	JS_ID,
	JS_METHOD,
	JS_PARAMS,
	JS_CHANNEL,
	JS_TYPE,
	JS_USIN,
	JS_USOUT,
	JS_TESTNET,
	JS_RESULT,
	JS_ERROR,
	JS_DATA
} lt_jd_slot;

typedef enum { JM_NONE, JM_SUBSCRIPTION, JM_HEARTBEAT, JM_OTHER } lt_jd_method;

/* The selectors a first envelope pass found, for the second pass that decodes the payload it
 * had to skip (json_retype.c). */
typedef struct lt_jd_known {
	bool has_id, has_channel;
	int64_t id;
	size_t chan_len;
	char channel[sizeof((lt_envelope *)0)->channel];
} lt_jd_known;

typedef struct lt_jd_frame {
	const lt_schema *schema; /* JF_OBJ: object schema with fields, else NULL */
	const lt_schema *next;   /* schema of the value that comes next (NULL = ANY) */
	int base;                /* Lua stack top when the container opened */
	int n;                   /* elements (JF_ARR) or complete pairs (JF_OBJ) held */
	int tbl;                 /* stack index of the table once it exists, else 0 */
	int hint;                /* JF_OBJ: field index where the next key lookup starts */
	int names;               /* JF_OBJ with schema: stack index of its field-name table */
	const lt_schema *only;   /* LT_T_ONLY projection: JF_OBJ keeps only its keys; JF_ARR
				   * passes it to its object elements. NULL = keep everything */
	int ohint;               /* JF_OBJ with only: where the next kept-key lookup starts */
	lt_jd_kind kind;
	lt_jd_slot slot; /* JF_ENV/JF_PARAMS: what the pending key selects */
} lt_jd_frame;

typedef struct lt_jd {
	lua_State *L;
	int root;       /* stack index of the field-name cache (push_names) */
	int depth;      /* index of the innermost frame; fr[0] is the root pseudo-frame */
	int nest;       /* open JSON containers, skipped ones included */
	int skip;       /* > 0 while inside a skipped value (envelope or projection) */
	bool skip_one;  /* a projection dropped the pending key: skip its value */
	char emsg[160]; /* why a callback cancelled the parse */
	int ecode;      /* and the status to return: LT_EJSON or LT_ENOMEM */
	const char *in; /* the input text of the parse, in_len bytes */
	size_t in_len;
	bool copied;   /* a callback saw string text outside the input: yajl's copy */
	yajl_handle h; /* the parse's handle: where a callback is in the input */
	/* the lazy object being built (JF_LAZY; json_lazy.h), at most one per parse */
	struct lt_lazy_build *lz; /* its scratch, in the box */
	size_t lz_start;          /* input offset of the nested container being captured */
	bool lz_capture;          /* d->skip counts that container's nesting */
	bool lz_array;            /* it is an array */
	/* envelope only */
	const lt_resolver *res;
	lt_envelope *env;
	lt_jd_method method;
	bool has_channel;
	size_t chan_len;
	int payload;              /* stack index of result/error/params.data, 0 = none yet */
	lt_jd_slot payload_slot;  /* which one it is (or the deferred one) */
	bool deferred;            /* the payload came before its selector and was skipped */
	const lt_jd_known *known; /* second pass: what the first found; NULL in a first pass */
	lt_jd_frame fr[LT_JD_MAX_DEPTH + 1];
} lt_jd;

/* JSON value kinds of an envelope scalar (lt_jenv_scalar). */
enum { LT_J_NULL, LT_J_BOOL, LT_J_NUMBER, LT_J_STRING };

/* ---- json_decode.c ------------------------------------------------------------------------ */

/* Record why the parse is cancelled (status LT_EJSON); returns 0, what a yajl callback
 * returns to cancel. */
int lt_jd_fail(lt_jd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reset d for one call with root frame kind `root` whose value has schema (NULL = ANY). */
void lt_jd_init(lt_jd *d, lua_State *L, lt_jd_kind root, const lt_schema *schema);
/* Open a frame of kind for a container with schema s (see json_decode.c); s may be an
 * LT_T_ONLY projection. Needs 2 free stack slots. */
lt_jd_frame *lt_jd_push_frame(lt_jd *d, lt_jd_kind kind, const lt_schema *s);
/* Run yajl over buf with d set up. Pushes the field-name cache (d->root), then the decoded
 * value(s) above it. 0, or LT_EJSON/LT_ENOMEM with err filled; the caller restores the stack
 * on failure. */
int lt_jd_parse(lt_jd *d, const char *buf, size_t len, lt_err *err);

/* name (NUL-terminated) equals key[0..len). */
static inline bool lt_jd_key_eq(const char *name, const char *key, size_t len)
{
	/* strnlen first: name is read no further than its NUL, and a key with a NUL in it
	 * (\u0000) never equals a name */
	if (len == 0)
		return name[0] == '\0';
	return name[0] == key[0] && strnlen(name, len + 1) == len && memcmp(name, key, len) == 0;
}

/* ---- json_envelope.c ---------------------------------------------------------------------- */

/* True when the innermost frame f is an envelope frame whose pending value is not a payload. */
static inline bool lt_jenv_in(const lt_jd_frame *f)
{
	return f->kind >= JF_ENVROOT && f->slot < JS_RESULT;
}

/* A key k in envelope frame f: sets f->slot to what it selects and, for a payload, f->next to
 * the payload's schema; a payload whose selector is not known yet is deferred (json_retype.c)
 * and gets JS_IGNORE. 1, or 0 after lt_jd_fail (a second payload). */
int lt_jenv_key(lt_jd *d, lt_jd_frame *f, const char *k, size_t len);
/* A scalar of JSON kind jt (LT_J_*) under envelope frame f, outside any payload. 1, or 0 after
 * lt_jd_fail. */
int lt_jenv_scalar(lt_jd *d, lt_jd_frame *f, int jt, const char *s, size_t len);
/* A container opens under envelope frame f, outside any payload. 1, or 0 after lt_jd_fail. */
int lt_jenv_open(lt_jd *d, lt_jd_frame *f, bool map);
/* The payload is complete at the stack top: remember where. 1, or 0 after lt_jd_fail. */
int lt_jenv_payload(lt_jd *d, lt_jd_frame *f);

/* ---- json_number.c ------------------------------------------------------------------------ */

/* Push number text s[0..len) typed by t (codec.h rules). False for text that is no number
 * (nothing pushed). Raises nothing beyond Lua's own push. */
bool lt_jnum_push(lua_State *L, const char *s, size_t len, lt_type t);
/* An integer from integer text (a JSON number's or a string's), e.g. an id or usIn. */
bool lt_jnum_int(const char *s, size_t len, int64_t *out);
/* The integer equal to v, if v is integral and within int64. */
bool lt_jnum_integral(double v, lua_Integer *out);

/* ---- json_arena.c ------------------------------------------------------------------------- */

typedef struct lt_jarena lt_jarena;

/* The per-state box, created on first use (raises only on a memory error). Pushes the
 * field-name cache: a table {[schema address] = {field names in field order}}. */
lt_jarena *lt_jarena_push(lua_State *L);
/* A yajl handle for one parse whose memory comes from the box's arena, recorded in the box
 * so that a Lua error raised from a callback does not leak it. Frees (and cleanses) what a
 * previous, interrupted call left. NULL when out of memory. */
yajl_handle lt_jarena_open(lt_jarena *a, const yajl_callbacks *cb, void *ctx);
/* Free the handle of the parse. The heap memory it used is cleansed; the arena is cleansed
 * too unless text is false: the caller knows no string text reached yajl's own memory (the
 * parse succeeded and every string and key a callback saw pointed into the input). A handle
 * that a Lua error stranded is always cleansed. */
void lt_jarena_close(lt_jarena *a, bool text);
/* The box's lazy-object scratch (json_lazy.h), freed with the box. */
struct lt_lazy_build *lt_jarena_lazy(lt_jarena *a);

/* ---- json_fields.c ------------------------------------------------------------------------ */

/* key[0..len) is one of the names of projection only (LT_T_ONLY). hint (may be NULL) is where
 * the scan starts; it wraps, so keys in the listed order cost one comparison each. */
bool lt_jd_kept(const lt_schema *only, const char *key, size_t len, int *hint);

/* The schema a value is typed by: a projection's or a lazy object's underlying schema, else s
 * itself. */
static inline const lt_schema *lt_jd_typed(const lt_schema *s)
{
	return s && (s->type == LT_T_ONLY || s->type == LT_T_LAZY) ? s->elem : s;
}

/* ---- json_retype.c ------------------------------------------------------------------------ */

/* For a payload key in envelope frame f (f->slot is JS_RESULT or JS_DATA) whose selector
 * (id, params.channel) has not come yet in this pass: false in a first pass (defer the
 * payload); in the second, sets f->next to the schema the resolver names for the selector the
 * first pass found and returns true. */
bool lt_jretype_select(lt_jd *d, lt_jd_frame *f);

#endif
