/* ws_frames_test.c — src/ws.c's frames on an open connection (wslay's frame layer and the
 * message level over it), against the minimal WebSocket peer of tests/support/ws_peer.h run by
 * a thread of this test, plain or TLS with the built-in venue's certificate.
 *
 * Messages in: the send queue's order, reassembly of fragments, binary and oversize drops,
 * pings between fragments and their pongs, frames that arrive one byte at a time, random
 * streams of frames, UTF-8 checks and the venue's protocol errors with the close code each one
 * gets. Close frames both ways. Messages out: the queue's bound, a send that goes out at once,
 * and wss messages both ways. The URL rules, the upgrade, liveness, backoff and certificates
 * are ws_test.c's. Nothing here leaves 127.0.0.1.
 *
 * Timing margins are meant to hold under ASan on a loaded 2-core machine: waits are bounded by
 * seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "utf8.h"
#include "ws.h"
#include "support/ws_peer.h"

/* ---- messages in: order, reassembly, drops ----------------------------------------------- */

static void test_queue_order_and_reassembly(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "hel"},
		{0, false, "lo, "},
		{0, true, "world"},        /* fragmented text */
		{2, true, "\x01\x02\x03"}, /* binary: dropped */
		{1, true, "{\"one\":\"piece\"}"},
		{2, false, "bi"},
		{0, true, "nary"}, /* fragmented binary */
		{1, false, "0123456789"},
		{0, true, "0123456789"}, /* 20 > 16: dropped */
		{1, false, "abcd"},
		{0, false, "efgh"},
		{0, true, "ijklmnop"}, /* 16: exactly fits */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws =
		run_peer(loop, &p, &o, "/ws/api/v2", 16, frames, sizeof frames / sizeof frames[0]);
	assert_true(p.handshake_ok);
	assert_string_equal(p.request_line, "GET /ws/api/v2 HTTP/1.1");
	/* queued before open, sent in order once open */
	assert_int_equal(p.nin, 2);
	assert_string_equal(p.in[0], "{\"first\":1}");
	assert_string_equal(p.in[1], "{\"second\":2}");
	assert_int_equal(o.nstates, 1);
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_NONE);
	/* what arrived */
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "hello, world");
	assert_int_equal(o.msg_len[0], 12);
	assert_string_equal(o.msgs[1], "{\"one\":\"piece\"}");
	assert_string_equal(o.msgs[2], "abcdefghijklmnop");
	assert_string_equal(o.msgs[3], "end");
	const lt_ws_stats *s = lt_ws_get_stats(ws);
	assert_int_equal(s->msgs_in, 4);
	assert_int_equal(s->bytes_in, 12 + 15 + 16 + 3);
	assert_int_equal(s->msgs_out, 2);
	assert_int_equal(s->dropped_binary, 2);
	assert_int_equal(s->dropped_oversize, 1);
	assert_int_equal(s->reconnects, 0);
	assert_int_equal(s->dead, 0);
	finish(loop, &p, ws);
	assert_int_equal(o.nstates, 1); /* nothing after close */
	obs_free(&o);
	lt_loop_free(loop);
}

/* A message over max_message is dropped and counted also when it arrives in one frame (the
 * no-copy path), not only when fragmented. */
static void test_single_frame_oversize_is_dropped(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, true, "0123456789012345678901234567890123456789"}, /* 40 > 16 */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 16, frames, 2);
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "end");
	assert_int_equal(lt_ws_get_stats(ws)->dropped_oversize, 1);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* ---- the frames (wslay) ------------------------------------------------------------------ */

/* A fragmented message with a ping between its fragments arrives whole; the ping is answered
 * with a pong carrying its payload, and a fragment split inside a UTF-8 sequence is valid. */
static void test_ping_between_fragments(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "frag"},    {9, true, "p1"},   {0, false, "men"}, {0, true, "ted"},
		{1, false, "caf\xc3"}, {0, true, "\xa9"}, /* é split across two fragments */
		{1, false, ""},        {0, true, ""},     /* an empty message in two empty frames */
		{1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, sizeof frames / sizeof frames[0]);
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "fragmented");
	assert_string_equal(o.msgs[1], "caf\xc3\xa9");
	assert_int_equal(o.msg_len[2], 0);
	assert_string_equal(o.msgs[3], "end");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "p1");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* Frames that arrive one byte per TCP segment (every header, extended length and payload cut
 * everywhere) are read as when they come whole: wslay's frame layer resumes where it stopped
 * and rx_frames keeps the message state across reads. */
