/* lua_subs.c — subscriptions: client:subscribe, delivery of notifications in order to one
 * handler task per subscription (the "pump", lua/luatrade/init.lua), close/unsubscribe, and
 * re-subscription after a reconnect.
 *
 * A subscription is a userdata with two user values: its channel list and a FIFO queue of
 * messages not yet taken by its pump. While the pump waits in sub_next, a message is handed
 * straight to it (moved onto its stack) with no queueing. The client's channel map (channel ->
 * subscription) routes notifications and lists what to restore after a reconnect.
 */
#include <lauxlib.h>
#include <string.h>

#include "errors.h"
#include "lua_client.h"

typedef struct lt_sub {
	lt_client *c;          /* NULL once closed */
	lt_task *waiter;       /* the pump, while it waits for a message */
	lua_Integer qhead, qtail;
} lt_sub;

static const char PUMP_KEY = 'p';

/* The subscribe/unsubscribe method a client uses: private clients may mix user.* channels. */
static const lt_method *sub_method(const lt_client *c, bool subscribe)
{
	if (c->auth)
		return lt_method_find(subscribe ? "private/subscribe" : "private/unsubscribe");
	return lt_method_find(subscribe ? "public/subscribe" : "public/unsubscribe");
}

static lt_sub *check_sub(lua_State *L, int idx) { return luaL_checkudata(L, idx, LT_SUB_MT); }

/* Push the client's channel map. */
static void push_map(lua_State *L, lt_client *c) { lua_rawgeti(L, LUA_REGISTRYINDEX, c->subs_ref); }

static void unregister(lua_State *L, lt_sub *s, int sub_idx)
{
	sub_idx = lua_absindex(L, sub_idx);
	push_map(L, s->c);
	lua_getiuservalue(L, sub_idx, 1);
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		lua_pushnil(L);
		lua_rawset(L, -4);
	}
	lua_pop(L, 3);
}

static void sub_close(lua_State *L, int sub_idx, bool unsubscribe)
{
	sub_idx = lua_absindex(L, sub_idx);
	lt_sub *s = check_sub(L, sub_idx);
	if (!s->c)
		return;
	lt_client *c = s->c;
	if (!c->closed) {
		unregister(L, s, sub_idx);
		if (unsubscribe) {
			lua_createtable(L, 0, 1);
			lua_getiuservalue(L, sub_idx, 1);
			if (lua_rawlen(L, -1) > 0) {
				lua_setfield(L, -2, "channels");
				lt_fire(L, c, sub_method(c, false), -1);
			} else
				lua_pop(L, 1);
			lua_pop(L, 1);
		}
	}
	s->c = NULL;
	lua_newtable(L); /* drop undelivered messages */
	lua_setiuservalue(L, sub_idx, 2);
	s->qhead = s->qtail = 1;
	if (s->waiter) {
		lt_task *w = s->waiter;
		s->waiter = NULL;
		lua_pushnil(L);
		lt_task_wake(w, L, 1);
	}
}

int lt_subs_deliver(lt_client *c, const char *channel, lua_State *L)
{
	push_map(L, c);
	if (lua_getfield(L, -1, channel) != LUA_TUSERDATA) {
		lua_pop(L, 3);
		return -1;
	}
	lt_sub *s = lua_touserdata(L, -1);
	if (s->waiter) {
		lt_task *w = s->waiter;
		s->waiter = NULL;
		lua_pop(L, 2);
		lt_task_wake(w, L, 1);
		return 0;
	}
	lua_getiuservalue(L, -1, 2);    /* data map sub queue */
	lua_rotate(L, -4, -1);          /* map sub queue data */
	lua_rawseti(L, -2, s->qtail++);
	lua_pop(L, 3);
	return 0;
}

static void cancel_wait(void *obj, int64_t id)
{
	(void)id;
	((lt_sub *)obj)->waiter = NULL;
}

static int k_next(lua_State *L, int status, lua_KContext ctx)
{
	(void)L;
	(void)status;
	(void)ctx;
	return 1;
}

