/* ws.h — one client WebSocket connection: connect, bounded send queue, message reassembly,
 * dead-link detection, reconnect with backoff, state events.
 *
 * Transport rule: wss:// only; ws:// is refused unless insecure_loopback is set and the host is
 * a loopback host (a numeric IPv4 address in 127.0.0.0/8, ::1 or [::1], or "localhost"). TLS
 * peer verification is always on: pass ca_file for the built-in venue's self-signed
 * certificate, otherwise the system store is used.
 *
 * Receiving: text messages are reassembled across fragments up to max_message bytes; larger
 * ones, and binary messages, are dropped and counted (lt_ws_stats). A text message that is not
 * valid UTF-8, or a frame that breaks RFC 6455, fails the connection (close code 1007 or 1002
 * to the venue, then a drop whose reason says so). With dead_after_ms set, a connection on
 * which no data frame arrives for that long is dropped at once (no close handshake) with a
 * reason starting "dead:" (the owner sets a venue heartbeat, deribit-api.md §2, so that
 * silence means death; pings from the venue are answered with pongs and do not count).
 *
 * Transport (ws.c's header says why): TCP and the loop are libwebsockets' (raw-socket client
 * role), TLS is OpenSSL's (ws_tls.c), the HTTP/1.1 upgrade is checked here, frames are
 * wslay's.
 *
 * Sending: lt_ws_send queues; the queue is written in order whenever the socket is writable and
 * is bounded by max_queue_bytes. A message sent while open into an empty queue from outside
 * the loop's callbacks (a Lua task's order) is written at once, not one poll later. Rate limits are NOT applied here: every caller checks its
 * client's limiter before sending.
 *
 * Reconnecting: after any drop (the venue closed, the link died, an attempt failed) the
 * connection is re-established after a delay drawn uniformly from [0, min(backoff_cap_ms,
 * backoff_base_ms * 2^n)] for retry n (full jitter). n counts the retries since the connection
 * was last *stable*: the owner calls lt_ws_set_ready when the connection is usable (public
 * client: at open; private client: once authenticated), and n returns to 0 only when that
 * same transport then stays open for stable_ms. A handshake alone never resets it, so a venue
 * that accepts and drops at once sees the delays grow to the cap. Messages still queued at a
 * drop are discarded (their requests have failed; they must never go out later). The owner is
 * told through on_state and decides what to restore (auth, subscriptions).
 *
 * Events: on_state(CONNECTING) when an attempt starts, (OPEN) when the handshake completed,
 * (RECONNECTING, reason) after a drop while the next attempt waits, (CLOSED, reason) after a
 * drop with no_reconnect. Reasons are printable ASCII, e.g. "closed by the venue (code 4000:
 * maintenance)", "dead: no data from the venue for 20000 ms", "connection refused (...)",
 * "certificate not trusted (...; pass ca_file for a self-signed venue)", "host not found
 * (...)", "handshake failed: HTTP 429, ...", "handshake failed (Sec-WebSocket-Accept does not
 * match the key sent ...)", "the venue sent a text message that is not valid UTF-8 (closed
 * with 1007)". For a failed attempt lt_ws_last_fail classifies it.
 * Callbacks may call any function here, lt_ws_close included.
 *
 * Example:
 *     lt_ws_opts o = {.url = "wss://127.0.0.1:8443/ws/api/v2", .ca_file = "build/sim/ca.pem",
 *                     .dead_after_ms = 2 * 30000};          // heartbeat interval 30 s
 *     lt_ws_cbs cbs = {on_state, on_message};
 *     if (lt_ws_new(loop, &o, &cbs, me, &ws, &err)) ...;   // LT_EINVAL, LT_ETLS, LT_ENOMEM
 *     // in on_state(OPEN), or after authenticating:  lt_ws_set_ready(ws);
 *     rc = lt_ws_send(ws, &buf);                             // 0 queued, LT_EFULL, LT_ESTATE
 *     lt_ws_close(ws);                                       // ws is gone after this
 *
 * Errors: lt_ws_new returns LT_EINVAL (bad URL or option, plain ws:// to a remote host),
 * LT_ETLS (unreadable ca_file) or LT_ENOMEM at once, and then nothing is called back; failures
 * of the network arrive later as on_state events. lt_ws_send returns LT_ESTATE after a final
 * close, LT_EFULL when the queue would exceed max_queue_bytes, LT_ENOMEM for a buffer that
 * failed to grow or lacks LWS_PRE headroom; on any error the buffer stays with the caller.
 */
#ifndef LT_WS_H
#define LT_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "loop.h"

struct lws_protocols;
typedef struct lt_ws lt_ws;

typedef enum {
	LT_WS_CONNECTING = 0,
	LT_WS_OPEN,
	LT_WS_RECONNECTING, /* waiting out the backoff before the next attempt */
	LT_WS_CLOSED        /* dropped with no_reconnect, or closed by the owner; final */
} lt_ws_state;

