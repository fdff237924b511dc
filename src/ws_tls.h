/* ws_tls.h — the TLS client of one ws.c transport, OpenSSL over memory BIOs: libwebsockets
 * carries the ciphertext (its raw-socket client role: TCP, the loop), this layer encrypts and
 * decrypts. Why not libwebsockets' own TLS: in lws 4.1.6 a method "RAW" client with
 * LCCSCF_USE_SSL starts TLS before the socket exists and fails at once ("tls start fail",
 * lib/core-net/connect.c; upstream issue 2916, fixed after 4.1), and its WebSocket client role,
 * which has working TLS, parses frames one byte per call (issue 12).
 *
 * Verification is always on: the peer's chain against ca_file, else the system store
 * (SSL_CTX_set_default_verify_paths), and its name against the URL's host (a DNS name, with
 * SNI, or an IP literal, matched against the certificate's IP addresses). TLS 1.2 at least;
 * ALPN offers http/1.1 only.
 *
 * Example:
 *     SSL_CTX *ctx = lt_ws_tls_ctx_new("build/sim/ca.pem", &err);   // once per lt_ws
 *     lt_ws_tls *t = lt_ws_tls_new(ctx, "127.0.0.1");             // per transport
 *     lt_ws_tls_feed(t, cipher, n);         // what RAW_RX brought
 *     rc = lt_ws_tls_handshake(t, &verify, why, sizeof why);    // 1 done, 0 more, <0 failed
 *     n = lt_ws_tls_read(t, plain, sizeof plain);               // >0 bytes, 0 none, <0 closed
 *     lt_ws_tls_write(t, plain, n);         // then lt_ws_tls_take() the ciphertext to send
 *     lt_ws_tls_free(t);
 *
 * Errors: lt_ws_tls_ctx_new returns NULL with LT_ETLS (a CA file OpenSSL cannot load) or
 * LT_ENOMEM; lt_ws_tls_new NULL when out of memory or the host cannot be set.
 */
#ifndef LT_WS_TLS_H
#define LT_WS_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "lt.h"

typedef struct lt_ws_tls lt_ws_tls;

SSL_CTX *lt_ws_tls_ctx_new(const char *ca_file, lt_err *err);

lt_ws_tls *lt_ws_tls_new(SSL_CTX *ctx, const char *host);
void lt_ws_tls_free(lt_ws_tls *t); /* accepts NULL */

/* Hand over ciphertext from the peer; LT_ENOMEM if it cannot be buffered. */
int lt_ws_tls_feed(lt_ws_tls *t, const void *in, size_t len);

/* Advance the handshake: 1 once it is complete (verified), 0 while it needs more from the peer,
 * LT_ETLS when it failed; then *verify holds SSL_get_verify_result (X509_V_OK = 0 when the
 * certificate was not the cause) and why OpenSSL's words, printable. */
int lt_ws_tls_handshake(lt_ws_tls *t, long *verify, char *why, size_t cap);

/* Decrypt into buf: the bytes read, 0 when no whole record is buffered, LT_EIO when the peer
 * closed the TLS session or it failed. */
int lt_ws_tls_read(lt_ws_tls *t, void *buf, size_t cap);

/* Encrypt len bytes (all of them, buffered as ciphertext); LT_EIO on failure. */
int lt_ws_tls_write(lt_ws_tls *t, const void *buf, size_t len);

/* Ciphertext waiting to be sent, and taking up to cap bytes of it into out. */
size_t lt_ws_tls_pending(const lt_ws_tls *t);
size_t lt_ws_tls_take(lt_ws_tls *t, void *out, size_t cap);

#endif
