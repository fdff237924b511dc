/* json_arena.c — the decoder's per-Lua-state box (json_decode_internal.h): a registry
 * userdata holding the yajl handle of the call in progress, the memory arena that handle
 * lives in, and (as its user value) the field-name cache of json_decode.c.
 *
 * The handle lives in the box for the duration of a call, so a Lua memory error raised from
 * inside a callback does not leak it: the next call (or the box's __gc at lua_close) frees it.
 * Its memory comes from the arena, so a parse normally costs no malloc/free.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "json_decode_internal.h"

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

struct lt_jarena {
	yajl_handle h;  /* the handle of the call in progress, NULL between calls */
	size_t used;    /* arena bytes handed out since the last parse started */
	union {
		word align;
		unsigned char arena[ARENA];
	};
};

/* yajl's allocator: blocks for the handle of one parse come from the box's arena (a size
 * header, then the block), so a parse costs no malloc/free; what does not fit goes to the
 * heap. Freeing an arena block does nothing: lt_jarena_open empties the arena before each
 * parse, once the previous handle is freed (so a handle stranded by a Lua error is still intact
 * when the next call or __gc frees it). */
static bool in_arena(lt_jarena *b, void *p)
{
	return (uintptr_t)p >= (uintptr_t)b->arena && (uintptr_t)p < (uintptr_t)(b->arena + ARENA);
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
	lt_jarena *b = lua_touserdata(L, 1);
	if (b && b->h) {
		yajl_free(b->h);
		b->h = NULL;
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
	if (b->h) {  /* left by a call that a Lua memory error interrupted */
		yajl_free(b->h);
		b->h = NULL;
	}
	b->used = 0;
	yajl_alloc_funcs af = {arena_malloc, arena_realloc, arena_free, b};
	b->h = yajl_alloc(cb, &af, ctx);
	return b->h;
}

void lt_jarena_close(lt_jarena *b)
{
	yajl_handle h = b->h;
	b->h = NULL;
	yajl_free(h);
}
