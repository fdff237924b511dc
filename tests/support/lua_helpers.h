/* lua_helpers.h — small helpers for C unit tests that decode venue JSON into Lua: load a
 * fixture file, make a Lua state, read a value by a dotted path, and assert a value together
 * with its math.type. Failures are cmocka failures naming the path; include <cmocka.h> (with
 * its usual <stdarg.h>, <stddef.h>, <stdint.h>, <setjmp.h>) before this header.
 */
#ifndef LT_TEST_LUA_HELPERS_H
#define LT_TEST_LUA_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <lua.h>

/* Read dir/name into a malloc'ed buffer (NUL-terminated, *len excludes the NUL); fails the
 * test if the file cannot be read. The caller frees it. */
char *lt_test_read_file(const char *dir, const char *name, size_t *len);

/* lt_test_fixture("ws_ticker.json", &len): a file from tests/fixtures (LT_FIXTURES is defined
 * for test binaries by the Makefile). */
#ifdef LT_FIXTURES
#define lt_test_fixture(name, lenp) lt_test_read_file(LT_FIXTURES, (name), (lenp))
#endif

/* A fresh state with the standard libraries; fails the test on allocation failure. */
lua_State *lt_test_lua_new(void);

/* Push the value found by walking the table at idx along path, '.'-separated: "stats.high",
 * "bids.1.2" (all-digit parts index arrays), "" for the value itself. Pushes nil when a step
 * is missing or not a table. Returns the pushed value's lua_type. Reads as a handler does
 * (metamethods honoured: a lazy notification's fields are decoded here). */
int lt_test_push_path(lua_State *L, int idx, const char *path);

/* "integer", "float", or NULL for a non-number: Lua's math.type of the value at idx. */
const char *lt_test_math_type(lua_State *L, int idx);

/* Assert the value at path (see lt_test_push_path) is a Lua integer equal to v, a Lua float
 * equal to v (bitwise-equal compare of doubles, so 0.0 and -0.0 differ), a string equal to s,
 * a boolean equal to b, the null sentinel (lightuserdata NULL), or absent (nil). */
void lt_test_assert_int(lua_State *L, int idx, const char *path, lua_Integer v);
void lt_test_assert_float(lua_State *L, int idx, const char *path, double v);
void lt_test_assert_str(lua_State *L, int idx, const char *path, const char *s);
void lt_test_assert_bool(lua_State *L, int idx, const char *path, int b);
void lt_test_assert_null(lua_State *L, int idx, const char *path);
void lt_test_assert_absent(lua_State *L, int idx, const char *path);

/* True if the values at a and b are deeply equal: same types, same math.type for numbers,
 * same keys and values in tables, walked as a handler walks them (pairs, honouring __pairs,
 * and reads honouring __index: a lazy notification is compared field by field); *why names
 * the first difference. The stack is left as it was; raises what a metamethod raises.
 * Example: `char why[256]; if (!lt_test_same(L, -1, -2, why, sizeof why)) abort();` */
bool lt_test_same(lua_State *L, int a, int b, char *why, size_t whylen);

/* Assert lt_test_same(a, b), failing the test with its why. */
void lt_test_assert_same(lua_State *L, int a, int b);

#endif
