/* sim.h — the built-in simulated Deribit venue: a loopback wss server speaking Deribit's
 * JSON-RPC 2.0 (../shared/deribit-api.md), driven by a seeded synthetic market.
 *
 * The venue lives on a caller's libwebsockets context as its own server vhost, so it runs on the
 * same single-threaded loop as the clients (in-process, `lt.public{venue="sim"}`) or alone
 * (`luatrade sim --port 8443`). It never blocks; its timers are lws_sul on that context.
 *
 * What it speaks (details in the file named): the envelope checks and error codes (dispatch.c),
 * the public methods (public_methods.c), the channels and their cadences (channels.c), the
 * instruments and the synthetic market (market.c), heartbeats (heartbeat.c), the "sim/"
 * test-control methods sim/fault and sim/configure (documented at the top of faults.c) and
 * sim/stats, what the venue received per account (stats.c), accounts
 * and tokens (accounts.c), public/auth, logout and cancel on disconnect (auth.c), server-side
 * rate limits (limits.c).
 * Clients connect to wss://<iface>:<port>/ws/api/v2; other paths are refused. The venue listens
 * on iface only (an IPv4 address is bound as IPv4, not as every interface) with SO_REUSEADDR
 * (set by libwebsockets), so a venue process killed with SIGKILL can be started again on the
 * same port at once, even with its old connections in TIME_WAIT.
 */
#ifndef LT_SIM_H
#define LT_SIM_H

#include <stdint.h>

#include "../lt.h"

struct lws_context;
typedef struct lt_sim lt_sim;

typedef struct lt_sim_opts {
	int port;              /* 0 = an ephemeral port (read it back with lt_sim_port) */
	const char *iface;     /* listen address; NULL = "127.0.0.1" */
	const char *cert_file; /* PEM server certificate (required) */
	const char *key_file;  /* PEM private key (required) */
	uint64_t seed;         /* market random walk seed; same seed, same market */
	int tick_ms;           /* market update period; 0 = 100 */
	int min_heartbeat_s;   /* smallest accepted public/set_heartbeat interval; 0 = 10 */
	int log_level;         /* 0 quiet, 1 connections, 2 every message (truncated) */
	const char *accounts;  /* more accounts: "id:secret[,id:secret...]"; NULL = demo only */
	int token_expires_s;   /* access token lifetime in seconds; 0 = 900 */
	int close_on_10028;    /* nonzero: close the connection after answering 10028 */
	int plain;             /* nonzero: plain ws:// without TLS (cert/key unused); only with a
	                         * loopback iface (tests of a client's insecure_loopback) */
	const char *event_log; /* append every event of the event log to this file (eventlog.c) */
	int64_t order_id_base; /* first order id; 0 = 63018852000 (restarts can avoid reuse) */
} lt_sim_opts;

/* Create the venue's vhost on ctx (a context made with LWS_SERVER_OPTION_EXPLICIT_VHOSTS and
 * LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT) and start its market timers. On failure returns
 * LT_EINVAL / LT_ETLS / LT_EIO with a message (bad cert path, port in use) and *out is NULL. */
int lt_sim_new(struct lws_context *ctx, const lt_sim_opts *opts, lt_sim **out, lt_err *err);

/* The port the venue listens on (the real one when opts.port was 0). */
int lt_sim_port(const lt_sim *sim);

/* The demo account that always exists (10 BTC, 100 ETH, tier 4): client_id "luatrade-demo" and a
 * client_secret derived from opts.seed (same seed, same secret). The strings live as long as
 * sim. Returns 0, or LT_EINVAL when sim is NULL. */
int lt_sim_demo_account(const lt_sim *sim, const char **client_id, const char **client_secret);

/* Stop the market timers, close every connection, destroy the vhost. Accepts NULL. Must be
 * called before the context is destroyed. */
void lt_sim_free(lt_sim *sim);

#endif
