/* lua_client.c — luatrade.Client and luatrade.PrivateClient: construction from an options
 * table, close, state, state events, stats and the metatables. The request path is in
 * lua_call.c; the lifecycle itself in client.c and private.c. The public client is made without
 * credentials (the constructor refuses any) and has no authentication at all. */
#include "lua_client.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"

/* ---- connection and authentication events ------------------------------------------------ */

/* The client is ready again after a reconnect: restore what the strategy subscribed. */
static void on_ready(lt_client *c)
{
	if (c->was_ready)
		lt_subs_restore(c->rt->L, c);
	c->was_ready = true;
}

static void on_conn_state(void *ud, const char *state, const char *reason)
{
	lt_client *c = ud;
	if (c->closed)
		return;
	bool open = strcmp(state, "open") == 0;
	if (open && c->priv) /* a private client reports "authenticated" instead */
		return;
	if (open)
		on_ready(c);
	lt_client_emit_state(c, state, reason);
}

static void on_auth_state(void *ud, const char *state, const char *reason)
{
	lt_client *c = ud;
	if (c->closed)
		return;
	if (strcmp(state, "authenticated") == 0)
		on_ready(c);
	if (strcmp(state, "authenticating") != 0)
		lt_client_emit_state(c, state, reason);
}

static void on_notify(void *ud, const char *channel, lua_State *L)
{
	lt_client *c = ud;
	if (lt_subs_deliver(c, channel, L))
		c->unrouted++;
}

/* client:on_state(fn): fn(state, reason) runs as a task after every change of connection or
 * authentication state (connecting, open, reconnecting, closed, authenticated, auth_failed).
 * A typical use: reconcile open orders after "authenticated" following a "reconnecting".
 * fn = nil removes the handler. */
static int l_on_state(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	luaL_unref(L, LUA_REGISTRYINDEX, c->state_ref);
	c->state_ref = lua_isnil(L, 2) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* client:_listen_state(fn): the runtime's own layers (the order tracker) hear every state
 * event too, as fn(state, reason) in a task of its own, whatever handler the strategy sets
 * with on_state. At most LT_STATE_LISTENERS per client (raises beyond); returns nothing. */
static int l_listen_state(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (c->closed)
		return luaL_error(L, "_listen_state: the client is closed");
	if (c->listen_ref == LUA_NOREF) {
		lua_newtable(L);
		c->listen_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->listen_ref);
	lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
	if (n >= LT_STATE_LISTENERS)
		return luaL_error(L, "_listen_state: at most %d listeners per client",
				  LT_STATE_LISTENERS);
	lua_pushvalue(L, 2);
	lua_rawseti(L, -2, n + 1);
	return 0;
}

/* client:_unlisten_state(fn): remove a listener added by _listen_state (by identity); a
 * function that is not listening is ignored. */
static int l_unlisten_state(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (c->listen_ref == LUA_NOREF)
		return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->listen_ref);
	lua_Integer n = (lua_Integer)lua_rawlen(L, -1), j = 1;
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		if (!lua_rawequal(L, -1, 2))
			lua_rawseti(L, -2, j++);
		else
			lua_pop(L, 1);
	}
	for (; j <= n; j++) {
		lua_pushnil(L);
		lua_rawseti(L, -2, j);
	}
	return 0;
}

/* ---- options ----------------------------------------------------------------------------- */

static const char *const credential_fields[] = {
	"client_id", "client_secret", "secret", "access_token", "refresh_token", "key", NULL};

const char *lt_opt_string(lua_State *L, int idx, const char *name)
{
	lua_getfield(L, idx, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "option '%s' must be a string", name);
	const char *s = lua_tostring(L, -1);
	lua_pop(L, 1); /* the options table keeps the string alive */
	return s;
}

double lt_opt_number(lua_State *L, int idx, const char *name, double def, double lo, double hi)
{
	lua_getfield(L, idx, name);
	double v = def;
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "option '%s' must be a number", name);
		v = lua_tonumber(L, -1);
		if (!(v >= lo && v <= hi))
			luaL_error(L, "option '%s' must be between %g and %g", name, lo, hi);
	}
	lua_pop(L, 1);
	return v;
}

static bool in_list(const char *const *list, const char *k)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], k) == 0)
			return true;
	return false;
}

