/* private.h — the private client's authentication state machine over client.c
 * (deribit-api.md §3):
 *
 *     connect -> AUTHENTICATING -> (restore: cancel-on-disconnect, limits) -> OK -> drop -> ...
 *
 * After every open public/auth goes first (client_signature by default); private requests wait
 * in the client's WAIT_AUTH until OK. The auth epoch increments at every successful fresh
 * authentication; the client re-checks it before writing a gated request. A refresh (refresh
 * token, at refresh_fraction of expires_in) keeps the state OK: nothing stalls. A 13009 or
 * 10000 answer to a private request sent under the current epoch means the venue no longer
 * knows the session: the state leaves OK at once and a fresh authentication starts; the failed
 * call is returned to its caller as an error (never re-sent). Credential errors (13004, ...)
 * make the state FAILED: sticky, gated requests fail with the venue's code and kind "auth".
 * Retryable errors (10028, ...), timeouts and malformed answers (no access_token, an empty one,
 * an expires_in that is not a positive integer) are retried with exponential backoff (0.5 s
 * doubling to 30 s, jittered): never a wedge, never a storm. Refresh delays are at least 1 s.
 * Secrets and tokens live in lt_secret only; logs and errors name the step, never a value.
 *
 * Example:
 *     lt_priv_opts po = {.client_id = "id", .secret = s, .refresh_fraction = 0.8};
 *     lt_priv *p; lt_priv_new(cl, &po, &events, ud, &p, &err);   // installs client hooks
 * Errors: LT_ENOMEM. Rate limits: public/auth costs 500 non-ME credits and goes through the
 * client's limiter like every other request, ahead of waiting requests of its pool.
 */
#ifndef LT_PRIVATE_H
#define LT_PRIVATE_H

#include "auth.h"
#include "client.h"

typedef struct lt_priv lt_priv;

typedef enum {
	LT_AUTH_NONE = 0,  /* not connected, or connected and not yet asked */
	LT_AUTH_PENDING,   /* public/auth in flight (or waiting to retry) */
	LT_AUTH_RESTORING, /* authenticated; restoring cancel-on-disconnect / limits */
	LT_AUTH_OK,
	LT_AUTH_FAILED /* sticky */
} lt_auth_state;

typedef struct lt_priv_opts {
	const char *client_id, *scope; /* copied */
	lt_secret *secret;             /* taken (freed with the lt_priv, also on failure) */
	lt_grant grant;
	double refresh_fraction; /* 0.1 .. 0.95 */
	int64_t auth_timeout_ms;
	bool tier_auto; /* read the account's limits after each authentication */
} lt_priv_opts;

typedef struct lt_priv_events {
	/* "authenticating", "authenticated", "auth_failed" (reason: the venue's error). */
	void (*on_state)(void *ud, const char *state, const char *reason);
} lt_priv_events;

int lt_priv_new(lt_cl *cl, const lt_priv_opts *o, const lt_priv_events *ev, void *ud, lt_priv **out,
		lt_err *err);
/* Cleanse credentials and tokens, stop timers. Call after lt_cl_free (which ends the auth and
 * restore requests through this state machine's callbacks). Accepts NULL. */
void lt_priv_free(lt_priv *p);

lt_auth_state lt_priv_state(const lt_priv *p);
const char *lt_priv_state_name(const lt_priv *p);
uint64_t lt_priv_epoch(const lt_priv *p);
/* Why the state is FAILED: the venue's code and a message (no secret in it). */
int64_t lt_priv_fail(const lt_priv *p, const char **msg);

/* Cancel-on-disconnect with connection scope is restored after every authentication while
 * wanted: the binding reports what the strategy asked once the venue accepted it. */
void lt_priv_want_cod(lt_priv *p, bool on);
bool lt_priv_cod_wanted(const lt_priv *p);

typedef struct lt_priv_stats {
	unsigned long long auths, refreshes, auth_errors, auth_retries, revoked;
} lt_priv_stats;
const lt_priv_stats *lt_priv_get_stats(const lt_priv *p);

#endif
