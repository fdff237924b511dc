/* sched_test.c — src/lua_sched.c (contract in src/lua_rt.h): the runtime per lua_State, tasks
 * spawned from C functions and Lua chunks running in FIFO order on lt_sched_drain (never at
 * spawn or wake), await + wake handing values to the continuation exactly once, wakes of tasks
 * that are not waiting dropped, lt_task_find and ids (never reused: many spawns over the 256
 * hash chains, and the counter's wrap), kill (the wait withdrawn once, to-be-closed variables
 * run, the ready queue unlinked), errors (logged with a traceback, only that task ends; the main
 * task's kept for lt.run), lt_task_sleep on the real loop, a bare coroutine.yield() going to the
 * back of the queue, and lt_task_require outside a task or where it cannot yield.
 *
 * The Lua state is real and so is the loop. Lua chunks reach the scheduler through the small C
 * functions of the fixture: rec(s) (appends to the fixture's log), await() (waits with a test
 * cancel callback), sleep_ms(ms, slot), require_task(), spawn(f, ...), kill(id), wake(id, v),
 * note_close(). The loop is driven the way lt.run does it (lua_core.c): drain, then service,
 * until no task is left, with a deadline and a guard timer so nothing can hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <libwebsockets.h>
#include <limits.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "lua_rt.h"
#include "support/lua_helpers.h"

#define MS 1000
#define S (1000 * MS)
#define AWAIT_ID 7 /* the id await() registers its wait with */
#define K_CTX 1234 /* the continuation context await() passes */

/* ---- fixture ---------------------------------------------------------------------------------- */

typedef struct fx {
	lua_State *L;
	lt_rt *rt;
	char log[8192]; /* rec(): space-separated */
	int cancels;    /* await()'s cancel callback */
	void *cancel_obj;
	int64_t cancel_id;
	int k_calls; /* await()'s continuation */
	int k_status;
	lua_KContext k_ctx;
	int k_nvals;
	lua_Integer k_first;
	int closes;         /* note_close() */
	int64_t woke_at[8]; /* sleeper i resumed at (lt_now_us) */
	int nargs_seen;
	lua_Integer sum_seen;
} fx;

static fx *fx_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static void rec(fx *f, const char *s)
{
	size_t n = strlen(f->log);
	snprintf(f->log + n, sizeof f->log - n, "%s%s", n ? " " : "", s);
}

static int l_rec(lua_State *L)
{
	rec(fx_of(L), luaL_tolstring(L, 1, NULL));
	return 0;
}

static void on_cancel(void *obj, int64_t id)
{
	fx *f = obj;
	f->cancels++;
	f->cancel_obj = obj;
	f->cancel_id = id;
}

static int k_await(lua_State *L, int status, lua_KContext ctx)
{
	fx *f = fx_of(L);
	f->k_calls++;
	f->k_status = status;
	f->k_ctx = ctx;
	f->k_nvals = lua_gettop(L);
	f->k_first = lua_gettop(L) > 0 ? lua_tointeger(L, 1) : 0;
	return lua_gettop(L);
}

/* await(): wait for lt_task_wake; returns the woken values. */
static int l_await(lua_State *L)
{
	fx *f = fx_of(L);
	lt_task *t = lt_task_require(L, "await");
	lua_settop(L, 0);
	return lt_task_await(L, t, on_cancel, f, AWAIT_ID, k_await, K_CTX);
}

static int k_slept(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	fx *f = fx_of(L);
	if (ctx >= 0 && ctx < 8)
		f->woke_at[ctx] = lt_now_us();
	char name[32];
	snprintf(name, sizeof name, "woke%d", (int)ctx);
	rec(f, name);
	return 0;
}

/* sleep_ms(ms [, slot]): lt_task_sleep; records "woke<slot>" and the time in woke_at[slot]. */
static int l_sleep_ms(lua_State *L)
{
	int64_t ms = luaL_checkinteger(L, 1);
	lua_KContext slot = (lua_KContext)luaL_optinteger(L, 2, 7);
	lt_task *t = lt_task_require(L, "sleep_ms");
	return lt_task_sleep(L, t, ms, k_slept, slot);
}

static int l_require_task(lua_State *L)
{
	lt_task_require(L, "probe");
	lua_pushboolean(L, 1);
	return 1;
}

static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lt_task *t = lt_task_spawn(lt_rt_get(L), L, 1, lua_gettop(L) - 1);
	lua_pushinteger(L, lt_task_id(t));
	return 1;
}

static int l_kill(lua_State *L)
{
	lt_task *t = lt_task_find(lt_rt_get(L), (unsigned)luaL_checkinteger(L, 1));
	if (t)
		lt_task_kill(t);
	lua_pushboolean(L, t != NULL);
	return 1;
}

/* wake(id, value): lt_task_wake of that task with one value, from the calling thread. */
static int l_wake(lua_State *L)
{
	lt_task *t = lt_task_find(lt_rt_get(L), (unsigned)luaL_checkinteger(L, 1));
	luaL_argcheck(L, t != NULL, 1, "no such task");
	lua_settop(L, 2);
	lt_task_wake(t, L, 1);
	lua_pushinteger(L, lua_gettop(L)); /* 1 if the value was taken (moved or dropped) */
	return 1;
}

static int l_note_close(lua_State *L)
{
	fx_of(L)->closes++;
	return 0;
}

/* The fixture's functions and runtime on a fresh state L. */
static void fx_open(fx *f, lua_State *L)
{
	f->L = L;
	luaL_openlibs(f->L);
	f->rt = lt_rt_get(f->L);
	static const luaL_Reg fns[] = {{"rec", l_rec},
				       {"await", l_await},
				       {"sleep_ms", l_sleep_ms},
				       {"require_task", l_require_task},
				       {"spawn", l_spawn},
				       {"kill", l_kill},
				       {"wake", l_wake},
				       {"note_close", l_note_close},
				       {NULL, NULL}};
	lua_pushglobaltable(f->L);
	lua_pushlightuserdata(f->L, f);
	luaL_setfuncs(f->L, fns, 1);
	lua_pop(f->L, 1);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	lua_State *L = luaL_newstate();
	if (!L)
		return -1;
	fx_open(f, L);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	if (f->L)
		lua_close(f->L);
	free(f);
	return 0;
}

