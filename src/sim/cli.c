/* cli.c — `luatrade sim`: the simulated venue as a standalone server. Makes its own lws context,
 * starts the venue on it, prints the URL and the demo account's credentials, serves until SIGINT
 * or SIGTERM, then frees everything and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "paths.h"
#include "sim.h"

int lt_sim_main(int argc, char **argv);

/* The one piece of file-scope state: a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: luatrade sim [options]\n"
		"Run the built-in simulated Deribit venue (JSON-RPC 2.0 over wss) until "
		"SIGINT/SIGTERM.\n"
		"\n"
		"  --port N           TCP port to listen on (default 8443; 0 = any free port)\n"
		"  --iface ADDR       address to listen on (default 127.0.0.1)\n"
		"  --seed N           seed of the synthetic market; same seed, same market "
		"(default 1)\n"
		"  --cert FILE        PEM server certificate (default DIR/server.pem, see below)\n"
		"  --key FILE         PEM private key (default DIR/server.key)\n"
		"  --tick-ms N        market update period in milliseconds (default 100)\n"
		"  --min-heartbeat S  smallest public/set_heartbeat interval accepted, seconds "
		"(default 10)\n"
		"  --account ID:SECRET  add an account (repeatable); the demo account always "
		"exists\n"
		"  --token-expires S  access token lifetime in seconds (default 900)\n"
		"  --close-on-10028   close a connection after answering 10028 too_many_requests\n"
		"  --plain            serve plain ws:// without TLS (loopback --iface only; for\n"
		"                     clients with insecure_loopback / luatrade run "
		"--insecure-loopback)\n"
		"  --event-log FILE   append the venue's event log to FILE, one JSON line per "
		"event\n"
		"                     (connections, subscriptions, orders received, order states "
		"and\n"
		"                     user.orders sent; src/sim/eventlog.c); sim/events reads it "
		"too\n"
		"  --order-id-base N  first order id (default 63018852000), so that a restarted "
		"venue\n"
		"                     does not reuse the ids of the one before\n"
		"  -v                 more log output on stderr: -v connections, -vv every "
		"message\n"
		"  -h, --help         show this help\n"
		"\n"
		"DIR is $LUATRADE_CERT_DIR if set, else the checkout's build/sim when run from a "
		"checkout\n"
		"build (make certs creates it), else ~/.local/state/luatrade/sim "
		"($XDG_STATE_HOME/\n"
		"luatrade/sim), generated at first use. Clients verify the server with "
		"DIR/ca.pem.\n");
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* Append "ID:SECRET" to the comma-separated list *acc (malloc'd, owned by the caller). */
static int add_account(char **acc, const char *arg)
{
	if (!strchr(arg, ':') || strchr(arg, ',') || arg[0] == ':')
		return -1;
	size_t old = *acc ? strlen(*acc) : 0, n = strlen(arg);
	char *p = realloc(*acc, old + n + 2);
	if (!p)
		return -1;
	if (old)
		p[old++] = ',';
	memcpy(p + old, arg, n + 1);
	*acc = p;
	return 0;
}

/* Returns 0 ok, 1 help printed, 2 usage error. *accounts gets the --account list (or NULL). */
static int parse_args(int argc, char **argv, lt_sim_opts *o, char **accounts)
{
	static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
						 {"iface", required_argument, NULL, 'i'},
						 {"seed", required_argument, NULL, 's'},
						 {"cert", required_argument, NULL, 'c'},
						 {"key", required_argument, NULL, 'k'},
						 {"tick-ms", required_argument, NULL, 't'},
						 {"min-heartbeat", required_argument, NULL, 'm'},
						 {"help", no_argument, NULL, 'h'},
						 {"account", required_argument, NULL, 'a'},
						 {"token-expires", required_argument, NULL, 'e'},
						 {"close-on-10028", no_argument, NULL, 'C'},
						 {"plain", no_argument, NULL, 'P'},
						 {"event-log", required_argument, NULL, 'E'},
						 {"order-id-base", required_argument, NULL, 'O'},
						 {NULL, 0, NULL, 0}};
	int ch;
	long v;
	uint64_t base = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		int bad = 0;
		switch (ch) {
		case 'p':
			bad = parse_long(optarg, 0, 65535, &v);
			o->port = (int)v;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case 's':
			bad = parse_seed(optarg, &o->seed);
			break;
		case 'c':
			o->cert_file = optarg;
			break;
		case 'k':
			o->key_file = optarg;
			break;
		case 't':
			bad = parse_long(optarg, 1, 60000, &v);
			o->tick_ms = (int)v;
			break;
		case 'm':
			bad = parse_long(optarg, 1, 86400, &v);
			o->min_heartbeat_s = (int)v;
			break;
		case 'a':
			bad = add_account(accounts, optarg);
			break;
		case 'e':
			bad = parse_long(optarg, 1, 31536000, &v);
			o->token_expires_s = (int)v;
			break;
		case 'C':
			o->close_on_10028 = 1;
			break;
		case 'P':
			o->plain = 1;
			break;
		case 'E':
			o->event_log = optarg;
			break;
		case 'O':
			bad = parse_seed(optarg, &base) || base < 1 || base > 999999999999999ULL;
			o->order_id_base = (int64_t)base;
			break;
		case 'v':
			o->log_level++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "luatrade sim: bad value for --%s: %s\n",
				ch == 'p'   ? "port"
				: ch == 's' ? "seed"
				: ch == 't' ? "tick-ms"
				: ch == 'a' ? "account (want ID:SECRET)"
				: ch == 'e' ? "token-expires"
				: ch == 'O' ? "order-id-base"
					    : "min-heartbeat",
				optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "luatrade sim: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	return 0;
}

