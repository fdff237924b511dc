/* sim_wire.h — drives the simulated venue over real wss on loopback for the sim_*_test.c files:
 * one lws context holds the venue (lt_sim_new on an ephemeral port, or a venue process on a
 * known port) and minimal test clients that record every text message, the peer's close frame
 * (code, reason) and pongs, and answer every test_request with public/test. Single-threaded: wire_until services the context until a condition
 * holds or a deadline passes. Everything is static inline; include it once per test file.
 *
 *     wire w; wire_up(&w, "alice:sa");            // venue + client vhost
 *     wc *c = wc_open(&w);                        // connected, or the test fails
 *     yajl_val r = wc_call(c, "public/test", "{}", 2000);    // the whole answer, or NULL
 *     ... yajl_tree_free(r); wc_close(c); wire_down(&w);
 * Clients belong to the wire: wc_close ends the connection, wire_down frees them all, so a test
 * that fails half-way leaves nothing for a late libwebsockets callback to trip over.
 */
#ifndef LT_TESTS_SIM_WIRE_H
#define LT_TESTS_SIM_WIRE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "sim/sim.h"

#define WIRE_CA LT_CERT_DIR "/ca.pem"

typedef struct wc wc;

typedef struct wire {
	wc *clients; /* every client made on this wire, freed by wire_down */
	struct lws_context *ctx;
	struct lws_vhost *client_vh;
	lt_sim *sim; /* NULL when the venue is another process */
	int port;
	lws_sorted_usec_list_t tick; /* wakes the loop every 5 ms so deadlines are kept */
} wire;

struct wc {
	wc *next; /* wire.clients */
	wire *w;
	struct lws *wsi;
	bool open, closed, failed, want_ping, want_close;
	int close_code; /* from the venue's close frame; 0 = none came */
	char close_reason[128];
	int pongs;
	char *rx;              /* reassembly of the message being received */
	size_t rx_len, rx_cap; /* (grown by doubling: an 8 MiB frame stays cheap under ASan) */
	char **msgs;           /* every text message received, NUL-terminated */
	size_t nmsgs, msgs_cap;
	struct wc_out {
		char *data;
		size_t len;
		int flags;
	} * out; /* frames to send, in order */
	size_t out_head, out_len, out_cap;
	int64_t next_id;
};

static inline int64_t wire_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void wire_tick(lws_sorted_usec_list_t *sul)
{
	wire *w = lws_container_of(sul, wire, tick);
	lws_sul_schedule(w->ctx, 0, &w->tick, wire_tick, 5 * LWS_US_PER_MS);
}

static inline void wc_push_msg(wc *c)
{
	if (c->nmsgs == c->msgs_cap) {
		c->msgs_cap = c->msgs_cap ? c->msgs_cap * 2 : 64;
		c->msgs = realloc(c->msgs, c->msgs_cap * sizeof *c->msgs);
		assert_non_null(c->msgs);
	}
	c->msgs[c->nmsgs++] = c->rx;
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
}

static inline int64_t wc_req(wc *c, const char *method, const char *params);

