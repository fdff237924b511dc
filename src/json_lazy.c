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
	*len = lt_lazy_klen(e);
	if (e->meta & LZ_KNOWN)
		return z->schema->fields[(e->meta >> 4) & LZ_MAX_FIELD].name;
	return lt_lazy_text(z) + e->off;
}

/* Contract in json_lazy.h. The scan starts where the last match ended and wraps, so a handler
 * that reads keys in the venue's order pays one comparison per read. */
int lt_lazy_find(lt_lazy *z, const char *k, size_t len)
{
	uint32_t n = z->n;
	for (uint32_t j = 0; j < n; j++) {
		uint32_t i = z->hint + j < n ? z->hint + j : z->hint + j - n;
		const lt_lazy_ent *e = &z->ent[i];
		if (lt_lazy_klen(e) != len || lt_lazy_ent_kind(e) == LZ_DEAD)
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
	return e->meta & LZ_KNOWN ? z->schema->fields[(e->meta >> 4) & LZ_MAX_FIELD].schema : NULL;
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

static bool add_text(lt_lazy_build *b, const char *s, size_t len)
{
	if (!grow(&b->text, &b->text_cap, b->tlen, len))
		return false;
	if (len)
		memcpy(b->text + b->tlen, s, len);
	b->tlen += (uint32_t)len;
	return true;
}

/* The same key as the pending one. Known keys compare by index; a key that equals a known
 * name was matched as known by the decoder, so the two kinds never compare equal. */
static bool same_key(const lt_lazy_build *b, const lt_lazy_ent *e)
{
	const lt_lazy_ent *p = &b->pending;
	if ((e->meta & ~7u) != (p->meta & ~7u))
		return false;
	return (p->meta & LZ_KNOWN) ||
	       memcmp(b->text + e->off, b->text + p->off, p->meta >> 4) == 0;
}

/* Contract in json_lazy.h. A key whose hash bit was seen before is looked for among the
 * earlier entries; a match becomes LZ_DEAD, so the last value is the one read. */
bool lt_lazy_add_key(lt_lazy_build *b, int field, const char *k, size_t len)
{
	unsigned bit;
	b->pending.off = b->tlen;
	if (field >= 0 && (unsigned)field <= LZ_MAX_FIELD && len <= UINT32_MAX >> 16) {
		/* k is the field's name (past these bounds, which no schema reaches, it is kept as
		 * text, and its value is then typed as LT_T_ANY) */
		b->pending.meta = LZ_KNOWN | (uint32_t)field << 4 | (uint32_t)len << 16;
		bit = (unsigned)field & 63u;
	} else {
		if (len > UINT32_MAX >> 4 || !add_text(b, k, len))
			return false;
		b->pending.meta = (uint32_t)len << 4;
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
				e->meta = (e->meta & ~7u) | LZ_DEAD;
		}
	}
	b->seen |= m;
	return true;
}

/* Contract in json_lazy.h. */
bool lt_lazy_add_value(lt_lazy_build *b, lt_lazy_kind kind, const char *s, size_t len)
{
	lt_lazy_ent e = b->pending;
	e.meta |= (uint32_t)kind;
	if (!add_text(b, s, len) || !grow(&b->ents, &b->ents_cap, b->n * sizeof e, sizeof e))
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
	z->tlen = b->tlen;
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