/* Unknown options raise; the public client refuses every credential field. */
static void check_options(lua_State *L, int idx, bool private)
{
	static const char *const common[] = {"url",        "ca_file",     "insecure_loopback",
					     "timeout",    "max_message", "heartbeat",
					     "rate_limit", "reconnect",   "answer_test_request",
					     "venue",      "tier",        "dead_after",
					     NULL};
	static const char *const priv[] = {"client_id",        "client_secret", "grant", "scope",
					   "refresh_fraction", "auth_timeout",  NULL};
	for (int i = 0; !private && credential_fields[i]; i++) {
		lua_getfield(L, idx, credential_fields[i]);
		if (!lua_isnil(L, -1))
			luaL_error(L,
				   "public: the public client takes no credentials (got '%s'); "
				   "use lt.private for authenticated calls",
				   credential_fields[i]);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (!in_list(common, k) && !(private && in_list(priv, k)))
			luaL_error(L, "%s: unknown option '%s'", private ? "private" : "public",
				   luaL_tolstring(L, -1, NULL));
	}
}

static bool opt_bool(lua_State *L, int idx, const char *name, bool def)
{
	lua_getfield(L, idx, name);
	bool v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

/* tier: 1..4, or "auto" (0) to read the account's limits after authentication. */
static int opt_tier(lua_State *L, int idx, bool private)
{
	lua_getfield(L, idx, "tier");
	int tier = 4;
	if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0) {
		if (!private)
			luaL_error(L, "public: tier = \"auto\" needs an account (lt.private)");
		tier = 0;
	} else if (!lua_isnil(L, -1)) {
		lua_Integer t = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (t < 1 || t > 4)
			luaL_error(L, "option 'tier' must be 1, 2, 3, 4 or \"auto\"");
		tier = (int)t;
	}
	lua_pop(L, 1);
	return tier;
}

static void set_policy(lua_State *L, lt_cl_opts *c, const char *policy, const char *url)
{
	if (policy && strcmp(policy, "wait") && strcmp(policy, "error") && strcmp(policy, "off"))
		luaL_error(L, "option 'rate_limit' must be \"wait\", \"error\" or \"off\"");
	if (policy && strcmp(policy, "off") == 0 && !lt_ws_url_is_loopback(url))
		luaL_error(L, "rate_limit = \"off\" is only for servers on a loopback address "
			      "(benchmarks); a real venue ends sessions that exceed its limits");
	c->policy_error = policy && strcmp(policy, "error") == 0;
	c->rl_off = policy && strcmp(policy, "off") == 0;
}

/* heartbeat: seconds (>= 10, the venue's minimum), true (10) or false (off); default 10. */
static int opt_heartbeat(lua_State *L, int idx)
{
	lua_getfield(L, idx, "heartbeat");
	int hb = 10;
	if (lua_isboolean(L, -1))
		hb = lua_toboolean(L, -1) ? 10 : 0;
	else if (!lua_isnil(L, -1)) {
		if (!lua_isinteger(L, -1))
			luaL_error(L,
				   "option 'heartbeat' must be a whole number of seconds (>= 10) "
				   "or false");
		lua_Integer v = lua_tointeger(L, -1);
		if (v < 10 || v > 3600)
			luaL_error(L, "option 'heartbeat' must be between 10 and 3600 seconds (the "
				      "venue refuses less than 10), or false to turn it off");
		hb = (int)v;
	}
	lua_pop(L, 1);
	return hb;
}

/* reconnect: true (default), false (stay closed after a drop), or {base, cap, stable} in s. */
static void opt_reconnect(lua_State *L, int idx, lt_ws_opts *wo)
{
	lua_getfield(L, idx, "reconnect");
	if (lua_isboolean(L, -1))
		wo->no_reconnect = !lua_toboolean(L, -1);
	else if (lua_istable(L, -1)) {
		int t = lua_gettop(L);
		lua_pushnil(L);
		while (lua_next(L, t)) {
			lua_pop(L, 1);
			const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
			if (strcmp(k, "base") && strcmp(k, "cap") && strcmp(k, "stable"))
				luaL_error(L,
					   "option 'reconnect': unknown field '%s' (base, cap, "
					   "stable)",
					   luaL_tolstring(L, -1, NULL));
		}
		double base = lt_opt_number(L, t, "base", 0.25, 0.001, 3600);
		double cap = lt_opt_number(L, t, "cap", 30, 0.001, 86400);
		double stable = lt_opt_number(L, t, "stable", 10, 0, 86400);
		if (cap < base)
			luaL_error(L, "option 'reconnect': cap must be at least base");
		wo->backoff_base_ms = (int)(base * 1000);
		wo->backoff_cap_ms = (int)(cap * 1000);
		wo->stable_ms = stable > 0 ? (int)(stable * 1000) : 1;
	} else if (!lua_isnil(L, -1))
		luaL_error(L, "option 'reconnect' must be true, false or {base = s, cap = s, "
			      "stable = s}");
	lua_pop(L, 1);
}

