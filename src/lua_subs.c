/* lua_subs.c — subscriptions: client:subscribe, delivery of notifications in order to one
 * handler task per subscription (the "pump", lua/luatrade/init.lua), bounded queues with a
 * per-channel overflow policy, close/unsubscribe, and restore after a reconnect.
 *
 * The registry: the client's channel map (channel -> subscription) holds what the strategy
 * wants; a subscription is `confirmed` once the venue's answer listed its channels (channels it
 * left out are dropped and returned to the caller). Only confirmed subscriptions are restored
 * after a reconnect, by a restore task that diffs the venue's answer against the request
 * (deribit-api.md §4), retries what the venue left out with backoff, and reports what it
 * still refuses (log + state event "subscription_failed"). A subscribe refused locally
 * (limiter, auth, full queue) leaves nothing behind.
 *
 * Queues (deribit-api.md §9: the venue drops clients that read too slowly, so the core keeps
 * reading): each subscription's queue is capped. On overflow, snapshot-like channels (ticker,
 * quote, index, grouped books, ...) keep only the newest message; an incremental book
 * (book.I.interval) drops its backlog, marks a gap and resyncs from a fresh snapshot
 * (unsubscribe + subscribe; changes before the snapshot are dropped); trades and user.*
 * channels are never dropped: they have a larger cap, and on overflow the subscription is
 * failed loudly (closed, state event "subscription_failed") so the strategy reconciles.
 * sub:stats() counts queued, high_water, dropped, resyncs.
 *
 * Fields (subscribe's `fields` option): the sub holds an lt_fields in its user value 4, so the
 * projection lives and dies with it; the rpc's fields hook (subs_fields) finds it by channel
 * through the channel map, and the decoder then makes Lua values only of those keys. The same
 * hook tells the rpc to decode a `lazy = false` subscription's messages in full (plain tables);
 * every other message is a lazy object (json_lazy.h).
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "lua_client.h"
#include "metrics.h"

enum { POLICY_NEWEST = 0, POLICY_RESYNC, POLICY_NEVER };

#define CAP_DROPPABLE 1000 /* messages queued per snapshot-like or book subscription */
#define CAP_NEVER 20000    /* trades and user.*: never dropped below this */
#define RESTORE_TRIES 5

typedef struct lt_sub {
	lt_client *c;    /* NULL once closed */
	lt_task *waiter; /* the pump, while it waits for a message */
	lua_Integer qhead, qtail;
	int policy;
	bool confirmed, resyncing;
	bool multi; /* more than one channel: the queue keeps each message's channel */
	lua_Integer cap, high_water;
	unsigned long long dropped, resyncs, delivered;
	const lt_fields *fields; /* subscribe's `fields` (user value 4), or NULL: every key */
	bool eager;              /* subscribe's `lazy = false`: every key decoded at once */
} lt_sub;

static const char PUMP_KEY = 'p';

/* The subscribe/unsubscribe method a client uses: private clients may mix user.* channels. */
static const lt_method *sub_method(const lt_client *c, bool subscribe)
{
	if (c->priv)
		return lt_method_find(subscribe ? "private/subscribe" : "private/unsubscribe");
	return lt_method_find(subscribe ? "public/subscribe" : "public/unsubscribe");
}

static lt_sub *check_sub(lua_State *L, int idx) { return luaL_checkudata(L, idx, LT_SUB_MT); }

static void push_map(lua_State *L, lt_client *c) { lua_rawgeti(L, LUA_REGISTRYINDEX, c->subs_ref); }

