/* lua_sched.c — tasks, the ready queue and the one resume function; see lua_rt.h. Also the
 * runtime object itself (created per lua_State, torn down by its __gc). */
#include "lua_rt.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim/sim.h"

enum { T_READY, T_RUNNING, T_WAITING };

struct lt_task {
	lt_rt *rt;
	lua_State *co;
	int ref;
	unsigned id;
	int state;
	int nargs;                /* values on co's stack for the next resume */
	lt_wait_cancel cancel;    /* the current wait, withdrawn on kill */
	void *wait_obj;
	int64_t wait_id;
	lws_sorted_usec_list_t sul;
	lt_task *prev, *next;     /* rt->tasks */
	lt_task *ready_next;
	lt_task *id_next;         /* rt->by_id chain */
	bool in_ready;
};

static const char RT_KEY = 'r';
#define RT_MT "luatrade.Runtime"

static int rt_gc(lua_State *L)
{
	lt_rt *rt = luaL_checkudata(L, 1, RT_MT);
	while (rt->tasks)
		lt_task_kill(rt->tasks);
	lt_clients_close_all(rt);
	lt_watch_close_all(rt);
	lt_sim_free(rt->sim);
	rt->sim = NULL;
	lt_loop_free(rt->loop);
	rt->loop = NULL;
	return 0;
}

lt_rt *lt_rt_get(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &RT_KEY) == LUA_TUSERDATA) {
		lt_rt *rt = lua_touserdata(L, -1);
		lua_pop(L, 1);
		return rt;
	}
	lua_pop(L, 1);
	lt_rt *rt = lua_newuserdatauv(L, sizeof *rt, 1);
	memset(rt, 0, sizeof *rt);
	rt->main_error_ref = LUA_NOREF;
	if (luaL_newmetatable(L, RT_MT)) {
		lua_pushcfunction(L, rt_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	rt->L = lua_newthread(L);
	lua_setiuservalue(L, -2, 1); /* the thread lives as long as the runtime */
	lua_rawsetp(L, LUA_REGISTRYINDEX, &RT_KEY);
	return rt;
}

lt_loop *lt_rt_loop(lua_State *L, lt_rt *rt)
{
	if (!rt->loop) {
		lt_err err = {0, ""};
		if (lt_loop_new(&rt->loop, &err))
			luaL_error(L, "luatrade: %s", err.msg);
	}
	return rt->loop;
}

/* Threads that are tasks: registry[&TASKS_KEY][thread] = lightuserdata task. (Not the thread's
 * extra space: a host or a thread made before this module loaded may have anything there.) */
static const char TASKS_KEY = 't';

static void push_tasks(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TASKS_KEY) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &TASKS_KEY);
	}
}

lt_task *lt_task_of(lua_State *L)
{
	push_tasks(L);
	lua_pushthread(L);
	lua_rawget(L, -2);
	lt_task *t = lua_touserdata(L, -1);
	lua_pop(L, 2);
	return t;
}