/* C task bodies; each gets the fixture as upvalue 1. */

static int c_rec_args(lua_State *L) /* records its arguments, joined by '+' */
{
	char buf[256] = "";
	for (int i = 1; i <= lua_gettop(L); i++) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof buf - n, "%s%s", i > 1 ? "+" : "",
			 luaL_tolstring(L, i, NULL));
		lua_pop(L, 1);
	}
	rec(fx_of(L), lua_gettop(L) ? buf : "()");
	return 0;
}

static int c_count_args(lua_State *L) /* counts and sums its integer arguments */
{
	fx *f = fx_of(L);
	f->nargs_seen = lua_gettop(L);
	f->sum_seen = 0;
	for (int i = 1; i <= lua_gettop(L); i++)
		f->sum_seen += lua_tointeger(L, i);
	return 0;
}

/* Spawn the C function fn (closure over the fixture) with string arguments. */
static lt_task *spawn_c(fx *f, lua_CFunction fn, int nargs, const char *const *args)
{
	lua_State *L = f->L;
	int top = lua_gettop(L);
	lua_pushlightuserdata(L, f);
	lua_pushcclosure(L, fn, 1);
	for (int i = 0; i < nargs; i++)
		lua_pushstring(L, args[i]);
	lt_task *t = lt_task_spawn(f->rt, L, lua_gettop(L) - nargs, nargs);
	assert_non_null(t);
	assert_int_equal(lua_gettop(L), top); /* function and arguments were taken */
	return t;
}

static lt_task *spawn_c1(fx *f, lua_CFunction fn, const char *arg)
{
	return spawn_c(f, fn, 1, &arg);
}

/* Spawn a Lua chunk (luaL_loadstring) with string arguments (its `...`). */
static lt_task *spawn_lua(fx *f, const char *src, int nargs, const char *const *args)
{
	lua_State *L = f->L;
	int top = lua_gettop(L);
	if (luaL_loadstring(L, src) != LUA_OK)
		fail_msg("chunk does not compile: %s", lua_tostring(L, -1));
	for (int i = 0; i < nargs; i++)
		lua_pushstring(L, args[i]);
	lt_task *t = lt_task_spawn(f->rt, L, lua_gettop(L) - nargs, nargs);
	assert_non_null(t);
	assert_int_equal(lua_gettop(L), top);
	return t;
}

static lt_task *spawn_lua0(fx *f, const char *src) { return spawn_lua(f, src, 0, NULL); }

/* Under lua_pcall: spawn one more task on this thread (the cap raises here). */
static int spawn_one_more(lua_State *L)
{
	fx *f = lua_touserdata(L, 1);
	luaL_loadstring(L, "rec('z')");
	lt_task_spawn(f->rt, L, lua_gettop(L), 0);
	return 0;
}

/* Capture what the runtime logs (stderr) while it runs fn. */
typedef struct capture {
	int saved;
	FILE *tmp;
	char text[8192];
} capture;

static void capture_start(capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->tmp), 2) >= 0);
}

static const char *capture_end(capture *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->tmp);
	size_t n = fread(c->text, 1, sizeof c->text - 1, c->tmp);
	c->text[n] = '\0';
	fclose(c->tmp);
	return c->text;
}

/* A guard timer: a service never blocks past it. */
static void guard_cb(lws_sorted_usec_list_t *sul) { (void)sul; }

/* Drive the runtime as lt.run does (drain, then service) until no task is left or the
 * deadline passes; returns the elapsed microseconds. */
static int64_t run_loop(fx *f, int64_t limit_us)
{
	lt_loop *loop = lt_rt_loop(f->L, f->rt);
	lws_sorted_usec_list_t guard;
	memset(&guard, 0, sizeof guard);
	int64_t t0 = lt_now_us(), end = t0 + limit_us;
	while (lt_now_us() < end) {
		lt_sched_drain(f->rt);
		if (f->rt->ntasks == 0)
			break;
		lws_sul_schedule(lt_loop_context(loop), 0, &guard, guard_cb, 3 * S);
		assert_int_equal(lt_loop_service(loop), 0);
		lws_sul_cancel(&guard);
	}
	return lt_now_us() - t0;
}

/* A Lua allocator that keeps GUARD bytes of a known pattern after every block and counts the
 * blocks found written past their end when they are resized or freed. Lua's stacks are such
 * blocks, and liblua is not built with ASan: this is how a push beyond a coroutine's stack
 * (lua_xmove into a thread without lua_checkstack) is seen, in every build. */
enum { GUARD_HDR = 16, GUARD = 8192 };

typedef struct guard_heap {
	int overruns;
} guard_heap;

static bool guard_intact(const unsigned char *base)
{
	size_t n;
	memcpy(&n, base, sizeof n);
	for (size_t i = 0; i < GUARD; i++)
		if (base[GUARD_HDR + n + i] != 0xA5)
			return false;
	return true;
}

static void *guard_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)osize;
	guard_heap *h = ud;
	unsigned char *base = ptr ? (unsigned char *)ptr - GUARD_HDR : NULL;
	if (base && !guard_intact(base))
		h->overruns++;
	if (nsize == 0) {
		free(base);
		return NULL;
	}
	unsigned char *nb = realloc(base, GUARD_HDR + nsize + GUARD);
	if (!nb)
		return NULL;
	memcpy(nb, &nsize, sizeof nsize);
	memset(nb + GUARD_HDR + nsize, 0xA5, GUARD);
	return nb + GUARD_HDR;
}

/* Run body on a fresh fixture whose state uses guard_alloc, in a forked child: for checks that
 * corrupt memory when they fail (a stack overflow in the scheduler). The child exits 0 when
 * body returns NULL and no block was overrun, else prints why; a crash fails this test and no
 * other. */
