/* lua_fire.c — requests sent without awaiting their answer (unsubscribe on close, re-subscribe
 * and set_heartbeat after a reconnect). They still go through the client's limiter: when it
 * says wait, the encoded request is held on a timer and sent when its turn comes. */
#include <libwebsockets.h>
#include <stdlib.h>

#include "log.h"
#include "lua_client.h"

struct lt_deferred {
	lt_deferred *next;
	lt_client *c;
	lt_buf b;
	int64_t id;
	lws_sorted_usec_list_t sul;
};

static void send_now(lt_client *c, lt_buf *b, int64_t id)
{
	if (lt_rpc_request(c->rpc, id, b, NULL, 30000, NULL, NULL))
		lt_log(LT_LOG_WARN, "%s: could not send a background request", c->url);
}

static void deferred_fire(lws_sorted_usec_list_t *sul)
{
	lt_deferred *d = lws_container_of(sul, lt_deferred, sul);
	lt_client *c = d->c;
	for (lt_deferred **pp = &c->deferred; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	send_now(c, &d->b, d->id);
	lt_buf_free(&d->b);
	free(d);
}

int lt_fire(lua_State *L, lt_client *c, const lt_method *m, int params_idx)
{
	if (c->closed || !m)
		return LT_ESTATE;
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_err err = {0, ""};
	int64_t id = lt_rpc_alloc_id(c->rpc);
	if (lt_method_encode(L, params_idx, m, id, &b, &err)) {
		lt_log(LT_LOG_ERROR, "%s: %s", m->name, err.msg);
		lt_buf_free(&b);
		return err.code;
	}
	int64_t delay = lt_rl_reserve(&c->rl, m->pool, m->cost, lt_now_us());
	if (delay <= 0) {
		send_now(c, &b, id);
		lt_buf_free(&b);
		return 0;
	}
	lt_deferred *d = calloc(1, sizeof *d);
	if (!d) {
		lt_buf_free(&b);
		return LT_ENOMEM;
	}
	d->c = c;
	d->b = b;
	d->id = id;
	d->next = c->deferred;
	c->deferred = d;
	lws_sul_schedule(lt_loop_context(c->rt->loop), 0, &d->sul, deferred_fire,
			 (lws_usec_t)delay);
	return 0;
}

void lt_fire_cancel_all(lt_client *c)
{
	while (c->deferred) {
		lt_deferred *d = c->deferred;
		c->deferred = d->next;
		lws_sul_cancel(&d->sul);
		lt_buf_free(&d->b);
		free(d);
	}
}