/* The overflow policy of a channel (the strictest of a subscription's channels wins). */
static int channel_policy(const char *ch)
{
	if (strncmp(ch, "trades.", 7) == 0 || strncmp(ch, "user.", 5) == 0)
		return POLICY_NEVER;
	if (strncmp(ch, "book.", 5) == 0) {
		int dots = 0;
		for (const char *p = ch; *p; p++)
			dots += *p == '.';
		return dots == 2 ? POLICY_RESYNC : POLICY_NEWEST; /* book.I.iv vs book.I.g.d.iv */
	}
	if (strncmp(ch, "ticker.", 7) == 0 || strncmp(ch, "quote.", 6) == 0 ||
	    strncmp(ch, "deribit_price_index.", 20) == 0 || strncmp(ch, "markprice.", 10) == 0 ||
	    strncmp(ch, "deribit_price_ranking.", 22) == 0 || strncmp(ch, "perpetual.", 10) == 0 ||
	    strncmp(ch, "platform_state", 14) == 0 || strncmp(ch, "incremental_ticker.", 19) == 0)
		return POLICY_NEWEST;
	return POLICY_NEVER; /* unknown channels: nothing is dropped silently */
}

static void unregister(lua_State *L, lt_sub *s, int sub_idx)
{
	sub_idx = lua_absindex(L, sub_idx);
	push_map(L, s->c);
	lua_getiuservalue(L, sub_idx, 1);
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		lua_pushvalue(L, -1);
		lua_rawget(L, -4);
		bool ours = lua_touserdata(L, -1) == s;
		lua_pop(L, 1);
		if (ours) {
			lua_pushnil(L);
			lua_rawset(L, -4);
		} else
			lua_pop(L, 1);
	}
	lua_pop(L, 3);
}

/* Send {channels = <the sub's channel list>} with method m in the background. */
static void fire_channels(lua_State *L, lt_client *c, int sub_idx, const lt_method *m)
{
	sub_idx = lua_absindex(L, sub_idx);
	lua_createtable(L, 0, 1);
	lua_getiuservalue(L, sub_idx, 1);
	if (lua_rawlen(L, -1) > 0) {
		lua_setfield(L, -2, "channels");
		lt_fire(L, c, m, -1);
	} else
		lua_pop(L, 1);
	lua_pop(L, 1);
}

static void clear_queue(lua_State *L, int sub_idx, lt_sub *s)
{
	lua_newtable(L);
	lua_setiuservalue(L, sub_idx, 2);
	lua_newtable(L);
	lua_setiuservalue(L, sub_idx, 3);
	s->qhead = s->qtail = 1;
}

/* Debug log of a subscription state change: URL, what happened, how many channels, the first. */
static void log_sub(const lt_client *c, const char *what, lua_Integer n, const char *first)
{
	if (!lt_log_on(LT_LOG_DEBUG))
		return;
	lt_log_field f[] = {LT_LF_S("url", c->url), LT_LF_S("event", what),
			    LT_LF_S("channel", first ? first : ""), LT_LF_N("channels", n)};
	if (n < 0)
		lt_logf(LT_LOG_DEBUG, "subs", f, 3, "%s: subscription %s (first channel: %s)",
			c->url, what, first ? first : "-");
	else
		lt_logf(LT_LOG_DEBUG, "subs", f, 4,
			"%s: subscription %s: %lld channel(s) (first: %s)", c->url, what,
			(long long)n, first ? first : "-");
}

