/* rpc.c — JSON-RPC 2.0 ids, pending table, timeouts and routing; see rpc.h. */
#include "rpc.h"

#include <lauxlib.h>
#include <libwebsockets.h>

#include "log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 64

typedef struct pending {
	struct pending *next;
	lt_rpc *rpc;
	int64_t id;
	const lt_schema *schema;
	lt_rpc_done_fn done; /* NULL: answer is dropped silently (heartbeat replies) */
	void *ud;
	lws_sorted_usec_list_t sul;
} pending;

struct lt_rpc {
	lua_State *L; /* own decoding thread */
	int thread_ref;
	lt_loop *loop;
	lt_rpc_cbs cbs;
	void *ud;
	int64_t next_id;
	int npending;
	bool answer_test_request;
	pending *buckets[NBUCKETS];
	lt_rpc_stats stats;
	lt_rpc_fields_fn fields_fn; /* lt_rpc_set_fields_hook */
	void *fields_ud;
	lt_schema proj; /* the projection of the message being decoded */
};

static pending **slot(lt_rpc *r, int64_t id)
{
	pending **pp = &r->buckets[(uint64_t)id % NBUCKETS];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Unlink the pending entry for id and stop its timer; the caller owns (and frees) it. */
static pending *take(lt_rpc *r, int64_t id)
{
	pending **pp = slot(r, id), *p = *pp;
	if (!p)
		return NULL;
	*pp = p->next;
	r->npending--;
	lws_sul_cancel(&p->sul);
	return p;
}

static void finish(pending *p, lt_done how, lua_State *L)
{
	if (p->done)
		p->done(p->ud, how, L);
	else if (L)
		lua_pop(L, 1);
	free(p);
}

int lt_rpc_new(lua_State *L, lt_loop *loop, const lt_rpc_cbs *cbs, void *ud, lt_rpc **out,
	       lt_err *err)
{
	*out = NULL;
	lt_rpc *r = calloc(1, sizeof *r);
	if (!r)
		return lt_err_set(err, LT_ENOMEM, "out of memory");
	r->L = lua_newthread(L);
	r->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	r->loop = loop;
	r->cbs = *cbs;
	r->ud = ud;
	r->next_id = 1;
	r->answer_test_request = true;
	*out = r;
	return 0;
}

void lt_rpc_fail_all(lt_rpc *r)
{
	for (int b = 0; b < NBUCKETS; b++) {
		while (r->buckets[b]) {
			pending *p = take(r, r->buckets[b]->id);
			r->stats.lost++;
			finish(p, LT_DONE_LOST, NULL);
		}
	}
}

void lt_rpc_free(lt_rpc *r)
{
	if (!r)
		return;
	lt_rpc_fail_all(r);
	luaL_unref(r->L, LUA_REGISTRYINDEX, r->thread_ref);
	free(r);
}

int64_t lt_rpc_alloc_id(lt_rpc *r) { return r->next_id++; }

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	pending *p = lws_container_of(sul, pending, sul);
	lt_rpc *r = p->rpc;
	p = take(r, p->id);
	r->stats.timeouts++;
	finish(p, LT_DONE_TIMEOUT, NULL);
	lt_loop_wake(r->loop); /* timers run just before the poll: do not let it block */
}

int lt_rpc_request(lt_rpc *r, int64_t id, lt_buf *msg, const lt_schema *schema, int64_t timeout_ms,
		   lt_rpc_done_fn done, void *ud)
{
	if (id <= 0 || id >= r->next_id || *slot(r, id))
		return LT_EINVAL;
	pending *p = calloc(1, sizeof *p);
	if (!p)
		return LT_ENOMEM;
	int rc = r->cbs.send(r->ud, msg);
	if (rc) {
		free(p);
		return rc;
	}
	p->rpc = r;
	p->id = id;
	p->schema = schema;
	p->done = done;
	p->ud = ud;
	pending **pp = &r->buckets[(uint64_t)id % NBUCKETS];
	p->next = *pp;
	*pp = p;
	r->npending++;
	if (timeout_ms > 0)
		lws_sul_schedule(lt_loop_context(r->loop), 0, &p->sul, timeout_cb,
				 (lws_usec_t)timeout_ms * 1000);
	return 0;
}

int lt_rpc_cancel(lt_rpc *r, int64_t id)
{
	pending *p = take(r, id);
	if (!p)
		return LT_ENOTFOUND;
	free(p);
	return 0;
}

