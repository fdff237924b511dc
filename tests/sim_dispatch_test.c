/* sim_dispatch_test.c — src/sim/dispatch.c through the connection seam of server.c
 * (lt_sim_conn_open / lt_sim_conn_closed, internal.h) without a socket: a connection with no
 * wsi is fed request texts with lt_sim_dispatch and its answers are read from its queue. This
 * is how fuzz/sim_dispatch_fuzz.c drives the dispatcher; these tests pin the seam: answers are
 * queued with the request's id, malformed texts get their JSON-RPC errors, faults that would
 * touch the socket (close, blackhole freeze) only mark a socketless connection, closing is
 * idempotent and lt_sim_free detaches a socketless connection still open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"

typedef struct fx {
	struct lws_context *ctx;
	lt_sim *sim;
	lt_sim_conn c;
} fx;

static int setup(void **state)
{
	static fx f;
	memset(&f, 0, sizeof f);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	f.ctx = lws_create_context(&info);
	assert_non_null(f.ctx);
	lt_sim_opts o = {.seed = 7,
			 .cert_file = LT_CERT_DIR "/server.pem",
			 .key_file = LT_CERT_DIR "/server.key",
			 .accounts = "alice:sa"};
	lt_err err = {0, ""};
	if (lt_sim_new(f.ctx, &o, &f.sim, &err) != 0)
		fail_msg("lt_sim_new: %s", err.msg);
	lt_sim_conn_open(f.sim, NULL, &f.c);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	lt_sim_conn_closed(&f->c);
	lt_sim_free(f->sim);
	lws_context_destroy(f->ctx);
	return 0;
}

/* Dispatch text on c; returns how many messages it queued, the first one copied to out. */
static size_t send_text(lt_sim_conn *c, const char *text, char *out, size_t outsz)
{
	size_t n = 0;
	lt_sim_dispatch(c, text, strlen(text), lt_sim_now_us());
	for (lt_sim_msg *m = c->q_head; m; m = m->next, n++)
		if (n == 0 && out)
			snprintf(out, outsz, "%.*s", (int)m->b.len, lt_buf_text(&m->b));
	lt_sim_conn_drop_queue(c);
	return n;
}

static void test_socketless_connection_answers_with_the_id(void **state)
{
	fx *f = *state;
	char a[512];
	assert_int_equal(send_text(&f->c,
				   "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"public/test\"}", a,
				   sizeof a),
			 1);
	assert_non_null(strstr(a, "\"id\":5"));
	assert_non_null(strstr(a, "\"result\""));
	assert_int_equal(
		send_text(&f->c,
			  "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":"
			  "\"public/auth\",\"params\":{\"grant_type\":\"client_credentials\","
			  "\"client_id\":\"alice\",\"client_secret\":\"sa\"}}",
			  a, sizeof a),
		1);
	assert_non_null(strstr(a, "\"id\":\"s\""));
	assert_non_null(strstr(a, "access_token"));
	assert_non_null(f->c.acc);
}

static void test_socketless_malformed_texts_get_errors(void **state)
{
	fx *f = *state;
	char a[512];
	assert_int_equal(send_text(&f->c, "{", a, sizeof a), 1);
	assert_non_null(strstr(a, "-32700"));
	assert_int_equal(send_text(&f->c,
				   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/test\"}]", a,
				   sizeof a),
			 1);
	assert_non_null(strstr(a, "-32600"));
	assert_int_equal(
		send_text(&f->c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x/y\"}", a, sizeof a),
		1);
	assert_non_null(strstr(a, "-32601"));
}

/* Without the wsi guards, lt_sim_conn_send and the freeze crashed on the NULL wsi. */
static void test_socketless_faults_only_mark_the_connection(void **state)
{
	fx *f = *state;
	assert_int_equal(send_text(&f->c,
				   "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sim/fault\","
				   "\"params\":{\"action\":\"close\"}}",
				   NULL, 0),
			 0);
	assert_true(f->c.close_now); /* marked closing; nothing more is queued */
	assert_int_equal(send_text(&f->c,
				   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"public/test\"}",
				   NULL, 0),
			 0);
	lt_sim_conn_closed(&f->c);
	lt_sim_conn_open(f->sim, NULL, &f->c);
	assert_int_equal(send_text(&f->c,
				   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sim/fault\","
				   "\"params\":{\"action\":\"blackhole\",\"mode\":\"freeze\","
				   "\"ms\":1000}}",
				   NULL, 0),
			 0);
	assert_true(f->c.blackhole);
	assert_true(f->c.frozen);
	assert_int_equal(send_text(&f->c,
				   "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"public/test\"}",
				   NULL, 0),
			 0); /* discarded */
}

static void test_closed_is_idempotent_and_free_detaches(void **state)
{
	fx *f = *state;
	lt_sim_conn other;
	lt_sim_conn_open(f->sim, NULL, &other);
	assert_ptr_equal(other.sim, f->sim);
	assert_int_not_equal(other.id, f->c.id);
	lt_sim_conn_closed(&other);
	assert_null(other.sim);
	lt_sim_conn_closed(&other);
	assert_null(other.sim);
	lt_sim_free(f->sim); /* f->c still attached, without a socket */
	f->sim = NULL;
	assert_null(f->c.sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socketless_connection_answers_with_the_id,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_socketless_malformed_texts_get_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socketless_faults_only_mark_the_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_is_idempotent_and_free_detaches, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