static void in_child(const char *(*body)(fx *), const char *what)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static fx cf;
		static guard_heap heap;
		lua_State *L = lua_newstate(guard_alloc, &heap);
		if (!L)
			_exit(2);
		fx_open(&cf, L);
		const char *why = body(&cf);
		if (why)
			fprintf(stderr, "%s: %s\n", what, why);
		lua_close(L);
		if (heap.overruns)
			fprintf(stderr,
				"%s: %d Lua block(s) written past their end (stack overflow)\n",
				what, heap.overruns);
		fflush(stderr);
		_exit(why || heap.overruns ? 1 : 0);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("%s: crashed with signal %d", what, WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: failed (exit %d, see above)", what, WEXITSTATUS(st));
}

/* ---- the runtime -------------------------------------------------------------------------------- */

static void test_the_runtime_is_one_per_state_and_makes_its_loop_once(void **state)
{
	fx *f = *state;
	assert_ptr_equal(lt_rt_get(f->L), f->rt);
	lua_State *th = lua_newthread(f->L); /* any thread of the state finds the same runtime */
	assert_ptr_equal(lt_rt_get(th), f->rt);
	lua_pop(f->L, 1);
	assert_non_null(f->rt->L);
	assert_ptr_not_equal(f->rt->L, f->L);
	assert_int_equal(f->rt->ntasks, 0);
	assert_null(f->rt->loop);
	lt_loop *loop = lt_rt_loop(f->L, f->rt);
	assert_non_null(loop);
	assert_ptr_equal(lt_rt_loop(f->L, f->rt), loop);

	lua_State *other = luaL_newstate();
	assert_non_null(other);
	assert_ptr_not_equal(lt_rt_get(other), f->rt);
	lua_close(other);
}

/* ---- spawn and FIFO order ------------------------------------------------------------------------ */

static void test_spawned_tasks_run_in_fifo_order_when_drained(void **state)
{
	fx *f = *state;
	static const char *const ab[] = {"a", "b"};
	static const char *const xy[] = {"x", "y"};
	spawn_c1(f, c_rec_args, "c1");
	spawn_lua0(f, "rec('l1')");
	spawn_c(f, c_rec_args, 2, ab);
	spawn_lua(f, "local p, q = ...; rec('l2:' .. p .. q)", 2, xy);
	spawn_c(f, c_rec_args, 0, NULL);
	/* nothing runs at spawn */
	assert_string_equal(f->log, "");
	assert_int_equal(f->rt->ntasks, 5);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "c1 l1 a+b l2:xy ()");
	assert_int_equal(f->rt->ntasks, 0);
}

static void test_a_task_spawned_by_a_task_runs_in_the_same_drain_after_those_ready(void **state)
{
	fx *f = *state;
	spawn_lua0(f, "rec('a'); spawn(function(x) rec('child:' .. x) end, 'k'); rec('a2')");
	spawn_lua0(f, "rec('b')");
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "a a2 b child:k");
	assert_int_equal(f->rt->ntasks, 0);
	assert_null(f->rt->ready_head);
	assert_null(f->rt->ready_tail);
}

/* Regression (lua_sched.c lt_task_spawn, fixed): lt.spawn(fn, ...) passes whatever the caller
 * passes. A fresh coroutine has room for about 20
 * values (LUA_MINSTACK) and lua_xmove does not grow the destination: lt_task_spawn must
 * lua_checkstack(t->co, nargs + 1) before moving the function and its arguments. */
static const char *spawn_many(fx *f)
{
	enum { N = 100 };
	lua_State *L = f->L;
	if (!lua_checkstack(L, N + 2))
		return "no room on the main thread";
	lua_pushlightuserdata(L, f);
	lua_pushcclosure(L, c_count_args, 1);
	for (int i = 1; i <= N; i++)
		lua_pushinteger(L, i);
	lt_task_spawn(f->rt, L, lua_gettop(L) - N, N);
	lt_sched_drain(f->rt);
	static char why[128];
	if (f->nargs_seen == N && f->sum_seen == N * (N + 1) / 2)
		return NULL;
	snprintf(why, sizeof why, "the task got %d arguments summing to %lld, expected %d and %d",
		 f->nargs_seen, (long long)f->sum_seen, N, N * (N + 1) / 2);
	return why;
}

static void test_spawn_passes_many_arguments(void **state)
{
	(void)state;
	in_child(spawn_many, "lt_task_spawn with 100 arguments");
}

/* Regression, same cause: from Lua, the way a strategy calls lt.spawn(fn, table.unpack(args))
 * (through the real lt.spawn, 60 arguments crash the process). */
static const char *spawn_many_from_lua(fx *f)
{
	spawn_lua0(f, "local t = {} for i = 1, 60 do t[i] = i end "
		      "spawn(function(...) rec(select('#', ...) .. ':' .. select(60, ...)) end, "
		      "table.unpack(t))");
	lt_sched_drain(f->rt);
	return strcmp(f->log, "60:60") == 0 ? NULL : f->log;
}

static void test_spawn_from_lua_passes_many_arguments(void **state)
{
	(void)state;
	in_child(spawn_many_from_lua, "spawn(fn, 60 arguments) from a task");
}

/* The ready queue is bounded: past the live-task cap a spawn raises, and tasks that end make
 * room again. */
static void test_spawn_past_the_task_cap_raises(void **state)
{
	fx *f = *state;
	f->rt->max_tasks = 5;
	int live = f->rt->ntasks;
	for (int i = live; i < 5; i++)
		spawn_lua0(f, "rec('x')");
	lua_State *L = f->L;
	int top = lua_gettop(L);
	lua_pushcfunction(L, spawn_one_more);
	lua_pushlightuserdata(L, f);
	assert_int_not_equal(lua_pcall(L, 1, 0, 0), LUA_OK);
	assert_non_null(strstr(lua_tostring(L, -1), "tasks are alive"));
	lua_settop(L, top);
	lt_sched_drain(f->rt);     /* they end */
	spawn_lua0(f, "rec('y')"); /* room again */
	lt_sched_drain(f->rt);
	assert_non_null(strstr(f->log, "y"));
}

/* ---- await and wake ------------------------------------------------------------------------------ */

