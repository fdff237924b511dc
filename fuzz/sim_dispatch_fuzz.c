/* sim_dispatch_fuzz.c — libFuzzer harness for the simulated venue's request dispatcher,
 * lt_sim_dispatch (src/sim/dispatch.c): the venue is a server other clients use, so it must
 * survive anything. One venue (lt_sim_new with the demo account, seed 7, remade every 4,096
 * inputs so its state stays small) and, per input, a fresh connection without a socket
 * (lt_sim_conn_open with wsi NULL; internal.h). The input is split at '\n' into raw JSON-RPC
 * request texts dispatched in order on that connection (so public/auth can precede private/
 * calls, sim/fault can arm a fault for the next request); the connection then closes
 * (lt_sim_conn_closed: cancel on disconnect, release). The demo account's client secret for
 * seed 7 is in the seeds (fuzz/seeds/sim_dispatch_fuzz/), so authenticated paths are reached.
 * Invariants: never crashes, leaks nothing (ASan); every request that no fault set aside
 * (stall, delay, blackhole armed before it) and that did not close or blackhole the connection
 * itself is answered: at least one message is queued for it; the queue stays under its cap. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"

static struct lws_context *ctx;
static lt_sim *sim;
static unsigned long inputs;

static void sim_up(void)
{
	lt_sim_opts o = {.seed = 7,
			 .cert_file = LT_CERT_DIR "/server.pem",
			 .key_file = LT_CERT_DIR "/server.key",
			 .accounts = "alice:sa"};
	lt_err err = {0, ""};
	if (lt_sim_new(ctx, &o, &sim, &err) != 0) {
		fprintf(stderr, "sim_dispatch_fuzz: lt_sim_new: %s\n", err.msg);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	ctx = lws_create_context(&info);
	if (!ctx)
		abort();
	sim_up();
	return 0;
}

static size_t queued(const lt_sim_conn *c)
{
	size_t n = 0;
	for (const lt_sim_msg *m = c->q_head; m; m = m->next)
		n++;
	return n;
}

static void dispatch(lt_sim_conn *c, const uint8_t *p, size_t n)
{
	char *text = malloc(n + 1); /* exact size plus the NUL the contract asks for */
	memcpy(text, p, n);
	text[n] = '\0';
	bool set_aside = c->stall > 0 || c->delay_ms >= 0 || c->blackhole || c->close_now ||
			 c->close_after_flush;
	size_t before = queued(c);
	if (n > LT_SIM_MAX_MSG)
		lt_sim_dispatch_too_big(c, lt_sim_now_us());
	else
		lt_sim_dispatch(c, text, n, lt_sim_now_us());
	if (!set_aside && !c->blackhole && !c->close_now && queued(c) <= before) {
		fprintf(stderr, "sim_dispatch_fuzz: no answer to: %.300s\n", text);
		abort();
	}
	free(text);
	if (c->q_bytes > LT_SIM_MAX_QUEUE)
		abort();
	lt_sim_conn_drop_queue(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (++inputs % 4096 == 0) {
		lt_sim_free(sim);
		for (int i = 0; i < 4; i++)
			lws_service(ctx, -1); /* let the vhost finish closing */
		sim_up();
	}
	lt_sim_conn *c = calloc(1, sizeof *c);
	lt_sim_conn_open(sim, NULL, c);
	size_t pos = 0;
	while (pos < size && c->sim) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		dispatch(c, data + pos, end - pos);
		pos = end + 1;
	}
	lt_sim_conn_closed(c);
	lt_sim_conn_closed(c); /* idempotent */
	free(c);
	return 0;
}
