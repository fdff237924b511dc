/* private.c — the authentication state machine; see private.h. */
#include "private.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "lua_secret.h"

#define RETRY_BASE_MS 500
#define RETRY_CAP_MS 30000
#define MAX_EXPIRES_S 315360000 /* ten years */

struct lt_priv {
	lt_cl *cl;
	lt_loop *loop;
	lt_priv_events ev;
	void *ud;
	char client_id[128], scope[160];
	lt_secret *secret, *access_token, *refresh_token;
	lt_grant grant;
	bool tier_auto, cod_wanted;
	uint64_t auth_seq; /* the newest auth request's number (its tag >> 1) */
	lt_auth_state state;
	uint64_t epoch;
	int restoring; /* restore requests still unanswered */
	double refresh_fraction;
	int64_t auth_timeout_ms;
	int64_t fail_code;
	char fail_msg[200];
	int attempt; /* failed attempts in a row (backoff) */
	uint64_t rng;
	lws_sorted_usec_list_t refresh_sul, retry_sul;
	lt_priv_stats stats;
};

/* Every change of the authentication state goes through here (debug log: URL, old and new
 * state; never a token or the secret). */
static void set_state(lt_priv *p, lt_auth_state st)
{
	static const char *const n[] = {"unauthenticated", "authenticating", "restoring",
					"authenticated", "auth_failed"};
	if (p->state != st && lt_log_on(LT_LOG_DEBUG)) {
		lt_log_field f[] = {LT_LF_S("url", lt_cl_url(p->cl)),
				    LT_LF_S("from", n[p->state % 5]), LT_LF_S("to", n[st % 5])};
		lt_logf(LT_LOG_DEBUG, "auth", f, 3, "%s: auth state %s -> %s", lt_cl_url(p->cl),
			n[p->state % 5], n[st % 5]);
	}
	p->state = st;
}

static void emit(lt_priv *p, const char *state, const char *reason)
{
	if (p->ev.on_state)
		p->ev.on_state(p->ud, state, reason);
}

static void schedule(lt_priv *p, lws_sorted_usec_list_t *sul, sul_cb_t cb, int64_t ms)
{
	lws_sul_schedule(lt_loop_context(p->loop), 0, sul, cb, (lws_usec_t)ms * 1000);
}

static void send_auth(lt_priv *p, bool refresh);

/* ---- retries ----------------------------------------------------------------------------- */

static void retry_due(lws_sorted_usec_list_t *sul)
{
	lt_priv *p = lws_container_of(sul, lt_priv, retry_sul);
	if (lt_cl_is_open(p->cl) && p->state == LT_AUTH_PENDING)
		send_auth(p, false);
	lt_loop_wake(p->loop);
}

/* A failed attempt that may succeed later: try again after a jittered, growing delay. */
static void retry_later(lt_priv *p, const char *why)
{
	int64_t d = RETRY_BASE_MS;
	for (int i = 0; i < p->attempt && d < RETRY_CAP_MS; i++)
		d *= 2;
	if (d > RETRY_CAP_MS)
		d = RETRY_CAP_MS;
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	d = d / 2 + (int64_t)(p->rng % (uint64_t)(d / 2 + 1));
	p->attempt++;
	p->stats.auth_retries++;
	set_state(p, LT_AUTH_PENDING);
	lt_log(LT_LOG_WARN, "%s: authentication: %s; retrying in %.1f s", lt_cl_url(p->cl), why,
	       (double)d / 1000);
	schedule(p, &p->retry_sul, retry_due, d);
}

/* ---- restore after a fresh authentication ------------------------------------------------ */

static void restored_one(lt_priv *p)
{
	if (--p->restoring > 0 || p->state != LT_AUTH_RESTORING)
		return;
	set_state(p, LT_AUTH_OK);
	lt_cl_set_ready(p->cl);
	emit(p, "authenticated", NULL);
	lt_cl_kick(p->cl);
}

static void cod_done(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_priv *p = ud;
	(void)r;
	if (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR)
		lua_pop(e->L, 1);
	if (e->how == LT_DONE_LOST || e->how == LT_DONE_REFUSED)
		return; /* the connection went away: the next authentication restores again */
	if (e->how != LT_DONE_RESULT)
		lt_log(LT_LOG_ERROR,
		       "%s: could not restore cancel-on-disconnect after "
		       "reconnecting (%s)",
		       lt_cl_url(p->cl),
		       e->how == LT_DONE_ERROR ? "the venue refused it" : "no answer");
	restored_one(p);
}

static double num_at(lua_State *L, int idx, const char *const *path)
{
	lua_pushvalue(L, idx);
	for (; *path; path++) {
		if (!lua_istable(L, -1)) {
			lua_pop(L, 1);
			return -1;
		}
		lua_getfield(L, -1, *path);
		lua_remove(L, -2);
	}
	double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
	lua_pop(L, 1);
	return v;
}