static void test_await_then_wake_resumes_the_continuation_once_with_the_values(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_lua0(f, "local a, b, c = await(); rec(a .. ',' .. b .. ',' .. "
				   "tostring(c))");
	unsigned id = lt_task_id(t);
	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 0); /* waiting */
	assert_ptr_equal(lt_task_find(f->rt, id), t);
	assert_int_equal(f->rt->ntasks, 1);
	assert_null(f->rt->ready_head);

	lua_State *from = lua_newthread(f->L);
	lua_pushinteger(from, 42);
	lua_pushstring(from, "x");
	lt_task_wake(t, from, 2);
	assert_int_equal(lua_gettop(from), 0); /* moved */
	assert_int_equal(f->k_calls, 0);       /* never resumed from inside the wake */
	assert_string_equal(f->log, "");

	lua_pushinteger(from, 99); /* a second completion of the same wait: dropped */
	lt_task_wake(t, from, 1);
	assert_int_equal(lua_gettop(from), 0);

	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 1);
	assert_int_equal(f->k_status, LUA_YIELD);
	assert_int_equal(f->k_ctx, K_CTX);
	assert_int_equal(f->k_nvals, 2);
	assert_int_equal(f->k_first, 42);
	assert_string_equal(f->log, "42,x,nil");
	assert_int_equal(f->cancels, 0); /* a completed wait is not cancelled */
	assert_null(lt_task_find(f->rt, id));
	assert_int_equal(f->rt->ntasks, 0);
	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 1);
	lua_pop(f->L, 1);
}

/* Awaits inside pcall work (5.4 yields across pcall) and may wait again after resuming. */
static void test_a_task_may_await_inside_pcall_and_await_again(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_lua0(f, "local ok, v = pcall(await); rec(tostring(ok) .. ':' .. v); "
				   "rec('second:' .. await())");
	lt_sched_drain(f->rt);
	lua_State *from = f->rt->L;
	lua_pushinteger(from, 5);
	lt_task_wake(t, from, 1);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "true:5");
	assert_int_equal(f->rt->ntasks, 1);
	lua_pushinteger(from, 6);
	lt_task_wake(t, from, 1);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "true:5 second:6");
	assert_int_equal(f->k_calls, 2);
	assert_int_equal(f->rt->ntasks, 0);
}

/* Woken tasks run in the order they were woken, not the order they started waiting. */
static void test_woken_tasks_run_in_wake_order(void **state)
{
	fx *f = *state;
	lt_task *a = spawn_lua0(f, "rec('a' .. await())");
	lt_task *b = spawn_lua0(f, "rec('b' .. await())");
	lt_task *c = spawn_lua0(f, "rec('c' .. await())");
	lt_sched_drain(f->rt);
	lua_State *from = f->rt->L;
	lt_task *order[] = {c, a, b};
	for (int i = 0; i < 3; i++) {
		lua_pushinteger(from, i);
		lt_task_wake(order[i], from, 1);
	}
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "c0 a1 b2");
}

/* Regression (lua_sched.c lt_task_wake, fixed; latent: the callers pass 1 or 2 values). A wake
 * with more values than LUA_MINSTACK: lt_task_wake must make room on the task's stack
 * (lua_checkstack) before lua_xmove, as lt_task_spawn must. */
static const char *wake_many(fx *f)
{
	enum { N = 200 };
	lt_task *w = spawn_lua0(f, "rec(select('#', await()) .. ':' .. select(200, await()))");
	lt_sched_drain(f->rt);
	lua_State *from = f->rt->L;
	if (!lua_checkstack(from, N))
		return "no room on the runtime thread";
	for (int i = 1; i <= N; i++)
		lua_pushinteger(from, i);
	lt_task_wake(w, from, N);
	lt_sched_drain(f->rt);
	/* first await gave N values; the second await waits */
	for (int i = 1; i <= N; i++)
		lua_pushinteger(from, i);
	lt_task_wake(w, from, N);
	lt_sched_drain(f->rt);
	return strcmp(f->log, "200:200") == 0 ? NULL : f->log;
}

static void test_a_wake_moves_many_values(void **state)
{
	(void)state;
	in_child(wake_many, "lt_task_wake with 200 values");
}

/* Drain until nothing is ready: a task that yields again runs in the next drain (after the
 * loop's poll), so a test of bare yields drains more than once. */
static void drain_all(fx *f)
{
	for (int i = 0; i < 100 && f->rt->ready_head; i++)
		lt_sched_drain(f->rt);
}

static void test_a_wake_of_a_task_not_waiting_is_dropped(void **state)
{
	fx *f = *state;
	lua_State *from = lua_newthread(f->L);
	/* ready, never started: the wake's values are popped, the task gets its own arguments */
	static const char *const arg[] = {"own"};
	lt_task *t = spawn_lua(f, "rec(select('#', ...) .. ':' .. ...)", 1, arg);
	lua_pushstring(from, "stray");
	lua_pushstring(from, "stray2");
	lt_task_wake(t, from, 2);
	assert_int_equal(lua_gettop(from), 0);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "1:own");

	/* after a bare yield (ready again, not waiting): another task's wake is dropped */
	f->log[0] = '\0';
	t = spawn_lua0(f, "rec('y' .. select('#', coroutine.yield()))");
	char src[128];
	snprintf(src, sizeof src, "rec('waker'); wake(%u, 'stray')", lt_task_id(t));
	spawn_lua0(f, src);
	drain_all(f);
	assert_string_equal(f->log, "waker y0");

	/* woken, not yet resumed: a second completion is dropped */
	f->log[0] = '\0';
	t = spawn_lua0(f, "rec('r' .. select('#', await()))");
	lt_sched_drain(f->rt);
	unsigned id = lt_task_id(t);
	lua_pushstring(from, "late");
	lt_task_wake(t, from, 1);
	lua_pushstring(from, "dup");
	lt_task_wake(t, from, 1); /* woken but not yet resumed: not waiting any more */
	assert_int_equal(lua_gettop(from), 0);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "r1");
	assert_null(lt_task_find(f->rt, id));
	lua_pop(f->L, 1);
}

