/* json_arena.c — the decoder's per-Lua-state box (json_decode_internal.h): a registry
 * userdata holding the yajl handle of the call in progress, the memory arena that handle
 * lives in, and (as its user value) the field-name cache of json_decode.c.
 *
 * The handle lives in the box for the duration of a call, so a Lua memory error raised from
 * inside a callback does not leak it: the next call (or the box's __gc at lua_close) frees it.
 * Its memory comes from the arena, so a parse normally costs no malloc/free. What yajl copied
 * into it may be a token, so the arena is cleansed when the handle is freed, unless the caller
 * knows no string text reached it; heap blocks are cleansed whenever they are freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/crypto.h>

#include "json_decode_internal.h"
#include "json_lazy.h"

static const char box_key = 'j'; /* registry key: its address */

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
#define AHDR ((sizeof(size_t) + ALIGN - 1) / ALIGN * ALIGN) /* size header of every block */

struct lt_jarena {
	yajl_handle h;      /* the handle of the call in progress, NULL between calls */
	size_t used;        /* arena bytes handed out since the last parse started */
	lt_lazy_build lazy; /* scratch of the lazy object a parse builds (json_lazy.c) */
	union {
		word align;
		unsigned char arena[ARENA];
	};
};

/* yajl's allocator. Every block has a size header. Blocks for the handle of one parse come
 * from the box's arena, so a parse normally costs no malloc/free; what does not fit goes to
 * the heap. Freeing an arena block does nothing: the arena is emptied (and cleansed) when the
 * handle is freed (release), so a handle stranded by a Lua error is still intact when the next
 * call or __gc frees it. Heap blocks are cleansed when freed or moved by a realloc. Cleansing
 * matters because yajl copies string text into its buffers (an escaped string is unescaped
 * into its decode buffer; input that ends inside a token leaves the partial token in the
 * lexer's buffer) and that text may be an access token. */
static bool in_arena(lt_jarena *b, void *p)
{
	return (uintptr_t)p >= (uintptr_t)b->arena && (uintptr_t)p < (uintptr_t)(b->arena + ARENA);
}

static size_t block_size(void *p)
{
	size_t n;
	memcpy(&n, (unsigned char *)p - AHDR, sizeof n);
	return n;
}

static void *heap_malloc(size_t n)
{
	if (n > SIZE_MAX - AHDR)
		return NULL;
	unsigned char *p = malloc(AHDR + n);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof n);
	return p + AHDR;
}

static void heap_free(void *p)
{
	OPENSSL_cleanse(p, block_size(p));
	free((unsigned char *)p - AHDR);
}

static void *arena_malloc(void *ctx, size_t n)
{
	lt_jarena *b = ctx;
	if (n <= ARENA) {
		size_t need = AHDR + (n + ALIGN - 1) / ALIGN * ALIGN;
		if (ARENA - b->used >= need) {
			unsigned char *p = b->arena + b->used;
			memcpy(p, &n, sizeof n);
			b->used += need;
			return p + AHDR;
		}
	}
	return heap_malloc(n);
}

/* Grows only (yajl never shrinks a block); the old block's bytes are copied, then a heap block
 * is cleansed and freed, an arena block is left for release. */
static void *arena_realloc(void *ctx, void *p, size_t n)
{
	if (!p)
		return arena_malloc(ctx, n);
	size_t old = block_size(p);
	if (n <= old)
		return p;
	void *q = arena_malloc(ctx, n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	if (!in_arena(ctx, p))
		heap_free(p);
	return q;
}

static void arena_free(void *ctx, void *p)
{
	if (p && !in_arena(ctx, p))
		heap_free(p);
}

/* Free the handle (if any) and empty the arena it used, cleansing it unless told it holds no
 * string text. */
static void release(lt_jarena *b, bool cleanse)
{
	if (b->h) {
		yajl_handle h = b->h;
		b->h = NULL;
		yajl_free(h);
	}
	if (cleanse)
		OPENSSL_cleanse(b->arena, b->used);
	b->used = 0;
}

static int box_gc(lua_State *L)
{
	lt_jarena *b = lua_touserdata(L, 1);
	if (b) {
		release(b, true);
		lt_lazy_build_free(&b->lazy);
	}
	return 0;
}

/* The user value is the field-name cache, so a known key is pushed as an existing string
 * instead of hashed and interned again in every message. */
lt_jarena *lt_jarena_push(lua_State *L)
{
	lt_jarena *b;
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
	memset(&b->lazy, 0, sizeof b->lazy);
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

yajl_handle lt_jarena_open(lt_jarena *b, const yajl_callbacks *cb, void *ctx)
{
	release(b, true); /* a handle left by a call that a Lua memory error interrupted */
	yajl_alloc_funcs af = {arena_malloc, arena_realloc, arena_free, b};
	b->h = yajl_alloc(cb, &af, ctx);
	return b->h;
}

void lt_jarena_close(lt_jarena *b, bool text) { release(b, text); }

lt_lazy_build *lt_jarena_lazy(lt_jarena *b) { return &b->lazy; }