/* core.sub_next(sub) — the next message, waiting for one; nil once the subscription is closed. */
int lt_sub_next(lua_State *L)
{
	lt_sub *s = check_sub(L, 1);
	if (s->qhead < s->qtail) {
		lua_getiuservalue(L, 1, 2);
		lua_rawgeti(L, -1, s->qhead);
		lua_pushnil(L);
		lua_rawseti(L, -3, s->qhead++);
		if (s->qhead == s->qtail)
			s->qhead = s->qtail = 1;
		return 1;
	}
	if (!s->c) {
		lua_pushnil(L);
		return 1;
	}
	lt_task *t = lt_task_require(L, "sub_next");
	s->waiter = t;
	return lt_task_await(L, t, cancel_wait, s, 0, k_next, 0);
}

/* Channels accepted by the venue (result array at idx): drop the others from the sub. */
static int keep_accepted(lua_State *L, int sub_idx, int result_idx, int rejected_idx)
{
	lt_sub *s = check_sub(L, sub_idx);
	lua_getiuservalue(L, sub_idx, 1);
	int list = lua_gettop(L);
	lua_newtable(L);
	int kept = 0;
	for (lua_Integer i = 1; lua_rawgeti(L, list, i) == LUA_TSTRING; i++) {
		bool ok = false;
		for (lua_Integer j = 1; !ok; j++) {
			bool end = lua_rawgeti(L, result_idx, j) == LUA_TNIL;
			ok = !end && lua_rawequal(L, -1, -2);
			lua_pop(L, 1);
			if (end)
				break;
		}
		lua_pop(L, 1);
		if (ok) {
			lua_rawgeti(L, list, i);
			lua_rawseti(L, -2, ++kept);
		} else {
			push_map(L, s->c);
			lua_rawgeti(L, list, i);
			lua_pushnil(L);
			lua_rawset(L, -3);
			lua_pop(L, 1);
			lua_rawgeti(L, list, i);
			lua_rawseti(L, rejected_idx, (lua_Integer)lua_rawlen(L, rejected_idx) + 1);
		}
	}
	lua_pop(L, 1);
	lua_setiuservalue(L, sub_idx, 1);
	lua_pop(L, 1);
	return kept;
}

/* Stack in k: 1 self, 2 channels, 3 handler, 4 opts, 5 params, 6 sub, then [how, value]. */
static int k_subscribed(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	if (lua_tointeger(L, -2) != 0 /* LT_DONE_RESULT */ || !lua_istable(L, -1)) {
		lt_sub *s = check_sub(L, 6);
		if (s->c && !s->c->closed)
			unregister(L, s, 6);
		s->c = NULL;
		return lt_call_result(L, sub_method(lt_client_check(L, 1), true)->name);
	}
	lua_newtable(L);
	int rejected = lua_gettop(L);
	if (keep_accepted(L, 6, rejected - 1, rejected) == 0) {
		sub_close(L, 6, false);
		return lt_push_error(L, LT_CODE_SUB_REJECTED,
				     "the venue accepted none of the channels", rejected, 0);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &PUMP_KEY);
	lua_pushvalue(L, 6);
	lua_pushvalue(L, 3);
	lt_task_spawn(lt_rt_get(L), L, lua_gettop(L) - 2, 2);
	lua_pushvalue(L, 6);
	if (lua_rawlen(L, rejected) > 0) {
		lua_pushvalue(L, rejected);
		return 2;
	}
	return 1;
}

/* Build params {channels = {...}} from a string or a list of strings at idx. */
static void push_params(lua_State *L, int idx)
{
	lua_createtable(L, 0, 1);
	lua_newtable(L);
	if (lua_type(L, idx) == LUA_TSTRING) {
		lua_pushvalue(L, idx);
		lua_rawseti(L, -2, 1);
	} else if (lua_istable(L, idx)) {
		for (lua_Integer i = 1; lua_rawgeti(L, idx, i) != LUA_TNIL; i++)
			lua_rawseti(L, -2, i);
		lua_pop(L, 1);
	} else
		luaL_error(L, "subscribe: channels: expected a string or a list of strings");
	lua_setfield(L, -2, "channels");
}