static int c_wake_self_then_await(lua_State *L)
{
	fx *f = fx_of(L);
	lt_task *t = lt_task_require(L, "c_wake_self_then_await");
	lua_pushinteger(L, 5);
	lt_task_wake(t, L, 1); /* running, not waiting: dropped */
	lua_settop(L, 0);
	return lt_task_await(L, t, on_cancel, f, AWAIT_ID, k_await, K_CTX);
}

static void test_a_wake_before_the_await_does_not_complete_it(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_c(f, c_wake_self_then_await, 0, NULL);
	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 0);
	assert_ptr_equal(lt_task_find(f->rt, lt_task_id(t)), t);
	assert_null(f->rt->ready_head);
	lt_task_kill(t);
	assert_int_equal(f->cancels, 1);
}

/* ---- lt_task_find and ids -------------------------------------------------------------------------- */

static void test_find_gives_live_tasks_and_null_once_they_ended(void **state)
{
	fx *f = *state;
	lt_task *done = spawn_lua0(f, "rec('done')");
	lt_task *failed = spawn_lua0(f, "error('x')");
	lt_task *waiting = spawn_lua0(f, "await()");
	unsigned id_done = lt_task_id(done), id_failed = lt_task_id(failed);
	unsigned id_waiting = lt_task_id(waiting);
	assert_ptr_equal(lt_task_find(f->rt, id_done), done); /* ready tasks are live too */
	assert_true(id_done != 0 && id_failed != 0 && id_waiting != 0);
	capture c;
	capture_start(&c);
	lt_sched_drain(f->rt);
	capture_end(&c);
	assert_null(lt_task_find(f->rt, id_done));
	assert_null(lt_task_find(f->rt, id_failed));
	assert_ptr_equal(lt_task_find(f->rt, id_waiting), waiting);
	assert_ptr_equal(lt_task_thread(waiting), lt_task_thread(lt_task_find(f->rt, id_waiting)));
	assert_null(lt_task_find(f->rt, 0));
	assert_null(lt_task_find(f->rt, id_waiting + 256)); /* same chain, no such task */
	assert_null(lt_task_find(f->rt, UINT_MAX));
	lt_task_kill(waiting);
	assert_null(lt_task_find(f->rt, id_waiting));
}

enum { MANY = 1000 };

static void test_ids_are_never_reused_over_many_spawns_and_collisions(void **state)
{
	fx *f = *state;
	static unsigned ids[2 * MANY];
	static lt_task *tasks[2 * MANY];
	for (int i = 0; i < MANY; i++) {
		tasks[i] = spawn_lua0(f, "await()");
		ids[i] = lt_task_id(tasks[i]);
		assert_true(ids[i] != 0);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
	}
	lt_sched_drain(f->rt);
	assert_int_equal(f->rt->ntasks, MANY);
	for (int i = 0; i < MANY; i++) /* four tasks per hash chain: each found by its id */
		assert_ptr_equal(lt_task_find(f->rt, ids[i]), tasks[i]);
	/* end every other one: half by kill, half by completing their wait */
	lua_State *from = f->rt->L;
	for (int i = 0; i < MANY; i += 2) {
		if (i % 4 == 0)
			lt_task_kill(tasks[i]);
		else
			lt_task_wake(tasks[i], from, 0);
	}
	lt_sched_drain(f->rt);
	assert_int_equal(f->rt->ntasks, MANY / 2);
	for (int i = 0; i < MANY; i++)
		if (i % 2)
			assert_ptr_equal(lt_task_find(f->rt, ids[i]), tasks[i]);
		else
			assert_null(lt_task_find(f->rt, ids[i]));
	/* a second generation lands in the same chains with new ids */
	for (int i = MANY; i < 2 * MANY; i++) {
		tasks[i] = spawn_lua0(f, "await()");
		ids[i] = lt_task_id(tasks[i]);
		for (int j = 0; j < MANY; j++)
			if (ids[i] == ids[j])
				fail_msg("id %u given again (first to task %d, now to %d)", ids[i],
					 j, i);
	}
	lt_sched_drain(f->rt);
	for (int i = 0; i < MANY; i += 2) /* a completion for an ended task finds nothing */
		assert_null(lt_task_find(f->rt, ids[i]));
	for (int i = 1; i < MANY; i += 2)
		assert_ptr_equal(lt_task_find(f->rt, ids[i]), tasks[i]);
	for (int i = MANY; i < 2 * MANY; i++)
		assert_ptr_equal(lt_task_find(f->rt, ids[i]), tasks[i]);
	assert_int_equal(f->rt->ntasks, MANY / 2 + MANY);
	assert_int_equal(f->cancels, MANY / 4); /* one per killed waiting task */
}

/* Regression (lua_sched.c lt_task_spawn, fixed): When the 32-bit counter wraps (2^32 spawns in a long-lived process: a task per event), a new
 * task must not take the id of a task that is still alive, or lt_task_find(old id) returns the
 * new task and the old task's completion resumes the wrong coroutine. lt_task_spawn skips only
 * 0; it must also skip ids still in use (while (id == 0 || lt_task_find(rt, id)) id = ++next). */
static void test_ids_are_not_reused_when_the_counter_wraps(void **state)
{
	fx *f = *state;
	lt_task *old = spawn_lua0(f, "rec('old:' .. await())"); /* id 1, stays alive */
	unsigned old_id = lt_task_id(old);
	lt_sched_drain(f->rt);
	f->rt->next_task_id = UINT_MAX - 2; /* as after 2^32 - 3 spawns */
	unsigned seen[4];
	lt_task *fresh[4];
	for (int i = 0; i < 4; i++) {
		fresh[i] = spawn_lua0(f, "rec('new:' .. await())");
		seen[i] = lt_task_id(fresh[i]);
		assert_true(seen[i] != 0);
	}
	lt_sched_drain(f->rt);
	for (int i = 0; i < 4; i++)
		if (seen[i] == old_id)
			fail_msg("task %d after the wrap got id %u, the id of a live task", i,
				 old_id);
	assert_ptr_equal(lt_task_find(f->rt, old_id), old);
	lua_pushstring(f->rt->L, "mine");
	lt_task_wake(lt_task_find(f->rt, old_id), f->rt->L, 1);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "old:mine");
}