static struct lws_context *make_context(void)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	return lws_create_context(&info);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Fill the --cert and --key not given from the certificate directory (paths.h, generated at
 * first use); ca gets its CA file when --cert is the default. Returns 0, or 1 with a message. */
static int default_cert_files(lt_sim_opts *o, char *cert, char *key, char *ca, size_t n)
{
	char dir[LT_PATHS_MAX];
	lt_err err = {0, ""};
	if (lt_paths_cert_dir(dir, sizeof dir, &err) != 0) {
		fprintf(stderr, "luatrade sim: %s\n", err.msg);
		return 1;
	}
	snprintf(cert, n, "%s/server.pem", dir);
	snprintf(key, n, "%s/server.key", dir);
	if (!o->cert_file) {
		o->cert_file = cert;
		snprintf(ca, n, "%s/ca.pem", dir);
	}
	if (!o->key_file)
		o->key_file = key;
	return 0;
}

int lt_sim_main(int argc, char **argv)
{
	lt_sim_opts o = {.port = 8443, .seed = 1};
	char *accounts = NULL;
	int rc = parse_args(argc, argv, &o, &accounts);
	o.accounts = accounts;
	if (rc) {
		free(accounts);
		return rc == 1 ? 0 : 2;
	}
	char cert[LT_PATHS_MAX + 16], key[LT_PATHS_MAX + 16], ca[LT_PATHS_MAX + 16] = "";
	if (!o.plain && (!o.cert_file || !o.key_file) &&
	    default_cert_files(&o, cert, key, ca, sizeof cert)) {
		free(accounts);
		return 1;
	}
	lws_set_log_level(o.log_level >= 2 ? LLL_ERR | LLL_WARN | LLL_USER : LLL_ERR, NULL);
	struct lws_context *ctx = make_context();
	if (!ctx) {
		fprintf(stderr, "luatrade sim: cannot create the libwebsockets context\n");
		free(accounts);
		return 1;
	}
	lt_sim *sim = NULL;
	lt_err err = {0, ""};
	if (lt_sim_new(ctx, &o, &sim, &err) != 0) {
		fprintf(stderr, "luatrade %s\n", err.msg);
		lws_context_destroy(ctx);
		free(accounts);
		return 1;
	}
	if (o.plain)
		printf("luatrade sim listening on ws://%s:%d/ws/api/v2 (plain, no TLS: clients "
		       "need insecure_loopback)\n",
		       o.iface ? o.iface : "127.0.0.1", lt_sim_port(sim));
	else
		printf("luatrade sim listening on wss://%s:%d/ws/api/v2 (ca_file: %s)\n",
		       o.iface ? o.iface : "127.0.0.1", lt_sim_port(sim),
		       o.cert_file == cert ? ca : "the CA that signed --cert");
	const char *demo_id, *demo_secret;
	if (lt_sim_demo_account(sim, &demo_id, &demo_secret) == 0)
		printf("demo account: client_id=%s client_secret=%s\n", demo_id, demo_secret);
	fflush(stdout);
	install_signals();
	while (!stop_requested)
		if (lws_service(ctx, 0) < 0)
			break;
	lt_sim_free(sim);
	lws_context_destroy(ctx);
	free(accounts);
	return 0;
}
