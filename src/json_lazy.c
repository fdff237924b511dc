/* json_lazy.c — the tape of a lazy object (json_lazy.h): built entry by entry by the
 * decoder's callbacks into scratch memory that is reused from message to message, then copied
 * into one userdata of exact size. Building makes no Lua value; the one allocation per object
 * is that userdata.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "json_decode_internal.h"
#include "json_lazy.h"

/* ---- reading a tape ------------------------------------------------------------------------ */

/* Contract in json_lazy.h. */
const char *lt_lazy_key(const lt_lazy *z, uint32_t i, size_t *len)
{
	const lt_lazy_ent *e = &z->ent[i];
	*len = e->kind_klen >> 4;
	if (e->kind_klen & LZ_KNOWN)
		return z->schema->fields[e->key].name;
	return lt_lazy_text(z) + e->key;
}

/* Contract in json_lazy.h. The scan starts where the last match ended and wraps, so a handler
 * that reads keys in the venue's order pays one comparison per read. */
int lt_lazy_find(lt_lazy *z, const char *k, size_t len)
{
	uint32_t n = z->n;
	for (uint32_t j = 0; j < n; j++) {
		uint32_t i = z->hint + j < n ? z->hint + j : z->hint + j - n;
		const lt_lazy_ent *e = &z->ent[i];
		if ((e->kind_klen >> 4) != len || lt_lazy_ent_kind(e) == LZ_DEAD)
			continue;
		size_t kl;
		if (memcmp(lt_lazy_key(z, i, &kl), k, len) == 0) {
			z->hint = i + 1 < n ? i + 1 : 0;
			return (int)i;
		}
	}
	return -1;
}

/* Contract in json_lazy.h. */
const lt_schema *lt_lazy_field_schema(const lt_lazy *z, uint32_t i)
{
	const lt_lazy_ent *e = &z->ent[i];
	return e->kind_klen & LZ_KNOWN ? z->schema->fields[e->key].schema : NULL;
}

/* ---- building ------------------------------------------------------------------------------- */

/* Room for more bytes in a scratch buffer, doubling it. */
static bool grow(unsigned char **buf, size_t *cap, size_t used, size_t more)
{
	if (*cap - used >= more)
		return true;
	if (more > UINT32_MAX - used)
		return false; /* offsets are 32-bit; a message is capped far below (ws.h) */
	size_t want = *cap ? *cap : 1024;
	while (want - used < more)
		want *= 2;
	unsigned char *p = realloc(*buf, want);
	if (!p)
		return false;
	*buf = p;
	*cap = want;
	return true;
}

void lt_lazy_begin(lt_lazy_build *b)
{
	b->n = 0;
	b->tlen = 0;
	b->seen = 0;
}

static bool add_text(lt_lazy_build *b, const char *s, size_t len, uint32_t *off)
{
	if (!grow(&b->text, &b->text_cap, b->tlen, len))
		return false;
	if (len)
		memcpy(b->text + b->tlen, s, len);
	*off = b->tlen;
	b->tlen += (uint32_t)len;
	return true;
}

/* The same key as the pending one. Known keys compare by index; a key that equals a known
 * name was matched as known by the decoder, so the two kinds never compare equal. */
static bool same_key(const lt_lazy_build *b, const lt_lazy_ent *e)
{
	const lt_lazy_ent *p = &b->pending;
	if ((e->kind_klen & ~7u) != (p->kind_klen & ~7u))
		return false;
	if (p->kind_klen & LZ_KNOWN)
		return e->key == p->key;
	return memcmp(b->text + e->key, b->text + p->key, p->kind_klen >> 4) == 0;
}

/* Contract in json_lazy.h. A key whose hash bit was seen before is looked for among the
 * earlier entries; a match becomes LZ_DEAD, so the last value is the one read. */
bool lt_lazy_add_key(lt_lazy_build *b, int field, const char *k, size_t len)
{
	unsigned bit;
	if (field >= 0) {
		b->pending.key = (uint32_t)field;
		b->pending.kind_klen = LZ_KNOWN | (uint32_t)len << 4; /* k is the field's name */
		bit = (unsigned)field & 63u;
	} else {
		if (len > UINT32_MAX >> 4 || !add_text(b, k, len, &b->pending.key))
			return false;
		b->pending.kind_klen = (uint32_t)len << 4;
		bit = len ? (unsigned)(len * 7 + (unsigned char)k[0] +
				       3u * (unsigned char)k[len - 1]) &
				      63u
			  : 0;
	}
	uint64_t m = (uint64_t)1 << bit;
	if (b->seen & m) {
		for (uint32_t i = 0; i < b->n; i++) {
			lt_lazy_ent *e = (lt_lazy_ent *)(void *)(b->ents + i * sizeof(lt_lazy_ent));
			if (lt_lazy_ent_kind(e) != LZ_DEAD && same_key(b, e))
				e->kind_klen = (e->kind_klen & ~7u) | LZ_DEAD;
		}
	}
	b->seen |= m;
	return true;
}

/* Contract in json_lazy.h. */
bool lt_lazy_add_value(lt_lazy_build *b, lt_lazy_kind kind, const char *s, size_t len)
{
	lt_lazy_ent e = b->pending;
	e.kind_klen |= (uint32_t)kind;
	e.vlen = (uint32_t)len;
	if (!add_text(b, s, len, &e.voff) ||
	    !grow(&b->ents, &b->ents_cap, b->n * sizeof e, sizeof e))
		return false;
	memcpy(b->ents + b->n * sizeof e, &e, sizeof e);
	b->n++;
	return true;
}

/* Contract in json_lazy.h. Unknown keys' offsets point into the text, which follows the
 * entries in the userdata as it does in the scratch. */
void lt_lazy_push(lua_State *L, const lt_lazy_build *b, const lt_schema *schema)
{
	size_t ents = (size_t)b->n * sizeof(lt_lazy_ent);
	lua_createtable(L, 0, 1);
	lt_lazy *z = lua_newuserdatauv(L, sizeof *z + ents + b->tlen, 1);
	z->schema = schema;
	z->n = b->n;
	z->hint = 0;
	if (ents)
		memcpy(z->ent, b->ents, ents);
	if (b->tlen)
		memcpy((char *)(z->ent + z->n), b->text, b->tlen);
	lt_lazy_attach(L);
}

void lt_lazy_build_free(lt_lazy_build *b)
{
	free(b->ents);
	free(b->text);
	memset(b, 0, sizeof *b);
}

/* Contract in codec.h. */
lt_schema lt_lazy_schema(const lt_schema *s) { return (lt_schema){LT_T_LAZY, NULL, s, 0}; }
