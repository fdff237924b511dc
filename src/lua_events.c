/* lua_events.c — state events to Lua: client:on_state(fn)'s handler runs as a new task with
 * (state, reason) for every connection, authentication and subscription event. Called from
 * libwebsockets callbacks and completions, so it runs the spawn in protected mode. The
 * runtime's own listeners (client:_listen_state, e.g. the order tracker) hear each event too. */
#include <lauxlib.h>

#include "log.h"
#include "lua_client.h"

typedef struct state_event {
	lt_client *c;
	const char *state, *reason;
} state_event;

/* Spawn the function on top of the stack with (state, reason). */
static void spawn_with(lua_State *L, const state_event *e)
{
	lua_pushstring(L, e->state);
	if (e->reason)
		lua_pushstring(L, e->reason);
	else
		lua_pushnil(L);
	lt_task_spawn(e->c->rt, L, lua_gettop(L) - 2, 2);
}

static int emit_protected(lua_State *L)
{
	state_event *e = lua_touserdata(L, 1);
	if (e->c->listen_ref != LUA_NOREF) { /* the runtime's listeners first */
		lua_rawgeti(L, LUA_REGISTRYINDEX, e->c->listen_ref);
		int t = lua_gettop(L);
		for (lua_Integer i = 1; lua_rawgeti(L, t, i) == LUA_TFUNCTION; i++)
			spawn_with(L, e);
		lua_settop(L, t - 1);
	}
	if (e->c->state_ref != LUA_NOREF && e->c->state_ref != 0) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, e->c->state_ref);
		spawn_with(L, e);
	}
	return 0;
}

void lt_client_emit_state(lt_client *c, const char *state, const char *reason)
{
	bool none = (c->state_ref == LUA_NOREF || c->state_ref == 0) && c->listen_ref == LUA_NOREF;
	if (none || c->closed || !c->rt->running)
		return;
	lua_State *L = c->rt->L;
	state_event e = {c, state, reason};
	int top = lua_gettop(L);
	lua_pushcfunction(L, emit_protected);
	lua_pushlightuserdata(L, &e);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK)
		lt_log(LT_LOG_ERROR, "%s: could not run the state handler: %s", c->url,
		       lua_tostring(L, -1));
	lua_settop(L, top);
	lt_loop_wake(c->rt->loop);
}
