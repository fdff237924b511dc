/* heartbeat.c — public/set_heartbeat on the simulated venue (deribit-api.md §2, §9): every
 * `interval` seconds the server sends {"method":"heartbeat","params":{"type":"test_request"}};
 * the client must answer with a public/test request before the next one is due, or the
 * connection is closed at once. The timer is an lws_sul embedded in the connection. While the
 * connection is blackholed (sim/fault blackhole) no test_request goes out and none is waited
 * for; the cadence resumes when the blackhole ends. */
#include "internal.h"

#include "json.h"

static void hb_fire(lws_sorted_usec_list_t *sul)
{
	lt_sim_conn *c = lws_container_of(sul, lt_sim_conn, hb_sul);
	if (!c->sim || !c->hb_interval_ms)
		return;
	if (c->blackhole) { /* silent: no test_request, and none left unanswered to close on */
		c->hb_pending = false;
		lws_sul_schedule(c->sim->ctx, 0, &c->hb_sul, hb_fire,
				 (lws_usec_t)c->hb_interval_ms * LWS_US_PER_MS);
		return;
	}
	if (c->hb_pending) {
		lt_sim_log(c->sim, 1, "#%u test_request unanswered, closing", c->id);
		lt_sim_conn_close(c);
		return;
	}
	lt_sim_msg *m = lt_sim_msg_new();
	if (m)
		LT_SIM_LIT(&m->b, "{\"jsonrpc\":\"2.0\",\"method\":\"heartbeat\","
				  "\"params\":{\"type\":\"test_request\"}}");
	lt_sim_conn_send(c, m);
	c->hb_pending = true;
	lws_sul_schedule(c->sim->ctx, 0, &c->hb_sul, hb_fire,
			 (lws_usec_t)c->hb_interval_ms * LWS_US_PER_MS);
}

void lt_sim_hb_set(lt_sim_conn *c, int64_t interval_ms)
{
	c->hb_interval_ms = interval_ms;
	c->hb_pending = false;
	lws_sul_schedule(c->sim->ctx, 0, &c->hb_sul, hb_fire,
			 (lws_usec_t)interval_ms * LWS_US_PER_MS);
}

void lt_sim_hb_disable(lt_sim_conn *c)
{
	lws_sul_cancel(&c->hb_sul);
	c->hb_interval_ms = 0;
	c->hb_pending = false;
}

void lt_sim_hb_answered(lt_sim_conn *c) { c->hb_pending = false; }