/* The first channel of the subscription at sub_idx (its list holds the string), or NULL. */
static const char *first_channel(lua_State *L, int sub_idx)
{
	const char *ch = NULL;
	if (lua_getiuservalue(L, sub_idx, 1) == LUA_TTABLE) {
		if (lua_rawgeti(L, -1, 1) == LUA_TSTRING)
			ch = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return ch;
}

static void sub_close(lua_State *L, int sub_idx, bool unsubscribe)
{
	sub_idx = lua_absindex(L, sub_idx);
	lt_sub *s = check_sub(L, sub_idx);
	if (!s->c)
		return;
	lt_client *c = s->c;
	if (lt_log_on(LT_LOG_DEBUG))
		log_sub(c, unsubscribe ? "closed (unsubscribing)" : "closed", -1,
			first_channel(L, sub_idx));
	if (!c->closed) {
		unregister(L, s, sub_idx);
		if (unsubscribe && s->confirmed)
			fire_channels(L, c, sub_idx, sub_method(c, false));
	}
	s->c = NULL;
	clear_queue(L, sub_idx, s); /* undelivered messages go */
	if (s->waiter) {
		lt_task *w = s->waiter;
		s->waiter = NULL;
		lt_task_wake(w, L, 0);
	}
}

/* ---- delivery ---------------------------------------------------------------------------- */

static void fail_loudly(lua_State *L, int sub_idx, lt_sub *s, const char *channel)
{
	lt_client *c = s->c;
	char why[300];
	snprintf(why, sizeof why,
		 "%s: the handler fell %lld messages behind; the subscription was "
		 "closed so that nothing is lost silently (reconcile, then subscribe again)",
		 channel, (long long)(s->qtail - s->qhead));
	lt_log(LT_LOG_ERROR, "%s: %s", c->url, why);
	s->dropped += (unsigned long long)(s->qtail - s->qhead);
	lt_mx_inc(lt_cl_metrics(c->cl), LT_M_SUB_DROPPED, "failed", (double)(s->qtail - s->qhead));
	sub_close(L, sub_idx, true);
	lt_client_emit_state(c, "subscription_failed", why);
}

/* The queue is full: apply the subscription's policy. Returns true when data (on top) must
 * still be queued. */
static bool overflow(lua_State *L, int sub_idx, lt_sub *s, const char *channel)
{
	if (s->policy == POLICY_NEVER) {
		lua_pop(L, 1);
		fail_loudly(L, sub_idx, s, channel);
		return false;
	}
	s->dropped += (unsigned long long)(s->qtail - s->qhead);
	lt_mx_inc(lt_cl_metrics(s->c->cl), LT_M_SUB_DROPPED,
		  s->policy == POLICY_NEWEST ? "newest" : "resync",
		  (double)(s->qtail - s->qhead + (s->policy != POLICY_NEWEST)));
	clear_queue(L, sub_idx, s);
	if (s->policy == POLICY_NEWEST)
		return true;
	s->resyncing = true; /* an incremental book: drop until a fresh snapshot */
	s->resyncs++;
	s->dropped++;
	lua_pop(L, 1);
	lt_log(LT_LOG_WARN,
	       "%s: %s: handler too slow; dropped the backlog, resyncing from a "
	       "fresh snapshot",
	       s->c->url, channel);
	fire_channels(L, s->c, sub_idx, sub_method(s->c, false));
	fire_channels(L, s->c, sub_idx, sub_method(s->c, true));
	return false;
}

static bool is_snapshot(lua_State *L)
{
	if (!lua_istable(L, -1))
		return false;
	lua_getfield(L, -1, "type");
	bool snap = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "snapshot") == 0;
	lua_pop(L, 1);
	return snap;
}

int lt_subs_deliver(lt_client *c, const char *channel, lua_State *L)
{
	push_map(L, c);
	if (lua_getfield(L, -1, channel) != LUA_TUSERDATA) {
		lua_pop(L, 3);
		return -1;
	}
	lua_remove(L, -2); /* data sub */
	lua_insert(L, -2); /* sub data */
	int sub_idx = lua_gettop(L) - 1;
	lt_sub *s = lua_touserdata(L, sub_idx);
	if (s->resyncing) {
		if (!is_snapshot(L)) {
			s->dropped++;
			lt_mx_inc(lt_cl_metrics(c->cl), LT_M_SUB_DROPPED, "resync", 1);
			lua_pop(L, 2);
			return 0;
		}
		s->resyncing = false;
	}
	s->delivered++;
	if (s->qtail - s->qhead >= s->cap && !overflow(L, sub_idx, s, channel)) {
		lua_settop(L, sub_idx - 1);
		return 0;
	}
	/* queued even when the pump waits: a message leaves the queue only when the pump runs,
	 * so a pump ended before it ran (a reload) loses nothing */
	lua_getiuservalue(L, sub_idx, 2); /* sub data queue */
	lua_insert(L, -2);
	lua_rawseti(L, -2, s->qtail);
	if (s->multi) {
		lua_getiuservalue(L, sub_idx, 3);
		lua_pushstring(L, channel);
		lua_rawseti(L, -2, s->qtail);
		lua_pop(L, 1);
	}
	s->qtail++;
	if (s->qtail - s->qhead > s->high_water)
		s->high_water = s->qtail - s->qhead;
	lua_pop(L, 2);
	if (s->waiter) {
		lt_task *w = s->waiter;
		s->waiter = NULL;
		lt_task_wake(w, L, 0);
	}
	return 0;
}