const char *lt_ws_state_name(lt_ws_state s);

/* Why the last attempt failed before the connection opened (NONE once one opens). */
typedef enum {
	LT_WS_FAIL_NONE = 0,
	LT_WS_FAIL_REFUSED,   /* nothing accepted the TCP connection */
	LT_WS_FAIL_TLS,       /* TLS handshake or certificate verification failed */
	LT_WS_FAIL_DNS,       /* the host name did not resolve */
	LT_WS_FAIL_HANDSHAKE, /* the HTTP upgrade was refused or malformed (e.g. HTTP 429) */
	LT_WS_FAIL_TIMEOUT,   /* no answer in time */
	LT_WS_FAIL_OTHER
} lt_ws_fail;

typedef struct lt_ws_cbs {
	void (*on_state)(void *ud, lt_ws_state st, const char *reason); /* reason may be NULL */
	void (*on_message)(void *ud, const char *msg, size_t len);      /* valid during the call */
} lt_ws_cbs;

typedef struct lt_ws_opts {
	const char *url;        /* wss://host[:port][/path] */
	const char *ca_file;    /* NULL = system CA store */
	bool insecure_loopback; /* allow ws:// to a loopback host */
	size_t max_message;     /* largest message kept; 0 = 8 MiB */
	size_t max_queue_bytes; /* text bytes queued and not yet written; 0 = 4 MiB */
	int dead_after_ms;      /* drop when nothing arrives for this long while open; 0 = off */
	int backoff_base_ms;    /* 0 = 250 */
	int backoff_cap_ms;     /* 0 = 30000 */
	int stable_ms;          /* ready this long resets the backoff; 0 = 10000 */
	bool no_reconnect;      /* stay CLOSED after the first drop */
	const struct lt_mx *metrics; /* metrics.h scope of the owner's counters; NULL = none */
} lt_ws_opts;

typedef struct lt_ws_stats {
	unsigned long long msgs_in, bytes_in, msgs_out, dropped_oversize, dropped_binary;
	unsigned long long reconnects; /* retries scheduled */
	unsigned long long dead;       /* drops by dead_after_ms */
	int last_backoff_ms;           /* the delay of the last retry scheduled */
} lt_ws_stats;

/* Validate url and options (negative numbers are LT_EINVAL) and set *out; the first attempt
 * starts when the loop next runs, so nothing is called back from inside this call. On error
 * *out is NULL and nothing is ever called back. */
int lt_ws_new(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, lt_ws **out,
	      lt_err *err);

/* Queue one text message (msg's text, after its LWS_PRE headroom) and take its memory: msg is
 * left empty (a sensitive buffer is cleansed when freed). Messages queued while not open are
 * sent once the connection opens, in order; one sent while open into an empty queue, outside
 * lt_loop_service, is written before this returns (what the socket does not take, lws sends
 * first when it is writable again). LT_EFULL if the queued text bytes would exceed
 * max_queue_bytes; then, as for every error, nothing is taken. */
int lt_ws_send(lt_ws *ws, lt_buf *msg);

/* The connection is usable (public: open; private: authenticated). If the same transport is
 * still open stable_ms later, the retry counter returns to 0. Ignored unless OPEN; a second
 * call on the same transport keeps the first one's deadline. */
void lt_ws_set_ready(lt_ws *ws);

/* Retries scheduled since the connection was last stable (0 before any). The retry scheduled
 * next is retry number lt_ws_attempt() and waits up to min(cap, base * 2^that). */
int lt_ws_attempt(const lt_ws *ws);

/* Why the last attempt failed before opening; LT_WS_FAIL_NONE once a connection opened. */
lt_ws_fail lt_ws_last_fail(const lt_ws *ws);

lt_ws_state lt_ws_get_state(const lt_ws *ws);
const lt_ws_stats *lt_ws_get_stats(const lt_ws *ws);
/* Text bytes queued and not yet written (the send queue's depth, metrics). */
size_t lt_ws_queued_bytes(const lt_ws *ws);

/* Close gracefully and detach: no callback reaches the owner after this call; the connection's
 * memory is released when libwebsockets has closed it (at once if no transport is alive), so
 * ws must not be used after this call. Accepts NULL. */
void lt_ws_close(lt_ws *ws);

/* Does url name a loopback host (see the transport rule above)? */
bool lt_ws_url_is_loopback(const char *url);

/* The client protocol table for lt_loop's client vhosts. */
const struct lws_protocols *lt_ws_protocols(void);

/* Make the next retry, if the connection drops within the next 10 s, wait at least ms (plus
 * up to 1 s of jitter): after a 10028 the venue may end the session; come back after its
 * bucket refilled (deribit-api.md §9). */
void lt_ws_hold_off(lt_ws *ws, int ms);

/* Force-drop the transport without a close handshake, as a network failure would (tests, fault
 * injection, an auth answer that never came); the reconnect logic then runs as for any drop. */
void lt_ws_drop(lt_ws *ws);

#endif