/* Answer the venue's heartbeat test_request with public/test (deribit-api.md §2). */
static void answer_test_request(lt_rpc *r)
{
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	int64_t id = lt_rpc_alloc_id(r);
	char head[96];
	int n = snprintf(head, sizeof head,
			 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"public/test\"}",
			 (long long)id);
	lt_buf_add(&b, head, (size_t)n);
	if (lt_rpc_request(r, id, &b, NULL, 30000, NULL, NULL))
		lt_log(LT_LOG_WARN, "could not answer a heartbeat test_request");
	lt_buf_free(&b);
}

static const lt_schema *resolve_result(void *ud, int64_t id)
{
	pending *p = *slot(ud, id);
	return p ? p->schema : NULL;
}

/* The channel's schema read lazily (a field is decoded when the handler reads it), its
 * projection when the fields hook names keys for the channel, or the schema itself when the
 * hook asks for the full decode (one message is decoded at a time per rpc: r->proj serves
 * that decode). */
static const lt_schema *resolve_data(void *ud, const char *channel, size_t len)
{
	lt_rpc *r = ud;
	const lt_schema *s = lt_channel_schema(channel, len);
	bool lazy = true;
	const lt_fields *f =
		r->fields_fn ? r->fields_fn(r->fields_ud, r->L, channel, len, &lazy) : NULL;
	if (!f && !lazy)
		return s;
	r->proj = f ? lt_fields_schema(f, s) : lt_lazy_schema(s);
	return &r->proj;
}

typedef struct msg_view {
	lt_rpc *r;
	const char *msg;
	size_t len;
	lt_err err;
} msg_view;

/* Runs under lua_pcall on the rpc thread: decode and route one message. */
static int handle_protected(lua_State *L)
{
	msg_view *v = lua_touserdata(L, 1);
	lt_rpc *r = v->r;
	lua_settop(L, 0);
	lt_envelope env;
	lt_resolver res = {resolve_result, resolve_data, r};
	if (lt_json_decode_envelope(L, v->msg, v->len, &res, &env, &v->err)) {
		r->stats.malformed++;
		return 0;
	}
	switch (env.kind) {
	case LT_MSG_RESULT:
	case LT_MSG_ERROR: {
		pending *p = take(r, env.id);
		if (!p) {
			r->stats.unknown_ids++;
			lt_err_set(&v->err, LT_ENOTFOUND, "response for unknown id %lld",
				   (long long)env.id);
			lua_pop(L, 1);
			return 0;
		}
		if (env.kind == LT_MSG_RESULT)
			r->stats.results++;
		else
			r->stats.errors++;
		finish(p, env.kind == LT_MSG_RESULT ? LT_DONE_RESULT : LT_DONE_ERROR, L);
		break;
	}
	case LT_MSG_NOTIFY:
		r->stats.notifications++;
		if (r->cbs.on_notify)
			r->cbs.on_notify(r->ud, env.channel, L);
		else
			lua_pop(L, 1);
		break;
	case LT_MSG_HEARTBEAT:
		r->stats.heartbeats++;
		lua_pop(L, 1);
		if (strcmp(env.hb_type, "test_request") == 0 && r->answer_test_request) {
			if (r->cbs.on_test_request)
				r->cbs.on_test_request(r->ud);
			else
				answer_test_request(r);
		}
		break;
	}
	return 0;
}

void lt_rpc_on_message(lt_rpc *r, const char *msg, size_t len)
{
	msg_view v = {r, msg, len, {0, ""}};
	lua_State *L = r->L;
	int top = lua_gettop(L);
	lua_pushcfunction(L, handle_protected);
	lua_pushlightuserdata(L, &v);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		lt_log(LT_LOG_ERROR, "dropped a %zu-byte message: %s", len, lua_tostring(L, -1));
		r->stats.malformed++;
	} else if (v.err.code) {
		/* never log the content: it may carry tokens */
		lt_log(LT_LOG_WARN, "dropped a %zu-byte message: %s", len, v.err.msg);
	}
	lua_settop(L, top);
}

void lt_rpc_set_fields_hook(lt_rpc *r, lt_rpc_fields_fn fn, void *ud)
{
	r->fields_fn = fn;
	r->fields_ud = ud;
}

void lt_rpc_set_answer_test_request(lt_rpc *r, bool on) { r->answer_test_request = on; }
int lt_rpc_pending_count(const lt_rpc *r) { return r->npending; }
const lt_rpc_stats *lt_rpc_get_stats(const lt_rpc *r) { return &r->stats; }
