/* lua_secret.h — the Lua secret type (lua_secret.c). */
#ifndef LT_LUA_SECRET_H
#define LT_LUA_SECRET_H

#include <lua.h>

#include "secret.h"

/* Register luatrade.Secret and put {env, file} at field "secret" of the table on top. */
void lt_lua_secret_open(lua_State *L);
/* The secret held by the userdata at idx, or NULL if it is not a secret. */
const lt_secret *lt_lua_secret(lua_State *L, int idx);
/* A new copy of the credential at idx (a secret, or a plain string — with a warning naming
 * `what`, never the value); NULL if neither. The caller frees it. */
lt_secret *lt_lua_secret_copy(lua_State *L, int idx, const char *what);
/* Push a new secret holding bytes. */
int lt_lua_secret_push(lua_State *L, const char *bytes, size_t n);

#endif
