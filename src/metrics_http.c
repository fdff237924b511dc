/* metrics_http.c — /metrics and /healthz over libwebsockets' HTTP server on a vhost of the
 * loop's context; see metrics_http.h. The per-connection state is libwebsockets' per-session
 * data (the lws_protocols size); the server finds its owner through the vhost's user pointer. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384

struct lt_mhttp {
	lt_mhttp_cbs cbs;
	void *ud;
	struct lws_vhost *vh;
	int port;
	char iface[64];
};

typedef struct session {
	lt_buf body; /* LWS_PRE headroom + the answer */
	size_t sent;
	bool active;
} session;

static void session_end(session *s)
{
	lt_buf_free(&s->body);
	s->sent = 0;
	s->active = false;
}

/* Build the answer to path into s->body; its status and content type. */
static unsigned answer(lt_mhttp *h, const char *path, session *s, const char **type)
{
	lt_buf_init(&s->body, LWS_PRE);
	s->active = true;
	*type = "text/plain; charset=utf-8";
	if (strcmp(path, "/metrics") == 0) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		if (h->cbs.metrics(h->ud, &s->body) == 0 && !s->body.oom)
			return HTTP_STATUS_OK;
		lt_buf_reset(&s->body);
		s->body.oom = false;
		lt_buf_add(&s->body, "metrics unavailable\n", 20);
		return HTTP_STATUS_INTERNAL_SERVER_ERROR;
	}
	if (strcmp(path, "/healthz") == 0) {
		char why[240] = "";
		bool ok = h->cbs.health(h->ud, why, sizeof why);
		if (ok)
			lt_buf_add(&s->body, "ok\n", 3);
		else {
			why[strcspn(why, "\r\n")] = '\0'; /* one line */
			lt_buf_add(&s->body, why, strlen(why));
			lt_buf_add(&s->body, "\n", 1);
		}
		return ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
	}
	lt_buf_add(&s->body, "not found: try /metrics or /healthz\n", 36);
	return HTTP_STATUS_NOT_FOUND;
}

static int on_http(struct lws *wsi, session *s, const char *path)
{
	lt_mhttp *h = lws_get_vhost_user(lws_get_vhost(wsi));
	const char *type;
	unsigned status;
	session_end(s);
	if (!h)
		return -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
		lt_buf_init(&s->body, LWS_PRE);
		s->active = true;
		lt_buf_add(&s->body, "only GET\n", 9);
		status = HTTP_STATUS_METHOD_NOT_ALLOWED;
		type = "text/plain; charset=utf-8";
	} else
		status = answer(h, path ? path : "", s, &type);
	if (s->body.oom)
		return -1;
	unsigned char hdr[LWS_PRE + 512], *start = &hdr[LWS_PRE], *p = start,
					  *end = &hdr[sizeof hdr - 1];
	if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)s->body.len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Write the next piece of the body (LWS_PRE bytes before it are free: the headroom, or text
 * already sent); the last one completes the transaction (keep-alive). */
static int on_writeable(struct lws *wsi, session *s)
{
	if (!s->active)
		return 0;
	size_t left = s->body.len - s->sent, n = left > CHUNK ? CHUNK : left;
	bool final = n == left;
	unsigned char *at = (unsigned char *)s->body.data + s->body.pre + s->sent;
	if (n && lws_write(wsi, at, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	s->sent += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	session_end(s);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int mhttp_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			  size_t len)
{
	session *s = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return s ? on_http(wsi, s, in) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return s ? on_writeable(wsi, s) : -1;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s)
			session_end(s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols mhttp_protocols[] = {
	{"lt-metrics-http", mhttp_callback, sizeof(session), 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};

int lt_mhttp_new(lt_loop *loop, const char *addr, int port, const lt_mhttp_cbs *cbs, void *ud,
		 lt_mhttp **out, lt_err *err)
{
	*out = NULL;
	struct in_addr a4;
	struct in6_addr a6;
	bool v4 = addr && inet_pton(AF_INET, addr, &a4) == 1;
	if (!addr || strlen(addr) >= sizeof((lt_mhttp *)0)->iface ||
	    (!v4 && inet_pton(AF_INET6, addr, &a6) != 1))
		return lt_err_set(err, LT_EINVAL,
				  "metrics: the address must be a numeric IPv4 or "
				  "IPv6 address, got '%s'",
				  addr ? addr : "(none)");
	if (port < 0 || port > 65535)
		return lt_err_set(err, LT_EINVAL, "metrics: port %d is outside 0..65535", port);
	lt_mhttp *h = calloc(1, sizeof *h);
	if (!h)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	h->cbs = *cbs;
	h->ud = ud;
	snprintf(h->iface, sizeof h->iface, "%s", addr);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.vhost_name = "lt-metrics";
	info.port = port;
	info.iface = h->iface;
	info.protocols = mhttp_protocols;
	/* lws 4.1 with IPv6 turns an IPv4 iface into [::] (every interface): bind IPv4 as IPv4 */
	if (v4)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = h;
	h->vh = lws_create_vhost(lt_loop_context(loop), &info);
	if (!h->vh) {
		free(h);
		return lt_err_set(err, LT_EIO,
				  "metrics: cannot listen on %s port %d (address in "
				  "use, or not an address of this host)",
				  addr, port);
	}
	h->port = lws_get_vhost_listen_port(h->vh);
	*out = h;
	return 0;
}

int lt_mhttp_port(const lt_mhttp *h) { return h ? h->port : -1; }

void lt_mhttp_free(lt_mhttp *h) { free(h); }
