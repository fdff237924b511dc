/* auth.c — authentication on the simulated venue (deribit-api.md §3, §2, §9): public/auth with
 * grant types client_signature, client_credentials and refresh_token; the gate in front of
 * every "private/" method; private/logout; cancel-on-disconnect settings.
 *
 * public/auth errors:
 *   -32602 Invalid params   missing or mistyped params (data.param), grant_type not one of the
 *                           three, a nonce that is not 1..64 of [A-Za-z0-9_.-] ("invalid
 *                           format", as a CCXT capture shows), a malformed scope
 *   13004 invalid_credentials  unknown client_id, wrong client_secret, wrong signature
 *   13009 unauthorized      signature timestamp more than 60 s from the venue clock (the message
 *                           says so: "unauthorized: timestamp ... outside the 60 s window");
 *                           a nonce this account used before ("unauthorized: nonce already
 *                           used"); an unknown, expired or revoked refresh token (logout,
 *                           a refresh, sim/fault revoke_tokens), or a connection-scope one from
 *                           another connection
 * Private methods answer 13009 "unauthorized" unless the request acts for an account: its
 * params.access_token is valid here (the connection then uses it), or the connection's own token
 * has not expired. An invalid params.access_token is ignored. A connection whose token expired
 * gets 13009 until it refreshes or authenticates again; one whose tokens were revoked (sim/fault
 * revoke_tokens) gets 13009 until it authenticates again with credentials or a signature.
 *
 * Granted scope: "connection" or "session:NAME", then "mainaccount", then the requested
 * account:/trade:/wallet:/block_trade:/block_rfq: scopes (default "account:read_write
 * trade:read_write wallet:read_write"), ip:..., expires:N (the token lifetime, else
 * sim/configure token_expires_s of the connection, else the last one set on a connection of
 * the account, else opts.token_expires_s, else 900).
 * Scopes are reported, not enforced. Unknown scope words are dropped.
 */
#include "internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"

#define TS_WINDOW_MS 60000
#define MAX_SIGN 4096
#define DEFAULT_FUNCTIONAL "account:read_write trade:read_write wallet:read_write"

/* Until orders.c defines the real one (cancel the connection's orders). */
__attribute__((weak)) void lt_sim_engine_cancel_on_disconnect(lt_sim_conn *c) { (void)c; }

void lt_sim_auth_hmac_hex(const char *key, const char *msg, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, len, md, &n))
		n = 0;
	for (unsigned i = 0; i < n && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[n >= 32 ? 64 : 2 * n] = '\0';
}

int lt_sim_auth_sign(const char *secret, int64_t ts_ms, const char *nonce, const char *data,
		     char out[65])
{
	char msg[MAX_SIGN];
	int n = snprintf(msg, sizeof msg, "%" PRId64 "\n%s\n%s", ts_ms, nonce, data ? data : "");
	if (n < 0 || (size_t)n >= sizeof msg) {
		out[0] = '\0';
		return LT_EINVAL;
	}
	lt_sim_auth_hmac_hex(secret, msg, (size_t)n, out);
	return 0;
}

bool lt_sim_auth_ts_ok(int64_t ts_ms, int64_t now_ms)
{
	return ts_ms >= now_ms - TS_WINDOW_MS && ts_ms <= now_ms + TS_WINDOW_MS;
}

bool lt_sim_auth_nonce_use(lt_sim_account *acc, const char *nonce)
{
	char h[65];
	lt_sim_auth_hmac_hex("luatrade-sim-nonce", nonce, strlen(nonce), h);
	h[sizeof acc->nonces[0] - 1] = '\0';
	size_t n = sizeof acc->nonces / sizeof acc->nonces[0];
	for (size_t i = 0; i < n; i++)
		if (CRYPTO_memcmp(acc->nonces[i], h, sizeof acc->nonces[i]) == 0)
			return false;
	memcpy(acc->nonces[acc->nonce_next % n], h, sizeof acc->nonces[0]);
	acc->nonce_next = (unsigned)((acc->nonce_next + 1) % n);
	return true;
}

