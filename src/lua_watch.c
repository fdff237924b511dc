/* lua_watch.c — file watchers for hot reload: core.watch_new, an inotify instance polled by the
 * one event loop (lt_loop_watch_fd), whose changes (and SIGHUP, while lt.run runs) a task awaits.
 *
 *     local core = require "luatrade.core"
 *     local w <close> = core.watch_new{ hup = true }  -- hup: SIGHUP is delivered to it too
 *     w:add("strategies/mm.lua")                        -- true; relative paths are made absolute
 *     while true do
 *       local ev, err = w:wait(60)                      -- awaitable; only this task waits
 *       if ev then reload(ev.paths, ev.hup)             -- { paths = {"/abs/mm.lua"}, hup = false }
 *       elseif err == "closed" then break end           -- else err == "timeout"
 *     end
 *
 * w:add(path) watches the file's directory (IN_CLOSE_WRITE | IN_MOVED_TO) and picks out the
 * file's name, so in-place writes, delete + create and editors that rename a temporary file over
 * the original (vim, most IDEs) are all seen; the file need not exist yet. Idempotent. The
 * directory's own entry is what counts: a symlink's target elsewhere is not watched, and a
 * directory that goes away reports its files changed once (add them again once it is back).
 * w:wait([seconds]) returns at once when something is pending, else suspends the calling task
 * until a change, a SIGHUP (hup watchers, only while lt.run runs), the timeout (nil, "timeout")
 * or w:close() (nil, "closed"). The result lists each changed watched file once, in order of its
 * first change since the last wait; changes with no task waiting accumulate in that set, which
 * holds at most one entry per watched file (the queue's cap). A kernel queue overflow reports
 * every watched file. w:close() (also __gc, __close) is idempotent. tostring(w) is
 * "luatrade.Watcher(N files, open|closed)".
 *
 * Errors (raised): "watch: cannot watch <dir>: <reason>" from add; "watch: the watcher is
 * closed" for add/wait after close; "watch: another task is already waiting" (one waiter per
 * watcher); wait outside a task; "watch: cannot create an inotify instance: <reason>" from
 * watch_new; more than LT_WATCH_MAX_FILES files. No rate limit applies.
 *
 * SIGHUP: while lt.run runs and a watcher made with hup = true is open, the handler here catches
 * SIGHUP (otherwise it keeps its disposition, by default ending the process; the previous one is
 * restored when that stops). The handler only sets rt->hup_pending and wakes the loop; lt.run's
 * loop calls lt_watch_deliver_hup.
 */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lua_rt.h"

#define LT_WATCHER_MT "luatrade.Watcher"
#define LT_WATCH_MAX_FILES 10000 /* per watcher; lookups scan them */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR)

typedef struct wfile {
	char *path;       /* absolute: realpath of the directory + "/" + name */
	const char *name; /* the last component, inside path */
	int wd;           /* the directory's watch; -1 once the kernel dropped it */
	bool pending;     /* changed since the last wait returned */
} wfile;

struct lt_watcher {
	lt_rt *rt;
	bool open, hup, hup_pending;
	int fd;          /* the inotify instance; -1 when closed */
	struct lws *wsi; /* the loop's poll of fd (NULL once the loop ended it) */
	wfile *files;
	size_t nfiles, cap;
	size_t *order; /* pending files, by first change: at most nfiles (cap entries) */
	size_t npending;
	lt_task *waiter;            /* the task in wait(), if any */
	unsigned woken;             /* the waiter woken but not yet resumed (its id), or 0 */
	lws_sorted_usec_list_t sul; /* the wait's timeout */
	lt_watcher *prev, *next;    /* rt->watchers */
};

/* ---- SIGHUP ----------------------------------------------------------------------------------
 * A signal handler reaches the runtime only through statics (the no-globals rule's exception, as
 * in lua_core.c): set only while the handler is installed. */
static lt_rt *volatile hup_rt;
static struct sigaction hup_old;
static bool hup_caught;

