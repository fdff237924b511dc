/* loop.h — the one event loop: a libwebsockets context plus client vhosts (one per CA file) and
 * other descriptors it polls (lt_loop_watch_fd: inotify).
 *
 * Single-threaded. Everything (clients, the in-process venue, timers) runs on this context; the
 * Lua scheduler calls lt_loop_service between draining its ready queue. lt_loop_wake is the only
 * function safe to call from a signal handler.
 *
 * Example:
 *     lt_loop *loop; lt_err err;
 *     if (lt_loop_new(&loop, &err)) fprintf(stderr, "%s\n", err.msg);
 *     while (running) lt_loop_service(loop);   // blocks until I/O or a timer
 *     lt_loop_free(loop);
 * Errors: LT_EIO when the context cannot be made; lt_loop_client_vhost: LT_ETLS (unreadable CA
 * file), LT_ENOMEM; lt_loop_watch_fd: LT_EIO, LT_ENOMEM. No rate limits apply here.
 */
#ifndef LT_LOOP_H
#define LT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "lt.h"

struct lws;
struct lws_context;
struct lws_vhost;
typedef struct lt_loop lt_loop;

/* Create the context (no listener of its own; explicit vhosts; TLS initialised). */
int lt_loop_new(lt_loop **out, lt_err *err);

/* Destroy the context: every connection still open is closed and its callbacks run. Accepts
 * NULL. Anything living on the context (clients, the venue) must be detached first. */
void lt_loop_free(lt_loop *loop);

struct lws_context *lt_loop_context(lt_loop *loop);

/* The client vhost whose TLS context trusts ca_file (NULL = the system's CA store), created on
 * first use and reused. TLS peer verification is always on. */
struct lws_vhost *lt_loop_client_vhost(lt_loop *loop, const char *ca_file, lt_err *err);

/* Poll fd for reading as part of the loop: on_readable(arg) runs inside lt_loop_service while fd
 * has data (level-triggered: read until EAGAIN, or it runs again). The loop polls a duplicate
 * of fd that libwebsockets owns and closes; the caller keeps fd and closes it itself, after
 * lt_loop_unwatch_fd. *slot is the watch's handle while it lasts and becomes NULL when it ends:
 * by lt_loop_unwatch_fd, or by lt_loop_free with the watch still on (slot must stay valid until
 * then). Errors: LT_EIO (fd cannot be duplicated or polled), LT_ENOMEM; *slot is then NULL.
 * Example: lt_loop_watch_fd(loop, ifd, on_readable, w, &w->wsi, &err). */
int lt_loop_watch_fd(lt_loop *loop, int fd, void (*on_readable)(void *arg), void *arg,
		     struct lws **slot, lt_err *err);

/* End the watch *slot now: on_readable is not called again, the duplicate is closed, *slot is
 * NULL. Nothing when *slot is NULL already. Not from that watch's own on_readable. */
void lt_loop_unwatch_fd(struct lws **slot);

/* Wait for and handle one batch of I/O and timer events. Returns 0, or <0 if the context failed. */
int lt_loop_service(lt_loop *loop);

/* True while lt_loop_service runs, that is inside one of the loop's callbacks (lws's, or an
 * lt_loop_watch_fd reader); false between two services, where the scheduler runs tasks.
 * Cannot fail; no rate limit applies. Example (ws.c): an empty queue is written at once
 * when !lt_loop_in_service(loop), else from the writable callback. */
bool lt_loop_in_service(const lt_loop *loop);

/* Make a blocked lt_loop_service return (async-signal-safe). */
void lt_loop_wake(lt_loop *loop);

/* Connections alive on this loop (counted by ws.c), for an orderly shutdown. */
int *lt_loop_conn_count(lt_loop *loop);

/* Monotonic clock in microseconds, and wall-clock milliseconds since the epoch. */
int64_t lt_now_us(void);
int64_t lt_wall_ms(void);

#endif