static inline void wc_rx(wc *c, struct lws *wsi, const char *in, size_t len)
{
	if (c->rx_len + len + 1 > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap * 2 : 4096;
		while (cap < c->rx_len + len + 1)
			cap *= 2;
		char *p = realloc(c->rx, cap);
		assert_non_null(p);
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx[c->rx_len] = '\0';
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return;
	if (strstr(c->rx, "\"test_request\"")) /* deribit-api.md §2: the required answer */
		wc_req(c, "public/test", "{}");
	wc_push_msg(c);
}

static inline int wc_writeable(wc *c, struct lws *wsi)
{
	if (c->want_close) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	if (c->want_ping) {
		unsigned char ping[LWS_PRE + 4] = {0};
		c->want_ping = false;
		memcpy(ping + LWS_PRE, "ping", 4);
		if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
			return -1;
		if (c->out_head < c->out_len)
			lws_callback_on_writable(wsi);
		return 0;
	}
	/* as many queued frames as the socket takes now (lws_send_pipe_choked), then wait */
	for (int n = 0; c->out_head < c->out_len && n < 256; n++) {
		if (n && lws_send_pipe_choked(wsi))
			break;
		struct wc_out *o = &c->out[c->out_head++];
		int wr = lws_write(wsi, (unsigned char *)o->data + LWS_PRE, o->len,
				   (enum lws_write_protocol)o->flags);
		free(o->data);
		o->data = NULL;
		if (wr < (int)o->len)
			return -1;
	}
	if (c->out_head < c->out_len)
		lws_callback_on_writable(wsi);
	return 0;
}

static inline int wc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			      void *in, size_t len)
{
	wc *c = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->open = true;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c) {
			c->failed = c->closed = true;
			c->wsi = NULL;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		wc_rx(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->pongs++;
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;
			c->close_code = p[0] << 8 | p[1];
			snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)(len - 2),
				 (const char *)in + 2);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return wc_writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->closed = true;
		c->open = false;
		c->wsi = NULL;
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols wire_protocols[] = {
	{"sim-wire-client", wc_callback, 0, 4096, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* The context and client vhost; with accounts != NULL also an in-process venue. */
static inline void wire_up_port(wire *w, const char *accounts, int port)
{
	memset(w, 0, sizeof *w);
	lws_set_log_level(getenv("WIRE_LWS_LOG") ? atoi(getenv("WIRE_LWS_LOG")) : LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	w->ctx = lws_create_context(&info);
	assert_non_null(w->ctx);
	memset(&info, 0, sizeof info);
	info.vhost_name = "sim-wire-client";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = wire_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = WIRE_CA;
	w->client_vh = lws_create_vhost(w->ctx, &info);
	assert_non_null(w->client_vh);
	w->port = port;
	if (accounts) {
		lt_sim_opts o = {.seed = 7,
				 .cert_file = LT_CERT_DIR "/server.pem",
				 .key_file = LT_CERT_DIR "/server.key",
				 .accounts = accounts,
				 .port = port};
		lt_err err = {0, ""};
		if (lt_sim_new(w->ctx, &o, &w->sim, &err) != 0)
			fail_msg("lt_sim_new: %s", err.msg);
		w->port = lt_sim_port(w->sim);
	}
	wire_tick(&w->tick);
}

static inline void wire_up(wire *w, const char *accounts)
{
	wire_up_port(w, accounts ? accounts : "", 0);
}

/* Service the loop until pred(arg) is true or ms pass; returns pred's last value. */
static inline bool wire_until(wire *w, bool (*pred)(void *), void *arg, int ms)
{
	int64_t end = wire_ms() + ms;
	while (!(pred && pred(arg)) && wire_ms() < end)
		lws_service(w->ctx, 0);
	return pred && pred(arg);
}

static inline void wire_run(wire *w, int ms) { wire_until(w, NULL, NULL, ms); }

static inline void wc_free(wc *c)
{
	for (size_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i]);
	free(c->msgs);
	for (size_t i = c->out_head; i < c->out_len; i++)
		free(c->out[i].data);
	free(c->out);
	free(c->rx);
	c->msgs = NULL;
	c->out = NULL;
	c->rx = NULL;
	c->nmsgs = c->msgs_cap = c->out_head = c->out_len = c->out_cap = 0;
	c->rx_len = c->rx_cap = 0;
}

static inline bool wc_settled(void *arg)
{
	wc *c = arg;
	return c->open || c->closed;
}

static inline bool wc_is_closed(void *arg) { return ((wc *)arg)->closed; }

/* A new client, connecting; wait (3 s at most) until it opened (c->open) or failed. */
static inline wc *wc_connect(wire *w)
{
	wc *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->w = w;
	c->next_id = 1;
	c->next = w->clients;
	w->clients = c;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = w->ctx;
	ci.vhost = w->client_vh;
	ci.address = "127.0.0.1";
	ci.port = w->port;
	ci.path = "/ws/api/v2";
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.local_protocol_name = "sim-wire-client";
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&ci))
		c->failed = c->closed = true;
	else
		wire_until(w, wc_settled, c, 3000);
	return c;
}