static void on_hup(int sig)
{
	(void)sig;
	lt_rt *rt = hup_rt;
	if (rt) {
		rt->hup_pending = 1;
		lt_loop_wake(rt->loop); /* async-signal-safe */
	}
}

void lt_watch_signals(lt_rt *rt)
{
	bool want = false;
	for (lt_watcher *w = rt->watchers; w && rt->running && !want; w = w->next)
		want = w->hup;
	if (want && !hup_caught) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_hup;
		sigemptyset(&sa.sa_mask);
		hup_rt = rt;
		hup_caught = sigaction(SIGHUP, &sa, &hup_old) == 0;
		if (!hup_caught)
			hup_rt = NULL;
	} else if (!want && hup_caught && hup_rt == rt) {
		sigaction(SIGHUP, &hup_old, NULL);
		hup_caught = false;
		hup_rt = NULL;
		rt->hup_pending = 0; /* no hup watcher is left to take it */
	}
}

/* ---- events ------------------------------------------------------------------------------- */

static void mark(lt_watcher *w, size_t i)
{
	if (w->files[i].pending)
		return;
	w->files[i].pending = true;
	w->order[w->npending++] = i;
}

/* Hand the waiter back to the scheduler: its continuation reads what is pending (nothing is
 * pushed here, so this allocates nothing and is safe in any callback). */
static void wake_waiter(lt_watcher *w)
{
	lt_task *t = w->waiter;
	if (!t)
		return;
	w->waiter = NULL;
	w->woken = lt_task_id(t);
	lws_sul_cancel(&w->sul);
	lt_task_wake(t, w->rt->L, 0);
}

/* One inotify event: mark the watched files it concerns; true if it marked any. */
static bool on_event(lt_watcher *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: any file may have changed */
		for (size_t i = 0; i < w->nfiles; i++)
			mark(w, i);
		return w->nfiles > 0;
	}
	bool any = false;
	for (size_t i = 0; i < w->nfiles; i++) {
		wfile *f = &w->files[i];
		if (f->wd != ev->wd)
			continue;
		if (ev->mask & IN_IGNORED) /* the directory is gone (or unmounted) */
			f->wd = -1;
		else if (!ev->len || strcmp(f->name, ev->name) != 0)
			continue;
		mark(w, i);
		any = true;
	}
	return any;
}

/* The loop's callback (inside lt_loop_service): drain the inotify queue. */
static void on_readable(void *arg)
{
	lt_watcher *w = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t n;
	while ((n = read(w->fd, buf, sizeof buf)) > 0) /* until EAGAIN */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			any |= on_event(w, ev);
			p += sizeof *ev + ev->len;
		}
	if (any && w->waiter) {
		wake_waiter(w);
		lt_loop_wake(w->rt->loop);
	}
}

static void on_timeout(lws_sorted_usec_list_t *sul)
{
	lt_watcher *w = lws_container_of(sul, lt_watcher, sul);
	wake_waiter(w);
	lt_loop_wake(w->rt->loop); /* timers run just before the poll: end that poll */
}

void lt_watch_deliver_hup(lt_rt *rt)
{
	for (lt_watcher *w = rt->watchers; w; w = w->next)
		if (w->hup) {
			w->hup_pending = true;
			wake_waiter(w);
		}
}

/* ---- close ---------------------------------------------------------------------------------- */

static void watcher_close(lt_watcher *w)
{
	if (!w->open)
		return;
	lt_rt *rt = w->rt;
	w->open = false;
	lws_sul_cancel(&w->sul);
	lt_loop_unwatch_fd(&w->wsi); /* closes the loop's duplicate; ours is closed here */
	close(w->fd);
	w->fd = -1;
	for (size_t i = 0; i < w->nfiles; i++)
		free(w->files[i].path);
	free(w->files);
	free(w->order);
	w->files = NULL;
	w->order = NULL;
	w->nfiles = w->cap = w->npending = 0;
	if (w->prev)
		w->prev->next = w->next;
	else
		rt->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	wake_waiter(w); /* it gets nil, "closed" */
	if (w->hup)
		lt_watch_signals(rt);
}