static void read_options(lua_State *L, int idx, bool private, lt_cl_opts *o, int *tier)
{
	check_options(L, idx, private);
	lt_ws_opts *wo = &o->ws;
	wo->url = lt_opt_string(L, idx, "url");
	if (!wo->url)
		luaL_error(L, "%s: option 'url' (or venue = \"sim\") is required",
			   private ? "private" : "public");
	wo->ca_file = lt_opt_string(L, idx, "ca_file");
	wo->insecure_loopback = opt_bool(L, idx, "insecure_loopback", false);
	wo->max_message = (size_t)lt_opt_number(L, idx, "max_message", 8 << 20, 1024, 1 << 30);
	opt_reconnect(L, idx, wo);
	o->heartbeat_s = opt_heartbeat(L, idx);
	/* dead_after: seconds of silence that declare the link dead; default 2 x the heartbeat */
	double dead = lt_opt_number(L, idx, "dead_after", 2.0 * o->heartbeat_s, 0, 86400);
	wo->dead_after_ms = (int)(dead * 1000);
	o->answer_test_request = opt_bool(L, idx, "answer_test_request", true);
	set_policy(L, o, lt_opt_string(L, idx, "rate_limit"), wo->url);
	*tier = opt_tier(L, idx, private);
}

/* Anchor an open client: its channel map, the registry reference, the runtime's list. */
static void client_register(lua_State *L, lt_client *c)
{
	lt_rt *rt = c->rt;
	c->closed = false;
	lua_newtable(L);
	lua_pushvalue(L, -1);
	c->subs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_setiuservalue(L, -2, 1);
	lua_pushvalue(L, -1);
	c->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	c->next = rt->clients;
	if (rt->clients)
		rt->clients->prev = c;
	rt->clients = c;
}

/* core.public(opts) / core.private(opts) — see lua/luatrade/init.lua for the documentation. */
static int client_new(lua_State *L, bool private)
{
	const char *who = private ? "private" : "public";
	luaL_checktype(L, 1, LUA_TTABLE);
	lt_rt *rt = lt_rt_get(L);
	if (!rt->running)
		return luaL_error(L, "%s: create clients inside lt.run(function() ... end)", who);
	lt_cl_opts o;
	memset(&o, 0, sizeof o);
	int tier = 4;
	read_options(L, 1, private, &o, &tier);
	o.ws.metrics = lt_metrics_scope(lt_rt_metrics(rt), who);
	double timeout = lt_opt_number(L, 1, "timeout", 10, 0.001, 86400);

	lt_client *c = lua_newuserdatauv(L, sizeof *c, 1);
	memset(c, 0, sizeof *c);
	c->self_ref = c->subs_ref = c->state_ref = c->listen_ref = LUA_NOREF;
	c->closed = true; /* until fully set up: __gc has nothing to release */
	luaL_setmetatable(L, private ? LT_PRIVATE_MT : LT_CLIENT_MT);
	c->rt = rt;
	c->timeout_ms = (int64_t)(timeout * 1000);
	snprintf(c->url, sizeof c->url, "%s", o.ws.url);
	lt_err err = {0, ""};
	lt_cl_events ev = {on_conn_state, on_notify};
	if (lt_cl_new(L, lt_rt_loop(L, rt), &o, &ev, c, &c->cl, &err))
		return luaL_error(L, "%s: %s", who, err.msg);
	if (tier)
		lt_rl_set_tier(lt_cl_rl(c->cl), tier, lt_now_us());
	if (private)
		lt_private_setup(L, c, 1, tier == 0, on_auth_state); /* raises on bad credentials */
	client_register(L, c);
	return 1;
}