static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- the gate ---------------------------------------------------------------------------- */

/* The connection now acts with token t. */
static void conn_adopt(lt_sim_conn *c, const lt_sim_token *t)
{
	if (c->acc != t->acc && !c->cod_set)
		c->cod = t->acc->cod_default;
	if (c->acc != t->acc)
		lt_sim_stats_adopted(c, t->acc);
	c->acc = t->acc;
	snprintf(c->token, sizeof c->token, "%s", t->access);
}

lt_sim_account *lt_sim_auth_resolve(lt_sim_req *rq)
{
	lt_sim_conn *c = rq->conn;
	int64_t now = lt_sim_now_ms();
	yajl_val v = lt_sim_json_get(rq->params, "access_token");
	if (v && YAJL_IS_STRING(v)) {
		lt_sim_token *t = lt_sim_token_find(rq->sim, v->u.string, false, c->id, now);
		if (t) {
			conn_adopt(c, t);
			return t->acc;
		}
	}
	return lt_sim_auth_valid(c) ? c->acc : NULL;
}

bool lt_sim_auth_valid(lt_sim_conn *c)
{
	return c->sim && c->acc && c->token[0] &&
	       lt_sim_token_find(c->sim, c->token, false, c->id, lt_sim_now_ms()) != NULL;
}

void lt_sim_auth_conn_closed(lt_sim_conn *c)
{
	if (!c->sim)
		return;
	if (c->acc && c->cod && !c->logged_out) {
		lt_sim_log(c->sim, 1, "#%u cancel on disconnect", c->id);
		lt_sim_engine_cancel_on_disconnect(c);
	}
	lt_sim_tokens_drop_conn(c->sim, c->id);
}

/* The connections keep their account (cancel on disconnect, subscriptions, sim/stats) but lose
 * their token: lt_sim_auth_valid is false for them until they authenticate again. */
void lt_sim_auth_revoke(lt_sim *sim, lt_sim_account *acc)
{
	lt_sim_tokens_revoke_account(sim, acc);
	for (lt_sim_conn *c = sim->conns; c; c = c->next)
		if (c->acc == acc)
			memset(c->token, 0, sizeof c->token);
	lt_sim_log(sim, 1, "tokens of %s revoked", acc->client_id);
}

/* ---- public/auth ------------------------------------------------------------------------- */

typedef struct grant {
	char scope[128];
	char session[64];  /* "" = connection scope */
	int64_t expires_s; /* from expires:N, else 0 */
} grant;

static bool scope_add(char *out, size_t cap, const char *w, size_t n)
{
	size_t len = strlen(out);
	if (len + (len ? 1 : 0) + n >= cap)
		return false;
	if (len)
		out[len++] = ' ';
	memcpy(out + len, w, n);
	out[len + n] = '\0';
	return true;
}

static bool name_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* One requested scope word: functional ones go to fn, the rest sets g. false = malformed. */
static bool scope_word(const char *w, size_t n, grant *g, char *fn, size_t fn_cap)
{
	static const char *const fam[] = {
		"account:", "trade:", "wallet:", "block_trade:", "block_rfq:", NULL};
	if (n > 8 && strncmp(w, "session:", 8) == 0) {
		if (!name_ok(w + 8, n - 8, sizeof g->session - 1))
			return false;
		memcpy(g->session, w + 8, n - 8);
		g->session[n - 8] = '\0';
		return true;
	}
	if (n > 8 && strncmp(w, "expires:", 8) == 0) {
		char num[16];
		if (n - 8 >= sizeof num)
			return false;
		memcpy(num, w + 8, n - 8);
		num[n - 8] = '\0';
		char *end;
		long long v = strtoll(num, &end, 10);
		if (*end || v < 1 || v > 31536000)
			return false;
		g->expires_s = v;
		return scope_add(fn, fn_cap, w, n);
	}
	if (n > 3 && strncmp(w, "ip:", 3) == 0)
		return scope_add(fn, fn_cap, w, n);
	for (const char *const *f = fam; *f; f++) {
		size_t fl = strlen(*f);
		if (n > fl && strncmp(w, *f, fl) == 0) {
			const char *lvl = w + fl;
			size_t ln = n - fl;
			if ((ln == 4 && !memcmp(lvl, "read", 4)) ||
			    (ln == 4 && !memcmp(lvl, "none", 4)) ||
			    (ln == 10 && !memcmp(lvl, "read_write", 10)))
				return scope_add(fn, fn_cap, w, n);
			return false;
		}
	}
	return true; /* connection, mainaccount, unknown words: nothing to keep */
}

