/* bare_client.c — the benchmark's libwebsockets peer: a bare libwebsockets 4.1 wss client doing
 * the same handler work as the others (bench/ticker_fields.h: yajl parse of every message, best
 * bid and ask), measured in the same run against the same server.
 *
 *     bare_client CA_FILE PORT ROUNDTRIPS [count]
 *
 * "count" (a reference line in run-bench: the "counts only" row) skips the JSON parse in
 * the firehose: notifications are counted by length (>= 128 bytes), the end marker is the short
 * message that says "end".
 *
 * Connects to wss://127.0.0.1:PORT/ws/api/v2 (peer verified against CA_FILE), then:
 *   1. firehose: sends public/subscribe and parses every message until the end marker
 *      (params.data.end); time is taken from the subscribe send to the end marker.
 *   2. round trip: ROUNDTRIPS times, sends {"jsonrpc":"2.0","id":N,"method":"public/test",
 *      "params":{}} and waits for the answer (parsed) before the next one; each round trip is
 *      timed from queueing the request to the answer parsed.
 * Prints "RESULT key=value ..." lines (msgs/s, p50/p99 µs, peak RSS from getrusage) and exits
 * 0, or 1 on a connection failure or invalid JSON. Uses the same receive buffer size (32768)
 * and the same write-on-WRITEABLE pattern as src/ws.c, so the difference is the runtime's own
 * work. A message split over several receive callbacks is reassembled (up to BC_MAX_MSG).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libwebsockets.h>

#include "ticker_fields.h"

#define BC_CHANNEL "ticker.BTC-PERPETUAL.raw"
#define BC_MAX_MSG (256 * 1024)

typedef enum { BC_CONNECTING, BC_FIREHOSE, BC_ROUNDTRIP, BC_DONE, BC_FAILED } bc_phase;

typedef struct bc_state {
	bc_phase phase;
	unsigned long msgs;     /* notifications counted (end marker excluded) */
	int64_t t0_us, t1_us;   /* firehose start and end */
	long rt_total, rt_done; /* round trips asked for and finished */
	int64_t rt_sent_us;
	int64_t *rt_us;     /* each round trip's duration */
	bool want_send;     /* a request waits for WRITEABLE */
	size_t cur_len;     /* bytes of the current message so far */
	unsigned char *msg; /* reassembly of a message received in several parts */
	double spread;      /* sum of ask - bid: the handler's work, checked at the end */
	bool bad;           /* invalid JSON or a message over BC_MAX_MSG */
	bool count_only;    /* firehose without parsing (the "count" argument) */
	unsigned char out[LWS_PRE + 256];
	size_t out_len;
} bc_state;

static int64_t bc_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void bc_queue(bc_state *s, struct lws *wsi, const char *text)
{
	size_t n = strlen(text);
	memcpy(s->out + LWS_PRE, text, n);
	s->out_len = n;
	s->want_send = true;
	lws_callback_on_writable(wsi);
}

static void bc_next_request(bc_state *s, struct lws *wsi)
{
	char req[128];
	snprintf(req, sizeof req,
		 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"public/test\",\"params\":{}}",
		 s->rt_done + 2);
	s->rt_sent_us = bc_now_us();
	bc_queue(s, wsi, req);
}

/* One complete message, in[0..len). */
static void bc_on_message(bc_state *s, struct lws *wsi, const unsigned char *in, size_t len)
{
	bt_msg m;
	if (s->count_only && s->phase == BC_FIREHOSE) {
		memset(&m, 0, sizeof m);
		if (len >= 128) {
			m.have_bid = m.have_ask = true;
			m.ask = 1;
		} else {
			m.end = memmem(in, len, "\"end\"", 5) != NULL;
		}
	} else if (bt_parse(in, len, &m)) {
		s->bad = true;
		s->phase = BC_FAILED;
		return;
	}
	if (s->phase == BC_FIREHOSE) {
		/* The subscribe reply and the notifications arrive in this phase. */
		if (m.have_bid && m.have_ask) {
			s->spread += m.ask - m.bid;
			s->msgs++;
		} else if (m.end) {
			s->t1_us = bc_now_us();
			s->phase = s->rt_total > 0 ? BC_ROUNDTRIP : BC_DONE;
			if (s->phase == BC_ROUNDTRIP)
				bc_next_request(s, wsi);
		}
	} else if (s->phase == BC_ROUNDTRIP && m.is_reply) {
		s->rt_us[s->rt_done++] = bc_now_us() - s->rt_sent_us;
		if (s->rt_done < s->rt_total)
			bc_next_request(s, wsi);
		else
			s->phase = BC_DONE;
	}
}

