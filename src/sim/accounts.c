/* accounts.c — the simulated venue's accounts and issued tokens (accounts.h).
 *
 * The demo account always exists: client_id "luatrade-demo", client_secret = the first 32 hex
 * characters of HMAC-SHA256(key "luatrade-sim-demo", msg = opts.seed in decimal), so the same
 * seed gives the same secret (`luatrade sim` prints it; lt_sim_demo_account returns it). More
 * accounts come from opts.accounts ("id:secret[,id:secret...]", `luatrade sim --account`).
 * Every account starts with 10 BTC and 100 ETH at matching-engine tier 4 (deribit-api.md §7).
 *
 * Tokens (deribit-api.md §3): "<ms timestamp>.<32 random hex>" from RAND_bytes, an access and a
 * refresh token per pair. A connection-scope pair is bound to the connection that asked for it
 * and dies with it; a session:NAME pair is valid on any connection, replaces the session's
 * previous pair, and an account keeps at most 16 sessions (the oldest is evicted). The refresh
 * token lives a week (or the access lifetime if longer). Expired pairs are purged at each issue.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define DEMO_KEY "luatrade-sim-demo"
#define REFRESH_MIN_S (7 * 86400)
#define MAX_SESSIONS 16

static lt_sim_account *account_add(lt_sim *sim, const char *id, size_t id_len, const char *secret,
				   size_t secret_len, lt_err *err)
{
	if (id_len == 0 || id_len >= sizeof sim->accounts->client_id)
		return lt_err_set(err, LT_EINVAL, "sim: account id must be 1..63 characters"), NULL;
	if (secret_len == 0 || secret_len >= sizeof sim->accounts->client_secret)
		return lt_err_set(err, LT_EINVAL, "sim: account secret must be 1..127 characters"),
		       NULL;
	for (lt_sim_account *a = sim->accounts; a; a = a->next)
		if (strlen(a->client_id) == id_len && memcmp(a->client_id, id, id_len) == 0)
			return lt_err_set(err, LT_EINVAL, "sim: duplicate account %.*s",
					  (int)id_len, id),
			       NULL;
	lt_sim_account *a = calloc(1, sizeof *a);
	if (!a)
		return lt_err_set(err, LT_ENOMEM, "sim: out of memory"), NULL;
	memcpy(a->client_id, id, id_len);
	memcpy(a->client_secret, secret, secret_len);
	snprintf(a->username, sizeof a->username, "%s", a->client_id);
	a->user_id = ++sim->next_user_id;
	a->tier = 4;
	a->balance[LT_SIM_IDX_BTC] = 10.0;
	a->balance[LT_SIM_IDX_ETH] = 100.0;
	if (lt_sim_limits_attach(a, lt_sim_now_us()) != 0) {
		free(a);
		return lt_err_set(err, LT_ENOMEM, "sim: out of memory"), NULL;
	}
	/* keep creation order: the demo account first */
	lt_sim_account **pp = &sim->accounts;
	while (*pp)
		pp = &(*pp)->next;
	*pp = a;
	return a;
}

static int add_demo(lt_sim *sim, lt_err *err)
{
	char seed[24], mac[65];
	snprintf(seed, sizeof seed, "%" PRIu64, sim->opts.seed);
	lt_sim_auth_hmac_hex(DEMO_KEY, seed, strlen(seed), mac);
	mac[32] = '\0';
	return account_add(sim, LT_SIM_DEMO_CLIENT_ID, strlen(LT_SIM_DEMO_CLIENT_ID), mac, 32, err)
		       ? 0
		       : err->code;
}

/* "id:secret[,id:secret...]"; ids contain no ':' or ','; secrets no ','. */
static int add_list(lt_sim *sim, const char *list, lt_err *err)
{
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (!colon)
			return lt_err_set(err, LT_EINVAL, "sim: account \"%.*s\" is not ID:SECRET",
					  (int)(end - p), p);
		if (!account_add(sim, p, (size_t)(colon - p), colon + 1, (size_t)(end - colon - 1),
				 err))
			return err->code;
		p = *end ? end + 1 : end;
	}
	return 0;
}

int lt_sim_accounts_init(lt_sim *sim, lt_err *err)
{
	lt_err local = {0, ""};
	if (!err)
		err = &local;
	sim->next_user_id = 100000;
	int rc = add_demo(sim, err);
	if (!rc && sim->opts.accounts)
		rc = add_list(sim, sim->opts.accounts, err);
	if (rc)
		lt_sim_accounts_free(sim);
	return rc;
}

