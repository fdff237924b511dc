/* fake_transport.c — see fake_transport.h: a recording fake transport, a fake clock and a
 * bounded loop driver for client.c / private.c tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_transport.h"

#include <lauxlib.h>
#include <libwebsockets.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_fake_tp *armed;

int64_t lt_fake_clock_us;

int64_t lt_fake_now_us(void) { return lt_fake_clock_us; }

static int fake_open(lt_loop *loop, const lt_ws_opts *o, const lt_ws_cbs *cbs, void *ud, void **out,
		     lt_err *err)
{
	(void)loop;
	(void)o;
	(void)err;
	lt_fake_tp *t = armed;
	assert_non_null(t); /* lt_fake_tp_arm before lt_cl_new */
	armed = NULL;
	t->cbs = *cbs; /* cbs lives on lt_cl_new's stack: copy it */
	t->ud = ud;
	t->bound = true;
	t->open_calls++;
	*out = t;
	return 0;
}

static int fake_send(void *tp, lt_buf *msg)
{
	lt_fake_tp *t = tp;
	t->send_calls++;
	if (t->fail_sends > 0) {
		t->fail_sends--;
		return t->send_rc;
	}
	if (t->nwire == t->capwire) {
		t->capwire = t->capwire ? t->capwire * 2 : 64;
		t->wire = realloc(t->wire, (size_t)t->capwire * sizeof *t->wire);
		assert_non_null(t->wire);
	}
	char *copy = malloc(msg->len + 1);
	assert_non_null(copy);
	memcpy(copy, lt_buf_text(msg), msg->len);
	copy[msg->len] = '\0';
	t->wire[t->nwire++] = copy;
	if (t->on_send)
		t->on_send(t->on_send_ud, copy);
	lt_buf_free(msg); /* takes msg's memory, as lt_ws_send does */
	return 0;
}

static void fake_close(void *tp) { ((lt_fake_tp *)tp)->close_calls++; }

static void fake_hold_off(void *tp, int ms)
{
	lt_fake_tp *t = tp;
	t->hold_off_calls++;
	t->last_hold_off_ms = ms;
}

static void fake_set_ready(void *tp) { ((lt_fake_tp *)tp)->set_ready_calls++; }

const lt_transport lt_fake_transport = {fake_open, fake_send, fake_close, fake_hold_off,
					fake_set_ready};

void lt_fake_tp_init(lt_fake_tp *t) { memset(t, 0, sizeof *t); }

void lt_fake_tp_arm(lt_fake_tp *t) { armed = t; }

void lt_fake_tp_free(lt_fake_tp *t)
{
	for (int i = 0; i < t->nwire; i++)
		free(t->wire[i]);
	free(t->wire);
	t->wire = NULL;
	t->nwire = t->capwire = 0;
	if (armed == t)
		armed = NULL;
}

void lt_fake_open(lt_fake_tp *t)
{
	assert_true(t->bound);
	t->cbs.on_state(t->ud, LT_WS_OPEN, NULL);
}

void lt_fake_drop(lt_fake_tp *t, const char *reason)
{
	assert_true(t->bound);
	t->cbs.on_state(t->ud, LT_WS_RECONNECTING, reason);
}

void lt_fake_deliver(lt_fake_tp *t, const char *json)
{
	assert_true(t->bound);
	t->cbs.on_message(t->ud, json, strlen(json));
}

void lt_fake_deliverf(lt_fake_tp *t, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	lt_fake_deliver(t, buf);
}

const char *lt_fake_sent(const lt_fake_tp *t, int i)
{
	if (i < 0 || i >= t->nwire)
		fail_msg("no text %d on the fake wire (%d sent)", i, t->nwire);
	return t->wire[i];
}

int64_t lt_fake_id(const lt_fake_tp *t, int i)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	const char *s = lt_fake_sent(t, i);
	if (strncmp(s, head, sizeof head - 1) != 0)
		return -1;
	return strtoll(s + sizeof head - 1, NULL, 10);
}

int lt_fake_count_from(const lt_fake_tp *t, int from, const char *needle)
{
	int n = 0;
	for (int i = from < 0 ? 0 : from; i < t->nwire; i++)
		n += strstr(t->wire[i], needle) != NULL;
	return n;
}

int lt_fake_find(const lt_fake_tp *t, int from, const char *needle)
{
	for (int i = from < 0 ? 0 : from; i < t->nwire; i++)
		if (strstr(t->wire[i], needle))
			return i;
	return -1;
}

typedef struct ticker {
	lws_sorted_usec_list_t sul;
	lt_loop *loop;
} ticker;

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	ticker *k = lws_container_of(sul, ticker, sul);
	lws_sul_schedule(lt_loop_context(k->loop), 0, &k->sul, tick_cb, 2 * 1000);
}

int64_t lt_test_run(lt_loop *loop, int64_t ms, bool (*done)(void *arg), void *arg)
{
	ticker k;
	memset(&k, 0, sizeof k);
	k.loop = loop;
	lws_sul_schedule(lt_loop_context(loop), 0, &k.sul, tick_cb, 2 * 1000);
	int64_t start = lt_now_us(), end = start + ms * 1000;
	while (!(done && done(arg)) && lt_now_us() < end)
		assert_int_equal(lt_loop_service(loop), 0);
	lws_sul_cancel(&k.sul);
	return (lt_now_us() - start) / 1000;
}

void lt_fake_env_open(lua_State **L, lt_loop **loop, lt_fake_tp *tp, lt_cl_opts *o,
		      int64_t clock0_us)
{
	*L = luaL_newstate();
	assert_non_null(*L);
	luaL_openlibs(*L);
	lt_err err;
	assert_int_equal(lt_loop_new(loop, &err), 0);
	lt_fake_tp_init(tp);
	o->transport = &lt_fake_transport;
	o->now_us = lt_fake_now_us;
	o->ws.url = "wss://fake.invalid/ws/api/v2";
	lt_fake_clock_us = clock0_us;
}

void lt_fake_env_close(lua_State *L, lt_loop *loop, lt_fake_tp *tp)
{
	lt_fake_tp_free(tp);
	lt_loop_free(loop);
	lua_close(L);
}
