/* req_rec.c — see req_rec.h: recording done callbacks and a labelled submit helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "req_rec.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

int lt_test_in_submit, lt_test_seq;

void lt_test_on_done(void *ud, lt_req *req, const lt_req_end *e)
{
	lt_test_rec *r = ud;
	r->calls++;
	r->in_submit += lt_test_in_submit;
	r->seq = ++lt_test_seq;
	r->how = e->how;
	r->sent = e->sent;
	r->code = e->code;
	r->retry_after = e->retry_after;
	snprintf(r->msg, sizeof r->msg, "%s", e->msg ? e->msg : "");
	r->state = lt_req_get_state(req);
	r->id = lt_req_id(req);
	if (e->how == LT_DONE_RESULT || e->how == LT_DONE_ERROR) {
		if (!e->L) {
			r->anomalies++;
			return;
		}
		if (!lua_istable(e->L, -1)) {
			if (e->how == LT_DONE_ERROR)
				r->anomalies++;
			lua_pop(e->L, 1);
			return;
		}
		lua_getfield(e->L, -1, e->how == LT_DONE_ERROR ? "code" : "tag");
		if (e->how == LT_DONE_ERROR)
			r->err_code = lua_tointeger(e->L, -1);
		else if (lua_type(e->L, -1) == LUA_TSTRING)
			snprintf(r->tag, sizeof r->tag, "%s", lua_tostring(e->L, -1));
		lua_pop(e->L, 2);
	} else if (e->L)
		r->anomalies++;
}

int lt_test_submit(lt_cl *cl, lt_test_rec *r, const char *method, const char *label, lt_pool pool,
		   unsigned flags, int64_t timeout_ms, lt_req **out, lt_err *err)
{
	char t[256];
	int n = snprintf(t, sizeof t,
			 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"%s\","
			 "\"params\":{\"label\":\"%s\"}}",
			 method, label);
	assert_true(n > 0 && (size_t)n < sizeof t);
	lt_buf b;
	lt_buf_init(&b, LWS_PRE);
	lt_buf_add(&b, t, (size_t)n);
	lt_req_spec s = {.method = method,
			 .schema = NULL,
			 .pool = pool,
			 .cost = pool == LT_POOL_ME ? 1 : 500,
			 .flags = flags};
	lt_test_in_submit = 1;
	int rc = lt_cl_submit(cl, &s, &b, timeout_ms, lt_test_on_done, r, 0, out, err);
	lt_test_in_submit = 0;
	assert_null(b.data); /* the text is taken, on success and on failure */
	assert_int_equal(b.len, 0);
	return rc;
}

const char *lt_test_label(const char *label)
{
	static char buf[8][96];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "\"label\":\"%s\"}", label);
	return buf[i];
}