/* Build the granted scope from the requested one (NULL = default). -1 after replying. */
static int grant_scope(lt_sim_req *rq, const char *req, grant *g)
{
	char fn[128] = "";
	memset(g, 0, sizeof *g);
	for (const char *p = req ? req : ""; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n && !scope_word(p, n, g, fn, sizeof fn))
			return lt_sim_reply_invalid(rq, "scope", "invalid scope");
		p += n;
	}
	bool has_fn = strstr(fn, ":read") || strstr(fn, ":none");
	int n = snprintf(g->scope, sizeof g->scope, "%s%s mainaccount %s%s%s",
			 g->session[0] ? "session:" : "connection", g->session,
			 has_fn ? "" : DEFAULT_FUNCTIONAL, has_fn || !fn[0] ? "" : " ", fn);
	if (n < 0 || (size_t)n >= sizeof g->scope)
		return lt_sim_reply_invalid(rq, "scope", "too long");
	return 0;
}

static int64_t lifetime(const lt_sim_conn *c, const lt_sim_account *acc, const grant *g)
{
	if (g->expires_s > 0)
		return g->expires_s;
	if (c->token_expires_s > 0)
		return c->token_expires_s;
	if (acc->token_expires_s > 0)
		return acc->token_expires_s;
	return c->sim->opts.token_expires_s > 0 ? c->sim->opts.token_expires_s
						: LT_SIM_TOKEN_EXPIRES_S;
}

