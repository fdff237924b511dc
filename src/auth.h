/* auth.h — public/auth request building (deribit-api.md §3): client_signature (HMAC-SHA256 over
 * "timestamp\nnonce\ndata", lowercase hex, a fresh random nonce each time; the secret is never
 * sent), client_credentials, refresh_token. Requests are written straight from the secret into
 * the outgoing buffer, never through a Lua string.
 *
 * Example:
 *     lt_auth_request(&buf, id, LT_GRANT_SIGNATURE, "client-id", secret, NULL, lt_wall_ms());
 * Errors: LT_EIO when no random bytes are available. The request costs 500 credits of the
 * non-matching-engine pool; the caller reserves them.
 */
#ifndef LT_AUTH_H
#define LT_AUTH_H

#include <stdint.h>

#include "codec.h"
#include "secret.h"

typedef enum { LT_GRANT_SIGNATURE = 0, LT_GRANT_CREDENTIALS, LT_GRANT_REFRESH } lt_grant;

/* signature = lowercase hex HMAC-SHA256(key = secret, msg = ts + "\n" + nonce + "\n" + data).
 * out receives 64 hex digits and a NUL. */
void lt_auth_sign(const lt_secret *secret, int64_t ts_ms, const char *nonce, const char *data,
		  char out[65]);

/* 8 random characters of [a-z0-9] (the DOCS nonce format), NUL-terminated. 0 or LT_EIO. */
int lt_auth_nonce(char out[9]);

/* Append the complete public/auth request with id to b. For LT_GRANT_REFRESH, `secret` is the
 * refresh token; otherwise the client secret. scope may be NULL. ts_ms: the venue-clock time
 * in ms. Returns 0 or LT_EIO (no randomness). */
int lt_auth_request(lt_buf *b, int64_t id, lt_grant grant, const char *client_id,
		    const lt_secret *secret, const char *scope, int64_t ts_ms);

#endif