static int l_public(lua_State *L) { return client_new(L, false); }
static int l_private(lua_State *L) { return client_new(L, true); }

/* ---- close, state, stats ----------------------------------------------------------------- */

void lt_client_close(lua_State *L, lt_client *c)
{
	if (c->closed) { /* a half-built client */
		lt_cl_free(c->cl);
		c->cl = NULL;
		lt_priv_free(c->priv);
		c->priv = NULL;
		return;
	}
	lt_subs_close_all(L, c);
	c->closed = true;
	lt_cl_free(c->cl); /* waiting calls fail (not sent), sent ones connection_lost */
	c->cl = NULL;
	lt_priv_free(c->priv); /* credentials cleansed */
	c->priv = NULL;
	lt_rt *rt = c->rt;
	if (c->prev)
		c->prev->next = c->next;
	else
		rt->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	luaL_unref(L, LUA_REGISTRYINDEX, c->subs_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->self_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->state_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, c->listen_ref);
	c->subs_ref = c->self_ref = c->state_ref = c->listen_ref = LUA_NOREF;
}

void lt_clients_close_all(lt_rt *rt)
{
	while (rt->clients)
		lt_client_close(rt->L, rt->clients);
}

static int l_close(lua_State *L)
{
	lt_client_close(L, lt_client_check(L, 1));
	return 0;
}

static const char *state_name(const lt_client *c)
{
	if (c->closed)
		return "closed";
	lt_ws_state st = lt_ws_get_state(lt_cl_ws(c->cl));
	if (st == LT_WS_OPEN && c->priv)
		return lt_priv_state_name(c->priv);
	return lt_ws_state_name(st);
}

static const char *fail_name(lt_ws_fail f)
{
	static const char *const names[] = {NULL,        "refused", "tls",  "dns",
					    "handshake", "timeout", "other"};
	return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "other";
}

/* client:state() -> state [, reason [, failure]]: connecting, open, reconnecting, closed; a
 * private client that is open says unauthenticated, authenticating, authenticated or
 * auth_failed instead of open. While not open, reason is why (the last drop's or failed
 * attempt's text, e.g. "connection refused (...)"; after auth_failed, the venue's refusal)
 * and failure classifies a failed attempt:
 * "refused", "tls", "dns", "handshake", "timeout" or "other" (nil once a connection opened).
 * Example: `local st, why, kind = pub:state()`. Never raises for a client. */
static int l_state(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lua_pushstring(L, state_name(c));
	const char *why = NULL;
	if (!c->closed && c->priv && lt_priv_state(c->priv) == LT_AUTH_FAILED) {
		lt_priv_fail(c->priv, &why);
		lua_pushstring(L, why); /* the venue's refusal: auth_failed stays */
		return 2;
	}
	if (c->closed || lt_cl_is_open(c->cl) || !lt_cl_down_reason(c->cl)[0])
		return 1;
	lua_pushstring(L, lt_cl_down_reason(c->cl));
	lt_ws *ws = lt_cl_ws(c->cl);
	const char *f = ws ? fail_name(lt_ws_last_fail(ws)) : NULL;
	if (!f)
		return 2;
	lua_pushstring(L, f);
	return 3;
}

static int l_tostring(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lua_pushfstring(L, "%s(%s, %s)",
			c->priv || luaL_testudata(L, 1, LT_PRIVATE_MT) ? LT_PRIVATE_MT
								       : LT_CLIENT_MT,
			c->url, state_name(c));
	return 1;
}

