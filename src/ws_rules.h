/* ws_rules.h — the pure decisions behind ws.c: which URLs may be opened, how long a reconnect
 * waits, how a failed connect or a venue's close is put into words (ws_rules.c), and the
 * opening handshake written and checked by hand (ws_upgrade.c). No I/O, no loop, no
 * allocation, so each rule is unit-tested by itself (tests/ws_test.c). Only ws.c and its tests
 * include this header; everything else uses ws.h.
 */
#ifndef LT_WS_RULES_H
#define LT_WS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lt.h"
#include "ws.h"

typedef struct lt_ws_url {
	char host[256]; /* without brackets for an IPv6 literal ("::1") */
	char path[512]; /* request target, always starting with '/' */
	int port;       /* 1..65535; 443 for wss and 80 for ws when the URL names none */
	bool tls;       /* wss:// */
} lt_ws_url;

/* Split url ("wss://host[:port][/path]") and apply the transport rule: wss:// always; ws://
 * only when insecure_loopback is set and the host is a loopback host (lt_ws_host_is_loopback).
 * Refuses user info ("user@host"), Unix-socket hosts ("+path"), bad ports, spaces and control
 * characters. Returns 0 or LT_EINVAL with a message starting "url:". */
int lt_ws_url_parse(const char *url, bool insecure_loopback, lt_ws_url *out, lt_err *err);

/* Is host (as in a URL, IPv6 literals with or without brackets) a loopback host: a numeric
 * IPv4 address in 127.0.0.0/8 (dotted quad, inet_pton), "::1", or "localhost" (any case)?
 * Names that merely start like one ("127.attacker.example", "localhost.evil.com") are not. */
bool lt_ws_host_is_loopback(const char *host);

/* The delay before retry n (n = 0 for the first retry after a stable connection): uniform
 * random in [0, min(cap_ms, base_ms * 2^n)] (full jitter), drawn from the xorshift state *rng
 * (must be non-zero). Any n >= 0 is safe: the doubling saturates at cap_ms. */
int lt_ws_backoff_ms(int n, int base_ms, int cap_ms, uint64_t *rng);

/* Why a connection attempt failed before it opened, from what libwebsockets reported to
 * LWS_CALLBACK_CLIENT_CONNECTION_ERROR: its text (lws_text, len bytes, may be NULL; see
 * lws 4.1 lib/roles/http/client/client-handshake.c and client-http.c for the strings), the
 * TLS verification result (verify: SSL_get_verify_result, -1 when there was no TLS session),
 * the HTTP status of the upgrade answer (0 if none) and how long the attempt had been running.
 * Writes the reason in words to out (always NUL-terminated, printable ASCII) and returns the
 * class. "Unable to connect" after 3 s or more is a timeout, sooner it is a refusal. */
lt_ws_fail lt_ws_describe_fail(const char *lws_text, size_t len, long verify, unsigned http,
			       int64_t elapsed_ms, char *out, size_t cap);

/* The drop reason for a venue's close frame payload (in: the 2-byte status in network order,
 * then the reason text; len may be 0): "closed by the venue (code 4000: maintenance)". Bytes
 * outside printable ASCII become '?', the reason text is cut to 80 bytes ("..."), so the result
 * fits 120 bytes. */
void lt_ws_close_reason(const unsigned char *in, size_t len, char *out, size_t cap);

/* A status code a close frame may carry (RFC 6455 §7.4): 1000-1003, 1007-1011, 3000-4999 (the
 * registered, library and private ranges); 1004-1006 and 1015 are never sent. A close frame
 * with another code is a protocol error (1002). lt_ws_close_code_ok(4000) is true. */
bool lt_ws_close_code_ok(unsigned code);

/* The drop reason when the client failed the connection itself because of what the venue sent
 * (wslay queued a close frame with code_sent: 1002 protocol error, 1007 invalid UTF-8 in a
 * text message, 1009 a frame too large for wslay, else the code): "the venue broke the
 * WebSocket protocol (closed with 1002)". */
void lt_ws_fail_reason(unsigned code_sent, char *out, size_t cap);

/* The reason for an upgrade the venue refused or answered wrongly: the HTTP status (0 if none)
 * and what was wrong (why, from lt_ws_upgrade_check), e.g. "handshake failed: HTTP 429, too
 * many connections from this address (HTTP/1.1 429 Too Many Requests)". */
void lt_ws_upgrade_reason(unsigned http, const char *why, char *out, size_t cap);

/* ---- the opening handshake (RFC 6455 §4.1; ws_upgrade.c) ------------------------------- */

#define LT_WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define LT_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* A fresh Sec-WebSocket-Key (OpenSSL's RAND_bytes); 0 or LT_EIO. */
int lt_ws_make_key(char out[LT_WS_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept a server must answer to key: base64(SHA-1(key + GUID)). */
void lt_ws_accept_for(const char *key, char out[LT_WS_ACCEPT_LEN + 1]);

/* Write the GET ... Upgrade request for u with key into out; its length, or 0 if cap is too
 * small. The Host header names the port unless it is the scheme's default. */
size_t lt_ws_upgrade_request(const lt_ws_url *u, const char *key, char *out, size_t cap);

/* The length of the response head in buf (up to and including the blank line), 0 while it is
 * incomplete. */
size_t lt_ws_head_end(const char *buf, size_t len);

/* Check the venue's answer head (len bytes, from lt_ws_head_end) to a request sent with key:
 * 101, Upgrade: websocket, Connection: Upgrade, the right Sec-WebSocket-Accept, no extension
 * or subprotocol chosen (none is offered). 0, or LT_EIO with *http (the status, 0 if the line
 * is not HTTP) and why (printable ASCII: the status line, or what is wrong with the 101). */
int lt_ws_upgrade_check(const char *head, size_t len, const char *key, unsigned *http, char *why,
			size_t cap);

#endif
