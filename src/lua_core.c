/* lua_core.c — luaopen_luatrade_core: lt.run, lt.spawn, lt.sleep, lt.now, lt.null, the
 * in-process venue, logging; the client and subscription types come from lua_client.c and
 * lua_subs.c, the runner's task groups from lua_sched.c, core._event from lua_event.c and the
 * file watchers (hot reload, SIGHUP) from lua_watch.c. lua/luatrade/init.lua wraps this module
 * into the documented public API. */
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lua_client.h"
#include "json_lazy.h"
#include "lua_secret.h"
#include "paths.h"
#include "sim/sim.h"

void lt_client_open(lua_State *L);
void lt_book_open(lua_State *L); /* lua_book.c: core.book_new */

/* A signal handler can only reach the runtime through statics: the one exception to the
 * no-globals rule, set only while lt.run is running. signal_graceful: lt.run got an on_signal
 * function, so the first signal starts a graceful stop and a second one exits at once. */
static lt_rt *volatile signal_rt;
static volatile sig_atomic_t signal_graceful;

static void on_signal(int sig)
{
	lt_rt *rt = signal_rt;
	if (!rt)
		return;
	if (signal_graceful && rt->interrupted) {
		static const char msg[] = "luatrade: interrupted again: exiting now\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)w;
		_exit(128 + SIGINT);
	}
	rt->interrupted = sig == SIGTERM ? 2 : 1;
	lt_loop_wake(rt->loop);
}

static void shutdown_run(lt_rt *rt)
{
	while (rt->tasks)
		lt_task_kill(rt->tasks);
	rt->ready_head = rt->ready_tail = NULL;
	rt->later_head = rt->later_tail = NULL;
	lt_clients_close_all(rt);
	int64_t deadline = lt_now_us() + 2000000;
	while (*lt_loop_conn_count(rt->loop) > 0 && lt_now_us() < deadline)
		if (lt_loop_service(rt->loop))
			break;
}

/* The loop of lt.run. Without an on_signal function (at index 2) a signal ends it at once;
 * with one, the first signal starts on_signal(name) as a task and the loop ends when that task
 * has ended (or every task has). */
static void run_loop(lua_State *L, lt_rt *rt, bool graceful)
{
	unsigned stop_id = 0;
	for (;;) {
		if (rt->hup_pending) {
			rt->hup_pending = 0;
			lt_watch_deliver_hup(rt);
		}
		lt_sched_drain(rt);
		if (rt->ntasks == 0 || rt->main_error_ref != LUA_NOREF)
			break;
		if (rt->interrupted && !graceful)
			break;
		if (rt->interrupted && stop_id == 0) {
			lt_log(LT_LOG_INFO,
			       "interrupted: stopping (interrupt again to exit at once)");
			lua_pushvalue(L, 2);
			lua_pushstring(L, rt->interrupted == 2 ? "SIGTERM" : "SIGINT");
			stop_id = lt_task_id(lt_task_spawn(rt, L, lua_gettop(L) - 1, 1));
			continue;
		}
		if (stop_id && !lt_task_find(rt, stop_id))
			break;
		if (lt_loop_service(rt->loop))
			break;
	}
}

/* lt.run(fn [, on_signal]): run fn as the main task and the loop until every task has ended or
 * SIGINT / SIGTERM; then close every client. With on_signal, a signal does not end the loop:
 * on_signal("SIGINT" | "SIGTERM") runs as a task inside it (it may await) and the loop ends
 * when it returns; a second signal meanwhile exits the process at once (status 130).
 * Re-raises the main function's error with its traceback. */
static int l_run(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	bool graceful = !lua_isnoneornil(L, 2);
	if (graceful)
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lt_rt *rt = lt_rt_get(L);
	if (rt->running)
		return luaL_error(L, "run: already running (lt.run does not nest; use lt.spawn)");
	lt_rt_loop(L, rt);
	lua_settop(L, 2);
	lua_pushvalue(L, 1);
	rt->main_task = lt_task_spawn(rt, L, 3, 0);
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	rt->interrupted = 0;
	signal_graceful = graceful;
	signal_rt = rt;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rt->running = true;
	lt_watch_signals(rt);
	run_loop(L, rt, graceful);
	if (rt->interrupted && rt->main_error_ref == LUA_NOREF)
		lt_log(LT_LOG_INFO, "interrupted: stopping tasks and closing connections");
	shutdown_run(rt);
	rt->running = false;
	lt_watch_signals(rt);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	signal_rt = NULL;
	signal_graceful = 0;
	if (rt->main_error_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, rt->main_error_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, rt->main_error_ref);
		rt->main_error_ref = LUA_NOREF;
		return lua_error(L);
	}
	lua_pushboolean(L, !rt->interrupted);
	return 1;
}

/* core._kill(id): end the live task with this id (its wait is withdrawn, its to-be-closed
 * variables run); true, or false when it already ended. The runner uses it to end a stop()
 * that overran its time limit. A task cannot kill itself. */
static int l_kill(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	lua_Integer id = luaL_checkinteger(L, 1);
	lt_task *t = id > 0 && id <= (lua_Integer)UINT_MAX ? lt_task_find(rt, (unsigned)id) : NULL;
	if (t && lt_task_of(L) == t)
		return luaL_error(L, "kill: a task cannot kill itself");
	if (t)
		lt_task_kill(t);
	lua_pushboolean(L, t != NULL);
	return 1;
}

/* lt.spawn(fn, ...): start fn(...) as a new task; returns its id. */
static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lt_rt *rt = lt_rt_get(L);
	if (!rt->running)
		return luaL_error(L, "spawn: only inside lt.run");
	lt_task *t = lt_task_spawn(rt, L, 1, lua_gettop(L) - 1);
	lua_pushinteger(L, lt_task_id(t));
	return 1;
}