static void reply_auth(lt_sim_req *rq, const lt_sim_token *t, const char *state)
{
	lt_buf *b = lt_sim_reply_begin(rq);
	lt_sim_jo o;
	lt_sim_jo_begin(&o, b);
	lt_sim_jo_str(&o, "access_token", t->access);
	lt_sim_jo_int(&o, "expires_in", t->expires_s);
	lt_sim_jo_str(&o, "refresh_token", t->refresh);
	lt_sim_jo_str(&o, "scope", t->scope);
	lt_sim_jo_str(&o, "token_type", "bearer");
	if (state)
		lt_sim_jo_str(&o, "state", state);
	lt_sim_jo_key(&o, "enabled_features");
	LT_SIM_LIT(b, "[]");
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

/* Issue a pair for acc, make it the connection's, reply. The connection's previous
 * connection-scope token is revoked (deribit-api.md §3: a new connection token replaces it). */
static void auth_success(lt_sim_req *rq, lt_sim_account *acc, const grant *g, const char *state,
			 bool refresh)
{
	lt_sim_conn *c = rq->conn;
	int64_t now = lt_sim_now_ms();
	for (lt_sim_token *t = rq->sim->tokens; t && c->token[0]; t = t->next)
		if (t->conn_id == c->id && same_text(t->access, c->token)) {
			lt_sim_token_revoke(rq->sim, t);
			break;
		}
	lt_sim_token *t =
		lt_sim_token_issue(rq->sim, acc, g->scope, g->session[0] ? g->session : NULL, c->id,
				   lifetime(c, acc, g), now);
	if (!t) {
		lt_sim_reply_error(rq, 11094, "internal_server_error");
		return;
	}
	conn_adopt(c, t);
	lt_sim_stats_auth(c, acc, refresh);
	lt_sim_log(rq->sim, 1, "#%u authenticated as %s (%s)", c->id, acc->client_id, t->scope);
	reply_auth(rq, t, state);
}

static lt_sim_account *by_secret(lt_sim_req *rq)
{
	const char *id, *secret;
	if (lt_sim_param_str(rq, "client_id", true, &id) <= 0 ||
	    lt_sim_param_str(rq, "client_secret", true, &secret) <= 0)
		return NULL;
	lt_sim_account *acc = lt_sim_account_find(rq->sim, id);
	if (!acc || !same_text(acc->client_secret, secret)) {
		lt_sim_reply_error(rq, 13004, "invalid_credentials");
		return NULL;
	}
	return acc;
}

static lt_sim_account *by_signature(lt_sim_req *rq)
{
	const char *id, *sig, *nonce, *data = "";
	int64_t ts;
	if (lt_sim_param_str(rq, "client_id", true, &id) <= 0 ||
	    lt_sim_param_int(rq, "timestamp", true, &ts) <= 0 ||
	    lt_sim_param_str(rq, "signature", true, &sig) <= 0 ||
	    lt_sim_param_str(rq, "nonce", true, &nonce) <= 0 ||
	    lt_sim_param_str(rq, "data", false, &data) < 0)
		return NULL;
	if (!name_ok(nonce, strlen(nonce), 64)) {
		lt_sim_reply_invalid(rq, "nonce", "invalid format");
		return NULL;
	}
	lt_sim_account *acc = lt_sim_account_find(rq->sim, id);
	char want[65];
	if (!acc || lt_sim_auth_sign(acc->client_secret, ts, nonce, data, want) != 0 ||
	    !same_text(want, sig)) {
		lt_sim_reply_error(rq, 13004, "invalid_credentials");
		return NULL;
	}
	int64_t now = lt_sim_now_ms();
	if (!lt_sim_auth_ts_ok(ts, now)) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "unauthorized: timestamp %" PRId64 " is outside the 60 s "
			 "window of the venue clock (%" PRId64 ")",
			 ts, now);
		lt_sim_reply_error(rq, 13009, msg);
		return NULL;
	}
	if (!lt_sim_auth_nonce_use(acc, nonce)) {
		lt_sim_reply_error(rq, 13009, "unauthorized: nonce already used");
		return NULL;
	}
	return acc;
}

/* A refresh keeps the scope (and session); the old pair is revoked. */
static void by_refresh(lt_sim_req *rq, const char *state)
{
	const char *rt;
	if (lt_sim_param_str(rq, "refresh_token", true, &rt) <= 0)
		return;
	lt_sim_token *old = lt_sim_token_find(rq->sim, rt, true, rq->conn->id, lt_sim_now_ms());
	if (!old) {
		lt_sim_reply_error(rq, 13009, "unauthorized");
		return;
	}
	grant g;
	if (grant_scope(rq, old->scope, &g) < 0)
		return;
	lt_sim_account *acc = old->acc;
	lt_sim_token_revoke(rq->sim, old);
	auth_success(rq, acc, &g, state, true);
}

static void m_auth(lt_sim_req *rq)
{
	static const char *const grants[] = {"client_signature", "client_credentials",
					     "refresh_token", NULL};
	const char *gt, *state = NULL, *scope = NULL;
	if (lt_sim_param_enum(rq, "grant_type", true, grants, &gt) <= 0 ||
	    lt_sim_param_str(rq, "state", false, &state) < 0 ||
	    lt_sim_param_str(rq, "scope", false, &scope) < 0)
		return;
	if (strcmp(gt, "refresh_token") == 0) {
		by_refresh(rq, state);
		return;
	}
	grant g;
	if (grant_scope(rq, scope, &g) < 0)
		return;
	lt_sim_account *acc =
		strcmp(gt, "client_credentials") == 0 ? by_secret(rq) : by_signature(rq);
	if (acc)
		auth_success(rq, acc, &g, state, false);
}

/* ---- private session methods (deribit-api.md §2) ----------------------------------------- */

/* No response; the socket closes; cancel on disconnect does not fire. invalidate_token (default
 * true) revokes the connection's tokens, or the whole session's for session scope. */
