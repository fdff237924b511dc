/* lua_private.h — what makes a client private (lua_private.c): credentials held as secrets,
 * public/auth on every (re)connect, token refresh before expiry, private calls held until
 * authenticated, a sticky auth-failed state, logout. */
#ifndef LT_LUA_PRIVATE_H
#define LT_LUA_PRIVATE_H

#include "lua_client.h"

typedef struct lt_auth lt_auth;

enum { LT_AUTH_NONE = 0, LT_AUTH_PENDING, LT_AUTH_OK, LT_AUTH_FAILED };

/* Read client_id, client_secret, grant, scope, refresh_fraction, auth_timeout from the options
 * at idx into a new lt_auth on c; raises a clear error for missing credentials. */
void lt_private_setup(lua_State *L, lt_client *c, int idx);
/* Cleanse the credentials and tokens, stop timers, fail waiting calls. Accepts c->auth NULL. */
void lt_private_free(lua_State *L, lt_client *c);
/* Connection events: authenticate after every open; forget the session on a drop. */
void lt_private_on_open(lt_client *c);
void lt_private_on_drop(lt_client *c);
int lt_private_state(const lt_client *c);   /* LT_AUTH_* */
/* Successful authentications and token refreshes so far (client:stats()). */
void lt_private_counts(const lt_client *c, unsigned long long *auths,
		       unsigned long long *refreshes);
const char *lt_private_state_name(const lt_client *c);

/* In lt_client_request: for a private method on a private client that is not authenticated,
 * wait for authentication (bounded by timeout_ms) and then continue the request; returns -1
 * when the caller may go on at once. */
int lt_private_gate(lua_State *L, lt_client *c, lt_task *t, const lt_method *m, const char *name,
		    int params_idx, int64_t timeout_ms, lua_KFunction k, lua_KContext ctx);

/* priv:logout([invalidate_token]) (awaitable): the venue answers by closing the socket. */
int lt_private_logout(lua_State *L);

#endif