static void set_count(lua_State *L, const char *k, unsigned long long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

static int l_stats(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	lua_createtable(L, 0, 24);
	if (c->closed)
		return 1;
	const lt_ws_stats *w = lt_ws_get_stats(lt_cl_ws(c->cl));
	const lt_rpc_stats *r = lt_rpc_get_stats(lt_cl_rpc(c->cl));
	const lt_cl_stats *s = lt_cl_get_stats(c->cl);
	set_count(L, "messages_in", w->msgs_in);
	set_count(L, "bytes_in", w->bytes_in);
	set_count(L, "messages_out", w->msgs_out);
	set_count(L, "dropped_oversize", w->dropped_oversize);
	set_count(L, "dropped_binary", w->dropped_binary);
	set_count(L, "reconnects", w->reconnects);
	set_count(L, "connects", lt_cl_epoch(c->cl));
	set_count(L, "results", r->results);
	set_count(L, "errors", r->errors);
	set_count(L, "notifications", r->notifications);
	set_count(L, "heartbeats", r->heartbeats);
	set_count(L, "unknown_ids", r->unknown_ids);
	set_count(L, "malformed", r->malformed);
	set_count(L, "timeouts", s->timeouts);
	set_count(L, "lost", s->lost);
	set_count(L, "submitted", s->submitted);
	set_count(L, "sent", s->sent);
	set_count(L, "refused", s->refused);
	set_count(L, "requeued", s->requeued);
	set_count(L, "waiting", (unsigned long long)s->waiting);
	set_count(L, "waiting_high_water", (unsigned long long)s->max_waiting);
	set_count(L, "unrouted", c->unrouted);
	set_count(L, "venue_rate_limited", s->venue_rate_limited);
	if (c->priv) {
		const lt_priv_stats *p = lt_priv_get_stats(c->priv);
		set_count(L, "authentications", p->auths);
		set_count(L, "token_refreshes", p->refreshes);
		set_count(L, "auth_errors", p->auth_errors);
		set_count(L, "auth_retries", p->auth_retries);
		set_count(L, "sessions_lost", p->revoked);
	}
	set_count(L, "pending", (unsigned long long)lt_rpc_pending_count(lt_cl_rpc(c->cl)));
	lt_subs_stats(L, c);
	return 1;
}

static int l_rate_limit_status(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	static const char *const names[] = {"non_matching_engine", "matching_engine", "subscribe",
					    "get_instruments"};
	lua_createtable(L, 0, 6);
	if (c->closed)
		return 1;
	lt_rl *rl = lt_cl_rl(c->cl);
	int64_t now = lt_now_us();
	for (int p = 0; p < 4; p++) {
		lt_rl_delay(rl, (lt_pool)p, 0, now); /* refill to now */
		lua_pushnumber(L, rl->pool[p].level);
		lua_setfield(L, -2, names[p]);
	}
	set_count(L, "waited", rl->waited);
	lua_pushnumber(L, rl->waited_s);
	lua_setfield(L, -2, "waited_seconds");
	return 1;
}

/* Test hook: drop the transport as a network failure would (reconnect logic then runs). */
static int l_drop_connection(lua_State *L)
{
	lt_client *c = lt_client_check(L, 1);
	if (!c->closed)
		lt_ws_drop(lt_cl_ws(c->cl));
	return 0;
}

/* One client metatable: every codec method the client may call (public ones only for the
 * public client), then the hand-written methods, which win over same-named codec methods. */
static void client_metatable(lua_State *L, const char *name, bool private)
{
	static const luaL_Reg meths[] = {{"call", lt_l_call},
					 {"close", l_close},
					 {"state", l_state},
					 {"stats", l_stats},
					 {"rate_limit_status", l_rate_limit_status},
					 {"subscribe", lt_client_subscribe},
					 {"_drop_connection", l_drop_connection},
					 {"on_state", l_on_state},
					 {"_listen_state", l_listen_state},
					 {"_unlisten_state", l_unlisten_state},
					 {NULL, NULL}};
	if (!luaL_newmetatable(L, name)) {
		lua_pop(L, 1);
		return;
	}
	lua_createtable(L, 0, 48);
	for (int i = 0; lt_methods[i]; i++) {
		const lt_method *m = lt_methods[i];
		if (!m->lua_name || (!private && (m->flags & LT_MF_PRIVATE)))
			continue;
		lua_pushlightuserdata(L, (void *)m);
		lua_pushcclosure(L, lt_l_method, 1);
		lua_setfield(L, -2, m->lua_name);
	}
	luaL_setfuncs(L, meths, 0);
	if (private) {
		lua_pushcfunction(L, lt_private_logout);
		lua_setfield(L, -2, "logout");
	}
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, l_close);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, l_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}

void lt_client_open(lua_State *L)
{
	client_metatable(L, LT_CLIENT_MT, false);
	client_metatable(L, LT_PRIVATE_MT, true);
	lt_error_open(L);
	lua_pushcfunction(L, l_public);
	lua_setfield(L, -2, "public");
	lua_pushcfunction(L, l_private);
	lua_setfield(L, -2, "private");
}
