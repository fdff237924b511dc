/* lua_event.c — core._event(): a one-shot event for the runtime's Lua layer. One task waits
 * for values another task sets, e.g. a strategy task waits for the answer of an order call
 * that a runtime task makes, so that the answer still reaches the order tracking when the
 * strategy task is ended by a reload.
 *
 *     local ev = core._event()
 *     lt.spawn(function() ev:set(pub:ticker{ instrument_name = "BTC-PERPETUAL" }) end)
 *     local t, err = ev:wait()          -- awaitable: the values given to set
 *
 * Errors: wait raises outside a task, when another task already waits, and (like every
 * awaitable) in a task whose group was cancelled; set raises when called twice. No rate limit
 * applies. The values are kept (user value 1) until the event is collected. */
#include <lauxlib.h>
#include <string.h>

#include "lua_rt.h"

#define EVENT_MT "luatrade.Event"

typedef struct lt_event {
	lt_task *waiter;
	bool set;
} lt_event;

static lt_event *check_event(lua_State *L) { return luaL_checkudata(L, 1, EVENT_MT); }

/* Push the values set on the event at 1; returns how many. */
static int push_values(lua_State *L)
{
	lua_getiuservalue(L, 1, 1);
	int t = lua_gettop(L);
	lua_Integer n = (lua_rawgeti(L, t, 0), lua_tointeger(L, -1));
	lua_pop(L, 1);
	luaL_checkstack(L, (int)n, "event: too many values");
	for (lua_Integer i = 1; i <= n; i++)
		lua_rawgeti(L, t, i);
	lua_remove(L, t);
	return (int)n;
}

static int k_wait(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return push_values(L);
}

static void cancel_wait(void *obj, int64_t id)
{
	(void)id;
	((lt_event *)obj)->waiter = NULL;
}

static int l_wait(lua_State *L)
{
	lt_event *e = check_event(L);
	lua_settop(L, 1);
	lt_task *t = lt_task_require(L, "event:wait");
	if (e->set)
		return push_values(L);
	if (e->waiter)
		return luaL_error(L, "event:wait: another task is already waiting");
	e->waiter = t;
	return lt_task_await(L, t, cancel_wait, e, 0, k_wait, 0);
}

static int l_set(lua_State *L)
{
	lt_event *e = check_event(L);
	if (e->set)
		return luaL_error(L, "event:set: already set");
	int n = lua_gettop(L) - 1;
	lua_createtable(L, n, 1);
	for (int i = 1; i <= n; i++) {
		lua_pushvalue(L, i + 1);
		lua_rawseti(L, -2, i);
	}
	lua_pushinteger(L, n);
	lua_rawseti(L, -2, 0);
	lua_setiuservalue(L, 1, 1);
	e->set = true;
	if (e->waiter) {
		lt_task *w = e->waiter;
		e->waiter = NULL;
		lt_task_wake(w, L, 0);
	}
	return 0;
}

static int l_is_set(lua_State *L)
{
	lua_pushboolean(L, check_event(L)->set);
	return 1;
}

static int l_event(lua_State *L)
{
	lt_event *e = lua_newuserdatauv(L, sizeof *e, 1);
	memset(e, 0, sizeof *e);
	luaL_setmetatable(L, EVENT_MT);
	return 1;
}

void lt_event_open(lua_State *L)
{
	static const luaL_Reg meths[] = {
		{"wait", l_wait}, {"set", l_set}, {"is_set", l_is_set}, {NULL, NULL}};
	if (luaL_newmetatable(L, EVENT_MT)) {
		luaL_newlib(L, meths);
		lua_setfield(L, -2, "__index");
		lua_pushliteral(L, EVENT_MT);
		lua_setfield(L, -2, "__name");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, l_event);
	lua_setfield(L, -2, "_event");
}