static void cancel_wait(void *obj, int64_t id)
{
	(void)id;
	((lt_sub *)obj)->waiter = NULL;
}

/* Pop the queue's head: message, channel (sub at 1). */
static int pop_head(lua_State *L, lt_sub *s)
{
	lua_getiuservalue(L, 1, 2);
	lua_rawgeti(L, -1, s->qhead);
	lua_pushnil(L);
	lua_rawseti(L, -3, s->qhead);
	if (s->multi) {
		lua_getiuservalue(L, 1, 3);
		lua_rawgeti(L, -1, s->qhead);
		lua_pushnil(L);
		lua_rawseti(L, -3, s->qhead);
		lua_remove(L, -2);
	} else {
		lua_getiuservalue(L, 1, 1);
		lua_rawgeti(L, -1, 1);
		lua_remove(L, -2);
	}
	if (++s->qhead == s->qtail)
		s->qhead = s->qtail = 1;
	return 2;
}

static int k_next(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	lt_sub *s = check_sub(L, 1);
	if (s->qhead < s->qtail)
		return pop_head(L, s);
	lua_pushnil(L); /* closed */
	return 1;
}

/* core.sub_next(sub) — the next message and its channel, waiting for one; nil once the
 * subscription is closed. Raises in a task whose group was cancelled, taking nothing. */
int lt_sub_next(lua_State *L)
{
	lt_sub *s = check_sub(L, 1);
	lua_settop(L, 1);
	lt_task *t = lt_task_require(L, "sub_next"); /* first: a cancelled task takes nothing */
	if (s->qhead < s->qtail)
		return pop_head(L, s);
	if (!s->c) {
		lua_pushnil(L);
		return 1;
	}
	s->waiter = t;
	return lt_task_await(L, t, cancel_wait, s, 0, k_next, 0);
}

/* ---- subscribe --------------------------------------------------------------------------- */

/* Does the array at arr hold the string at v? */
static bool contains(lua_State *L, int arr, int v)
{
	for (lua_Integer j = 1;; j++) {
		int t = lua_rawgeti(L, arr, j);
		bool found = t != LUA_TNIL && lua_rawequal(L, -1, v);
		lua_pop(L, 1);
		if (found || t == LUA_TNIL)
			return found;
	}
}

/* Keep the channels the venue listed (result array at result_idx); the others leave the map
 * and go to the list at rejected_idx. Returns how many were kept. */