void lt_watch_close_all(lt_rt *rt)
{
	while (rt->watchers)
		watcher_close(rt->watchers);
}

/* ---- Lua ---------------------------------------------------------------------------------- */

static lt_watcher *check_watcher(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LT_WATCHER_MT);
}

static lt_watcher *check_open(lua_State *L, int idx)
{
	lt_watcher *w = check_watcher(L, idx);
	if (!w->open)
		luaL_error(L, "watch: the watcher is closed");
	return w;
}

/* core.watch_new([{hup = boolean}]): a new watcher watching nothing yet. */
static int l_watch_new(lua_State *L)
{
	bool hup = false;
	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		int ty = lua_getfield(L, 1, "hup");
		luaL_argcheck(L, ty == LUA_TNIL || ty == LUA_TBOOLEAN, 1,
			      "option 'hup' must be a boolean");
		hup = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lt_rt *rt = lt_rt_get(L);
	lt_loop *loop = lt_rt_loop(L, rt);
	lt_watcher *w = lua_newuserdatauv(L, sizeof *w, 0);
	memset(w, 0, sizeof *w); /* closed until everything is acquired */
	w->fd = -1;
	luaL_setmetatable(L, LT_WATCHER_MT);
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return luaL_error(L, "watch: cannot create an inotify instance: %s",
				  strerror(errno));
	lt_err err = {0, ""};
	if (lt_loop_watch_fd(loop, fd, on_readable, w, &w->wsi, &err)) {
		close(fd);
		return luaL_error(L, "watch: %s", err.msg);
	}
	w->rt = rt;
	w->fd = fd;
	w->hup = hup;
	w->open = true;
	w->next = rt->watchers;
	if (rt->watchers)
		rt->watchers->prev = w;
	rt->watchers = w;
	if (hup)
		lt_watch_signals(rt); /* made during lt.run: catch SIGHUP from now on */
	return 1;
}

/* The absolute path of dir/name with dir resolved, malloc'd; NULL with errno set. The watch on
 * the directory is added (or found: the kernel returns the existing one) into *wd. */
static char *watch_dir(int fd, const char *dir, const char *name, int *wd)
{
	char *real = realpath(dir, NULL);
	if (!real)
		return NULL;
	*wd = inotify_add_watch(fd, real, WATCH_MASK);
	size_t n = strlen(real) + 1 + strlen(name) + 1;
	char *abs = *wd < 0 ? NULL : malloc(n);
	if (abs)
		snprintf(abs, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "", name);
	int e = *wd < 0 ? errno : ENOMEM;
	free(real);
	errno = e;
	return abs;
}

/* Room for one more file (files and order grow together); false when out of memory. */
static bool grow(lt_watcher *w)
{
	if (w->nfiles < w->cap)
		return true;
	size_t cap = w->cap ? w->cap * 2 : 4;
	wfile *files = realloc(w->files, cap * sizeof *files);
	if (!files)
		return false;
	w->files = files;
	size_t *order = realloc(w->order, cap * sizeof *order);
	if (!order)
		return false;
	w->order = order;
	w->cap = cap;
	return true;
}

