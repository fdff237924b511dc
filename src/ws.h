/* ws.h — one client WebSocket connection: connect, send queue, message reassembly, backoff
 * reconnect, state events.
 *
 * wss:// only; ws:// is refused unless the host is a loopback address and insecure_loopback is
 * set. TLS peer verification is always on. Messages are reassembled across fragments up to
 * max_message bytes; larger ones, and binary frames, are dropped and counted. After an
 * unexpected close the connection is re-established with exponential backoff and jitter; the
 * owner is told through on_state and decides what to restore (auth, subscriptions).
 *
 * Example:
 *     lt_ws_opts o = {.url = "wss://127.0.0.1:8443/ws/api/v2", .ca_file = "build/sim/ca.pem"};
 *     lt_ws_cbs cbs = {on_state, on_message};
 *     if (lt_ws_new(loop, &o, &cbs, me, &ws, &err)) ...;   // LT_EINVAL, LT_ETLS, LT_ENOMEM
 *     lt_ws_send(ws, &buf);                                  // queued, sent when writable
 * Rate limits are not applied here: every caller checks its client's limiter first (rpc users).
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
	LT_WS_RECONNECTING,  /* waiting out the backoff before the next attempt */
	LT_WS_CLOSED         /* closed by the owner; final */
} lt_ws_state;

const char *lt_ws_state_name(lt_ws_state s);

typedef struct lt_ws_cbs {
	void (*on_state)(void *ud, lt_ws_state st, const char *reason);
	void (*on_message)(void *ud, const char *msg, size_t len);
} lt_ws_cbs;

typedef struct lt_ws_opts {
	const char *url;            /* wss://host[:port]/path */
	const char *ca_file;        /* NULL = system CA store */
	bool insecure_loopback;     /* allow ws:// to 127.0.0.0/8, ::1 or localhost */
	size_t max_message;         /* 0 = 8 MiB */
	int backoff_min_ms, backoff_max_ms;  /* 0 = 250 / 10000 */
	bool no_reconnect;          /* tests: stay closed after the first drop */
} lt_ws_opts;

typedef struct lt_ws_stats {
	unsigned long long msgs_in, bytes_in, msgs_out, dropped_oversize, dropped_binary, reconnects;
} lt_ws_stats;

/* Validate the URL and start connecting. Errors (LT_EINVAL: bad URL, plain ws:// to a remote
 * host; LT_ETLS: bad CA file) are returned at once; connection failures later arrive as
 * on_state(RECONNECTING). */
int lt_ws_new(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, lt_ws **out,
	      lt_err *err);

/* Queue one text message (msg's text, after its LWS_PRE headroom) and take its memory: msg is
 * left empty. Messages queued while not open are sent once the connection opens, in order.
 * Returns LT_ESTATE once the connection is closed for good (no_reconnect). */
int lt_ws_send(lt_ws *ws, lt_buf *msg);

/* Drop every queued, unsent message (called when the connection is lost: the RPC layer has
 * failed their requests, so they must never go out later). */
void lt_ws_drop_queue(lt_ws *ws);

lt_ws_state lt_ws_get_state(const lt_ws *ws);
const lt_ws_stats *lt_ws_get_stats(const lt_ws *ws);

/* Close gracefully and detach: no callback reaches the owner after this call; the connection's
 * memory is released when libwebsockets has closed it (at once if no transport is alive), so
 * ws must not be used after this call. Accepts NULL. */
void lt_ws_close(lt_ws *ws);

/* Does url name a loopback host (127.0.0.0/8, ::1, localhost)? */
bool lt_ws_url_is_loopback(const char *url);

/* The client protocol table for lt_loop's client vhosts. */
const struct lws_protocols *lt_ws_protocols(void);

/* Make the next reconnect, if the connection drops within the next 10 s, wait at least ms
 * (after a 10028 the venue may end the session; reconnect after its bucket refilled, §9). */
void lt_ws_hold_off(lt_ws *ws, int ms);

/* Force-drop the transport without a close handshake, as a network failure would (tests and
 * fault injection); the reconnect logic then runs as for any other drop. */
void lt_ws_drop(lt_ws *ws);

#endif
