/* lua_rt.h — the Lua runtime shared by the lua_*.c files: one per lua_State, found through a
 * registry key. It owns the loop, the in-process venue, the task scheduler and the clients.
 *
 * Scheduler rules (DESIGN.md "How the scheduler must work"): every strategy function, handler
 * and spawned function runs in its own coroutine (a task) anchored in the registry while alive;
 * a registry table maps each task's thread to its task, so an awaitable finds its task in O(1)
 * and a plain coroutine made by user code is not a task. Completions never resume a coroutine
 * directly: lt_task_wake moves the values onto the task's stack and puts it on the ready queue,
 * which lt_sched_drain empties between I/O events. A task waits on at most one thing; that wait
 * is withdrawn when the task is killed, so a completion can never reach a dead task.
 */
#ifndef LT_LUA_RT_H
#define LT_LUA_RT_H

#include <lua.h>
#include <signal.h>
#include <stdbool.h>

#include <libwebsockets.h>

#include "loop.h"

typedef struct lt_task lt_task;
typedef struct lt_client lt_client;
typedef struct lt_watcher lt_watcher;
struct lt_sim;

typedef struct lt_rt {
	lua_State *L; /* the runtime's own thread: resumes and scratch work */
	lt_loop *loop;
	struct lt_sim *sim;
	char sim_url[80];
	char sim_ca[4096]; /* the CA file that verifies the in-process venue (paths.h) */
	lt_task *tasks;    /* every live task */
	lt_task *ready_head, *ready_tail;
	int ntasks;
	unsigned drain_gen; /* lt_sched_drain's count */
	bool draining;
	lt_task *later_head, *later_tail; /* ready again in this drain: run in the next one */
	lt_client *clients;               /* open clients, closed when lt.run ends */
	lt_watcher *watchers; /* open file watchers (lua_watch.c), closed with the runtime */
	volatile sig_atomic_t
		hup_pending; /* SIGHUP caught (lua_watch.c); lt.run's loop delivers it */
	bool running;
	volatile sig_atomic_t interrupted;
	lt_task *main_task;
	int main_error_ref; /* the main function's error, re-raised by lt.run */
	unsigned next_task_id;
	lt_task *by_id[256];           /* live tasks by id (their generation): lt_task_find */
	int max_tasks;                 /* live tasks at most (0 = LT_MAX_TASKS) */
	unsigned next_group;           /* the last task group handed out */
	unsigned spawn_group;          /* set by core._spawn_in while it spawns */
	struct lt_metrics *metrics;    /* lua_metrics.c: the registry (made with the 1st client) */
	struct lt_mhttp *metrics_http; /* --metrics-port's server, if any */
} lt_rt;

/* The runtime of L's state (created on first use). */
lt_rt *lt_rt_get(lua_State *L);
/* The loop, created on first use; raises on failure. */
lt_loop *lt_rt_loop(lua_State *L, lt_rt *rt);

/* What a waiting task waits on, so it can be withdrawn: cancel(obj, id) is called if the task
 * is killed while waiting. */
typedef void (*lt_wait_cancel)(void *obj, int64_t id);

/* The task running L, or NULL when L is not a luatrade task. */
lt_task *lt_task_of(lua_State *L);
/* Like lt_task_of but raises "<what>: must be called from a luatrade task ..." when L is not a
 * task or cannot yield here (metamethod, iterator, C callback). */
lt_task *lt_task_require(lua_State *L, const char *what);

/* Live tasks at most unless rt->max_tasks says otherwise: the ready queue (each task on it at
 * most once) is bounded by this. */
#define LT_MAX_TASKS 1000000

/* Start fn (at fidx) with the nargs values above it as a new task (ready to run). Pops them.
 * Raises past the live-task cap ("... tasks are alive"). */
lt_task *lt_task_spawn(lt_rt *rt, lua_State *L, int fidx, int nargs);

/* Suspend the running task t until lt_task_wake; then k runs with the woken values on top. */
int lt_task_await(lua_State *L, lt_task *t, lt_wait_cancel cancel, void *obj, int64_t id,
		  lua_KFunction k, lua_KContext ctx);

/* Complete t's wait with the n values on top of `from` (moved to the task). Ignored (values
 * popped) if t is not waiting. */
void lt_task_wake(lt_task *t, lua_State *from, int n);

/* Sleep the running task for ms milliseconds (an awaitable's building block). */
int lt_task_sleep(lua_State *L, lt_task *t, int64_t ms, lua_KFunction k, lua_KContext ctx);

/* Kill a task: withdraw its wait, close its coroutine (to-be-closed variables run), free it. */
void lt_task_kill(lt_task *t);

/* Resume every ready task until none is ready. */
void lt_sched_drain(lt_rt *rt);

/* The live task with this id, or NULL once it has ended: completions carry the id (the task's
 * generation), so one for a task that ended is dropped, never resumed. */
lt_task *lt_task_find(lt_rt *rt, unsigned id);

/* The task's id (never reused) and its coroutine. */
unsigned lt_task_id(const lt_task *t);
lua_State *lt_task_thread(lt_task *t);

/* Task groups: every task belongs to one (0: the runtime's own); a task spawned by a task
 * joins its group, core._spawn_in(g, fn) starts one in group g. The runner gives each strategy
 * version a group so that a reload can end exactly that version's tasks.
 * lt_group_cancel: every task of g except the caller is cancelled: its pending await is
 * withdrawn and it resumes by raising the value at err_idx, as does every later await; tasks
 * that never ran are dropped. Returns how many were cancelled. An error that is the group's
 * cancel value ends the task without a "task failed" log.
 * lt_group_end: kill what is left of g (to-be-closed variables run) and forget its error.
 * lt_sched_open: the core._*group* functions on the table at the top of L's stack. */
int lt_group_cancel(lt_rt *rt, lua_State *L, unsigned g, int err_idx);
int lt_group_count(const lt_rt *rt, unsigned g);
void lt_group_end(lt_rt *rt, lua_State *L, unsigned g);
void lt_sched_open(lua_State *L);
/* core._event (lua_event.c) on the table at the top of L's stack. */
void lt_event_open(lua_State *L);

/* Close every open client (lua_client.c); used when lt.run ends. */
void lt_clients_close_all(lt_rt *rt);

/* File watchers (lua_watch.c). lt_watch_open puts core.watch_new on the table on top.
 * lt_watch_signals: catch SIGHUP while rt->running and a hup watcher is open, else restore its
 * previous disposition (call it when rt->running changes). lt_watch_deliver_hup: after
 * rt->hup_pending, mark hup on every hup watcher and wake its waiter. lt_watch_close_all: close
 * every watcher (waiters get nil, "closed"); before the loop is freed. */
void lt_watch_open(lua_State *L);
void lt_watch_signals(lt_rt *rt);
void lt_watch_deliver_hup(lt_rt *rt);
void lt_watch_close_all(lt_rt *rt);

/* Metrics (lua_metrics.c): the registry, made on first use (NULL when out of memory);
 * lt_metrics_open puts core.metrics_serve, core._metric_inc, core._metrics_text and
 * core._health on the table on top; lt_metrics_rt_free after the loop is freed. */
struct lt_metrics *lt_rt_metrics(lt_rt *rt);
void lt_metrics_open(lua_State *L);
void lt_metrics_rt_free(lt_rt *rt);

#endif
