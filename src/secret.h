/* secret.h — an opaque credential holder (the role of an ExposableSecret): the bytes can be
 * used for signing and for one request body, but never printed. Memory is cleansed with
 * OPENSSL_cleanse when the secret is freed. Used for client secrets and access/refresh tokens.
 *
 * Example:
 *     lt_secret *s; lt_err err;
 *     if (lt_secret_from_file("/etc/luatrade/secret", &s, &err)) ...;  // refused if mode & 077
 *     ... lt_auth_sign(s, ts, nonce, "", sig); lt_secret_free(s);
 * Errors: LT_EINVAL naming the path (missing, not a regular file, readable by group/others,
 * empty or over 4 KiB). No rate limits apply.
 */
#ifndef LT_SECRET_H
#define LT_SECRET_H

#include <stddef.h>

#include "lt.h"

typedef struct lt_secret lt_secret;

/* Copy n bytes into a new secret. NULL on allocation failure or n == 0. */
lt_secret *lt_secret_new(const char *s, size_t n);
/* Cleanse and free. Accepts NULL. */
void lt_secret_free(lt_secret *s);
/* The bytes (not NUL-terminated for the caller's purposes; a NUL follows them) and length.
 * Only for HMAC keys and request bodies; never for logs or messages. */
const char *lt_secret_expose(const lt_secret *s, size_t *len);

/* Read a secret from a file: refused (LT_EINVAL, message names the path and the mode) if the
 * file is readable by group or others; a trailing newline is dropped. */
int lt_secret_from_file(const char *path, lt_secret **out, lt_err *err);

#endif