static void set_task(lua_State *L, lua_State *co, lt_task *t)
{
	push_tasks(L);
	lua_pushthread(co);
	lua_xmove(co, L, 1);
	if (t)
		lua_pushlightuserdata(L, t);
	else
		lua_pushnil(L);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

lt_task *lt_task_require(lua_State *L, const char *what)
{
	lt_task *t = lt_task_of(L);
	if (!t || t->co != L)
		luaL_error(L, "%s: must be called from a luatrade task (inside lt.run or lt.spawn)",
			   what);
	if (!lua_isyieldable(L))
		luaL_error(L, "%s: cannot wait here: awaitable calls do not work inside metamethods, "
			   "iterators, table.sort comparators, string.gsub callbacks or the top level "
			   "of a required chunk", what);
	return t;
}

static void make_ready(lt_task *t)
{
	lt_rt *rt = t->rt;
	t->state = T_READY;
	if (t->in_ready)
		return;
	t->in_ready = true;
	t->ready_next = NULL;
	if (rt->ready_tail)
		rt->ready_tail->ready_next = t;
	else
		rt->ready_head = t;
	rt->ready_tail = t;
}

lt_task *lt_task_spawn(lt_rt *rt, lua_State *L, int fidx, int nargs)
{
	int cap = rt->max_tasks > 0 ? rt->max_tasks : LT_MAX_TASKS;
	if (rt->ntasks >= cap)
		luaL_error(L, "luatrade: %d tasks are alive; not starting another (a task leak?)", cap);
	lt_task *t = calloc(1, sizeof *t);
	if (!t)
		luaL_error(L, "luatrade: out of memory");
	t->co = lua_newthread(L);
	if (!lua_checkstack(t->co, nargs + 1)) {
		lua_pop(L, 1);
		free(t);
		luaL_error(L, "spawn: too many arguments (%d)", nargs);
	}
	t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	set_task(L, t->co, t);
	(void)fidx; /* fidx is top - nargs: function and args move in order */
	lua_xmove(L, t->co, nargs + 1);
	t->rt = rt;
	do /* 0 means "no task" to completions; a wrapped counter skips ids still alive */
		t->id = ++rt->next_task_id;
	while (t->id == 0 || lt_task_find(rt, t->id));
	t->id_next = rt->by_id[t->id & 255];
	rt->by_id[t->id & 255] = t;
	t->nargs = nargs;
	t->next = rt->tasks;
	if (rt->tasks)
		rt->tasks->prev = t;
	rt->tasks = t;
	rt->ntasks++;
	make_ready(t);
	return t;
}

unsigned lt_task_id(const lt_task *t) { return t->id; }

lt_task *lt_task_find(lt_rt *rt, unsigned id)
{
	lt_task *t = rt->by_id[id & 255];
	while (t && t->id != id)
		t = t->id_next;
	return t;
}
lua_State *lt_task_thread(lt_task *t) { return t->co; }

int lt_task_await(lua_State *L, lt_task *t, lt_wait_cancel cancel, void *obj, int64_t id,
		  lua_KFunction k, lua_KContext ctx)
{
	t->state = T_WAITING;
	t->cancel = cancel;
	t->wait_obj = obj;
	t->wait_id = id;
	return lua_yieldk(L, 0, ctx, k);
}

void lt_task_wake(lt_task *t, lua_State *from, int n)
{
	if (t->state != T_WAITING) {
		lua_pop(from, n);
		return;
	}
	t->cancel = NULL;
	if (n > 0 && !lua_checkstack(t->co, n)) { /* no room: the task gets nothing, not garbage */
		lua_pop(from, n);
		n = 0;
	}
	if (n > 0)
		lua_xmove(from, t->co, n);
	t->nargs = n;
	make_ready(t);
}

static void sleep_done(lws_sorted_usec_list_t *sul)
{
	lt_task *t = lws_container_of(sul, lt_task, sul);
	lt_task_wake(t, t->co, 0);
	/* timers run just before libwebsockets polls: make that poll return at once so the
	 * ready queue is drained now, not at the next I/O event */
	lt_loop_wake(t->rt->loop);
}

static void sleep_cancel(void *obj, int64_t id)
{
	(void)id;
	lws_sul_cancel(&((lt_task *)obj)->sul);
}

int lt_task_sleep(lua_State *L, lt_task *t, int64_t ms, lua_KFunction k, lua_KContext ctx)
{
	lws_sul_schedule(lt_loop_context(t->rt->loop), 0, &t->sul, sleep_done,
			 (lws_usec_t)(ms > 0 ? ms : 0) * 1000);
	return lt_task_await(L, t, sleep_cancel, t, 0, k, ctx);
}

static void task_free(lt_task *t)
{
	lt_rt *rt = t->rt;
	if (t->in_ready) { /* unlink from the ready queue */
		lt_task **pp = &rt->ready_head, *prev = NULL;
		while (*pp != t) {
			prev = *pp;
			pp = &(*pp)->ready_next;
		}
		*pp = t->ready_next;
		if (rt->ready_tail == t)
			rt->ready_tail = prev;
	}
	if (t->prev)
		t->prev->next = t->next;
	else
		rt->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	rt->ntasks--;
	for (lt_task **pp = &rt->by_id[t->id & 255]; *pp; pp = &(*pp)->id_next)
		if (*pp == t) {
			*pp = t->id_next;
			break;
		}
	if (rt->main_task == t)
		rt->main_task = NULL;
	set_task(rt->L, t->co, NULL);
	luaL_unref(rt->L, LUA_REGISTRYINDEX, t->ref);
	free(t);
}

static void close_thread(lt_task *t)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
	lua_closethread(t->co, t->rt->L);
#else
	lua_resetthread(t->co);
#endif
}

void lt_task_kill(lt_task *t)
{
	if (t->state == T_WAITING && t->cancel)
		t->cancel(t->wait_obj, t->wait_id);
	t->cancel = NULL;
	lws_sul_cancel(&t->sul);
	t->state = T_RUNNING; /* nothing may wake it while its to-be-closed variables run */
	close_thread(t);
	task_free(t);
}

/* The one resume function: runs t until it waits, yields, returns or fails. */
static void task_resume(lt_task *t)
{
	lt_rt *rt = t->rt;
	lua_State *co = t->co;
	int nres = 0, nargs = t->nargs;
	t->nargs = 0;
	t->state = T_RUNNING;
	int st = lua_resume(co, rt->L, nargs, &nres);
	if (st == LUA_YIELD) {
		lua_pop(co, nres);
		if (t->state == T_RUNNING) /* a bare coroutine.yield(): go to the back of the queue */
			make_ready(t);
		return;
	}
	if (st != LUA_OK) {
		const char *msg = lua_tostring(co, -1);
		if (!msg && t == rt->main_task) /* an error object (e.g. a test framework's): keep it */
			lua_xmove(co, rt->L, 1);
		else
			luaL_traceback(rt->L, co, msg ? msg : "(error object is not a string)", 0);
		if (t == rt->main_task) { /* the run ends: lt.run re-raises this error */
			luaL_unref(rt->L, LUA_REGISTRYINDEX, rt->main_error_ref);
			rt->main_error_ref = luaL_ref(rt->L, LUA_REGISTRYINDEX);
			rt->interrupted = 1;
		} else {
			lt_log(LT_LOG_ERROR, "task %u failed: %s", t->id, lua_tostring(rt->L, -1));
			lua_pop(rt->L, 1);
		}
		close_thread(t);
	}
	task_free(t);
}

void lt_sched_drain(lt_rt *rt)
{
	while (rt->ready_head) {
		lt_task *t = rt->ready_head;
		rt->ready_head = t->ready_next;
		if (!rt->ready_head)
			rt->ready_tail = NULL;
		t->in_ready = false;
		task_resume(t);
	}
}