/* A connected client, or the test fails. */
static inline wc *wc_open(wire *w)
{
	wc *c = wc_connect(w);
	if (!c->open)
		fail_msg("could not connect to the venue on port %d", w->port);
	return c;
}

/* Queue one frame (flags: LWS_WRITE_TEXT, or a fragment's LWS_WRITE_CONTINUATION /
 * LWS_WRITE_NO_FIN combination). */
static inline void wc_send_frame(wc *c, const char *s, size_t n, int flags)
{
	if (c->out_len == c->out_cap) {
		c->out_cap = c->out_cap ? c->out_cap * 2 : 16;
		c->out = realloc(c->out, c->out_cap * sizeof *c->out);
		assert_non_null(c->out);
	}
	char *d = malloc(LWS_PRE + n + 1);
	assert_non_null(d);
	memcpy(d + LWS_PRE, s, n);
	c->out[c->out_len++] = (struct wc_out){d, n, flags};
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

/* Send a WebSocket ping (RFC 6455 §5.5.2); c->pongs counts the answers. */
static inline void wc_ping(wc *c)
{
	c->want_ping = true;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static inline void wc_send(wc *c, const char *text)
{
	wc_send_frame(c, text, strlen(text), LWS_WRITE_TEXT);
}

/* Send a request; returns its id. params is JSON text ("{}" when NULL). */
static inline int64_t wc_req(wc *c, const char *method, const char *params)
{
	int64_t id = c->next_id++;
	size_t n = strlen(method) + (params ? strlen(params) : 2) + 80;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":%s}",
		 (long long)id, method, params ? params : "{}");
	wc_send(c, s);
	free(s);
	return id;
}

/* The parsed message at index i, if it answers id (id < 0: answers with id null). The venue
 * writes the id first: messages with another one are skipped without parsing them. */
static inline yajl_val wc_answer_at(wc *c, size_t i, int64_t id)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	char want[32];
	snprintf(want, sizeof want, id < 0 ? "null," : "%lld,", (long long)id);
	if (strncmp(c->msgs[i], head, sizeof head - 1) == 0 &&
	    strncmp(c->msgs[i] + sizeof head - 1, want, strlen(want)) != 0)
		return NULL;
	yajl_val root = yajl_tree_parse(c->msgs[i], NULL, 0);
	const char *path[] = {"id", NULL};
	yajl_val v = root ? yajl_tree_get(root, path, yajl_t_any) : NULL;
	bool match =
		v && (id < 0 ? YAJL_IS_NULL(v) : YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == id);
	if (!match)
		yajl_tree_free(root);
	return match ? root : NULL;
}

typedef struct wc_wait {
	wc *c;
	int64_t id;
	yajl_val found;
	size_t from;
} wc_wait;

static inline bool wc_found(void *arg)
{
	wc_wait *q = arg;
	for (; !q->found && q->from < q->c->nmsgs; q->from++)
		q->found = wc_answer_at(q->c, q->from, q->id);
	return q->found != NULL;
}

/* The answer to id (the whole message; the caller frees it), or NULL after ms. */
static inline yajl_val wc_wait_id(wc *c, int64_t id, int ms)
{
	wc_wait q = {c, id, NULL, 0};
	wire_until(c->w, wc_found, &q, ms);
	return q.found;
}

static inline yajl_val wc_call(wc *c, const char *method, const char *params, int ms)
{
	return wc_wait_id(c, wc_req(c, method, params), ms);
}

/* root["a"]["b"]... or NULL. */
static inline yajl_val jget(yajl_val root, const char *a, const char *b, const char *d)
{
	const char *path[] = {a, b, d, NULL};
	return root ? yajl_tree_get(root, path, yajl_t_any) : NULL;
}

