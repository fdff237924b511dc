/* lua_sched.c — tasks, the ready queue and the one resume function; see lua_rt.h. Also the
 * runtime object itself (created per lua_State, torn down by its __gc). */
#include "lua_rt.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <limits.h>
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
	int nargs;             /* values on co's stack for the next resume */
	lt_wait_cancel cancel; /* the current wait, withdrawn on kill */
	void *wait_obj;
	int64_t wait_id;
	lws_sorted_usec_list_t sul;
	lt_task *prev, *next; /* rt->tasks */
	lt_task *ready_next;
	lt_task *id_next; /* rt->by_id chain */
	bool in_ready;
	bool in_later;      /* its ready entry is on rt->later (lt_sched_drain) */
	bool started;       /* resumed at least once */
	bool cancelled;     /* its group was cancelled: every await raises the group's error */
	unsigned group;     /* its task group (0: the runtime's own); see lua_rt.h */
	unsigned drain_gen; /* the drain it last ran in (lt_sched_drain) */
	lua_KFunction k;    /* the continuation of the current await (run by k_task) */
	lua_KContext kctx;
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
	lt_metrics_rt_free(rt);
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

/* The error of a cancelled group: registry[&CANCEL_KEY][group]. */
static const char CANCEL_KEY = 'c';

static void push_cancel_errors(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CANCEL_KEY) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &CANCEL_KEY);
	}
}

static int raise_cancelled(lua_State *L, lt_task *t)
{
	push_cancel_errors(L);
	if (lua_rawgeti(L, -1, t->group) == LUA_TNIL)
		lua_pushliteral(L, "cancelled: the task's group was cancelled");
	return lua_error(L);
}

static int k_task(lua_State *L, int status, lua_KContext ctx);
static void make_ready(lt_task *t);

lt_task *lt_task_require(lua_State *L, const char *what)
{
	lt_task *t = lt_task_of(L);
	if (!t || t->co != L)
		luaL_error(L, "%s: must be called from a luatrade task (inside lt.run or lt.spawn)",
			   what);
	if (!lua_isyieldable(L))
		luaL_error(
			L,
			"%s: cannot wait here: awaitable calls do not work inside metamethods, "
			"iterators, table.sort comparators, string.gsub callbacks or the top level "
			"of a required chunk",
			what);
	if (t->cancelled) { /* to the back of the queue first, then raise: a task that swallows
			     * its error in a loop cannot starve the others */
		t->k = NULL;
		make_ready(t);
		lua_yieldk(L, 0, (lua_KContext)t, k_task);
	}
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
	/* ready again in the drain it already ran in: it waits for the next drain (see there) */
	t->in_later = rt->draining && t->drain_gen == rt->drain_gen;
	lt_task **head = t->in_later ? &rt->later_head : &rt->ready_head;
	lt_task **tail = t->in_later ? &rt->later_tail : &rt->ready_tail;
	if (*tail)
		(*tail)->ready_next = t;
	else
		*head = t;
	*tail = t;
}