static int bc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	bc_state *s = lws_get_opaque_user_data(wsi);
	(void)user;
	if (!s)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		s->phase = BC_FIREHOSE;
		s->t0_us = bc_now_us();
		bc_queue(s, wsi,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/subscribe\","
			 "\"params\":{\"channels\":[\"" BC_CHANNEL "\"]}}");
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		bool last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (last && s->cur_len == 0) {
			bc_on_message(s, wsi, in, len);
			break;
		}
		if (s->cur_len + len > BC_MAX_MSG) {
			s->bad = true;
			s->phase = BC_FAILED;
			return -1;
		}
		memcpy(s->msg + s->cur_len, in, len);
		s->cur_len += len;
		if (last) {
			bc_on_message(s, wsi, s->msg, s->cur_len);
			s->cur_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!s->want_send)
			break;
		s->want_send = false;
		if (lws_write(wsi, s->out + LWS_PRE, s->out_len, LWS_WRITE_TEXT) < (int)s->out_len)
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "bare_client: connection error: %s\n",
			in && len ? (const char *)in : "?");
		s->phase = BC_FAILED;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s->phase != BC_DONE)
			s->phase = BC_FAILED;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols bc_protocols[] = {{"bare", bc_callback, 0, 32768, 0, NULL, 0},
						    {NULL, NULL, 0, 0, 0, NULL, 0}};

static int bc_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of the n sorted values. */
static int64_t bc_quantile(const int64_t *v, long n, double q)
{
	long i = (long)(q * (double)n + 0.999999) - 1;
	return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "count") == 0)) {
		fprintf(stderr, "usage: %s CA_FILE PORT ROUNDTRIPS [count]\n", argv[0]);
		return 2;
	}
	bc_state s;
	memset(&s, 0, sizeof s);
	int port = atoi(argv[2]);
	s.rt_total = atol(argv[3]);
	s.count_only = argc == 5;
	s.rt_us = calloc(s.rt_total > 0 ? (size_t)s.rt_total : 1, sizeof *s.rt_us);
	s.msg = malloc(BC_MAX_MSG);
	if (!s.rt_us || !s.msg || port <= 0 || port > 65535)
		return 2;
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = bc_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = argv[1];
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = "127.0.0.1";
	ci.port = port;
	ci.path = "/ws/api/v2";
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.local_protocol_name = "bare";
	ci.opaque_user_data = &s;
	if (!lws_client_connect_via_info(&ci))
		s.phase = BC_FAILED;
	while (s.phase != BC_DONE && s.phase != BC_FAILED && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	if (s.phase != BC_DONE || !(s.spread > 0)) {
		fprintf(stderr, "bare_client: %s\n",
			s.bad                ? "invalid JSON or a message over the cap"
			: s.phase == BC_DONE ? "the handler saw no spread"
					     : "the connection failed");
		free(s.rt_us);
		free(s.msg);
		return 1;
	}
	double secs = (double)(s.t1_us - s.t0_us) / 1e6;
	printf("RESULT firehose msgs=%lu secs=%.3f rate=%.0f\n", s.msgs, secs,
	       secs > 0 ? (double)s.msgs / secs : 0.0);
	if (s.rt_total > 0) {
		qsort(s.rt_us, (size_t)s.rt_total, sizeof *s.rt_us, bc_cmp);
		printf("RESULT roundtrip n=%ld p50_us=%lld p99_us=%lld\n", s.rt_total,
		       (long long)bc_quantile(s.rt_us, s.rt_total, 0.50),
		       (long long)bc_quantile(s.rt_us, s.rt_total, 0.99));
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT rss_kib=%ld\n", ru.ru_maxrss);
	free(s.rt_us);
	free(s.msg);
	return 0;
}