static void test_frames_byte_by_byte(void **state)
{
	(void)state;
	char big[301];
	for (int i = 0; i < 300; i++)
		big[i] = (char)('a' + i % 26); /* 300 bytes: a 16-bit extended length */
	big[300] = '\0';
	const frame frames[] = {
		{1, false, "frag"}, {9, true, "p1"},          {0, true, "mented"},
		{1, true, big},     {1, true, "caf\xc3\xa9"}, {1, true, "end"},
	};
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.frames = frames;
	p.nframes = sizeof frames / sizeof frames[0];
	p.trickle = true;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 10000));
	assert_int_equal(o.nmsgs, 4);
	assert_string_equal(o.msgs[0], "fragmented");
	assert_int_equal(o.msg_len[1], 300);
	assert_memory_equal(o.msgs[1], big, 300);
	assert_string_equal(o.msgs[2], "caf\xc3\xa9");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "p1");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_OPEN);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random stream of plausible and broken frames (each opcode, fin or not, RSV bits, masks,
 * 7- and 16-bit lengths, payloads mostly ASCII with stray bytes, close frames with and without
 * a valid code) into buf; returns its length. */
static size_t random_frames(uint64_t *rng, unsigned char *buf, size_t cap)
{
	static const int ops[] = {0, 1, 1, 1, 2, 8, 9, 10, 3, 11};
	size_t n = 0;
	int frames = 1 + (int)(xorshift(rng) % 12);
	for (int k = 0; k < frames && n + 200 < cap; k++) {
		uint64_t r = xorshift(rng);
		int op = ops[r % 10];
		bool fin = (r >> 8) % 4 != 0, rsv = (r >> 12) % 16 == 0, mask = (r >> 16) % 16 == 0;
		size_t len = (r >> 20) % 8 == 0 ? 130 : (size_t)((r >> 24) % 41);
		buf[n++] = (unsigned char)((fin ? 0x80 : 0) | (rsv ? 0x40 : 0) | op);
		if (len < 126) {
			buf[n++] = (unsigned char)((mask ? 0x80 : 0) | len);
		} else {
			buf[n++] = (unsigned char)((mask ? 0x80 : 0) | 126);
			buf[n++] = (unsigned char)(len >> 8);
			buf[n++] = (unsigned char)len;
		}
		if (mask)
			for (int i = 0; i < 4; i++)
				buf[n++] = (unsigned char)xorshift(rng);
		for (size_t i = 0; i < len; i++) {
			uint64_t b = xorshift(rng);
			buf[n++] = b % 8 == 0 ? (unsigned char)(b >> 8)
					      : (unsigned char)('a' + (b >> 8) % 26);
		}
		if (op == 8 && len >= 2 && (r >> 28) % 2) { /* a valid code: 1000 */
			buf[n - len] = 0x03;
			buf[n - len + 1] = 0xe8;
		}
	}
	return n;
}

/* Whatever frames the venue sends, the client does not crash (the suite runs under ASan),
 * hands on only valid UTF-8 and, if it fails the connection, says why. 40 random streams. */
static void test_random_frames_never_break_the_client(void **state)
{
	(void)state;
	uint64_t rng = 0x5eed;
	for (int k = 0; k < 40; k++) {
		unsigned char raw[4096];
		lt_loop *loop = loop_new();
		peer p;
		memset(&p, 0, sizeof p);
		p.raw = raw;
		p.rawlen = random_frames(&rng, raw, sizeof raw);
		peer_start(&p);
		obs o = {0};
		lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.no_reconnect = true});
		drive(loop, saw_closed, &o, 150);
		for (int i = 0; i < o.nmsgs && i < MAX_EV; i++)
			if (!lt_utf8_ok((const unsigned char *)o.msgs[i], o.msg_len[i]))
				fail_msg("stream %d: message %d handed on is not UTF-8", k, i);
		int c = find_state(&o, LT_WS_CLOSED, 0);
		if (c >= 0 && !o.reasons[c][0])
			fail_msg("stream %d: closed with no reason", k);
		finish(loop, &p, ws);
		obs_free(&o);
		lt_loop_free(loop);
	}
}

