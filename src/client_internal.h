/* client_internal.h — what client.c (the client object: connection, keepalive, events) and
 * request.c (the request lifecycle) share; nothing else includes it. client.c calls request.c
 * (lt_reqs_*), never the other way round. */
#ifndef LT_CLIENT_INTERNAL_H
#define LT_CLIENT_INTERNAL_H

#include <libwebsockets.h>

#include "client.h"

typedef struct req_list {
	lt_req *head, *tail;
} req_list;

struct lt_req {
	lt_cl *cl;
	lt_req_state state;
	unsigned flags;
	char method[64];
	const lt_schema *schema;
	lt_pool pool;
	int cost;
	int (*build)(void *ud, uint64_t tag, int64_t id, lt_buf *out);
	void *build_ud;
	lt_buf text;            /* encoded with id 0 until sent */
	int64_t deadline_us;    /* 0 = none */
	int64_t limit_since_us; /* when it entered WAIT_LIMIT */
	int64_t sent_us;        /* when it was written (0 = not sent): the round trip */
	bool throttled;         /* it had to wait for credits there */
	bool wait_logged;       /* its limiter wait is in the debug log */
	bool in_submit;         /* lt_cl_submit is running for it: end it later, not now */
	int64_t end_code;       /* a refusal deferred past lt_cl_submit */
	double end_retry;
	char end_msg[200];
	int64_t id;
	uint64_t conn_epoch, auth_epoch;
	lt_req_done_fn done; /* NULL once withdrawn */
	void *ud;
	uint64_t tag;
	req_list *list; /* the wait list it is on, if any */
	lt_req *prev, *next;
	lws_sorted_usec_list_t sul; /* the deadline */
};

struct lt_cl {
	lt_loop *loop;
	const lt_transport *tp;
	void *conn; /* the transport's handle */
	lt_rpc *rpc;
	lt_rl rl;
	lt_cl_opts o;
	lt_cl_events ev;
	void *ud;
	lt_cl_hooks hooks;
	bool open, closing, pumping, again, gate_dirty;
	uint64_t epoch;
	req_list wait_auth, wait_limit[4];
	req_list refusing;  /* refusals deferred past their lt_cl_submit (refuse_due) */
	struct pool_timer { /* wakes the pump when a pool's head may go */
		lws_sorted_usec_list_t sul;
		lt_cl *cl;
	} pool_t[4];
	double refusal_retry;
	int64_t refusal_code;
	char url[256];
	char down_reason[160]; /* why the connection is not open (last drop or failure) */
	lt_cl_stats stats;
};

static inline int64_t lt_cl_clock(const lt_cl *cl)
{
	return cl->o.now_us ? cl->o.now_us() : lt_now_us();
}

/* The connection dropped: waiting requests wait again in their order, bound ones end. */
void lt_reqs_requeue(lt_cl *cl);
/* The client closes: every waiting request ends REFUSED (not sent). */
void lt_reqs_close(lt_cl *cl);

#endif
