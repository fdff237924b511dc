/* lua_metrics.c — the runtime's metrics (metrics.h) as Lua sees them, and the HTTP endpoint
 * of `luatrade run --metrics-port N` (metrics_http.h):
 *
 *     local core = require "luatrade.core"
 *     local port = core.metrics_serve("127.0.0.1", 0)   -- a free port; raises on failure
 *     core._metric_inc("luatrade_orders_placed_total", { method = "buy" })
 *     print(core._metrics_text())                      -- what GET /metrics answers
 *     local ok, why = core._health()                   -- what GET /healthz says
 *
 * The registry exists from the first client on (lt_rt_metrics): every client counts, whether
 * or not anything serves it. Gauges (connection states, queue depths) are read from the open
 * clients at each scrape. /healthz is healthy when there is at least one client and every open
 * client is connected and, for a private client, authenticated; otherwise the reason names
 * the first client that is not, with its state and why its connection is down.
 *
 * Errors (raised): metrics_serve: "metrics: ..." (bad address or port, cannot listen, already
 * serving); _metric_inc: an unknown family or one Lua may not increment, a label it does not
 * have or a missing one, a value that is not a string. A series past the registry's cap is
 * counted as dropped, not raised. No rate limit applies.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lua_client.h"
#include "metrics.h"
#include "metrics_http.h"

lt_metrics *lt_rt_metrics(lt_rt *rt)
{
	if (!rt->metrics)
		rt->metrics = lt_metrics_new_runtime(); /* NULL (out of memory): no metrics */
	return rt->metrics;
}

void lt_metrics_rt_free(lt_rt *rt)
{
	lt_mhttp_free(rt->metrics_http); /* its vhost went with the loop */
	rt->metrics_http = NULL;
	lt_metrics_free(rt->metrics);
	rt->metrics = NULL;
}

/* ---- collection -------------------------------------------------------------------------- */

static const char *kind_of(const lt_client *c) { return c->priv ? "private" : "public"; }

static bool authenticated(const lt_client *c)
{
	lt_auth_state st = lt_priv_state(c->priv);
	return st == LT_AUTH_OK || st == LT_AUTH_RESTORING;
}

/* Set the gauges of one open client (added to its kind's). Protected: lt_subs_stats uses L. */
static void collect_client(lua_State *L, lt_metrics *m, lt_client *c)
{
	const char *k = kind_of(c);
	lt_ws *ws = lt_cl_ws(c->cl);
	const char *v[2] = {k, ws ? lt_ws_state_name(lt_ws_get_state(ws)) : "open"};
	lt_metrics_add(m, LT_M_CONNECTION_STATE, v, 1);
	if (c->priv)
		lt_metrics_add(m, LT_M_AUTHENTICATED, v, authenticated(c) ? 1 : 0);
	lt_metrics_add(m, LT_M_SEND_QUEUE_BYTES, v, ws ? (double)lt_ws_queued_bytes(ws) : 0);
	v[1] = "waiting";
	lt_metrics_add(m, LT_M_REQUESTS_PENDING, v, lt_cl_get_stats(c->cl)->waiting);
	v[1] = "sent";
	lt_metrics_add(m, LT_M_REQUESTS_PENDING, v, lt_rpc_pending_count(lt_cl_rpc(c->cl)));
	lua_newtable(L);
	lt_subs_stats(L, c);
	lua_getfield(L, -1, "sub_queued");
	lt_metrics_add(m, LT_M_SUB_QUEUE, v, (double)lua_tointeger(L, -1));
	lua_pop(L, 2);
}

static int collect(lua_State *L)
{
	lt_rt *rt = lua_touserdata(L, 1);
	lt_metrics *m = rt->metrics;
	lt_metrics_zero_gauges(m);
	static const char *const states[] = {"connecting", "open", "reconnecting", "closed"};
	for (int k = 0; k < 2; k++) /* every state exposed, at 0 when no client is in it */
		for (int i = 0; i < 4; i++) {
			const char *v[2] = {k ? "private" : "public", states[i]};
			if (lt_metrics_scoped(m, v[0])) /* a client of this kind was made */
				lt_metrics_add(m, LT_M_CONNECTION_STATE, v, 0);
		}
	for (lt_client *c = rt->clients; c; c = c->next)
		if (!c->closed && c->cl)
			collect_client(L, m, c);
	return 0;
}

/* Collect the gauges and render into out (also a protected call: out may grow). */
static int render(void *ud, lt_buf *out)
{
	lt_rt *rt = ud;
	if (!rt->metrics)
		return LT_ENOMEM;
	lua_State *L = rt->L;
	int top = lua_gettop(L);
	lua_pushcfunction(L, collect);
	lua_pushlightuserdata(L, rt);
	int rc = lua_pcall(L, 1, 0, 0);
	lua_settop(L, top);
	if (rc != LUA_OK)
		return LT_ENOMEM;
	return lt_metrics_render(rt->metrics, out);
}

/* ---- health ------------------------------------------------------------------------------ */