/* What the venue may not send, each after one good message: the connection fails with the
 * close code given (RFC 6455: 1007 for text that is not UTF-8, §8.1; 1002 for a masked frame,
 * servers never mask, §5.1; 1002 for the other protocol errors), the owner is told why, and
 * the good message was delivered, nothing after it. The message level is ours (rx_frames), the
 * frames are wslay's: each rule here has a line there. */
static void test_venue_protocol_errors(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		frame bad[2];
		size_t n;
		int code;
	} cases[] = {
		{"a text message not UTF-8", {{1, true, "{\"m\":\"\xff\xfe\"}"}}, 1, 1007},
		{"a masked frame",
		 {{1 | MASKED, true,
		   "\x01\x02\x03\x04"
		   "abcd"}},
		 1,
		 1002},
		{"an RSV1 bit", {{1 | RSV1, true, "x"}}, 1, 1002},
		{"a continuation with no message", {{0, true, "x"}}, 1, 1002},
		{"a new message inside a fragmented one",
		 {{1, false, "a"}, {1, true, "b"}},
		 2,
		 1002},
		{"a reserved opcode", {{3, true, "x"}}, 1, 1002},
		{"a fragmented ping", {{9, false, "p"}}, 1, 1002},
		{"a close with code 1005", {{8, true, "\x03\xed"}}, 1, 1002},
		{"a close with a 1-byte payload", {{8, true, "\x03"}}, 1, 1002},
		{"a close reason not UTF-8", {{8, true, "\x0f\xa0\xff"}}, 1, 1007},
	};
	static const char utf8_reason[] =
		"the venue sent a text message that is not valid UTF-8 (closed with 1007)";
	static const char protocol_reason[] =
		"the venue broke the WebSocket protocol (closed with 1002)";
	int failed = 0;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		frame frames[4] = {{1, true, "ok"}};
		memcpy(frames + 1, cases[k].bad, cases[k].n * sizeof(frame));
		frames[1 + cases[k].n] = (frame){1, true, "after"};
		lt_loop *loop = loop_new();
		peer p;
		obs o = {0};
		lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2 + cases[k].n);
		if (!drive(loop, saw_closed, &o, 3000)) {
			print_error("%s: the connection stayed up\n", cases[k].what);
			failed++;
		} else if (o.nmsgs != 1 || strcmp(o.msgs[0], "ok")) {
			print_error("%s: %d messages delivered, want only \"ok\"\n", cases[k].what,
				    o.nmsgs);
			failed++;
		} else if (strcmp(o.reasons[find_state(&o, LT_WS_CLOSED, 0)],
				  cases[k].code == 1007 ? utf8_reason : protocol_reason)) {
			print_error("%s: told \"%s\"\n", cases[k].what,
				    o.reasons[find_state(&o, LT_WS_CLOSED, 0)]);
			failed++;
		} else if (!drive(loop, peer_got_close, &p, 3000) ||
			   atomic_load(&p.close_in) != cases[k].code) {
			print_error("%s: closed with %d, want %d\n", cases[k].what,
				    atomic_load(&p.close_in), cases[k].code);
			failed++;
		}
		finish(loop, &p, ws);
		obs_free(&o);
		lt_loop_free(loop);
	}
	assert_int_equal(failed, 0);
}

/* ---- close frames ------------------------------------------------------------------------ */

/* The peer answers the handshake, reads the queued messages, sends a close frame: a drop whose
 * reason carries the venue's code. */
static void test_peer_closing_is_a_drop(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "bye"}, {8, true, "\x03\xe8"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 2);
	assert_true(drive(loop, saw_closed, &o, 3000));
	assert_int_equal(o.nmsgs, 1);
	assert_string_equal(o.msgs[0], "bye");
	assert_int_equal(o.states[0], LT_WS_OPEN);
	assert_int_equal(count_state(&o, LT_WS_CLOSED), 1); /* no_reconnect */
	assert_string_equal(o.reasons[1], "closed by the venue (code 1000)");
	assert_int_equal(lt_ws_get_state(ws), LT_WS_CLOSED);
	assert_int_equal(lt_ws_last_fail(ws), LT_WS_FAIL_NONE); /* it had opened */
	send_text(ws, "{}", LT_ESTATE);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

