/* metrics_http.h — the operator's HTTP endpoint on the one event loop: libwebsockets' HTTP
 * server on a vhost of its own (plain HTTP, no TLS), answering
 *
 *     GET /metrics  200, text/plain; version=0.0.4 — the body cbs->metrics renders
 *     GET /healthz  200 "ok\n" when cbs->health says healthy, else 503 with its one-line reason
 *     anything else 404 (other methods 405); keep-alive as libwebsockets does it
 *
 * Nothing here parses HTTP: libwebsockets does. A body is built when the request arrives (one
 * buffer per connection, freed when written or when the connection closes) and written in
 * 16 kB pieces as the socket allows.
 *
 * Example:
 *     lt_mhttp_cbs cbs = {render, health};
 *     lt_mhttp *h; if (lt_mhttp_new(loop, "127.0.0.1", 0, &cbs, rt, &h, &err)) ...;
 *     printf("metrics on http://127.0.0.1:%d\n", lt_mhttp_port(h));
 *     ... lt_loop_free(loop); lt_mhttp_free(h);       // the vhost goes with the context
 * Errors (lt_mhttp_new): LT_EINVAL (addr not a numeric IPv4/IPv6 address, port outside
 * 0..65535; 0 = a free port), LT_EIO (cannot listen: address in use, no such address),
 * LT_ENOMEM. No rate limit applies: scrapes are served as they come.
 */
#ifndef LT_METRICS_HTTP_H
#define LT_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "loop.h"

typedef struct lt_mhttp lt_mhttp;

typedef struct lt_mhttp_cbs {
	int (*metrics)(void *ud, lt_buf *out);            /* append the body; 0 or <0 */
	bool (*health)(void *ud, char *reason, size_t n); /* false: reason says why */
} lt_mhttp_cbs;

int lt_mhttp_new(lt_loop *loop, const char *addr, int port, const lt_mhttp_cbs *cbs, void *ud,
		 lt_mhttp **out, lt_err *err);
/* The port listened on (the one chosen when 0 was asked). */
int lt_mhttp_port(const lt_mhttp *h);
/* Free the server's memory. Its vhost lives on the loop's context: call this only after
 * lt_loop_free (which closes the listener and every connection). Accepts NULL. */
void lt_mhttp_free(lt_mhttp *h);

#endif