/* tier = "auto": the account's limits from get_account_summary (deribit-api.md §7). */
static void limits_done(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_priv *p = ud;
	(void)r;
	if (e->how == LT_DONE_RESULT) {
		static const char *const me_rate[] = {
			"limits", "matching_engine", "trading", "total", "rate", NULL};
		static const char *const me_burst[] = {"limits", "matching_engine", "trading",
						       "total",  "burst",           NULL};
		static const char *const ne_rate[] = {"limits", "non_matching_engine", "rate",
						      NULL};
		static const char *const ne_burst[] = {"limits", "non_matching_engine", "burst",
						       NULL};
		lua_State *L = e->L;
		double rt = num_at(L, -1, me_rate), b = num_at(L, -1, me_burst);
		double nr = num_at(L, -1, ne_rate), nb = num_at(L, -1, ne_burst);
		int64_t now = lt_cl_now_us(p->cl);
		lt_rl *rl = lt_cl_rl(p->cl);
		if (rt > 0 && b > 0)
			lt_rl_set_bucket(rl, LT_POOL_ME, b, rt, now);
		if (nr > 0 && nb > 0)
			lt_rl_set_bucket(rl, LT_POOL_NON_ME, nb * 500, nr * 500, now);
		lt_log(LT_LOG_INFO,
		       "%s: rate limits from the account: matching engine %g/s burst "
		       "%g, other requests %g/s burst %g",
		       lt_cl_url(p->cl), rt, b, nr, nb);
		lua_pop(L, 1);
	} else if (e->how == LT_DONE_LOST || e->how == LT_DONE_REFUSED) {
		return;
	} else {
		if (e->how == LT_DONE_ERROR)
			lua_pop(e->L, 1);
		lt_log(LT_LOG_WARN,
		       "%s: could not read the account's limits; keeping the "
		       "configured tier",
		       lt_cl_url(p->cl));
	}
	restored_one(p);
}

static void restore(lt_priv *p, const char *method, const char *params, lt_req_done_fn done)
{
	p->restoring++;
	if (lt_cl_background(p->cl, method, params, LT_REQ_BOUND | LT_REQ_FIRST, p->auth_timeout_ms,
			     done, p))
		p->restoring--;
}

/* ---- the auth exchange ------------------------------------------------------------------- */

/* The token at field of the result at tbl, copied out of its decoded secret userdata (wiped
 * at once); NULL if missing or empty. */
