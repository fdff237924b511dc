/* lua_client.h — the Lua client object (luatrade.Client) shared by lua_client.c (construction,
 * awaitable calls), lua_subs.c (subscriptions) and lua_fire.c (requests sent without waiting). */
#ifndef LT_LUA_CLIENT_H
#define LT_LUA_CLIENT_H

#include <lua.h>
#include <stdbool.h>

#include "codec.h"
#include "lua_rt.h"
#include "ratelimit.h"
#include "rpc.h"
#include "ws.h"

#define LT_CLIENT_MT "luatrade.Client"
#define LT_PRIVATE_MT "luatrade.PrivateClient"
#define LT_SUB_MT "luatrade.Subscription"
#define LT_ERROR_MT "luatrade.Error"

typedef struct lt_deferred lt_deferred;
struct lt_auth;

struct lt_client {
	lt_rt *rt;
	lt_ws *ws;
	lt_rpc *rpc;
	lt_rl rl;
	bool closed, was_open, policy_error;
	bool rl_off;              /* rate_limit = "off": local benchmark servers only */
	struct lt_auth *auth;     /* private clients only (lua_private.c) */
	int tier;                 /* matching-engine tier 1..4; 0 = read from the account */
	bool logging_out;
	unsigned long long venue_rate_limited; /* 10028 answers from the venue */
	int self_ref;             /* anchors the userdata while open */
	int subs_ref;             /* table: channel -> subscription userdata */
	int state_ref;            /* client:on_state handler, or LUA_NOREF */
	int64_t timeout_ms;       /* default per-call timeout */
	int heartbeat_s;          /* public/set_heartbeat after every (re)connect; 0 = off */
	char url[256];
	unsigned long long unrouted;
	lt_deferred *deferred;    /* requests waiting for the limiter (lua_fire.c) */
	lt_waiter *throttled;     /* awaited calls waiting for the limiter */
	lt_client *prev, *next;   /* rt->clients */
};

/* The client (public or private) at idx, raising on a wrong type. */
lt_client *lt_client_check(lua_State *L, int idx);
/* Close: subscriptions end, pending calls fail with connection_lost, credentials are
 * cleansed, the connection closes. Idempotent. */
void lt_client_close(lua_State *L, lt_client *c);

/* Push nil and an error object {code, name, message, kind, retryable[, data][, retry_after]}:
 * returns 2 (the awaitable's nil, err). data_idx 0 = no data. */
int lt_push_error(lua_State *L, int64_t code, const char *message, int data_idx,
		  double retry_after);

/* Send a request without waiting for its answer (the answer is matched and dropped): used for
 * unsubscribe on close, re-subscribe and heartbeat set-up after a reconnect. The limiter is
 * consulted: when it says wait, the request is held and sent later. Never raises; params at
 * params_idx (a table) must be valid for m. Returns 0 or LT_E*. */
int lt_fire(lua_State *L, lt_client *c, const lt_method *m, int params_idx);
void lt_fire_cancel_all(lt_client *c);

/* Issue one awaited request: params at params_idx are validated and encoded now (raising an
 * error naming the parameter), the limiter is consulted (waiting in FIFO order, or failing at
 * once under policy "error"), the request is sent and the task waits. k then runs with
 * [how, value] on top (see lt_done; value is nil for timeout and loss); lt_call_result turns that into the call's returns.
 * name is the JSON-RPC method; m may be NULL for methods without a codec. */
int lt_client_request(lua_State *L, lt_client *c, lt_task *t, const lt_method *m,
		      const char *name, int params_idx, int64_t timeout_ms, lua_KFunction k,
		      lua_KContext ctx);
/* In a k of lt_client_request: pop [how, value?], push the value (1) or nil, err (2). */
int lt_call_result(lua_State *L, const char *name);
/* The per-call timeout from an optional argument (number of seconds or {timeout = s}). */
int64_t lt_call_timeout(lua_State *L, int idx, const lt_client *c);

/* Tell the client:on_state handler (if any) about a state change: it runs as a new task with
 * (state, reason). Safe to call from libwebsockets callbacks (runs in protected mode). */
void lt_client_emit_state(lt_client *c, const char *state, const char *reason);

/* Subscriptions (lua_subs.c). */
void lt_subs_open(lua_State *L);                        /* metatable, on module load */
int lt_subs_deliver(lt_client *c, const char *channel, lua_State *L); /* data on top; pops */
void lt_subs_close_all(lua_State *L, lt_client *c);     /* client closing */
void lt_subs_restore(lua_State *L, lt_client *c);       /* after a reconnect */
int lt_client_subscribe(lua_State *L);                  /* client:subscribe(...) */
int lt_sub_next(lua_State *L);                          /* core.sub_next(sub) */

#endif