static inline int64_t jint(yajl_val root, const char *a, const char *b, const char *d)
{
	yajl_val v = jget(root, a, b, d);
	if (!v || !YAJL_IS_INTEGER(v))
		fail_msg("no integer at %s.%s.%s", a, b ? b : "", d ? d : "");
	return YAJL_GET_INTEGER(v);
}

static inline const char *jstr(yajl_val root, const char *a, const char *b, const char *d)
{
	yajl_val v = jget(root, a, b, d);
	return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* Call and check the result is "ok". */
static inline void wc_ok(wc *c, const char *method, const char *params)
{
	yajl_val r = wc_call(c, method, params, 3000);
	if (!r)
		fail_msg("%s %s: no answer", method, params ? params : "");
	const char *s = jstr(r, "result", NULL, NULL);
	if (!s || strcmp(s, "ok") != 0)
		fail_msg("%s %s: not ok", method, params ? params : "");
	yajl_tree_free(r);
}

/* The venue answers on this connection (public/get_time). */
static inline void wc_alive(wc *c)
{
	yajl_val r = wc_call(c, "public/get_time", "{}", 3000);
	if (!jget(r, "result", NULL, NULL))
		fail_msg("public/get_time: no result");
	yajl_tree_free(r);
}

/* Call and expect an error: returns its code; *param gets data.param (static copy) if any. */
static inline int64_t wc_err(wc *c, const char *method, const char *params, const char **param)
{
	static char p[64];
	yajl_val r = wc_call(c, method, params, 3000);
	if (!r)
		fail_msg("%s %s: no answer", method, params ? params : "");
	yajl_val code = jget(r, "error", "code", NULL);
	if (!code)
		fail_msg("%s %s: not an error", method, params ? params : "");
	const char *s = jstr(r, "error", "data", "param");
	snprintf(p, sizeof p, "%s", s ? s : "");
	if (param)
		*param = p;
	int64_t v = YAJL_GET_INTEGER(code);
	yajl_tree_free(r);
	return v;
}

/* public/auth with client_credentials; returns the refresh token (static copy). */
static inline const char *wc_auth(wc *c, const char *id, const char *secret, const char *scope)
{
	static char refresh[128];
	char p[256];
	snprintf(p, sizeof p,
		 "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\","
		 "\"client_secret\":\"%s\"%s%s%s}",
		 id, secret, scope ? ",\"scope\":\"" : "", scope ? scope : "", scope ? "\"" : "");
	yajl_val r = wc_call(c, "public/auth", p, 3000);
	const char *t = jstr(r, "result", "refresh_token", NULL);
	if (!t)
		fail_msg("auth as %s failed", id);
	snprintf(refresh, sizeof refresh, "%s", t);
	yajl_tree_free(r);
	return refresh;
}

/* Close from the client side and wait until lws has finished; the buffers are freed (the
 * struct itself stays with the wire until wire_down). */
static inline void wc_close(wc *c)
{
	if (c->wsi && !c->closed) {
		c->want_close = true;
		lws_callback_on_writable(c->wsi);
		wire_until(c->w, wc_is_closed, c, 3000);
	}
	wc_free(c);
}

static inline bool wire_all_closed(void *arg)
{
	for (wc *c = ((wire *)arg)->clients; c; c = c->next)
		if (c->wsi && !c->closed)
			return false;
	return true;
}

static inline void wire_down(wire *w)
{
	for (wc *c = w->clients; c; c = c->next) /* left open by a test that failed */
		if (c->wsi && !c->closed) {
			c->want_close = true;
			lws_callback_on_writable(c->wsi);
		}
	wire_until(w, wire_all_closed, w, 2000);
	lt_sim_free(w->sim);
	w->sim = NULL;
	wire_run(w, 20); /* the tick keeps the loop from sleeping */
	lws_sul_cancel(&w->tick);
	lws_context_destroy(w->ctx);
	w->ctx = NULL;
	while (w->clients) {
		wc *c = w->clients;
		w->clients = c->next;
		wc_free(c);
		free(c);
	}
}

#endif