static int keep_accepted(lua_State *L, int sub_idx, int result_idx, int rejected_idx)
{
	lt_sub *s = check_sub(L, sub_idx);
	lua_getiuservalue(L, sub_idx, 1);
	int list = lua_gettop(L);
	lua_newtable(L);
	int kept = 0;
	for (lua_Integer i = 1; lua_rawgeti(L, list, i) == LUA_TSTRING; i++) {
		int ch = lua_gettop(L);
		if (contains(L, result_idx, ch)) {
			lua_rawseti(L, ch - 1, ++kept);
			continue;
		}
		push_map(L, s->c);
		lua_pushvalue(L, ch);
		lua_pushnil(L);
		lua_rawset(L, -3);
		lua_pop(L, 1);
		lua_rawseti(L, rejected_idx, (lua_Integer)lua_rawlen(L, rejected_idx) + 1);
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
	lt_sub *s = check_sub(L, 6);
	if (lua_tointeger(L, -2) != LT_DONE_RESULT || !lua_istable(L, -1)) {
		if (s->c && !s->c->closed)
			unregister(L, s, 6);
		s->c = NULL;
		if (lua_tointeger(L, -2) == LT_DONE_RESULT)
			return lt_push_error(L, LT_CODE_SUB_REJECTED, "unexpected subscribe answer",
					     0, 0);
		return lt_call_result(L);
	}
	lua_newtable(L);
	int rejected = lua_gettop(L);
	if (!s->c || keep_accepted(L, 6, rejected - 1, rejected) == 0) {
		sub_close(L, 6, false);
		return lt_push_error(L, LT_CODE_SUB_REJECTED,
				     "the venue accepted none of the channels", rejected, 0);
	}
	s->confirmed = true;
	if (lt_log_on(LT_LOG_DEBUG)) {
		lua_getiuservalue(L, 6, 1);
		lua_rawgeti(L, -1, 1);
		log_sub(s->c, "confirmed", (lua_Integer)lua_rawlen(L, -2), lua_tostring(L, -1));
		lua_pop(L, 2);
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

/* The rpc's fields hook (rpc.h): the projection of the subscription that holds channel, or
 * NULL with *lazy cleared for one subscribed with lazy = false. */
static const lt_fields *subs_fields(void *ud, lua_State *L, const char *channel, size_t len,
				    bool *lazy)
{
	lt_client *c = ud;
	const lt_fields *f = NULL;
	if (c->closed || !lua_checkstack(L, 3))
		return NULL; /* (no room: decode every key, as without the option) */
	push_map(L, c);
	lua_pushlstring(L, channel, len);
	if (lua_rawget(L, -2) == LUA_TUSERDATA) {
		const lt_sub *s = lua_touserdata(L, -1);
		f = s->c ? s->fields : NULL;
		*lazy = !(s->c && s->eager);
	}
	lua_pop(L, 2);
	return f;
}

/* opts.fields at opts -> the projection of the sub at 6, kept as its user value 4 (it lives
 * and dies with the sub); NULL without the option. Raises naming the option; nothing is
 * registered yet. */
static const lt_fields *read_fields(lua_State *L, int opts)
{
	if (!lua_istable(L, opts))
		return NULL;
	if (lua_getfield(L, opts, "fields") == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	int list = lua_gettop(L);
	if (!lua_istable(L, list))
		luaL_error(L, "subscribe: fields: expected a list of field names (strings)");
	lua_Integer n = (lua_Integer)lua_rawlen(L, list), keys = 0;
	lua_pushnil(L);
	while (lua_next(L, list)) {
		keys++;
		lua_pop(L, 1);
	}
	if (n == 0 || keys != n)
		luaL_error(L,
			   "subscribe: fields: expected a non-empty list of field names (strings)");
	lt_fields *f = lua_newuserdatauv(L, sizeof *f, 0);
	lt_fields_init(f);
	lt_err err = {0, ""};
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, list, i) != LUA_TSTRING)
			luaL_error(L, "subscribe: fields[%d]: expected a string, got %s", (int)i,
				   luaL_typename(L, -1));
		size_t len;
		const char *name = lua_tolstring(L, -1, &len);
		if (lt_fields_add(f, name, len, &err))
			luaL_error(L, "subscribe: fields: %s", err.msg);
		lua_pop(L, 1);
	}
	lua_setiuservalue(L, 6, 4);
	lua_pop(L, 1);
	return f;
}

/* opts.lazy at opts: false asks for the full decode (plain tables); absent or true, the
 * default, for lazy objects. Raises naming the option. */
static bool read_eager(lua_State *L, int opts)
{
	if (!lua_istable(L, opts))
		return false;
	int t = lua_getfield(L, opts, "lazy");
	bool on = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (t != LUA_TNIL && t != LUA_TBOOLEAN)
		luaL_error(L, "subscribe: lazy: expected a boolean, got %s", lua_typename(L, t));
	return t == LUA_TBOOLEAN && !on;
}

/* Register the sub at 6 under every channel of params (5); raises on a duplicate. */
static void register_channels(lua_State *L, lt_client *c, lt_sub *s)
{
	push_map(L, c);
	lua_getfield(L, 5, "channels");
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		lua_pushvalue(L, -1);
		if (lua_rawget(L, -4) != LUA_TNIL) {
			s->c = NULL;
			luaL_error(L,
				   "subscribe: channel '%s' is already subscribed on this client",
				   lua_tostring(L, -2));
		}
		lua_pop(L, 1);
		int p = channel_policy(lua_tostring(L, -1));
		if (p > s->policy)
			s->policy = p;
		lua_pushvalue(L, 6);
		lua_rawset(L, -4);
		s->multi = i > 1;
	}
	lua_pop(L, 3);
	s->cap = s->policy == POLICY_NEVER ? CAP_NEVER : CAP_DROPPABLE;
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
	push_params(L, 2); /* 5 */
	lt_buf scratch;
	lt_buf_init(&scratch, 0);
	lt_err err = {0, ""};
	int rc = lt_method_encode(L, 5, m, 0, &scratch, &err); /* validate before registering */
	lt_buf_free(&scratch);
	if (rc)
		return luaL_error(L, "subscribe: %s", err.msg);
	lt_sub *s = lua_newuserdatauv(L, sizeof *s, 4); /* 6 */
	memset(s, 0, sizeof *s);
	s->qhead = s->qtail = 1;
	luaL_setmetatable(L, LT_SUB_MT);
	s->fields = read_fields(L, 4); /* raises: s->c still NULL */
	s->eager = read_eager(L, 4);
	s->c = c;
	lua_getfield(L, 5, "channels");
	lua_setiuservalue(L, 6, 1);
	lua_newtable(L);
	lua_setiuservalue(L, 6, 2);
	lua_newtable(L);
	lua_setiuservalue(L, 6, 3);
	register_channels(L, c, s);
	if (lua_istable(L, 4)) { /* {timeout = s, max_queue = n} */
		lua_getfield(L, 4, "max_queue");
		if (!lua_isnil(L, -1)) {
			lua_Integer q = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
			if (q < 1 || q > 10000000) {
				unregister(L, s, 6);
				s->c = NULL;
				return luaL_error(
					L, "subscribe: max_queue must be an integer from 1 to "
					   "10000000");
			}
			s->cap = q;
		}
		lua_pop(L, 1);
	}
	if (s->fields || s->eager) {
		if (s->fields && s->policy == POLICY_RESYNC && !lt_fields_has(s->fields, "type")) {
			unregister(L, s, 6);
			s->c = NULL;
			return luaL_error(L,
					  "subscribe: fields: must include \"type\" on an "
					  "incremental book channel (book.I.interval: the runtime "
					  "resyncs on snapshots)");
		}
		lt_rpc_set_fields_hook(lt_cl_rpc(c->cl), subs_fields, c);
	}
	int n = lt_client_request(L, c, t, m, m->name, 5, timeout, k_subscribed, 0);
	/* returned instead of yielding: refused before anything was sent, leave no ghost */
	if (s->c && !c->closed)
		unregister(L, s, 6);
	s->c = NULL;
	return n;
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

/* ---- restore after a reconnect ----------------------------------------------------------- */

static int restore_step(lua_State *L);

static int k_restore_slept(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	return restore_step(L);
}

/* Stack: 1 client, 2 channels wanted, 3 attempt, then [how, value]. */
static int k_restored(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	lt_client *c = lt_client_check(L, 1);
	bool ok = lua_tointeger(L, -2) == LT_DONE_RESULT && lua_istable(L, -1);
	int res = lua_gettop(L);
	lua_newtable(L); /* the channels still missing and still wanted */
	int missing = lua_gettop(L);
	for (lua_Integer i = 1; !c->closed && lua_rawgeti(L, 2, i) == LUA_TSTRING; i++) {
		push_map(L, c);
		lua_pushvalue(L, -2);
		bool wanted = lua_rawget(L, -2) == LUA_TUSERDATA;
		lua_pop(L, 2);
		if (wanted && (!ok || !contains(L, res, lua_gettop(L))))
			lua_rawseti(L, missing, (lua_Integer)lua_rawlen(L, missing) + 1);
		else
			lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (c->closed)
		return 0;
	lua_rawgeti(L, lua_rawlen(L, missing) ? missing : 2, 1);
	log_sub(c, lua_rawlen(L, missing) ? "restore incomplete" : "restored",
		(lua_Integer)lua_rawlen(L, lua_rawlen(L, missing) ? missing : 2),
		lua_tostring(L, -1));
	lua_pop(L, 1);
	if (lua_rawlen(L, missing) == 0)
		return 0;
	lua_Integer attempt = lua_tointeger(L, 3);
	if (attempt >= RESTORE_TRIES) {
		char why[200];
		lua_rawgeti(L, missing, 1);
		snprintf(why, sizeof why,
			 "the venue did not restore %d channel(s) after %d attempts "
			 "(first: %s)",
			 (int)lua_rawlen(L, missing), RESTORE_TRIES, lua_tostring(L, -1));
		lt_log(LT_LOG_ERROR, "%s: %s", c->url, why);
		lt_client_emit_state(c, "subscription_failed", why);
		return 0;
	}
	lua_replace(L, 2);
	lua_settop(L, 2);
	lua_pushinteger(L, attempt + 1);
	int64_t ms = 250 << (attempt < 6 ? attempt : 6);
	return lt_task_sleep(L, lt_task_of(L), ms, k_restore_slept, 0);
}

/* The restore task: subscribe the channels at 2 (up to RESTORE_TRIES times). */
static int restore_step(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	if (c->closed)
		return 0;
	lua_settop(L, 3);
	const lt_method *m = sub_method(c, true);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, "channels");
	return lt_client_request(L, c, lt_task_of(L), m, m->name, 4, c->timeout_ms, k_restored, 0);
}

static void spawn_restore(lua_State *L, lt_client *c, int list)
{
	lua_pushcfunction(L, restore_step);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->self_ref);
	lua_pushvalue(L, list);
	lua_pushinteger(L, 1);
	lt_task_spawn(c->rt, L, lua_gettop(L) - 3, 3);
}

