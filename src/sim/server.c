/* server.c — the simulated venue's server side: the TLS vhost on the caller's lws context, the
 * lws protocol callback, per-connection state (in each connection's lws `user` memory),
 * reassembly of incoming messages across fragments with the 32 kB cap (deribit-api.md §1), the
 * per-connection send queue written only on LWS_CALLBACK_SERVER_WRITEABLE (nothing is queued on
 * a blackholed connection), closes with or without a close frame, the market tick, and
 * logging. Connections are kept in a list on the venue so lt_sim_free can detach them: a detached
 * connection (sim == NULL) is only closed by lws afterwards, never touched. */
#include "internal.h"
#include "trading.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WS_PATH "/ws/api/v2"

/* ---- time and logging -------------------------------------------------------------------- */

int64_t lt_sim_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t lt_sim_now_ms(void) { return lt_sim_now_us() / 1000; }

void lt_sim_log(const lt_sim *sim, int level, const char *fmt, ...)
{
	if (!sim || sim->opts.log_level < level)
		return;
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "luatrade sim: %s\n", line);
}

/* Logs at most ~160 bytes of a message, non-printable bytes as '.'. */
void lt_sim_log_text(const lt_sim *sim, int level, const char *what, unsigned conn,
		     const char *text, size_t len)
{
	if (!sim || sim->opts.log_level < level)
		return;
	char shown[161];
	size_t n = len < 160 ? len : 160;
	for (size_t i = 0; i < n; i++)
		shown[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '.';
	shown[n] = '\0';
	lt_sim_log(sim, level, "#%u %s %s%s", conn, what, shown, len > n ? "..." : "");
}

/* ---- messages and the send queue --------------------------------------------------------- */

lt_sim_msg *lt_sim_msg_new(void)
{
	lt_sim_msg *m = calloc(1, sizeof *m);
	if (m)
		lt_buf_init(&m->b, LWS_PRE);
	return m;
}

void lt_sim_msg_free(lt_sim_msg *m)
{
	if (!m)
		return;
	lt_buf_free(&m->b);
	free(m);
}

void lt_sim_conn_close(lt_sim_conn *c)
{
	if (c->close_now)
		return;
	c->close_now = true;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

void lt_sim_conn_close_code(lt_sim_conn *c, int code, const char *reason)
{
	if (c->close_now)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
	lt_sim_conn_close(c);
}

void lt_sim_conn_drop_queue(lt_sim_conn *c)
{
	while (c->q_head) {
		lt_sim_msg *m = c->q_head;
		c->q_head = m->next;
		lt_sim_ev_uo_msg(c, m, true); /* eventlog.c */
		lt_sim_msg_free(m);
	}
	c->q_tail = NULL;
	c->q_bytes = 0;
}

bool lt_sim_conn_live(const lt_sim_conn *c)
{
	return c->sim && !c->close_now && !c->close_after_flush;
}

void lt_sim_conn_send(lt_sim_conn *c, lt_sim_msg *m)
{
	if (!m)
		return;
	if (m->b.oom || !c->sim || c->close_now || c->blackhole) {
		lt_sim_ev_uo_msg(c, m, true); /* eventlog.c */
		lt_sim_msg_free(m);
		return;
	}
	lt_sim_log_text(c->sim, 2, ">>", c->id, lt_buf_text(&m->b), m->b.len);
	if (c->q_bytes + m->b.len > LT_SIM_MAX_QUEUE + c->q_extra) {
		lt_sim_log(c->sim, 1, "#%u connection_too_slow: %zu bytes queued, closing", c->id,
			   c->q_bytes);
		lt_sim_ev_uo_msg(c, m, true);
		lt_sim_msg_free(m);
		lt_sim_conn_close(c);
		return;
	}
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
	c->q_bytes += m->b.len;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

void lt_sim_conn_send_raw(lt_sim_conn *c, const char *s, size_t n)
{
	lt_sim_msg *m = lt_sim_msg_new();
	if (m)
		lt_buf_add(&m->b, s, n);
	lt_sim_conn_send(c, m);
}

/* One frame per writeable callback; -1 tells lws to close (with a close frame when a code was
 * given: lws sends it and waits for the peer's answer, RFC 6455 §5.5.1). */
static int conn_write(lt_sim_conn *c)
{
	if (c->sim && c->close_now && c->close_code) {
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		c->close_code = 0;
	}
	if (!c->sim || c->close_now)
		return -1;
	lt_sim_msg *m = c->q_head;
	if (!m)
		return c->close_after_flush ? -1 : 0; /* limits.c: close after the 10028 */
	c->q_head = m->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_bytes -= m->b.len;
	if (m->b.len == c->q_extra)
		c->q_extra = 0; /* the oversize frame (faults_more.c) is out */
	unsigned char *p = (unsigned char *)m->b.data + LWS_PRE;
	int n = lws_write(c->wsi, p, m->b.len, LWS_WRITE_TEXT);
	bool short_write = n < 0 || (size_t)n < m->b.len;
	lt_sim_ev_uo_msg(c, m, short_write); /* eventlog.c: written */
	lt_sim_msg_free(m);
	if (short_write) {
		lt_sim_log(c->sim, 1, "#%u write failed, closing", c->id);
		return -1;
	}
	if (c->q_head || c->close_after_flush)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- connection lifecycle ---------------------------------------------------------------- */

/* Contract in internal.h. */
void lt_sim_conn_open(lt_sim *sim, struct lws *wsi, lt_sim_conn *c)
{
	memset(c, 0, sizeof *c);
	c->sim = sim;
	c->wsi = wsi;
	c->id = ++sim->next_conn_id;
	c->delay_ms = -1;
	c->min_heartbeat_s = sim->opts.min_heartbeat_s;
	c->hb_ms_per_s = 1000;
	c->next = sim->conns;
	if (sim->conns)
		sim->conns->prev = c;
	sim->conns = c;
	lt_sim_log(sim, 1, "#%u connected", c->id);
	lt_sim_ev_conn(c, "open");
}

/* Free everything the connection owns and unlink it; afterwards c->sim is NULL. */
static void conn_release(lt_sim_conn *c)
{
	lt_sim *sim = c->sim;
	if (!sim)
		return;
	lt_sim_hb_disable(c);
	lt_sim_faults_clear(c);
	lt_sim_chan_unsubscribe_all(c);
	free(c->subs);
	c->subs = NULL;
	free(c->rx);
	c->rx = NULL;
	lt_sim_conn_drop_queue(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		sim->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->sim = NULL;
}

/* Contract in internal.h. */
void lt_sim_conn_closed(lt_sim_conn *c)
{
	if (!c->sim)
		return;
	lt_sim_log(c->sim, 1, "#%u closed", c->id);
	lt_sim_ev_conn(c, "close");
	lt_sim_auth_conn_closed(c); /* cancel on disconnect, connection tokens */
	conn_release(c);
}

/* Append a received chunk; dispatch when the message is complete. */
static void conn_rx(lt_sim_conn *c, const char *in, size_t len)
{
	if (c->rx_len == 0 && !c->rx_too_big)
		c->rx_us = lt_sim_now_us();
	if (!c->rx_too_big && c->rx_len + len > LT_SIM_MAX_MSG) {
		c->rx_too_big = true;
		c->rx_len = 0;
	}
	if (!c->rx_too_big) {
		if (!c->rx) {
			c->rx = malloc(LT_SIM_MAX_MSG + 1);
			if (!c->rx) {
				lt_sim_conn_close(c);
				return;
			}
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
		return;
	if (c->rx_too_big) {
		lt_sim_log(c->sim, 1, "#%u message over %d bytes refused", c->id, LT_SIM_MAX_MSG);
		lt_sim_dispatch_too_big(c, c->rx_us);
	} else {
		c->rx[c->rx_len] = '\0';
		lt_sim_log_text(c->sim, 2, "<<", c->id, c->rx, c->rx_len);
		lt_sim_dispatch(c, c->rx, c->rx_len, c->rx_us);
	}
	c->rx_len = 0;
	c->rx_too_big = false;
}

/* Only the Deribit path is a WebSocket endpoint (deribit-api.md §1). */
static int path_allowed(struct lws *wsi)
{
	char uri[128];
	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
		return 0;
	return strcmp(uri, WS_PATH) == 0 || strcmp(uri, WS_PATH "/") == 0;
}

static int sim_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	lt_sim_conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return path_allowed(wsi) ? 0 : 1;
	case LWS_CALLBACK_ESTABLISHED: {
		lt_sim *sim = lws_vhost_user(lws_get_vhost(wsi));
		if (!sim || !c)
			return -1;
		lt_sim_conn_open(sim, wsi, c);
		lt_sim_faults_flap(c); /* sim/fault flap: closed again at once */
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		if (c && c->sim && !c->close_now)
			conn_rx(c, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? conn_write(c) : -1;
	case LWS_CALLBACK_CLOSED:
		if (c)
			lt_sim_conn_closed(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols sim_protocols[] = {
	{"luatrade-sim", sim_callback, sizeof(lt_sim_conn), 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- the market tick --------------------------------------------------------------------- */

static void sim_tick(lws_sorted_usec_list_t *sul)
{
	lt_sim *sim = lws_container_of(sul, lt_sim, tick_sul);
	lt_sim_market_step(sim->mkt, lt_sim_now_ms(), sim->opts.tick_ms);
	sim->ticks++;
	lt_sim_chan_publish(sim, sim->ticks % (uint64_t)sim->agg2_every == 0);
	lws_sul_schedule(sim->ctx, 0, &sim->tick_sul, sim_tick,
			 (lws_usec_t)sim->opts.tick_ms * LWS_US_PER_MS);
}

/* ---- public API -------------------------------------------------------------------------- */

static int check_opts(const lt_sim_opts *o, lt_err *err)
{
	if (o->plain) {
		const char *i = o->iface ? o->iface : "127.0.0.1";
		if (strncmp(i, "127.", 4) != 0 && strcmp(i, "::1") != 0 &&
		    strcmp(i, "localhost") != 0)
			return lt_err_set(err, LT_EINVAL,
					  "sim: plain ws:// only on a loopback iface");
		return o->port < 0 || o->port > 65535
			       ? lt_err_set(err, LT_EINVAL, "sim: port out of range")
			       : 0;
	}
	if (!o->cert_file || !o->key_file)
		return lt_err_set(err, LT_EINVAL, "sim: cert_file and key_file are required");
	if (access(o->cert_file, R_OK) != 0)
		return lt_err_set(err, LT_ETLS, "sim: cannot read certificate %s", o->cert_file);
	if (access(o->key_file, R_OK) != 0)
		return lt_err_set(err, LT_ETLS, "sim: cannot read private key %s", o->key_file);
	if (o->port < 0 || o->port > 65535 || o->tick_ms < 0 || o->min_heartbeat_s < 0)
		return lt_err_set(err, LT_EINVAL,
				  "sim: port, tick_ms or min_heartbeat_s out of range");
	return 0;
}

static int sim_listen(lt_sim *sim, lt_err *err)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = sim->opts.port;
	info.iface = sim->opts.iface;
	info.protocols = sim_protocols;
	info.vhost_name = "luatrade-sim";
	if (!sim->opts.plain) {
		info.ssl_cert_filepath = sim->opts.cert_file;
		info.ssl_private_key_filepath = sim->opts.key_file;
	}
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* lws 4.1 with IPv6 turns an IPv4 iface into [::] (every interface): bind IPv4 as IPv4 */
	struct in_addr a4;
	if (inet_pton(AF_INET, sim->opts.iface, &a4) == 1)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = sim;
	sim->vh = lws_create_vhost(sim->ctx, &info);
	if (!sim->vh)
		return lt_err_set(err, LT_EIO,
				  "sim: cannot listen on %s:%d (address in use, or TLS "
				  "setup failed)",
				  sim->opts.iface, sim->opts.port);
	sim->port = lws_get_vhost_listen_port(sim->vh);
	return 0;
}

int lt_sim_new(struct lws_context *ctx, const lt_sim_opts *opts, lt_sim **out, lt_err *err)
{
	*out = NULL;
	int rc = check_opts(opts, err);
	if (rc)
		return rc;
	lt_sim *sim = calloc(1, sizeof *sim);
	if (!sim)
		return lt_err_set(err, LT_ENOMEM, "sim: out of memory");
	sim->ctx = ctx;
	sim->opts = *opts;
	if (!sim->opts.iface)
		sim->opts.iface = "127.0.0.1";
	if (!sim->opts.tick_ms)
		sim->opts.tick_ms = 100;
	if (!sim->opts.min_heartbeat_s)
		sim->opts.min_heartbeat_s = 10;
	sim->agg2_every = (2000 + sim->opts.tick_ms - 1) / sim->opts.tick_ms;
	if (lt_sim_market_new(opts->seed, lt_sim_now_ms(), &sim->mkt) != 0) {
		free(sim);
		return lt_err_set(err, LT_ENOMEM, "sim: out of memory");
	}
	rc = lt_sim_accounts_init(sim, err); /* accounts.c */
	if (!rc)
		rc = lt_sim_evlog_open(sim, err); /* eventlog.c */
	if (!rc)
		rc = sim_listen(sim, err);
	if (rc) {
		lt_sim_evlog_close(sim);
		lt_sim_accounts_free(sim);
		lt_sim_market_free(sim->mkt);
		free(sim);
		return rc;
	}
	lws_sul_schedule(ctx, 0, &sim->tick_sul, sim_tick,
			 (lws_usec_t)sim->opts.tick_ms * LWS_US_PER_MS);
	lt_sim_engine *e = lt_sim_engine_get(sim->mkt);
	if (e && opts->order_id_base > 0)
		e->next_order_id = opts->order_id_base;
	lt_sim_ev_start(sim);
	lt_sim_log(sim, 1, "listening on %s:%d", sim->opts.iface, sim->port);
	*out = sim;
	return 0;
}

int lt_sim_port(const lt_sim *sim) { return sim ? sim->port : -1; }

void lt_sim_free(lt_sim *sim)
{
	if (!sim)
		return;
	lws_sul_cancel(&sim->tick_sul);
	while (sim->conns) {
		lt_sim_conn *c = sim->conns;
		struct lws *wsi = c->wsi;
		conn_release(c);
		if (wsi)
			lws_callback_on_writable(
				wsi); /* detached: the writeable callback closes it */
	}
	lws_vhost_destroy(sim->vh);
	lws_cancel_service(sim->ctx);       /* let the loop finish closing the vhost soon */
	lt_sim_accounts_free(sim);          /* accounts.c */
	lt_sim_stats_free(sim->stats_anon); /* stats.c */
	lt_sim_evlog_close(sim);
	lt_sim_market_free(sim->mkt);
	free(sim);
}