static void test_venue_close_code_and_reason(void **state)
{
	(void)state;
	static const frame frames[] = {{8, true, "\x0f\xa0maintenance"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 1);
	assert_true(drive(loop, saw_closed, &o, 3000));
	int i = find_state(&o, LT_WS_CLOSED, 0);
	assert_string_equal(o.reasons[i], "closed by the venue (code 4000: maintenance)");
	/* the close handshake: the client answered with the venue's code (RFC 6455 §5.5.1) */
	assert_true(drive(loop, peer_got_close, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 4000);
	finish(loop, &p, ws);
	obs_free(&o);
	lt_loop_free(loop);
}

/* lt_ws_close on an open connection sends a close frame with 1000 before the TCP close. */
static void test_client_close_sends_1000(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = run_peer(loop, &p, &o, "/ws", 0, frames, 1);
	assert_int_equal(o.nmsgs, 1);
	lt_ws_close(ws);
	assert_true(drive(loop, peer_done, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1000);
	pthread_join(p.th, NULL);
	close(p.lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	obs_free(&o);
	lt_loop_free(loop);
}

/* ---- messages out ------------------------------------------------------------------------ */

/* Every frame the client sends has its own masking key (RFC 6455 5.3): eight messages, eight
 * keys, all different (the keys come from a pool of RAND_bytes output, src/ws_mask.h; a pool
 * that did not advance would repeat one). Two equal random keys among eight: p < 1e-8. */
static void test_each_frame_has_its_own_mask(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.want_in = MAX_IN;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){0});
	char text[16];
	for (int i = 0; i < MAX_IN; i++) {
		snprintf(text, sizeof text, "m%d", i);
		send_text(ws, text, 0);
	}
	int64_t deadline = lt_now_us() + 3000000;
	while (atomic_load(&p.got) < MAX_IN && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 5);
	finish(loop, &p, ws);
	assert_int_equal(p.nin, MAX_IN);
	for (int i = 0; i < MAX_IN; i++) {
		snprintf(text, sizeof text, "m%d", i);
		assert_string_equal(p.in[i], text);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(p.in_key[i], p.in_key[j], 4);
	}
	obs_free(&o);
	lt_loop_free(loop);
}

/* lt_ws_send refuses (LT_EFULL, buffer untouched) what would take the queue over
 * max_queue_bytes, takes what fits exactly, and has room again once the queue was written. */
static void test_send_queue_is_bounded(void **state)
{
	(void)state;
	lt_loop *loop = loop_new();
	peer p;
	memset(&p, 0, sizeof p);
	p.want_in = 3;
	peer_start(&p);
	obs o = {0};
	lt_ws *ws = connect_peer(loop, &p, &o, "/ws", (lt_ws_opts){.max_queue_bytes = 32});
	send_text(ws, "0123456789abcdefghij", 0); /* 20 */
	send_text(ws, "0123456789abc", LT_EFULL); /* 33 > 32 */
	send_text(ws, "0123456789ab", 0);         /* 32 fits exactly */
	send_text(ws, "x", LT_EFULL);
	assert_true(drive(loop, saw_open, &o, 3000));
	int64_t deadline = lt_now_us() + 3000000;
	while (lt_ws_get_stats(ws)->msgs_out < 2 && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 5);
	assert_int_equal(lt_ws_get_stats(ws)->msgs_out, 2);
	send_text(ws, "0123456789abcdefghij0123456789ab", 0); /* the queue is empty again */
	deadline = lt_now_us() + 3000000;
	while (lt_ws_get_stats(ws)->msgs_out < 3 && lt_now_us() < deadline)
		drive(loop, NULL, NULL, 5);
	finish(loop, &p, ws);
	assert_int_equal(p.nin, 3);
	assert_string_equal(p.in[0], "0123456789abcdefghij");
	assert_string_equal(p.in[1], "0123456789ab");
	assert_string_equal(p.in[2], "0123456789abcdefghij0123456789ab");
	obs_free(&o);
	lt_loop_free(loop);
}

/* Start a wss peer (the venue's certificate) that plays frames once want_in client messages
 * came, and connect to it with the venue's CA, without reconnecting. The caller frees p->tls. */
static lt_ws *connect_tls_peer(lt_loop *loop, peer *p, obs *o, const frame *frames, size_t n,
			       int want_in)
{
	memset(p, 0, sizeof *p);
	p->tls = venue_tls();
	p->frames = frames;
	p->nframes = n;
	p->want_in = want_in;
	peer_start(p);
	return connect_peer(loop, p, o, "/ws",
			    (lt_ws_opts){.ca_file = LT_CERT_DIR "/ca.pem", .no_reconnect = true});
}

/* A message sent while open, from outside the loop's service (as a Lua task sends an order), is
 * on the wire before lt_ws_send returns, not one poll later; later sends keep their order. */
static void test_send_outside_the_loop_goes_out_at_once(void **state)
{
	(void)state;
	static const frame frames[] = {{1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = connect_tls_peer(loop, &p, &o, frames, 1, 3);
	assert_true(drive(loop, saw_open, &o, 3000));
	send_text(ws, "{\"order\":1}", 0);
	int64_t deadline = lt_now_us() + 3000000; /* the loop is not serviced while we wait */
	while (atomic_load(&p.got) < 1 && lt_now_us() < deadline)
		usleep(1000);
	assert_int_equal(atomic_load(&p.got), 1);
	assert_string_equal(p.in[0], "{\"order\":1}");
	send_text(ws, "{\"order\":2}", 0);
	send_text(ws, "{\"order\":3}", 0);
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 5000));
	assert_string_equal(p.in[1], "{\"order\":2}");
	assert_string_equal(p.in[2], "{\"order\":3}");
	assert_int_equal(lt_ws_get_stats(ws)->msgs_out, 3);
	finish(loop, &p, ws);
	SSL_CTX_free(p.tls);
	obs_free(&o);
	lt_loop_free(loop);
}

/* wss end to end with the venue's CA: the TLS layer carries the upgrade, frames both ways and
 * the close handshake. */

static void test_wss_messages_both_ways(void **state)
{
	(void)state;
	static const frame frames[] = {
		{1, false, "over "}, {9, true, "tls"}, {0, true, "tls"}, {1, true, "end"}};
	lt_loop *loop = loop_new();
	peer p;
	obs o = {0};
	lt_ws *ws = connect_tls_peer(loop, &p, &o, frames, 4, 2);
	send_text(ws, "{\"first\":1}", 0);
	send_text(ws, "{\"second\":2}", 0);
	until_msg u = {&o, "end"};
	assert_true(drive(loop, saw_message, &u, 5000));
	assert_int_equal(o.nmsgs, 2);
	assert_string_equal(o.msgs[0], "over tls");
	assert_string_equal(p.in[0], "{\"first\":1}");
	assert_string_equal(p.in[1], "{\"second\":2}");
	assert_true(drive(loop, peer_got_pong, &p, 3000));
	assert_string_equal(p.pong, "tls");
	lt_ws_close(ws);
	assert_true(drive(loop, peer_done, &p, 3000));
	assert_int_equal(atomic_load(&p.close_in), 1000);
	pthread_join(p.th, NULL);
	close(p.lfd);
	drive(loop, NULL, NULL, 20);
	assert_int_equal(*lt_loop_conn_count(loop), 0);
	SSL_CTX_free(p.tls);
	obs_free(&o);
	lt_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_order_and_reassembly),
		cmocka_unit_test(test_send_outside_the_loop_goes_out_at_once),
		cmocka_unit_test(test_single_frame_oversize_is_dropped),
		cmocka_unit_test(test_peer_closing_is_a_drop),
		cmocka_unit_test(test_venue_close_code_and_reason),
		cmocka_unit_test(test_ping_between_fragments),
		cmocka_unit_test(test_frames_byte_by_byte),
		cmocka_unit_test(test_random_frames_never_break_the_client),
		cmocka_unit_test(test_venue_protocol_errors),
		cmocka_unit_test(test_client_close_sends_1000),
		cmocka_unit_test(test_each_frame_has_its_own_mask),
		cmocka_unit_test(test_send_queue_is_bounded),
		cmocka_unit_test(test_wss_messages_both_ways),
	};
	lt_log_set_level(LT_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