static int k_sleep(lua_State *L, int status, lua_KContext ctx)
{
	(void)L;
	(void)status;
	(void)ctx;
	return 0;
}

/* lt.sleep(seconds): suspend the calling task; other tasks run meanwhile. */
static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	luaL_argcheck(L, s >= 0 && s <= 1e7, 1, "seconds must be between 0 and 1e7");
	lt_task *t = lt_task_require(L, "sleep");
	return lt_task_sleep(L, t, (int64_t)ceil(s * 1000), k_sleep, 0);
}

/* lt.now(): wall-clock time in seconds since the epoch, with microseconds. */
static int l_now(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6);
	return 1;
}

/* core.sim_start([seed [, {accounts = "id:secret,..."}]]): start the built-in venue in this
 * process (once; later calls return the same one). Returns its url and the CA file that
 * verifies it. */
static int l_sim_start(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	uint64_t seed = (uint64_t)luaL_optinteger(L, 1, 1);
	const char *accounts = NULL;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "accounts");
		accounts = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	lua_settop(L, 2); /* the options table keeps the accounts string alive */
	if (!rt->sim) {
		lt_sim_opts o;
		memset(&o, 0, sizeof o);
		char dir[LT_PATHS_MAX];
		lt_err err = {0, ""};
		if (lt_paths_cert_dir(dir, sizeof dir, &err))
			return luaL_error(L, "sim: %s", err.msg);
		lua_pushfstring(L, "%s/server.pem", dir);
		lua_pushfstring(L, "%s/server.key", dir);
		o.cert_file = lua_tostring(L, -2);
		o.key_file = lua_tostring(L, -1);
		o.seed = seed;
		o.accounts = accounts;
		if (snprintf(rt->sim_ca, sizeof rt->sim_ca, "%s/ca.pem", dir) >=
		    (int)sizeof rt->sim_ca)
			return luaL_error(L, "sim: certificate path too long");
		if (lt_sim_new(lt_loop_context(lt_rt_loop(L, rt)), &o, &rt->sim, &err))
			return luaL_error(L, "sim: %s", err.msg);
		snprintf(rt->sim_url, sizeof rt->sim_url, "wss://127.0.0.1:%d/ws/api/v2",
			 lt_sim_port(rt->sim));
	}
	lua_pushstring(L, rt->sim_url);
	lua_pushstring(L, rt->sim_ca);
	return 2;
}

/* core.sim_demo_account(): the in-process venue's demo account as client_id, secret. */
static int l_sim_demo_account(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	const char *id, *secret;
	if (!rt->sim)
		l_sim_start(L);
	if (lt_sim_demo_account(rt->sim, &id, &secret))
		return luaL_error(L, "sim: no demo account");
	lua_pushstring(L, id);
	lt_lua_secret_push(L, secret, strlen(secret));
	return 2;
}

/* core.log(level, message [, component]): the runtime's log (level "error", "warn", "info",
 * "debug"; component default "lua"), through the same writer as the core's lines (text or
 * json, log.h). Example: `core.log("info", "spread 1.5", "strategy")`. Raises on a bad level. */
static int l_log(lua_State *L)
{
	int level = lt_log_parse_level(luaL_checkstring(L, 1));
	luaL_argcheck(L, level >= 0, 1, "level must be error, warn, info or debug");
	const char *msg = luaL_checkstring(L, 2);
	lt_logf(level, luaL_optstring(L, 3, "lua"), NULL, 0, "%s", msg);
	return 0;
}

/* core.set_log_format("text" | "json"): how lines are written (log.h). Raises on another name.
 * Example: `core.set_log_format("json")`. */
static int l_set_log_format(lua_State *L)
{
	int f = lt_log_parse_format(luaL_checkstring(L, 1));
	luaL_argcheck(L, f >= 0, 1, "format must be text or json");
	lt_log_set_format(f);
	return 0;
}

/* core.log_level(): the current level's name ("info" unless LUATRADE_LOG or a setter said). */
static int l_log_level(lua_State *L)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	lua_pushstring(L, names[lt_log_get_level() & 3]);
	return 1;
}

static int l_set_log_level(lua_State *L)
{
	int level = lt_log_parse_level(luaL_checkstring(L, 1));
	luaL_argcheck(L, level >= 0, 1, "level must be error, warn, info or debug");
	lt_log_set_level(level);
	return 0;
}

/* Everything else is built with -fvisibility=hidden (Makefile): the module's only export. */
#define LT_EXPORT __attribute__((visibility("default")))

LT_EXPORT int luaopen_luatrade_core(lua_State *L)
{
	static const luaL_Reg fns[] = {{"run", l_run},
				       {"spawn", l_spawn},
				       {"_kill", l_kill},
				       {"sleep", l_sleep},
				       {"now", l_now},
				       {"sim_start", l_sim_start},
				       {"sim_demo_account", l_sim_demo_account},
				       {"log", l_log},
				       {"set_log_level", l_set_log_level},
				       {"set_log_format", l_set_log_format},
				       {"log_level", l_log_level},
				       {"plain", lt_lua_plain},
				       {NULL, NULL}};
	lt_rt_get(L);
	luaL_newlib(L, fns);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lt_sched_open(L);
	lt_event_open(L);
	lt_client_open(L);
	lt_subs_open(L);
	lt_book_open(L);
	lt_lua_secret_open(L);
	lt_watch_open(L);
	lt_metrics_open(L);
	return 1;
}