/* w:add(path): watch this file (its directory); true. Idempotent. */
static int l_add(lua_State *L)
{
	lt_watcher *w = check_open(L, 1);
	size_t len;
	const char *path = luaL_checklstring(L, 2, &len);
	luaL_argcheck(L, len > 0 && strlen(path) == len, 2, "path must be a non-empty string");
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	luaL_argcheck(L, *name && strcmp(name, ".") && strcmp(name, ".."), 2,
		      "path must name a file");
	if (slash)
		lua_pushlstring(L, path, slash == path ? 1 : (size_t)(slash - path));
	else
		lua_pushliteral(L, ".");
	const char *dir = lua_tostring(L, -1);
	int wd;
	char *abs = watch_dir(w->fd, dir, name, &wd);
	if (!abs)
		return luaL_error(L, "watch: cannot watch %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < w->nfiles; i++)
		if (strcmp(w->files[i].path, abs) == 0) {
			free(abs);
			w->files[i].wd =
				wd; /* the same, or a new one for a directory that came back */
			lua_pushboolean(L, 1);
			return 1;
		}
	if (w->nfiles >= LT_WATCH_MAX_FILES) {
		free(abs);
		return luaL_error(L, "watch: too many files (at most %d per watcher)",
				  LT_WATCH_MAX_FILES);
	}
	if (!grow(w)) {
		free(abs);
		return luaL_error(L, "watch: out of memory");
	}
	wfile *f = &w->files[w->nfiles++];
	f->path = abs;
	f->name = strrchr(abs, '/') + 1;
	f->wd = wd;
	f->pending = false;
	lua_pushboolean(L, 1);
	return 1;
}

/* {paths = {...}, hup = bool} from what is pending, which is then cleared. */
static int push_events(lua_State *L, lt_watcher *w)
{
	lua_createtable(L, 0, 2);
	lua_createtable(L, (int)w->npending, 0);
	for (size_t i = 0; i < w->npending; i++) {
		lua_pushstring(L, w->files[w->order[i]].path);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "paths");
	lua_pushboolean(L, w->hup_pending);
	lua_setfield(L, -2, "hup");
	for (size_t i = 0; i < w->npending; i++)
		w->files[w->order[i]].pending = false;
	w->npending = 0;
	w->hup_pending = false;
	return 1;
}

static int k_wait(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	lt_watcher *w = check_watcher(L, 1);
	w->woken = 0;
	if (!w->open) {
		lua_pushnil(L);
		lua_pushliteral(L, "closed");
		return 2;
	}
	if (w->npending || w->hup_pending)
		return push_events(L, w);
	lua_pushnil(L);
	lua_pushliteral(L, "timeout");
	return 2;
}

/* The waiting task was killed: forget it (and its timeout). */
static void cancel_wait(void *obj, int64_t id)
{
	(void)id;
	lt_watcher *w = obj;
	w->waiter = NULL;
	lws_sul_cancel(&w->sul);
}

/* w:wait([seconds]): the pending changes, waiting for some; nil, "timeout" | "closed". */
static int l_wait(lua_State *L)
{
	lt_watcher *w = check_open(L, 1);
	double s = -1;
	if (!lua_isnoneornil(L, 2)) {
		s = luaL_checknumber(L, 2);
		luaL_argcheck(L, s >= 0 && s <= 1e7, 2, "seconds must be between 0 and 1e7");
	}
	lt_task *t = lt_task_require(L, "wait");
	if (w->waiter || (w->woken && lt_task_find(w->rt, w->woken)))
		return luaL_error(L, "watch: another task is already waiting");
	w->woken = 0;
	lua_settop(L, 1);
	if (w->npending || w->hup_pending)
		return push_events(L, w);
	w->waiter = t;
	if (s >= 0)
		lws_sul_schedule(lt_loop_context(w->rt->loop), 0, &w->sul, on_timeout,
				 (lws_usec_t)ceil(s * 1e6));
	return lt_task_await(L, t, cancel_wait, w, 0, k_wait, 0);
}

static int l_close(lua_State *L)
{
	watcher_close(check_watcher(L, 1));
	return 0;
}

static int l_tostring(lua_State *L)
{
	lt_watcher *w = check_watcher(L, 1);
	lua_pushfstring(L, "luatrade.Watcher(%d files, %s)", (int)w->nfiles,
			w->open ? "open" : "closed");
	return 1;
}

void lt_watch_open(lua_State *L)
{
	static const luaL_Reg meths[] = {
		{"add", l_add}, {"wait", l_wait}, {"close", l_close}, {NULL, NULL}};
	if (luaL_newmetatable(L, LT_WATCHER_MT)) {
		luaL_newlib(L, meths);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__close");
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, l_watch_new);
	lua_setfield(L, -2, "watch_new");
}
