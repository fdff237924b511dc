/* loop.c — the libwebsockets context and its client vhosts; see loop.h. */
#include "loop.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ws.h"

typedef struct client_vhost {
	char *ca_file;            /* NULL = system store */
	struct lws_vhost *vh;
	struct client_vhost *next;
} client_vhost;

struct lt_loop {
	struct lws_context *ctx;
	client_vhost *vhosts;
	int conns;
};

int lt_loop_new(lt_loop **out, lt_err *err)
{
	*out = NULL;
	lt_loop *loop = calloc(1, sizeof *loop);
	if (!loop)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = loop;
	loop->ctx = lws_create_context(&info);
	if (!loop->ctx) {
		free(loop);
		return lt_err_set(err, LT_EIO, "loop: cannot create the libwebsockets context");
	}
	*out = loop;
	return 0;
}

void lt_loop_free(lt_loop *loop)
{
	if (!loop)
		return;
	lws_context_destroy(loop->ctx); /* closes remaining connections; ws.c frees its state */
	for (client_vhost *v = loop->vhosts, *n; v; v = n) {
		n = v->next;
		free(v->ca_file);
		free(v);
	}
	free(loop);
}

struct lws_context *lt_loop_context(lt_loop *loop) { return loop->ctx; }
int *lt_loop_conn_count(lt_loop *loop) { return &loop->conns; }

static bool same_ca(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Does the file hold at least one PEM certificate? */
static bool holds_certificate(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	X509_free(x);
	return x != NULL;
}

struct lws_vhost *lt_loop_client_vhost(lt_loop *loop, const char *ca_file, lt_err *err)
{
	for (client_vhost *v = loop->vhosts; v; v = v->next)
		if (same_ca(v->ca_file, ca_file))
			return v->vh;
	client_vhost *v = calloc(1, sizeof *v);
	if (!v || (ca_file && !(v->ca_file = strdup(ca_file)))) {
		free(v);
		lt_err_set(err, LT_ENOMEM, "out of memory");
		return NULL;
	}
	if (ca_file && access(ca_file, R_OK) != 0) {
		free(v->ca_file);
		free(v);
		lt_err_set(err, LT_ETLS, "ca_file %s cannot be read", ca_file);
		return NULL;
	}
	if (ca_file && !holds_certificate(ca_file)) { /* lws would only log it, then trust nothing */
		free(v->ca_file);
		free(v);
		lt_err_set(err, LT_ETLS, "ca_file %s holds no PEM certificate", ca_file);
		return NULL;
	}
	char name[32];
	int n = 0;
	for (client_vhost *c = loop->vhosts; c; c = c->next)
		n++;
	snprintf(name, sizeof name, "lt-client-%d", n);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.vhost_name = name;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = lt_ws_protocols();
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca_file;
	v->vh = lws_create_vhost(loop->ctx, &info);
	if (!v->vh) {
		free(v->ca_file);
		free(v);
		lt_err_set(err, LT_ETLS, "cannot set up TLS with ca_file %s (missing or not PEM?)",
			   ca_file ? ca_file : "(system store)");
		return NULL;
	}
	v->next = loop->vhosts;
	loop->vhosts = v;
	return v->vh;
}

int lt_loop_service(lt_loop *loop)
{
	return lws_service(loop->ctx, 0) < 0 ? LT_EIO : 0;
}

void lt_loop_wake(lt_loop *loop)
{
	lws_cancel_service(loop->ctx);
}

int64_t lt_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t lt_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
