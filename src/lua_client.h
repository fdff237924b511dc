/* lua_client.h — the Lua client objects (luatrade.Client, luatrade.PrivateClient): thin
 * bindings over client.c / private.c shared by lua_client.c (construction, close, state, stats),
 * lua_call.c (awaitable calls and background requests), lua_error.c (error objects),
 * lua_private.c (private options, logout) and lua_subs.c (subscriptions). No connection or
 * authentication logic lives here: it is in client.c and private.c. */
#ifndef LT_LUA_CLIENT_H
#define LT_LUA_CLIENT_H

#include <lua.h>
#include <stdbool.h>

#include "client.h"
#include "codec.h"
#include "lua_rt.h"
#include "private.h"

#define LT_CLIENT_MT "luatrade.Client"
#define LT_PRIVATE_MT "luatrade.PrivateClient"
#define LT_SUB_MT "luatrade.Subscription"
#define LT_ERROR_MT "luatrade.Error"
#define LT_STATE_LISTENERS 8 /* client:_listen_state slots */

struct lt_client {
	lt_rt *rt;
	lt_cl *cl;     /* NULL once closed */
	lt_priv *priv; /* private clients only */
	bool closed, was_ready;
	int self_ref;       /* anchors the userdata while open */
	int subs_ref;       /* table: channel -> subscription userdata */
	int state_ref;      /* client:on_state handler, or LUA_NOREF */
	int listen_ref;     /* table: the runtime's own state listeners (client:_listen_state) */
	int64_t timeout_ms; /* default per-call timeout */
	char url[256];
	unsigned long long unrouted;
	lt_client *prev, *next; /* rt->clients */
};

/* The client (public or private) at idx, raising on a wrong type. */
lt_client *lt_client_check(lua_State *L, int idx);
/* Close: subscriptions end, waiting calls fail (not sent), sent ones with connection_lost,
 * credentials are cleansed, the connection closes. Idempotent. */
void lt_client_close(lua_State *L, lt_client *c);

/* Push an error object {code, name, message, kind, retryable, sent[, data][, retry_after]}
 * (lua_error.c). sent: false when the request never left. data_idx 0 = no data. */
void lt_push_error_obj(lua_State *L, int64_t code, const char *message, int data_idx,
		       double retry_after, bool sent);
/* nil and an error object (a request never sent): returns 2, the awaitable's nil, err. */
int lt_push_error(lua_State *L, int64_t code, const char *message, int data_idx,
		  double retry_after);
void lt_error_open(lua_State *L);

/* Issue one awaited request (lua_call.c): params at params_idx are validated and encoded now
 * (raising an error naming the parameter; a public client raises for public/auth and private
 * methods), then submitted to the client's lifecycle and the task waits. k then runs with
 * [how, value] on top: value is the result (how == LT_DONE_RESULT) or an error object;
 * lt_call_result turns that into the call's returns. m may be NULL (no codec). Returns what the
 * awaitable returns at once (nil, err) when the request is refused before waiting. */
int lt_client_request(lua_State *L, lt_client *c, lt_task *t, const lt_method *m, const char *name,
		      int params_idx, int64_t timeout_ms, lua_KFunction k, lua_KContext ctx);
/* In a k of lt_client_request: [how, value] -> value (1) or nil, err (2). */
int lt_call_result(lua_State *L);
/* The per-call timeout from an optional argument (number of seconds or {timeout = s}). */
int64_t lt_call_timeout(lua_State *L, int idx, const lt_client *c);

/* A background request whose answer only matters to the log (unsubscribe on close): the
 * limiter is consulted like for every request. Never raises; params at params_idx (a table)
 * must be valid for m. Returns 0 or LT_E*. */
int lt_fire(lua_State *L, lt_client *c, const lt_method *m, int params_idx);

/* The awaitable methods (lua_call.c): one per codec (upvalue 1: the lt_method) and call. */
int lt_l_method(lua_State *L);
int lt_l_call(lua_State *L);

/* Tell the client:on_state handler (if any) about a state change (lua_events.c): it runs as a
 * new task with (state, reason). Safe to call from libwebsockets callbacks (protected mode). */
void lt_client_emit_state(lt_client *c, const char *state, const char *reason);

/* Client options (lua_client.c), raising "option 'name' must be ...": a string (NULL when
 * absent; the options table keeps it alive) and a number in [lo, hi] (def when absent). */
const char *lt_opt_string(lua_State *L, int idx, const char *name);
double lt_opt_number(lua_State *L, int idx, const char *name, double def, double lo, double hi);

/* The private client's part (lua_private.c). */
/* Read client_id, client_secret, grant, scope, refresh_fraction, auth_timeout from the options
 * at idx and make c private (c->priv); raises a clear error for missing credentials (the
 * half-built client is released by its __gc). on_state receives the auth state events. */
void lt_private_setup(lua_State *L, lt_client *c, int idx, bool tier_auto,
		      void (*on_state)(void *ud, const char *state, const char *reason));
int lt_private_logout(lua_State *L);

/* Subscriptions (lua_subs.c). */
void lt_subs_open(lua_State *L); /* metatable, on module load */
int lt_subs_deliver(lt_client *c, const char *channel, lua_State *L); /* data on top; pops */
void lt_subs_close_all(lua_State *L, lt_client *c);                   /* client closing */
void lt_subs_restore(lua_State *L, lt_client *c);                     /* after a reconnect */
int lt_client_subscribe(lua_State *L);                                /* client:subscribe(...) */
int lt_sub_next(lua_State *L);                                        /* core.sub_next(sub) */
/* Set subscriptions, sub_queued, sub_high_water (the largest), sub_dropped, sub_resyncs of the
 * open subscriptions on the table on top (client:stats()). */
void lt_subs_stats(lua_State *L, lt_client *c);

#endif
