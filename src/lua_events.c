/* lua_events.c — state events to Lua: client:on_state(fn)'s handler runs as a new task with
 * (state, reason) for every connection, authentication and subscription event. Called from
 * libwebsockets callbacks and completions, so it runs the spawn in protected mode. */
#include <lauxlib.h>

#include "log.h"
#include "lua_client.h"

typedef struct state_event {
	lt_client *c;
	const char *state, *reason;
} state_event;

static int emit_protected(lua_State *L)
{
	state_event *e = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->c->state_ref);
	lua_pushstring(L, e->state);
	if (e->reason)
		lua_pushstring(L, e->reason);
	else
		lua_pushnil(L);
	lt_task_spawn(e->c->rt, L, lua_gettop(L) - 2, 2);
	return 0;
}

void lt_client_emit_state(lt_client *c, const char *state, const char *reason)
{
	if (c->state_ref == LUA_NOREF || c->state_ref == 0 || c->closed || !c->rt->running)
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