lt_task *lt_task_spawn(lt_rt *rt, lua_State *L, int fidx, int nargs)
{
	int cap = rt->max_tasks > 0 ? rt->max_tasks : LT_MAX_TASKS;
	if (rt->ntasks >= cap)
		luaL_error(L, "luatrade: %d tasks are alive; not starting another (a task leak?)",
			   cap);
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
	lt_task *parent = rt->spawn_group ? NULL : lt_task_of(L);
	t->group = rt->spawn_group ? rt->spawn_group : parent ? parent->group : 0;
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

/* Every await resumes here first: a task whose group was cancelled meanwhile raises the
 * group's error instead of running the awaitable's own continuation. */
static int k_task(lua_State *L, int status, lua_KContext ctx)
{
	lt_task *t = (lt_task *)ctx;
	if (t->cancelled)
		return raise_cancelled(L, t);
	return t->k(L, status, t->kctx);
}

int lt_task_await(lua_State *L, lt_task *t, lt_wait_cancel cancel, void *obj, int64_t id,
		  lua_KFunction k, lua_KContext ctx)
{
	t->state = T_WAITING;
	t->cancel = cancel;
	t->wait_obj = obj;
	t->wait_id = id;
	t->k = k;
	t->kctx = ctx;
	return lua_yieldk(L, 0, (lua_KContext)t, k_task);
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
	if (t->in_ready) { /* unlink from its queue */
		lt_task **pp = t->in_later ? &rt->later_head : &rt->ready_head, *prev = NULL;
		lt_task **tail = t->in_later ? &rt->later_tail : &rt->ready_tail;
		while (*pp != t) {
			prev = *pp;
			pp = &(*pp)->ready_next;
		}
		*pp = t->ready_next;
		if (*tail == t)
			*tail = prev;
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

/* Did t end with its group's cancel error (on top of co)? Not a failure: not logged. */
static bool is_cancel_error(lt_task *t, lua_State *co)
{
	if (!t->cancelled || lua_type(co, -1) != LUA_TTABLE)
		return false;
	push_cancel_errors(co);
	lua_rawgeti(co, -1, t->group);
	bool same = lua_rawequal(co, -1, -3);
	lua_pop(co, 2);
	return same;
}

/* The one resume function: runs t until it waits, yields, returns or fails. */
static void task_resume(lt_task *t)
{
	lt_rt *rt = t->rt;
	lua_State *co = t->co;
	int nres = 0, nargs = t->nargs;
	t->nargs = 0;
	t->state = T_RUNNING;
	t->started = true;
	int st = lua_resume(co, rt->L, nargs, &nres);
	if (st == LUA_YIELD) {
		lua_pop(co, nres);
		if (t->state ==
		    T_RUNNING) /* a bare coroutine.yield(): go to the back of the queue */
			make_ready(t);
		return;
	}
	if (st != LUA_OK) {
		const char *msg = lua_tostring(co, -1);
		if (!msg &&
		    t == rt->main_task) /* an error object (e.g. a test framework's): keep it */
			lua_xmove(co, rt->L, 1);
		else
			luaL_traceback(rt->L, co, msg ? msg : "(error object is not a string)", 0);
		if (t == rt->main_task) { /* the run ends: lt.run re-raises this error */
			luaL_unref(rt->L, LUA_REGISTRYINDEX, rt->main_error_ref);
			rt->main_error_ref = luaL_ref(rt->L, LUA_REGISTRYINDEX);
			rt->interrupted = 1;
		} else {
			if (!is_cancel_error(t, co))
				lt_log(LT_LOG_ERROR, "task %u failed: %s", t->id,
				       lua_tostring(rt->L, -1));
			lua_pop(rt->L, 1);
		}
		close_thread(t);
	}
	task_free(t);
}

void lt_sched_drain(lt_rt *rt)
{
	/* every ready task runs, also those made ready meanwhile, but a task that already ran in
	 * this drain and is ready again (a bare coroutine.yield in a loop, a cancelled task that
	 * swallows its error and awaits again) waits in rt->later for the next drain, after the
	 * loop's poll (which then returns at once): I/O and timers are never starved */
	rt->drain_gen++;
	rt->draining = true;
	while (rt->ready_head) {
		lt_task *t = rt->ready_head;
		rt->ready_head = t->ready_next;
		if (!rt->ready_head)
			rt->ready_tail = NULL;
		t->in_ready = false;
		t->drain_gen = rt->drain_gen;
		task_resume(t);
	}
	rt->draining = false;
	for (lt_task *t = rt->later_head; t; t = t->ready_next)
		t->in_later = false;
	rt->ready_head = rt->later_head;
	rt->ready_tail = rt->later_tail;
	rt->later_head = rt->later_tail = NULL;
	if (rt->ready_head && rt->loop)
		lt_loop_wake(rt->loop);
}

/* ---- task groups ------------------------------------------------------------------------- */

int lt_group_cancel(lt_rt *rt, lua_State *L, unsigned g, int err_idx)
{
	err_idx = lua_absindex(L, err_idx);
	push_cancel_errors(L);
	lua_pushvalue(L, err_idx);
	lua_rawseti(L, -2, g);
	lua_pop(L, 1);
	lt_task *self = lt_task_of(L);
	int n = 0;
	for (lt_task *t = rt->tasks, *next; t; t = next) {
		next = t->next;
		if (t->group != g || t == self || t->cancelled)
			continue;
		n++;
		t->cancelled = true;
		if (t->state == T_READY && !t->started) { /* nothing ran yet: nothing to unwind */
			lt_task_kill(t);
		} else if (t->state == T_WAITING) {
			if (t->cancel)
				t->cancel(t->wait_obj, t->wait_id);
			t->cancel = NULL;
			lws_sul_cancel(&t->sul);
			t->nargs = 0;
			make_ready(t); /* k_task raises the group's error */
		}
	}
	return n;
}

int lt_group_count(const lt_rt *rt, unsigned g)
{
	int n = 0;
	for (const lt_task *t = rt->tasks; t; t = t->next)
		n += t->group == g;
	return n;
}

void lt_group_end(lt_rt *rt, lua_State *L, unsigned g)
{
	lt_task *self = lt_task_of(L);
	for (bool again = true; again;) { /* a closing task may spawn: look again until none */
		again = false;
		for (lt_task *t = rt->tasks; t; t = t->next)
			if (t->group == g && t != self) {
				t->cancelled = true;
				lt_task_kill(t);
				again = true;
				break;
			}
	}
	push_cancel_errors(L);
	lua_pushnil(L);
	lua_rawseti(L, -2, g);
	lua_pop(L, 1);
}

static unsigned check_group(lua_State *L, int idx)
{
	lua_Integer g = luaL_checkinteger(L, idx);
	luaL_argcheck(L, g > 0 && g <= (lua_Integer)UINT_MAX, idx, "not a task group");
	return (unsigned)g;
}

/* core._new_group() -> g: a fresh task group id (> 0). */
static int l_new_group(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	lua_pushinteger(L, ++rt->next_group);
	return 1;
}

/* core._spawn_in(g, fn, ...) -> task id: like lt.spawn, but the task (and what it spawns)
 * belongs to group g. */
static int l_spawn_in(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	unsigned g = check_group(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (!rt->running)
		return luaL_error(L, "spawn: only inside lt.run");
	rt->spawn_group = g;
	lt_task *t = lt_task_spawn(rt, L, 2, lua_gettop(L) - 2);
	rt->spawn_group = 0;
	lua_pushinteger(L, lt_task_id(t));
	return 1;
}

/* core._cancel_group(g, err) -> n: every task of g but the caller is cancelled: its pending
 * await (and every later one) raises err; tasks that never ran are dropped. */
static int l_cancel_group(lua_State *L)
{
	unsigned g = check_group(L, 1);
	luaL_checkany(L, 2);
	lua_pushinteger(L, lt_group_cancel(lt_rt_get(L), L, g, 2));
	return 1;
}

/* core._end_group(g): kill what is left of g (to-be-closed variables run) and forget its
 * error. */
static int l_end_group(lua_State *L)
{
	lt_group_end(lt_rt_get(L), L, check_group(L, 1));
	return 0;
}

/* core._group_count(g) -> live tasks of g; core._group() -> the calling task's group. */
static int l_group_count(lua_State *L)
{
	lua_pushinteger(L, lt_group_count(lt_rt_get(L), check_group(L, 1)));
	return 1;
}

static int l_group(lua_State *L)
{
	lt_task *t = lt_task_of(L);
	lua_pushinteger(L, t ? t->group : 0);
	return 1;
}

/* core._task_count() -> live tasks (leak checks). */
static int l_task_count(lua_State *L)
{
	lua_pushinteger(L, lt_rt_get(L)->ntasks);
	return 1;
}

/* core._cancelled() -> was the calling task's group cancelled? */
static int l_cancelled(lua_State *L)
{
	lt_task *t = lt_task_of(L);
	lua_pushboolean(L, t && t->cancelled);
	return 1;
}

void lt_sched_open(lua_State *L)
{
	static const luaL_Reg fns[] = {{"_new_group", l_new_group},
				       {"_spawn_in", l_spawn_in},
				       {"_cancel_group", l_cancel_group},
				       {"_end_group", l_end_group},
				       {"_group_count", l_group_count},
				       {"_group", l_group},
				       {"_cancelled", l_cancelled},
				       {"_task_count", l_task_count},
				       {NULL, NULL}};
	luaL_setfuncs(L, fns, 0);
}