/* ---- kill ---------------------------------------------------------------------------------------- */

static const char CLOSE_AND_AWAIT[] = "local x <close> = setmetatable({}, {__close = function() "
				      "note_close(); rec('closed') end})\n"
				      "rec('start'); await(); rec('not reached')";

static void test_kill_withdraws_the_wait_once_and_runs_to_be_closed_variables(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_lua0(f, CLOSE_AND_AWAIT);
	unsigned id = lt_task_id(t);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "start");
	assert_int_equal(f->cancels, 0);
	lt_task_kill(t);
	assert_int_equal(f->cancels, 1);
	assert_ptr_equal(f->cancel_obj, f);
	assert_int_equal(f->cancel_id, AWAIT_ID);
	assert_int_equal(f->closes, 1);
	assert_string_equal(f->log, "start closed");
	assert_null(lt_task_find(f->rt, id));
	assert_int_equal(f->rt->ntasks, 0);
	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 0);
	assert_int_equal(f->cancels, 1);
	assert_string_equal(f->log, "start closed");
}

/* Woken but not yet resumed: the wait is over (no cancel), the task is taken off the ready
 * queue, its to-be-closed variables still run, and its values never arrive. */
static void test_kill_of_a_woken_task_skips_the_cancel_and_the_resume(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_lua0(f, CLOSE_AND_AWAIT);
	lt_sched_drain(f->rt);
	lt_task_wake(t, f->rt->L, 0);
	lt_task_kill(t);
	assert_int_equal(f->cancels, 0);
	assert_int_equal(f->closes, 1);
	assert_null(f->rt->ready_head);
	assert_null(f->rt->ready_tail);
	lt_sched_drain(f->rt);
	assert_int_equal(f->k_calls, 0);
	assert_string_equal(f->log, "start closed");
}

/* A ready task killed before it ever ran never runs; the ready queue stays linked whether it
 * was the head, the middle or the tail (and a later spawn lands after the right tail). */
static void test_kill_unlinks_a_ready_task_from_anywhere_in_the_queue(void **state)
{
	fx *f = *state;
	lt_task *a = spawn_c1(f, c_rec_args, "a");
	lt_task *b = spawn_c1(f, c_rec_args, "b");
	lt_task *c = spawn_c1(f, c_rec_args, "c");
	lt_task *d = spawn_c1(f, c_rec_args, "d");
	(void)b;
	lt_task_kill(d); /* the tail */
	spawn_c1(f, c_rec_args, "e");
	lt_task_kill(c); /* the middle */
	lt_task_kill(a); /* the head */
	spawn_c1(f, c_rec_args, "f");
	assert_int_equal(f->rt->ntasks, 3);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "b e f");
	assert_int_equal(f->cancels, 0);
	assert_int_equal(f->rt->ntasks, 0);
}

/* A task may kill others while the queue drains: a waiting one (withdrawn, closed) and a
 * ready one further down the queue (never runs). */
static void test_a_task_may_kill_other_tasks_during_the_drain(void **state)
{
	fx *f = *state;
	lt_task *w = spawn_lua0(f, CLOSE_AND_AWAIT);
	lt_sched_drain(f->rt);
	f->log[0] = '\0';
	char src[256];
	snprintf(src, sizeof src, "rec('killer'); rec(tostring(kill(%u))); rec(tostring(kill(%u)))",
		 lt_task_id(w), lt_task_id(w) + 2);
	spawn_lua0(f, src);
	spawn_lua0(f, "rec('victim')"); /* id w + 2 */
	spawn_lua0(f, "rec('after')");
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "killer closed true true after");
	assert_int_equal(f->cancels, 1);
	assert_int_equal(f->rt->ntasks, 0);
}

/* Shutdown (the runtime's __gc at lua_close) ends waiting tasks the same way: withdrawn once,
 * closed. */
static void test_closing_the_state_ends_waiting_tasks(void **state)
{
	fx *f = *state;
	spawn_lua0(f, CLOSE_AND_AWAIT);
	spawn_lua0(f, CLOSE_AND_AWAIT);
	lt_sched_drain(f->rt);
	f->log[0] = '\0';
	spawn_lua0(f, "rec('ready, never run')");
	lua_close(f->L);
	f->L = NULL;
	assert_int_equal(f->cancels, 2);
	assert_int_equal(f->closes, 2);
	assert_string_equal(f->log, "closed closed");
}

/* ---- errors -------------------------------------------------------------------------------------- */

static void test_an_error_is_logged_and_ends_only_that_task(void **state)
{
	fx *f = *state;
	spawn_lua0(f, "rec('a')");
	lt_task *bad = spawn_lua0(
		f, "local x <close> = setmetatable({}, {__close = function() note_close() end})\n"
		   "local function inner() error('boom in task') end\ninner()");
	spawn_lua0(f, "rec('c')");
	lt_task *w = spawn_lua0(f, "rec('w'); await(); rec('w2')");
	unsigned bad_id = lt_task_id(bad);
	capture c;
	capture_start(&c);
	lt_sched_drain(f->rt);
	const char *err = capture_end(&c);
	assert_string_equal(f->log, "a c w");
	assert_int_equal(f->closes, 1); /* its to-be-closed variable ran */
	assert_null(lt_task_find(f->rt, bad_id));
	assert_ptr_equal(lt_task_find(f->rt, lt_task_id(w)), w);
	assert_int_equal(f->rt->ntasks, 1);
	assert_int_equal(f->rt->interrupted, 0);
	char want[64];
	snprintf(want, sizeof want, "task %u failed:", bad_id);
	if (!strstr(err, want) || !strstr(err, "boom in task") || !strstr(err, "stack traceback") ||
	    !strstr(err, "inner") || !strstr(err, "ERROR"))
		fail_msg("log lacks the task's error and traceback:\n%s", err);
	/* the survivor still completes */
	lt_task_wake(w, f->rt->L, 0);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "a c w w2");
}

