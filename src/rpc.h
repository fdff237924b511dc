/* rpc.h — JSON-RPC 2.0 over one connection: sequential ids, the pending table, a timeout per
 * request, and routing of results, errors and notifications (deribit-api.md §1).
 *
 * Transport-agnostic: requests leave through a send function, messages come in through
 * lt_rpc_on_message. Decoding goes straight to Lua values (codec.h) on the rpc's own Lua thread,
 * inside a protected call, so malformed input can never unwind through libwebsockets.
 *
 * Every request registered with lt_rpc_request ends exactly once: its done callback runs with
 * LT_DONE_RESULT or LT_DONE_ERROR (response), LT_DONE_TIMEOUT, or LT_DONE_LOST
 * (lt_rpc_fail_all, on connection loss or close) — unless the owner withdraws it first with
 * lt_rpc_cancel, after which nothing is called. Requests are never re-sent.
 *
 * Example:
 *     int64_t id = lt_rpc_alloc_id(rpc);
 *     lt_method_encode(L, idx, &lt_m_ticker, id, &buf, &err);
 *     lt_rpc_request(rpc, id, &buf, lt_m_ticker.result, 10000, done, task);  // done runs once
 * Errors: lt_rpc_request returns the transport's error (LT_ESTATE, LT_ENOMEM) or LT_EINVAL for an
 * id that was not allocated or is pending. Callers consult their limiter before a request.
 */
#ifndef LT_RPC_H
#define LT_RPC_H

#include <lua.h>
#include <stdbool.h>

#include "codec.h"
#include "loop.h"

typedef struct lt_rpc lt_rpc;

typedef enum {
	LT_DONE_RESULT = 0, /* result value on top of L */
	LT_DONE_ERROR,      /* error table {code, message, data} on top of L */
	LT_DONE_TIMEOUT,    /* nothing pushed */
	LT_DONE_LOST,       /* nothing pushed: connection lost or closed */
	LT_DONE_REFUSED     /* nothing pushed: never sent (client.c: closed, limiter, auth) */
} lt_done;

/* Called once per request. For RESULT/ERROR the callee must pop the value (leave L's top as it
 * found it minus one); L is the rpc's decoding thread. */
typedef void (*lt_rpc_done_fn)(void *ud, lt_done how, lua_State *L);

typedef struct lt_rpc_cbs {
	/* Transport: take msg's memory and queue it; return 0 or LT_E*. */
	int (*send)(void *ud, lt_buf *msg);
	/* A subscription notification: data on top of L (callee pops it). */
	void (*on_notify)(void *ud, const char *channel, lua_State *L);
	/* The venue's heartbeat test_request (optional): the owner answers it with public/test
	 * through its limiter. When NULL the rpc answers it itself. */
	void (*on_test_request)(void *ud);
} lt_rpc_cbs;

typedef struct lt_rpc_stats {
	unsigned long long results, errors, notifications, heartbeats, timeouts, lost, unknown_ids,
		malformed;
} lt_rpc_stats;

/* L: any thread of the runtime's Lua state; the rpc makes and anchors its own thread from it.
 * loop: for the timeout timers. */
int lt_rpc_new(lua_State *L, lt_loop *loop, const lt_rpc_cbs *cbs, void *ud, lt_rpc **out,
	       lt_err *err);

/* Fails every pending request with LT_DONE_LOST, then releases everything. Accepts NULL. */
void lt_rpc_free(lt_rpc *r);

/* Allocate the id a new request must carry (sequential per rpc, from 1; never reused). */
int64_t lt_rpc_alloc_id(lt_rpc *r);

/* Register the request whose text is in msg (encoded with an id from lt_rpc_alloc_id) and send it.
 * schema types its result; timeout_ms > 0 bounds the wait. On failure (the send refused) the
 * request is not registered, done is never called, and the error is returned. */
int lt_rpc_request(lt_rpc *r, int64_t id, lt_buf *msg, const lt_schema *schema, int64_t timeout_ms,
		   lt_rpc_done_fn done, void *ud);

/* Withdraw a pending request without calling its done function (its task went away). The
 * venue's eventual answer is then dropped as an unknown id. Returns LT_ENOTFOUND if not pending. */
int lt_rpc_cancel(lt_rpc *r, int64_t id);

/* Fail every pending request with LT_DONE_LOST (connection dropped). */
void lt_rpc_fail_all(lt_rpc *r);

/* Handle one complete message from the venue: route a response to its pending request, a
 * notification to on_notify, answer a heartbeat test_request with public/test (unless
 * lt_rpc_set_answer_test_request(r, false)). Malformed input and unknown ids are counted,
 * logged without the message content, and dropped. */
void lt_rpc_on_message(lt_rpc *r, const char *msg, size_t len);

/* How to decode a notification's data (client:subscribe's `fields` and `lazy` options): fn
 * is asked, on the rpc's Lua thread L and inside the decode, for each notification's channel.
 * It returns the lt_fields to keep (alive until the decode ends): the data is then decoded
 * with lt_fields_schema(fields, lt_channel_schema(channel)), only those keys of the data
 * object (or of each object of a data array), typed by the channel's schema. Or it returns
 * NULL for every key: lazily (lt_lazy_schema: fields decoded when read) unless it cleared
 * *lazy (which comes in true), then in full. Without a hook every notification is lazy. fn
 * must not decode JSON; it may read the registry (balanced stack). NULL removes.
 * Example: lt_rpc_set_fields_hook(lt_cl_rpc(cl), subs_fields, client); */
typedef const lt_fields *(*lt_rpc_fields_fn)(void *ud, lua_State *L, const char *channel,
					     size_t len, bool *lazy);
void lt_rpc_set_fields_hook(lt_rpc *r, lt_rpc_fields_fn fn, void *ud);

void lt_rpc_set_answer_test_request(lt_rpc *r, bool on);
int lt_rpc_pending_count(const lt_rpc *r);
const lt_rpc_stats *lt_rpc_get_stats(const lt_rpc *r);

#endif