int lt_client_subscribe(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lt_task *t = lt_task_require(L, "subscribe");
	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 4);
	int64_t timeout = lt_call_timeout(L, 4, c);
	if (c->closed)
		return lt_push_error(L, LT_CODE_NOT_CONNECTED, "client is closed", 0, 0);
	const lt_method *m = sub_method(c, true);
	push_params(L, 2);                                      /* 5 */
	lt_buf scratch;
	lt_buf_init(&scratch, 0);
	lt_err err = {0, ""};
	int rc = lt_method_encode(L, 5, m, 0, &scratch, &err);  /* validate before registering */
	lt_buf_free(&scratch);
	if (rc)
		return luaL_error(L, "subscribe: %s", err.msg);
	lt_sub *s = lua_newuserdatauv(L, sizeof *s, 2);         /* 6 */
	s->c = c;
	s->waiter = NULL;
	s->qhead = s->qtail = 1;
	luaL_setmetatable(L, LT_SUB_MT);
	lua_getfield(L, 5, "channels");
	lua_setiuservalue(L, 6, 1);
	lua_newtable(L);
	lua_setiuservalue(L, 6, 2);
	push_map(L, c);
	lua_getfield(L, 5, "channels");
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		lua_pushvalue(L, -1);
		if (lua_rawget(L, -4) != LUA_TNIL) {
			s->c = NULL;
			return luaL_error(L, "subscribe: channel '%s' is already subscribed on this "
					  "client", lua_tostring(L, -2));
		}
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		lua_pushvalue(L, 6);
		lua_rawset(L, -4);
	}
	lua_pop(L, 3);
	return lt_client_request(L, c, t, m, m->name, 5, timeout, k_subscribed, 0);
}

void lt_subs_close_all(lua_State *L, lt_client *c)
{
	push_map(L, c);
	int map = lua_gettop(L);
	for (;;) { /* closing a sub removes its channels, so restart from the first key each time */
		lua_pushnil(L);
		if (!lua_next(L, map))
			break;
		lt_sub *s = lua_touserdata(L, -1);
		if (!s || !s->c) { /* cannot happen; never loop forever */
			lua_pop(L, 1);
			lua_pushnil(L);
			lua_rawset(L, map);
			continue;
		}
		sub_close(L, -1, false);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}

void lt_subs_restore(lua_State *L, lt_client *c)
{
	const lt_method *m = sub_method(c, true);
	push_map(L, c);
	int map = lua_gettop(L);
	lua_createtable(L, 0, 1);
	lua_newtable(L);
	lua_Integer n = 0;
	lua_pushnil(L);
	while (lua_next(L, map)) {
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_rawseti(L, -3, ++n);
		if (n == 500) { /* the venue takes at most 500 channels per call (deribit-api.md §4) */
			lua_pushvalue(L, -2);
			lua_setfield(L, -4, "channels");
			lt_fire(L, c, m, -3);
			lua_newtable(L);
			lua_replace(L, -3);
			n = 0;
		}
	}
	if (n > 0) {
		lua_setfield(L, -2, "channels");
		lt_fire(L, c, m, -1);
		lua_pop(L, 2);
	} else
		lua_pop(L, 3);
}

static int l_sub_close(lua_State *L)
{
	sub_close(L, 1, true);
	return 0;
}

static int l_sub_channels(lua_State *L)
{
	check_sub(L, 1);
	lua_getiuservalue(L, 1, 1);
	lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
	lua_createtable(L, (int)n, 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -2, i);
		lua_rawseti(L, -2, i);
	}
	return 1;
}

static int l_sub_tostring(lua_State *L)
{
	lt_sub *s = check_sub(L, 1);
	lua_getiuservalue(L, 1, 1);
	lua_rawgeti(L, -1, 1);
	lua_pushfstring(L, "luatrade.Subscription(%s%s, %s)", luaL_optstring(L, -1, "-"),
			lua_rawlen(L, -2) > 1 ? ", ..." : "", s->c ? "open" : "closed");
	return 1;
}

static int l_set_pump(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &PUMP_KEY);
	return 0;
}

void lt_subs_open(lua_State *L)
{
	static const luaL_Reg meths[] = {{"close", l_sub_close}, {"channels", l_sub_channels},
					 {NULL, NULL}};
	if (luaL_newmetatable(L, LT_SUB_MT)) {
		luaL_newlib(L, meths);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_sub_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_sub_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, lt_sub_next);
	lua_setfield(L, -2, "sub_next");
	lua_pushcfunction(L, l_set_pump);
	lua_setfield(L, -2, "_set_pump");
}