void lt_subs_restore(lua_State *L, lt_client *c)
{
	push_map(L, c);
	int map = lua_gettop(L);
	lua_newtable(L);
	int list = lua_gettop(L);
	lua_Integer n = 0;
	lua_pushnil(L);
	while (lua_next(L, map)) {
		lt_sub *s = lua_touserdata(L, -1);
		lua_pop(L, 1);
		if (!s || !s->confirmed)
			continue; /* its own subscribe is still on its way */
		lua_pushvalue(L, -1);
		lua_rawseti(L, list, ++n);
		if (n ==
		    500) { /* the venue takes at most 500 channels per call (deribit-api.md §4) */
			spawn_restore(L, c, list);
			lua_newtable(L);
			lua_replace(L, list);
			n = 0;
		}
	}
	if (n > 0)
		spawn_restore(L, c, list);
	lua_settop(L, map - 1);
}

/* ---- the subscription object ------------------------------------------------------------- */

static int l_sub_close(lua_State *L)
{
	sub_close(L, 1, true);
	return 0;
}

/* sub:_drop(channel) -> true: stop receiving one of the subscription's channels (unsubscribed
 * at the venue, removed from the registry); closes the subscription when it was the last one.
 * false when the subscription does not hold it. The runner's hot reload releases channels
 * only the old version used with it. */
