/* loop.c — the libwebsockets context, its client vhosts and the raw-file vhost that polls other
 * descriptors (inotify); see loop.h. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What one read of a socket may take (libwebsockets' per-thread service buffer; its default is
 * 4 KiB): a firehose arrives as ~16 KiB TLS records, and 64 KiB a read is about one poll and
 * one recv per 90 ticker notifications instead of per 6 (README "Performance"). */
#define LOOP_READ_BYTES 65536
#include <unistd.h>

#include "log.h"
#include "ws.h"

typedef struct client_vhost {
	char *ca_file; /* NULL = system store */
	struct lws_vhost *vh;
	struct client_vhost *next;
} client_vhost;

/* A descriptor polled by lt_loop_watch_fd: the wsi's opaque user data until it closes. */
typedef struct fd_watch {
	void (*on_readable)(void *arg);
	void *arg;
	struct lws **slot; /* the owner's handle, set to NULL when the wsi closes */
} fd_watch;

struct lt_loop {
	struct lws_context *ctx;
	client_vhost *vhosts;
	struct lws_vhost *fd_vh; /* the raw-file vhost, made on the first lt_loop_watch_fd */
	bool adopt_made_wsi;     /* lws made a wsi during the adoption in progress */
	bool in_service;         /* inside lws_service: its callbacks are running */
	int conns;
};

/* libwebsockets' own error lines go through the runtime's log, at debug level (the failure
 * they describe reaches the owner as a classified state event; log.h's format applies). */
static void lws_emit(int level, const char *line)
{
	(void)level;
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	lt_logf(LT_LOG_DEBUG, "lws", NULL, 0, "libwebsockets: %.*s", (int)n, line);
}

int lt_loop_new(lt_loop **out, lt_err *err)
{
	*out = NULL;
	lt_loop *loop = calloc(1, sizeof *loop);
	if (!loop)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	lws_set_log_level(LLL_ERR, lws_emit);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = loop;
	info.pt_serv_buf_size = LOOP_READ_BYTES;
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
	if (ca_file &&
	    !holds_certificate(ca_file)) { /* lws would only log it, then trust nothing */
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

/* ---- other descriptors: libwebsockets' raw-file role ---------------------------------------
 *
 * What lws 4.1.6 does (lib/roles/raw-file/ops-raw-file.c, lib/core-net/close.c, adopt.c): an
 * adopted raw file's wsi closes its descriptor itself (__lws_close_free_wsi_final calls
 * compatible_close on wsi->desc) right after LWS_CALLBACK_RAW_CLOSE_FILE, both when it is
 * killed and when the context is destroyed. So lws gets a duplicate it owns and the caller
 * keeps its own descriptor, valid whatever lws does: each is closed exactly once. A failed
 * adoption that already made its wsi (LWS_CALLBACK_WSI_CREATE seen) leaves the wsi, holding the
 * duplicate, on the vhost's list of wsi awaiting a socket, which the vhost closes when it is
 * destroyed: only a failure before that point leaves the duplicate to us. */

#define FD_PROTOCOL "lt-fd"

static int fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	(void)user;
	(void)in;
	(void)len;
	fd_watch *fw = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE:
		((lt_loop *)lws_context_user(lws_get_context(wsi)))->adopt_made_wsi = true;
		break;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (fw)
			fw->on_readable(fw->arg);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE: /* killed, or the context is going: lws closes the fd */
		if (fw) {
			lws_set_opaque_user_data(wsi, NULL);
			*fw->slot = NULL;
			free(fw);
		}
		break;
	default:
		break;
	}
	return 0;
}

static struct lws_vhost *fd_vhost(lt_loop *loop, lt_err *err)
{
	static const struct lws_protocols protocols[] = {
		{FD_PROTOCOL, fd_callback, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
	if (loop->fd_vh)
		return loop->fd_vh;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.vhost_name = "lt-fd";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	loop->fd_vh = lws_create_vhost(loop->ctx, &info);
	if (!loop->fd_vh)
		lt_err_set(err, LT_EIO, "loop: cannot create the vhost for file descriptors");
	return loop->fd_vh;
}

int lt_loop_watch_fd(lt_loop *loop, int fd, void (*on_readable)(void *arg), void *arg,
		     struct lws **slot, lt_err *err)
{
	*slot = NULL;
	if (!fd_vhost(loop, err))
		return LT_EIO;
	fd_watch *fw = malloc(sizeof *fw);
	if (!fw)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		int e = errno;
		free(fw);
		return lt_err_set(err, LT_EIO, "loop: cannot duplicate fd %d: %s", fd, strerror(e));
	}
	lws_sock_file_fd_type u;
	memset(&u, 0, sizeof u);
	u.filefd = dup_fd;
	loop->adopt_made_wsi = false;
	struct lws *wsi = lws_adopt_descriptor_vhost(loop->fd_vh, LWS_ADOPT_RAW_FILE_DESC, u,
						     FD_PROTOCOL, NULL);
	if (!wsi) {
		if (!loop->adopt_made_wsi) /* else lws holds the duplicate (see above) */
			close(dup_fd);
		free(fw);
		return lt_err_set(err, LT_EIO, "loop: libwebsockets cannot poll fd %d", fd);
	}
	fw->on_readable = on_readable;
	fw->arg = arg;
	fw->slot = slot;
	lws_set_opaque_user_data(wsi, fw); /* nothing reached fd_callback's RX before this */
	*slot = wsi;
	return 0;
}

void lt_loop_unwatch_fd(struct lws **slot)
{
	if (*slot) /* closes now: RAW_CLOSE_FILE frees the watch and clears *slot */
		lws_set_timeout(*slot, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

int lt_loop_service(lt_loop *loop)
{
	loop->in_service = true;
	int n = lws_service(loop->ctx, 0);
	loop->in_service = false;
	return n < 0 ? LT_EIO : 0;
}

bool lt_loop_in_service(const lt_loop *loop) { return loop->in_service; }

void lt_loop_wake(lt_loop *loop) { lws_cancel_service(loop->ctx); }

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