static lt_secret *take_token(lua_State *L, int tbl, const char *field)
{
	lua_getfield(L, tbl, field);
	const lt_secret *s = lt_lua_secret(L, -1);
	size_t n = 0;
	const char *bytes = s ? lt_secret_expose(s, &n) : NULL;
	lt_secret *copy = bytes && n > 0 ? lt_secret_new(bytes, n) : NULL;
	if (s) {
		lua_getfield(L, -1, "wipe");
		if (lua_isfunction(L, -1)) {
			lua_pushvalue(L, -2);
			lua_call(L, 1, 0);
		} else
			lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return copy;
}

static void refresh_due(lws_sorted_usec_list_t *sul)
{
	lt_priv *p = lws_container_of(sul, lt_priv, refresh_sul);
	if (p->state == LT_AUTH_OK && lt_cl_is_open(p->cl))
		send_auth(p, true);
	lt_loop_wake(p->loop);
}

/* A result: check its shape before believing it. Returns NULL or what is wrong with it. */
static const char *auth_ok(lt_priv *p, lua_State *L, bool was_refresh)
{
	int tbl = lua_gettop(L);
	if (!lua_istable(L, tbl))
		return "the answer is not an object";
	lua_getfield(L, tbl, "expires_in");
	lua_Integer expires = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
	lua_pop(L, 1);
	if (expires <= 0)
		return "expires_in is missing or not a positive integer";
	lt_secret *access = take_token(L, tbl, "access_token");
	lt_secret *refresh = take_token(L, tbl, "refresh_token");
	if (!access) {
		lt_secret_free(refresh);
		return "access_token is missing or empty";
	}
	if (expires > MAX_EXPIRES_S)
		expires = MAX_EXPIRES_S;
	lt_secret_free(p->access_token);
	lt_secret_free(p->refresh_token);
	p->access_token = access;
	p->refresh_token = refresh;
	p->attempt = 0;
	int64_t ms = (int64_t)((double)expires * 1000.0 * p->refresh_fraction);
	if (refresh)
		schedule(p, &p->refresh_sul, refresh_due, ms < 1000 ? 1000 : ms);
	lt_log(LT_LOG_INFO, "%s: %s as %s (expires in %lld s)", lt_cl_url(p->cl),
	       was_refresh ? "token refreshed" : "authenticated", p->client_id, (long long)expires);
	if (was_refresh) {
		p->stats.refreshes++;
		return NULL;
	}
	p->stats.auths++;
	p->epoch++;
	set_state(p, LT_AUTH_RESTORING);
	p->restoring = 1; /* held until the restores below are submitted */
	if (p->cod_wanted)
		restore(p, "private/enable_cancel_on_disconnect", "{\"scope\":\"connection\"}",
			cod_done);
	if (p->tier_auto)
		restore(p, "private/get_account_summary",
			"{\"currency\":\"BTC\",\"extended\":true}", limits_done);
	restored_one(p);
	return NULL;
}

static void auth_failed(lt_priv *p, int64_t code, const char *msg)
{
	lt_errinfo info = lt_error_info(code);
	snprintf(p->fail_msg, sizeof p->fail_msg, "%s (%lld): %s", info.name, (long long)code, msg);
	p->fail_code = code;
	set_state(p, LT_AUTH_FAILED);
	p->stats.auth_errors++;
	lws_sul_cancel(&p->refresh_sul);
	lt_log(LT_LOG_ERROR,
	       "%s: authentication failed: %s; private calls fail until the "
	       "client is recreated",
	       lt_cl_url(p->cl), p->fail_msg);
	emit(p, "auth_failed", p->fail_msg);
	lt_cl_kick(p->cl); /* gated requests fail now */
}

static void auth_done(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_priv *p = ud;
	uint64_t tag = lt_req_tag(r);
	bool was_refresh = tag & 1;
	if ((tag >> 1) != p->auth_seq) { /* a newer auth request replaced this one */
		if (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR)
			lua_pop(e->L, 1);
		return;
	}
	if (e->how == LT_DONE_RESULT) {
		const char *bad = auth_ok(p, e->L, was_refresh);
		lua_settop(e->L, lua_gettop(e->L) - 1);
		if (bad) {
			p->stats.auth_errors++;
			char why[120];
			snprintf(why, sizeof why, "malformed answer (%s)", bad);
			if (was_refresh && p->state == LT_AUTH_OK)
				send_auth(p, false);
			else
				retry_later(p, why);
		}
		return;
	}
	if (e->how == LT_DONE_ERROR) {
		lua_getfield(e->L, -1, "message");
		char msg[120];
		snprintf(msg, sizeof msg, "%s",
			 lua_type(e->L, -1) == LUA_TSTRING ? lua_tostring(e->L, -1) : "error");
		lua_pop(e->L, 2);
		lt_errinfo info = lt_error_info(e->code);
		if (was_refresh) { /* the secret still works: authenticate afresh, stay ready */
			lt_log(LT_LOG_WARN, "%s: token refresh refused (%s); authenticating again",
			       lt_cl_url(p->cl), info.name);
			send_auth(p, false);
		} else if (info.retryable || e->code == 10028)
			retry_later(p, info.name);
		else
			auth_failed(p, e->code ? e->code : 13009, msg);
		return;
	}
	if (!lt_cl_is_open(p->cl))
		return; /* the connection went away; the next open authenticates again */
	if (was_refresh && p->state == LT_AUTH_OK)
		send_auth(p, false); /* a slow refresh never drops a healthy connection */
	else if (p->state == LT_AUTH_PENDING)
		retry_later(p, e->how == LT_DONE_TIMEOUT ? "no answer within auth_timeout"
							 : "the request could not be sent");
}

/* An auth request's tag: its sequence number << 1 | 1 for a refresh. */
static int build_auth(void *ud, uint64_t tag, int64_t id, lt_buf *out)
{
	lt_priv *p = ud;
	bool refresh = (tag & 1) && p->refresh_token;
	return lt_auth_request(out, id, refresh ? LT_GRANT_REFRESH : p->grant, p->client_id,
			       refresh ? p->refresh_token : p->secret,
			       p->scope[0] ? p->scope : NULL, lt_wall_ms());
}

static void send_auth(lt_priv *p, bool refresh)
{
	const lt_method *m = lt_method_find("public/auth");
	lt_req_spec s = lt_req_spec_of(m, "public/auth");
	s.flags = LT_REQ_BOUND | LT_REQ_FIRST | LT_REQ_SENSITIVE;
	s.build = build_auth;
	s.build_ud = p;
	refresh = refresh && p->refresh_token;
	uint64_t tag = (++p->auth_seq << 1) | (refresh ? 1u : 0u);
	if (!refresh && p->state != LT_AUTH_OK) {
		set_state(p, LT_AUTH_PENDING);
		emit(p, "authenticating", NULL);
	}
	lt_err err;
	if (lt_cl_submit(p->cl, &s, NULL, p->auth_timeout_ms, auth_done, p, tag, NULL, &err)) {
		lt_log(LT_LOG_ERROR, "%s: could not send public/auth: %s", lt_cl_url(p->cl),
		       err.msg);
	}
}

/* ---- client hooks ------------------------------------------------------------------------ */

static bool ready_gated(void *ud)
{
	lt_priv *p = ud;
	return p->state == LT_AUTH_OK;
}

static uint64_t epoch_of(void *ud) { return ((lt_priv *)ud)->epoch; }

static int64_t refusal(void *ud, const char **msg)
{
	lt_priv *p = ud;
	if (p->state != LT_AUTH_FAILED)
		return 0;
	*msg = p->fail_msg;
	return p->fail_code;
}

static void on_open(void *ud)
{
	lt_priv *p = ud;
	if (p->state != LT_AUTH_FAILED)
		send_auth(p, false);
}

static void on_drop(void *ud)
{
	lt_priv *p = ud;
	lws_sul_cancel(&p->refresh_sul);
	lws_sul_cancel(&p->retry_sul);
	p->restoring = 0;
	if (p->state != LT_AUTH_FAILED)
		set_state(p, LT_AUTH_NONE); /* connection-scope tokens die with the connection */
}

/* 13009 / 10000 to a request sent under the current epoch: the venue forgot the session. */
static void on_answer(void *ud, lt_req *r, const lt_req_end *e)
{
	lt_priv *p = ud;
	if (e->how != LT_DONE_ERROR || (e->code != 13009 && e->code != 10000))
		return;
	if (p->state != LT_AUTH_OK || lt_req_auth_epoch(r) != p->epoch)
		return;
	p->stats.revoked++;
	lt_log(LT_LOG_WARN,
	       "%s: the venue answered %s to %s: the session is gone; "
	       "authenticating again",
	       lt_cl_url(p->cl), lt_error_info(e->code).name, lt_req_method(r));
	lws_sul_cancel(&p->refresh_sul);
	set_state(p, LT_AUTH_PENDING);
	send_auth(p, false);
}

/* ---- life cycle -------------------------------------------------------------------------- */

int lt_priv_new(lt_cl *cl, const lt_priv_opts *o, const lt_priv_events *ev, void *ud, lt_priv **out,
		lt_err *err)
{
	*out = NULL;
	lt_priv *p = calloc(1, sizeof *p);
	if (!p) {
		lt_secret_free(o->secret);
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	}
	p->cl = cl;
	p->loop = lt_cl_loop(cl);
	if (ev)
		p->ev = *ev;
	p->ud = ud;
	snprintf(p->client_id, sizeof p->client_id, "%s", o->client_id);
	snprintf(p->scope, sizeof p->scope, "%s", o->scope ? o->scope : "");
	p->secret = o->secret;
	p->grant = o->grant;
	p->refresh_fraction = o->refresh_fraction > 0 ? o->refresh_fraction : 0.8;
	p->auth_timeout_ms = o->auth_timeout_ms > 0 ? o->auth_timeout_ms : 10000;
	p->tier_auto = o->tier_auto;
	p->rng = (uint64_t)lt_now_us() ^ (uint64_t)(uintptr_t)p ^ 0x9e3779b97f4a7c15ull;
	*out = p;
	lt_cl_hooks h = {ready_gated, epoch_of, refusal, on_open, on_drop, on_answer, p};
	lt_cl_set_hooks(cl, &h);
	return 0;
}

void lt_priv_free(lt_priv *p)
{
	if (!p)
		return;
	lws_sul_cancel(&p->refresh_sul);
	lws_sul_cancel(&p->retry_sul);
	lt_secret_free(p->secret);
	lt_secret_free(p->access_token);
	lt_secret_free(p->refresh_token);
	free(p);
}

lt_auth_state lt_priv_state(const lt_priv *p) { return p->state; }

const char *lt_priv_state_name(const lt_priv *p)
{
	static const char *const n[] = {"unauthenticated", "authenticating", "authenticating",
					"authenticated", "auth_failed"};
	return n[p->state];
}

uint64_t lt_priv_epoch(const lt_priv *p) { return p->epoch; }

int64_t lt_priv_fail(const lt_priv *p, const char **msg)
{
	*msg = p->fail_msg;
	return p->fail_code;
}

void lt_priv_want_cod(lt_priv *p, bool on) { p->cod_wanted = on; }
bool lt_priv_cod_wanted(const lt_priv *p) { return p->cod_wanted; }
const lt_priv_stats *lt_priv_get_stats(const lt_priv *p) { return &p->stats; }