static void m_logout(lt_sim_req *rq)
{
	lt_sim_conn *c = rq->conn;
	bool invalidate = true;
	if (lt_sim_param_bool(rq, "invalidate_token", false, &invalidate) < 0)
		return;
	if (invalidate) {
		for (lt_sim_token *t = rq->sim->tokens; t; t = t->next)
			if (same_text(t->access, c->token)) {
				lt_sim_token_revoke(rq->sim, t);
				break;
			}
		lt_sim_tokens_drop_conn(rq->sim, c->id);
	}
	lt_sim_log(rq->sim, 1, "#%u logout", c->id);
	c->logged_out = true;
	rq->done = true;
	lt_sim_conn_close(c);
}

static int cod_scope(lt_sim_req *rq, bool *account)
{
	static const char *const scopes[] = {"connection", "account", NULL};
	const char *s = "connection";
	if (lt_sim_param_enum(rq, "scope", false, scopes, &s) < 0)
		return -1;
	*account = strcmp(s, "account") == 0;
	return 0;
}

static void cod_set(lt_sim_req *rq, bool on)
{
	bool account;
	if (cod_scope(rq, &account) < 0)
		return;
	if (account) {
		rq->conn->acc->cod_default = on;
	} else {
		rq->conn->cod = on;
		rq->conn->cod_set = true;
	}
	lt_sim_reply_ok(rq);
}

static void m_enable_cod(lt_sim_req *rq) { cod_set(rq, true); }

static void m_disable_cod(lt_sim_req *rq) { cod_set(rq, false); }

static void m_get_cod(lt_sim_req *rq)
{
	bool account;
	if (cod_scope(rq, &account) < 0)
		return;
	lt_sim_jo o;
	lt_sim_jo_begin(&o, lt_sim_reply_begin(rq));
	lt_sim_jo_str(&o, "scope", account ? "account" : "connection");
	lt_sim_jo_bool(&o, "enabled", account ? rq->conn->acc->cod_default : rq->conn->cod);
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

/* ---- sim/configure keys (documented in faults.c) ----------------------------------------- */

static int configure_tier(lt_sim_req *rq)
{
	int64_t v;
	int rc = lt_sim_param_int(rq, "tier", false, &v);
	if (rc <= 0)
		return rc;
	if (v < 1 || v > 4)
		return lt_sim_reply_invalid(rq, "tier", "must be between 1 and 4");
	lt_sim_account *acc = rq->conn->acc;
	if (!acc)
		return lt_sim_reply_invalid(rq, "tier", "connection is not authenticated");
	acc->tier = (int)v;
	if (acc->limits)
		lt_sim_limits_set_tier(acc->limits, (int)v, lt_sim_now_us());
	return 0;
}

int lt_sim_auth_configure(lt_sim_req *rq)
{
	int64_t v;
	bool close;
	int rc = lt_sim_param_int(rq, "token_expires_s", false, &v);
	if (rc < 0)
		return -1;
	if (rc == 1 && (v < 1 || v > 31536000))
		return lt_sim_reply_invalid(rq, "token_expires_s",
					    "must be between 1 and 31536000");
	if (rc == 1) {
		rq->conn->token_expires_s = v;
		if (rq->conn->acc) /* and for the account's later connections (reconnect tests) */
			rq->conn->acc->token_expires_s = v;
	}
	if (configure_tier(rq) < 0)
		return -1;
	rc = lt_sim_param_bool(rq, "close_on_10028", false, &close);
	if (rc < 0)
		return -1;
	if (rc == 1 && rq->conn->acc)
		rq->conn->acc->close_on_10028 = close ? 1 : 2;
	else if (rc == 1)
		rq->conn->close_on_10028 = close ? 1 : 2;
	return 0;
}

const lt_sim_method lt_sim_auth_methods[] = {
	{"public/auth", m_auth},
	{"private/logout", m_logout},
	{"private/enable_cancel_on_disconnect", m_enable_cod},
	{"private/disable_cancel_on_disconnect", m_disable_cod},
	{"private/get_cancel_on_disconnect", m_get_cod},
	{NULL, NULL},
};