void lt_sim_accounts_free(lt_sim *sim)
{
	while (sim->tokens)
		lt_sim_token_revoke(sim, sim->tokens);
	while (sim->accounts) {
		lt_sim_account *a = sim->accounts;
		sim->accounts = a->next;
		lt_sim_limits_detach(a);
		lt_sim_stats_free(a->stats);
		OPENSSL_cleanse(a->client_secret, sizeof a->client_secret);
		free(a);
	}
}

lt_sim_account *lt_sim_account_find(lt_sim *sim, const char *client_id)
{
	for (lt_sim_account *a = sim->accounts; a; a = a->next)
		if (strcmp(a->client_id, client_id) == 0)
			return a;
	return NULL;
}

int lt_sim_demo_account(const lt_sim *sim, const char **client_id, const char **client_secret)
{
	if (!sim || !sim->accounts)
		return LT_EINVAL;
	if (client_id)
		*client_id = sim->accounts->client_id;
	if (client_secret)
		*client_secret = sim->accounts->client_secret;
	return 0;
}

/* ---- tokens ------------------------------------------------------------------------------ */

static int make_token(char out[64], int64_t now_ms)
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof r) != 1)
		return LT_EIO;
	int n = snprintf(out, 64, "%" PRId64 ".", now_ms);
	for (size_t i = 0; i < sizeof r; i++)
		n += snprintf(out + n, (size_t)(64 - n), "%02x", r[i]);
	return 0;
}

static void purge_expired(lt_sim *sim, int64_t now_ms)
{
	lt_sim_token **pp = &sim->tokens;
	while (*pp) {
		lt_sim_token *t = *pp;
		if (t->refresh_expires_ms <= now_ms) {
			*pp = t->next;
			OPENSSL_cleanse(t, sizeof *t);
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

/* Make room for a session: drop the session's own pair, and the oldest session when 16 exist. */
static void session_evict(lt_sim *sim, lt_sim_account *acc, const char *session)
{
	lt_sim_token *oldest = NULL;
	int n = 0;
	for (lt_sim_token *t = sim->tokens, *next; t; t = next) {
		next = t->next;
		if (t->acc != acc || !t->session[0])
			continue;
		if (strcmp(t->session, session) == 0) {
			lt_sim_token_revoke(sim, t);
			continue;
		}
		n++;
		oldest = t; /* the list is newest first */
	}
	if (n >= MAX_SESSIONS && oldest)
		lt_sim_token_revoke(sim, oldest);
}

lt_sim_token *lt_sim_token_issue(lt_sim *sim, lt_sim_account *acc, const char *scope,
				 const char *session, unsigned conn_id, int64_t expires_s,
				 int64_t now_ms)
{
	purge_expired(sim, now_ms);
	lt_sim_token *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (make_token(t->access, now_ms) != 0 || make_token(t->refresh, now_ms) != 0) {
		free(t);
		return NULL;
	}
	if (session) {
		session_evict(sim, acc, session);
		snprintf(t->session, sizeof t->session, "%s", session);
	}
	t->acc = acc;
	t->conn_id = session ? 0 : conn_id;
	t->expires_s = expires_s;
	t->expires_ms = now_ms + expires_s * 1000;
	t->refresh_expires_ms =
		now_ms + (expires_s > REFRESH_MIN_S ? expires_s : REFRESH_MIN_S) * 1000;
	snprintf(t->scope, sizeof t->scope, "%s", scope);
	t->next = sim->tokens;
	sim->tokens = t;
	return t;
}

static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

lt_sim_token *lt_sim_token_find(lt_sim *sim, const char *text, bool refresh, unsigned conn_id,
				int64_t now_ms)
{
	for (lt_sim_token *t = sim->tokens; t; t = t->next) {
		if (!same_text(refresh ? t->refresh : t->access, text))
			continue;
		if ((refresh ? t->refresh_expires_ms : t->expires_ms) <= now_ms)
			return NULL;
		if (t->conn_id && t->conn_id != conn_id)
			return NULL;
		return t;
	}
	return NULL;
}

void lt_sim_token_revoke(lt_sim *sim, lt_sim_token *t)
{
	for (lt_sim_token **pp = &sim->tokens; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			OPENSSL_cleanse(t, sizeof *t);
			free(t);
			return;
		}
}

void lt_sim_tokens_revoke_account(lt_sim *sim, const lt_sim_account *acc)
{
	for (lt_sim_token *t = sim->tokens, *next; t; t = next) {
		next = t->next;
		if (t->acc == acc)
			lt_sim_token_revoke(sim, t);
	}
}

void lt_sim_tokens_drop_conn(lt_sim *sim, unsigned conn_id)
{
	for (lt_sim_token *t = sim->tokens, *next; t; t = next) {
		next = t->next;
		if (t->conn_id == conn_id)
			lt_sim_token_revoke(sim, t);
	}
}