static int k_raise(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return luaL_error(L, "raised in the continuation");
}

static int c_await_then_raise(lua_State *L)
{
	lt_task *t = lt_task_require(L, "c_await_then_raise");
	return lt_task_await(L, t, on_cancel, fx_of(L), AWAIT_ID, k_raise, 0);
}

/* An error after a wait (in a C continuation), and an error object that is not a string. */
static void test_errors_in_a_continuation_or_with_a_table_are_logged_too(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_c(f, c_await_then_raise, 0, NULL);
	lt_task *tbl = spawn_lua0(f, "error({code = 1})");
	unsigned id = lt_task_id(t), tid = lt_task_id(tbl);
	capture c;
	capture_start(&c);
	lt_sched_drain(f->rt);
	lt_task_wake(t, f->rt->L, 0);
	lt_sched_drain(f->rt);
	const char *err = capture_end(&c);
	assert_null(lt_task_find(f->rt, id));
	assert_null(lt_task_find(f->rt, tid));
	assert_int_equal(f->rt->ntasks, 0);
	assert_int_equal(f->cancels, 0);
	assert_non_null(strstr(err, "raised in the continuation"));
	assert_non_null(strstr(err, "(error object is not a string)"));
	assert_int_equal(lua_gettop(f->rt->L), 0); /* nothing left on the runtime's thread */
}

/* The main task's error is not logged: it is kept for lt.run to re-raise (as the very object,
 * e.g. a test framework's table) and the run is interrupted. */
static void test_the_main_task_error_is_kept_for_lt_run(void **state)
{
	fx *f = *state;
	lua_newtable(f->L);
	lua_setglobal(f->L, "the_error");
	lt_task *main = spawn_lua0(f, "error(the_error)");
	spawn_lua0(f, "rec('other')");
	f->rt->main_task = main;
	capture c;
	capture_start(&c);
	lt_sched_drain(f->rt);
	const char *err = capture_end(&c);
	assert_null(strstr(err, "failed"));
	assert_int_equal(f->rt->interrupted, 1);
	assert_null(f->rt->main_task);
	assert_true(f->rt->main_error_ref != LUA_NOREF);
	lua_rawgeti(f->L, LUA_REGISTRYINDEX, f->rt->main_error_ref);
	lua_getglobal(f->L, "the_error");
	assert_true(lua_rawequal(f->L, -1, -2));
	lua_pop(f->L, 2);
}

/* ---- sleep on the loop --------------------------------------------------------------------------- */

static void test_sleep_wakes_after_about_the_given_ms_in_deadline_order(void **state)
{
	fx *f = *state;
	lt_rt_loop(f->L, f->rt);
	int64_t t0 = lt_now_us();
	spawn_lua0(f, "sleep_ms(150, 0)");
	spawn_lua0(f, "sleep_ms(50, 1)");
	spawn_lua0(f, "sleep_ms(100, 2)");
	spawn_lua0(f, "sleep_ms(0, 3)");
	int64_t took = run_loop(f, 5 * S);
	assert_int_equal(f->rt->ntasks, 0);
	assert_string_equal(f->log, "woke3 woke1 woke2 woke0");
	static const int64_t ms[] = {150, 50, 100, 0};
	for (int i = 0; i < 4; i++) {
		int64_t slept = f->woke_at[i] - t0;
		if (slept < ms[i] * MS || slept > ms[i] * MS + 1 * S)
			fail_msg("sleep_ms(%lld) resumed after %lld us", (long long)ms[i],
				 (long long)slept);
	}
	/* the loop was not left blocked after the last timer (sleep_done wakes it) */
	if (took > 150 * MS + 1 * S)
		fail_msg("the run took %lld us for a 150 ms sleep", (long long)took);
}

/* A killed sleeper's timer is cancelled: it never resumes (and nothing touches its freed
 * memory: ASan) while the loop runs past its deadline. */
static void test_a_killed_sleeper_never_wakes(void **state)
{
	fx *f = *state;
	lt_rt_loop(f->L, f->rt);
	lt_task *t = spawn_lua0(
		f, "local x <close> = setmetatable({}, {__close = note_close}) sleep_ms(30, 0)");
	spawn_lua0(f, "sleep_ms(150, 1)");
	lt_sched_drain(f->rt);
	lt_task_kill(t);
	assert_int_equal(f->closes, 1);
	run_loop(f, 5 * S);
	assert_string_equal(f->log, "woke1");
	assert_int_equal(f->rt->ntasks, 0);
}

/* ---- yield ---------------------------------------------------------------------------------------- */

static void test_a_bare_yield_goes_to_the_back_of_the_ready_queue(void **state)
{
	fx *f = *state;
	spawn_lua0(f,
		   "rec('a1'); coroutine.yield(); rec('a2'); coroutine.yield(1, 2, 3); rec('a3')");
	spawn_lua0(f, "rec('b1'); coroutine.yield(); rec('b2')");
	spawn_lua0(f, "rec('c1')");
	drain_all(f);
	assert_string_equal(f->log, "a1 b1 c1 a2 b2 a3");
	assert_int_equal(f->rt->ntasks, 0);
}

/* A task that yields again at once is left for the next drain: a drain always returns, so the
 * loop polls (a bare yield in a loop, or a cancelled task swallowing its error, cannot starve
 * I/O and timers). Those made ready by others during the drain still run in it. */
static void test_a_task_that_yields_forever_does_not_keep_the_drain_from_returning(void **state)
{
	fx *f = *state;
	lt_task *spin = spawn_lua0(f, "while true do rec('s'); coroutine.yield() end");
	spawn_lua0(f, "rec('b'); spawn(function() rec('child') end)");
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "s b child");
	assert_ptr_equal(f->rt->ready_head, spin);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "s b child s");
	lt_task_kill(spin);
	assert_int_equal(f->rt->ntasks, 0);
}