static int l_sub_drop(lua_State *L)
{
	lt_sub *s = check_sub(L, 1);
	luaL_checkstring(L, 2);
	lua_settop(L, 2);
	lua_getiuservalue(L, 1, 1);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 3), at = 0;
	for (lua_Integer i = 1; i <= n && !at; i++) {
		lua_rawgeti(L, 3, i);
		if (lua_rawequal(L, -1, 2))
			at = i;
		lua_pop(L, 1);
	}
	if (!s->c || !at) {
		lua_pushboolean(L, 0);
		return 1;
	}
	if (n == 1) {
		sub_close(L, 1, true);
		lua_pushboolean(L, 1);
		return 1;
	}
	for (lua_Integer i = at; i < n; i++) { /* remove it from the list */
		lua_rawgeti(L, 3, i + 1);
		lua_rawseti(L, 3, i);
	}
	lua_pushnil(L);
	lua_rawseti(L, 3, n);
	if (!s->c->closed) {
		push_map(L, s->c);
		lua_pushvalue(L, 2);
		lua_pushnil(L);
		lua_rawset(L, -3);
		lua_pop(L, 1);
		if (s->confirmed) {
			lua_createtable(L, 0, 1);
			lua_createtable(L, 1, 0);
			lua_pushvalue(L, 2);
			lua_rawseti(L, -2, 1);
			lua_setfield(L, -2, "channels");
			lt_fire(L, s->c, sub_method(s->c, false), -1);
		}
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* sub:_is_open() -> false once the subscription was closed (by close, or by the runtime). */
static int l_sub_is_open(lua_State *L)
{
	lua_pushboolean(L, check_sub(L, 1)->c != NULL);
	return 1;
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

/* sub:stats() -> {queued, high_water, cap, dropped, resyncs, delivered}. */
static int l_sub_stats(lua_State *L)
{
	lt_sub *s = check_sub(L, 1);
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, s->qtail - s->qhead);
	lua_setfield(L, -2, "queued");
	lua_pushinteger(L, s->high_water);
	lua_setfield(L, -2, "high_water");
	lua_pushinteger(L, s->cap);
	lua_setfield(L, -2, "cap");
	lua_pushinteger(L, (lua_Integer)s->dropped);
	lua_setfield(L, -2, "dropped");
	lua_pushinteger(L, (lua_Integer)s->resyncs);
	lua_setfield(L, -2, "resyncs");
	lua_pushinteger(L, (lua_Integer)s->delivered);
	lua_setfield(L, -2, "delivered");
	return 1;
}

void lt_subs_stats(lua_State *L, lt_client *c)
{
	int out = lua_gettop(L);
	lua_Integer queued = 0, high = 0, dropped = 0, resyncs = 0, n = 0;
	push_map(L, c);
	lua_newtable(L); /* subscriptions seen (one may hold several channels) */
	lua_pushnil(L);
	while (lua_next(L, -3)) {
		lt_sub *s = lua_touserdata(L, -1);
		lua_pushvalue(L, -1);
		if (s && lua_rawget(L, -4) == LUA_TNIL) {
			lua_pushvalue(L, -2);
			lua_pushboolean(L, 1);
			lua_rawset(L, -6);
			n++;
			queued += s->qtail - s->qhead;
			high = s->high_water > high ? s->high_water : high;
			dropped += (lua_Integer)s->dropped;
			resyncs += (lua_Integer)s->resyncs;
		}
		lua_pop(L, 2);
	}
	lua_settop(L, out);
	static const char *const k[] = {"subscriptions", "sub_queued", "sub_high_water",
					"sub_dropped", "sub_resyncs"};
	lua_Integer v[] = {n, queued, high, dropped, resyncs};
	for (int i = 0; i < 5; i++) {
		lua_pushinteger(L, v[i]);
		lua_setfield(L, out, k[i]);
	}
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
	static const luaL_Reg meths[] = {{"close", l_sub_close},      {"channels", l_sub_channels},
					 {"stats", l_sub_stats},      {"_drop", l_sub_drop},
					 {"_is_open", l_sub_is_open}, {NULL, NULL}};
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