static bool health(void *ud, char *why, size_t n)
{
	lt_rt *rt = ud;
	int open = 0;
	for (lt_client *c = rt->clients; c; c = c->next) {
		if (c->closed || !c->cl)
			continue;
		open++;
		lt_ws *ws = lt_cl_ws(c->cl);
		bool up = lt_cl_is_open(c->cl);
		if (up && (!c->priv || authenticated(c)))
			continue;
		const char *reason = lt_cl_down_reason(c->cl);
		if (up) /* connected, not authenticated */
			snprintf(why, n, "%s client %s: %s", kind_of(c), c->url,
				 lt_priv_state_name(c->priv));
		else
			snprintf(why, n, "%s client %s: %s (%s)", kind_of(c), c->url,
				 ws ? lt_ws_state_name(lt_ws_get_state(ws)) : "not connected",
				 reason && reason[0] ? reason : "not connected yet");
		return false;
	}
	if (!open)
		snprintf(why, n, "no open client (not started, or shutting down)");
	return open > 0;
}

/* ---- Lua --------------------------------------------------------------------------------- */

/* core.metrics_serve(addr, port) -> port: serve /metrics and /healthz on addr:port (0: a free
 * port) on the runtime's loop, answered while lt.run runs. Once per process. */
static int l_metrics_serve(lua_State *L)
{
	const char *addr = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	lt_rt *rt = lt_rt_get(L);
	if (rt->metrics_http)
		return luaL_error(L, "metrics: already serving on port %d",
				  lt_mhttp_port(rt->metrics_http));
	if (!lt_rt_metrics(rt))
		return luaL_error(L, "metrics: out of memory");
	luaL_argcheck(L, port >= 0 && port <= 65535, 2, "metrics: port must be 0..65535");
	lt_mhttp_cbs cbs = {render, health};
	lt_err err = {0, ""};
	if (lt_mhttp_new(lt_rt_loop(L, rt), addr, (int)port, &cbs, rt, &rt->metrics_http, &err))
		return luaL_error(L, "%s", err.msg);
	lua_pushinteger(L, lt_mhttp_port(rt->metrics_http));
	return 1;
}

/* core._metric_inc(family [, labels]): add 1 to a counter Lua may increment (the orders'
 * families), labels = {name = "value", ...} giving every label of the family. */
static int l_metric_inc(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	lt_metrics *m = lt_rt_metrics(lt_rt_get(L));
	int fam = lt_metrics_family(m, name);
	const lt_mx_family *f = lt_metrics_family_info(m, fam);
	if (!f || !f->lua)
		return luaL_error(L, "metric_inc: '%s' is not a metric Lua may increment", name);
	const char *v[LT_METRICS_MAX_LABELS] = {NULL};
	int n = 0;
	for (; n < LT_METRICS_MAX_LABELS && f->labels[n]; n++) {
		if (!lua_istable(L, 2))
			return luaL_error(L, "metric_inc: %s needs label '%s'", name, f->labels[n]);
		if (lua_getfield(L, 2, f->labels[n]) != LUA_TSTRING)
			return luaL_error(L, "metric_inc: %s: label '%s' must be a string", name,
					  f->labels[n]);
		v[n] = lua_tostring(L, -1); /* kept alive by the table */
		lua_pop(L, 1);
	}
	if (lua_istable(L, 2)) { /* no label it does not have */
		lua_pushnil(L);
		while (lua_next(L, 2)) {
			bool known = false;
			for (int i = 0; i < n && !known; i++)
				known = lua_type(L, -2) == LUA_TSTRING &&
					strcmp(lua_tostring(L, -2), f->labels[i]) == 0;
			if (!known)
				return luaL_error(L, "metric_inc: %s has no label '%s'", name,
						  luaL_tolstring(L, -2, NULL));
			lua_pop(L, 1);
		}
	}
	lt_metrics_add(m, fam, v, 1);
	return 0;
}

/* core._metrics_text(): the exposition /metrics serves (gauges collected now). */
static int l_metrics_text(lua_State *L)
{
	lt_rt *rt = lt_rt_get(L);
	lt_buf b;
	lt_buf_init(&b, 0);
	int rc = lt_rt_metrics(rt) ? render(rt, &b) : LT_ENOMEM;
	if (rc) {
		lt_buf_free(&b);
		return luaL_error(L, "metrics: out of memory");
	}
	lua_pushlstring(L, lt_buf_text(&b), b.len);
	lt_buf_free(&b);
	return 1;
}

/* core._health(): true, or false and the reason (what /healthz answers). */
static int l_health(lua_State *L)
{
	char why[240] = "";
	bool ok = health(lt_rt_get(L), why, sizeof why);
	lua_pushboolean(L, ok);
	lua_pushstring(L, why);
	return ok ? 1 : 2;
}

void lt_metrics_open(lua_State *L)
{
	static const luaL_Reg fns[] = {{"metrics_serve", l_metrics_serve},
				       {"_metric_inc", l_metric_inc},
				       {"_metrics_text", l_metrics_text},
				       {"_health", l_health},
				       {NULL, NULL}};
	luaL_setfuncs(L, fns, 0);
}