/* Values yielded are dropped, the task resumes with none; a yield inside pcall is the same. */
static void test_a_bare_yield_resumes_with_no_values(void **state)
{
	fx *f = *state;
	spawn_lua0(f,
		   "rec(select('#', coroutine.yield(1, 2))); "
		   "local ok, n = pcall(function() return select('#', coroutine.yield('x')) end); "
		   "rec(tostring(ok) .. n)");
	drain_all(f);
	assert_string_equal(f->log, "0 true0");
}

/* A plain coroutine made inside a task yields to the task, not to the scheduler. */
static void test_a_plain_coroutine_inside_a_task_is_not_a_task(void **state)
{
	fx *f = *state;
	spawn_lua0(f,
		   "local co = coroutine.wrap(function() coroutine.yield('in') return 'out' end)\n"
		   "rec(co()); rec('mid'); rec(co())");
	spawn_lua0(f, "rec('other')");
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "in mid out other");
}

/* ---- lt_task_require -------------------------------------------------------------------------------- */

static void assert_raises(lua_State *L, const char *src, const char *want)
{
	if (luaL_loadstring(L, src) != LUA_OK)
		fail_msg("%s", lua_tostring(L, -1));
	if (lua_pcall(L, 0, 0, 0) == LUA_OK)
		fail_msg("%s: did not raise", src);
	const char *msg = lua_tostring(L, -1);
	if (!msg || !strstr(msg, want))
		fail_msg("%s: raised \"%s\", expected \"%s\"", src, msg ? msg : "?", want);
	lua_pop(L, 1);
}

static void test_task_require_raises_outside_a_task(void **state)
{
	fx *f = *state;
	const char *not_task = "probe: must be called from a luatrade task";
	assert_null(lt_task_of(f->L));
	assert_raises(f->L, "require_task()", not_task);
	assert_raises(f->L, "coroutine.wrap(require_task)()", not_task); /* a plain coroutine */
	assert_raises(f->L, "await()", "await: must be called from a luatrade task");
	assert_int_equal(f->rt->ntasks, 0);
}

/* Inside a task: fine directly and inside pcall; refused in a plain coroutine the task made
 * (not a task) and where the task cannot yield (metamethod, table.sort comparator, gsub
 * callback). */
static void test_task_require_inside_a_task_accepts_only_where_it_can_wait(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_lua0(
		f, "local function try(fn) local ok, e = pcall(fn) rec(ok and 'ok' or "
		   "(e:find('must be called from a luatrade task', 1, true) and 'not_task' or "
		   "e:find('cannot wait here', 1, true) and 'cannot_wait' or e)) end\n"
		   "try(require_task)\n"
		   "try(function() return require_task() end)\n"
		   "try(function() return coroutine.wrap(require_task)() end)\n"
		   "try(function() return tostring(setmetatable({}, {__tostring = function() "
		   "require_task() return '' end})) end)\n"
		   "try(function() table.sort({3, 2, 1}, function(a, b) require_task() return a < "
		   "b end) "
		   "end)\n"
		   "try(function() return ('ab'):gsub('.', function() require_task() end) end)\n");
	(void)t;
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "ok ok not_task cannot_wait cannot_wait cannot_wait");
}

static int c_task_of(lua_State *L)
{
	fx *f = fx_of(L);
	lt_task *t = lt_task_of(L);
	rec(f, t && lt_task_thread(t) == L ? "self" : "?");
	return 0;
}

static void test_task_of_maps_the_task_thread_to_its_task(void **state)
{
	fx *f = *state;
	lt_task *t = spawn_c(f, c_task_of, 0, NULL);
	lua_State *co = lt_task_thread(t);
	assert_non_null(co);
	assert_ptr_equal(lt_task_of(co), t);
	lt_sched_drain(f->rt);
	assert_string_equal(f->log, "self");
	assert_null(lt_task_of(f->L));
	assert_null(lt_task_of(f->rt->L));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	lt_log_set_level(LT_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		T(test_the_runtime_is_one_per_state_and_makes_its_loop_once),
		T(test_spawned_tasks_run_in_fifo_order_when_drained),
		T(test_a_task_spawned_by_a_task_runs_in_the_same_drain_after_those_ready),
		T(test_spawn_passes_many_arguments),
		T(test_spawn_from_lua_passes_many_arguments),
		T(test_spawn_past_the_task_cap_raises),
		T(test_await_then_wake_resumes_the_continuation_once_with_the_values),
		T(test_a_task_may_await_inside_pcall_and_await_again),
		T(test_woken_tasks_run_in_wake_order),
		T(test_a_wake_moves_many_values),
		T(test_a_wake_of_a_task_not_waiting_is_dropped),
		T(test_a_wake_before_the_await_does_not_complete_it),
		T(test_find_gives_live_tasks_and_null_once_they_ended),
		T(test_ids_are_never_reused_over_many_spawns_and_collisions),
		T(test_ids_are_not_reused_when_the_counter_wraps),
		T(test_kill_withdraws_the_wait_once_and_runs_to_be_closed_variables),
		T(test_kill_of_a_woken_task_skips_the_cancel_and_the_resume),
		T(test_kill_unlinks_a_ready_task_from_anywhere_in_the_queue),
		T(test_a_task_may_kill_other_tasks_during_the_drain),
		T(test_closing_the_state_ends_waiting_tasks),
		T(test_an_error_is_logged_and_ends_only_that_task),
		T(test_errors_in_a_continuation_or_with_a_table_are_logged_too),
		T(test_the_main_task_error_is_kept_for_lt_run),
		T(test_sleep_wakes_after_about_the_given_ms_in_deadline_order),
		T(test_a_killed_sleeper_never_wakes),
		T(test_a_bare_yield_goes_to_the_back_of_the_ready_queue),
		T(test_a_bare_yield_resumes_with_no_values),
		T(test_a_task_that_yields_forever_does_not_keep_the_drain_from_returning),
		T(test_a_plain_coroutine_inside_a_task_is_not_a_task),
		T(test_task_require_raises_outside_a_task),
		T(test_task_require_inside_a_task_accepts_only_where_it_can_wait),
		T(test_task_of_maps_the_task_thread_to_its_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
