/* json_lazy.h — lazy objects: a venue JSON object kept as a compact tape and made into Lua
 * values only when a handler reads them (codec.h: lt_lazy_schema; README "Messages are
 * lazy").
 *
 *   json_lazy.c  the tape: built by the decoder's callbacks, one luatrade.object userdata
 *   lua_lazy.c   what Lua sees: __index, __newindex, __pairs, and lt.plain
 *
 * A tape holds one entry per key of the object, in the order the venue sent them, and the
 * text of every value: a number's text, a string's unescaped bytes, a nested object or array's
 * raw JSON. A value becomes a Lua value on each read (numbers typed by the field's schema, as
 * the full decode types them); a nested container is decoded in full on its first read and
 * kept, so it is the same table on every read. A repeated key keeps its last value, as in the
 * full decode.
 *
 * The object Lua sees is a real table (type() is "table") that holds only the tape userdata,
 * under a private light-userdata key, and has the lazy metatable. Writes to the tape's keys go
 * to an overlay table (the tape's user value: values, tombstones for nil, nested containers),
 * which reads see first; writes to other keys go into the table itself, so # and raw access
 * see them as on any table.
 */
#ifndef LT_JSON_LAZY_H
#define LT_JSON_LAZY_H

#include <stdbool.h>
#include <stdint.h>

#include <lua.h>

#include "codec.h"

#define LT_LAZY_MT "luatrade.object" /* the metatable's registry name and __name */

typedef enum {
	LZ_NULL,
	LZ_TRUE,
	LZ_FALSE,
	LZ_NUM,  /* text: the number as sent */
	LZ_STR,  /* text: the unescaped, UTF-8-checked bytes */
	LZ_OBJ,  /* text: the raw JSON of the object */
	LZ_ARR,  /* text: the raw JSON of the array */
	LZ_DEAD, /* a key the object repeats later: the later entry holds the value */
} lt_lazy_kind;

#define LZ_KNOWN 0x8u      /* flag in meta: the key is a field of the schema */
#define LZ_MAX_FIELD 4095u /* field indexes fit 12 bits (the largest schema has under 100) */

/* An entry: 8 bytes. Its bytes in the text start at off: an unknown key's text, then the
 * value's text, which ends where the next entry's bytes start (the last one's at tlen). */
typedef struct lt_lazy_ent {
	uint32_t off;
	uint32_t meta; /* kind (low 3 bits), LZ_KNOWN; known: field index << 4, key length << 16;
			* unknown: key length << 4 */
} lt_lazy_ent;

/* The userdata: header, n entries, then the text. */
typedef struct lt_lazy {
	const lt_schema *schema; /* LT_T_OBJECT with fields (static), or NULL: keys all in text */
	uint32_t n;
	uint32_t hint; /* where the next key lookup starts */
	uint32_t tlen; /* the text's length */
	lt_lazy_ent ent[];
} lt_lazy;

static inline lt_lazy_kind lt_lazy_ent_kind(const lt_lazy_ent *e)
{
	return (lt_lazy_kind)(e->meta & 7u);
}

static inline size_t lt_lazy_klen(const lt_lazy_ent *e)
{
	return e->meta & LZ_KNOWN ? e->meta >> 16 : e->meta >> 4;
}

static inline const char *lt_lazy_text(const lt_lazy *z) { return (const char *)(z->ent + z->n); }

/* Entry i's value text and its length. */
static inline const char *lt_lazy_value(const lt_lazy *z, uint32_t i, size_t *len)
{
	const lt_lazy_ent *e = &z->ent[i];
	uint32_t start = e->off + (e->meta & LZ_KNOWN ? 0 : e->meta >> 4);
	*len = (i + 1 < z->n ? z->ent[i + 1].off : z->tlen) - start;
	return lt_lazy_text(z) + start;
}

/* Entry i's key: its bytes and length. */
const char *lt_lazy_key(const lt_lazy *z, uint32_t i, size_t *len);
/* The entry for key k[0..len), or -1 (repeated keys: the last; LZ_DEAD entries never). */
int lt_lazy_find(lt_lazy *z, const char *k, size_t len);
/* The schema entry i's value is typed by (NULL = ANY). */
const lt_schema *lt_lazy_field_schema(const lt_lazy *z, uint32_t i);

/* ---- building (json_decode.c's callbacks; the scratch lives in the decoder's box) ---------- */

typedef struct lt_lazy_build {
	unsigned char *ents, *text; /* scratch, grown by doubling, kept for the next message */
	size_t ents_cap, text_cap;
	uint32_t n, tlen;
	uint64_t seen;       /* a bit per key hash: a key seen before may repeat */
	lt_lazy_ent pending; /* the key of the value to come (its off: where its bytes start) */
} lt_lazy_build;

/* Start a tape. */
void lt_lazy_begin(lt_lazy_build *b);
/* A key: the schema's field index (>= 0; k is then that field's name) or -1, with its text.
 * False when out of memory. */
bool lt_lazy_add_key(lt_lazy_build *b, int field, const char *k, size_t len);
/* The value of the pending key, with its text (NULL/0 for null, true, false). False when out
 * of memory. */
bool lt_lazy_add_value(lt_lazy_build *b, lt_lazy_kind kind, const char *s, size_t len);
/* Push the object: a table holding one userdata with the tape, its metatable set. Raises on
 * a memory error. */
void lt_lazy_push(lua_State *L, const lt_lazy_build *b, const lt_schema *schema);
/* Free the scratch. */
void lt_lazy_build_free(lt_lazy_build *b);

/* ---- Lua (lua_lazy.c) --------------------------------------------------------------------- */

/* The table below the tape userdata on top becomes its lazy object: the userdata is stored
 * under the private key and popped, the metatable (made on first use) is set. */
void lt_lazy_attach(lua_State *L);
/* The tape of the lazy object at idx, or NULL (not a lazy object). */
lt_lazy *lt_lazy_test(lua_State *L, int idx);
/* core.plain (lt.plain; doc comment in lua_lazy.c). */
int lt_lua_plain(lua_State *L);

#endif
