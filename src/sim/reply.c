/* reply.c — how the simulated venue writes JSON-RPC responses and notifications
 * (deribit-api.md §1): every response echoes the request id as given (integer or string, null
 * when it could not be read) and carries usIn, usOut, usDiff and testnet:true; -32602 errors
 * carry data {"param":..,"reason":..}. All JSON goes through lt_buf and the lt_jw_* writers. */
#include "internal.h"

#include <string.h>

#include "json.h"

static void write_head(lt_sim_req *rq, const char *member)
{
	lt_buf *b = &rq->msg->b;
	lt_buf_reset(b);
	LT_SIM_LIT(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	if (rq->id && YAJL_IS_INTEGER(rq->id))
		lt_jw_int(b, YAJL_GET_INTEGER(rq->id));
	else if (rq->id && YAJL_IS_STRING(rq->id))
		lt_jw_string(b, rq->id->u.string, strlen(rq->id->u.string));
	else
		LT_SIM_LIT(b, "null");
	lt_buf_add(b, ",\"", 2);
	lt_buf_add(b, member, strlen(member));
	lt_buf_add(b, "\":", 2);
}

lt_buf *lt_sim_reply_begin(lt_sim_req *rq)
{
	write_head(rq, "result");
	return &rq->msg->b;
}

void lt_sim_reply_end(lt_sim_req *rq)
{
	lt_buf *b = &rq->msg->b;
	int64_t out = lt_sim_now_us() + (rq->delay_ms > 0 ? rq->delay_ms * 1000 : 0);
	LT_SIM_LIT(b, ",\"usIn\":");
	lt_jw_int(b, rq->us_in);
	LT_SIM_LIT(b, ",\"usOut\":");
	lt_jw_int(b, out);
	LT_SIM_LIT(b, ",\"usDiff\":");
	lt_jw_int(b, out - rq->us_in);
	LT_SIM_LIT(b, ",\"testnet\":true}");
	lt_sim_msg *m = rq->msg;
	rq->msg = NULL;
	rq->done = true;
	lt_sim_conn *to = rq->reply_conn ? rq->reply_conn : rq->conn;
	if (rq->delay_ms >= 0)
		lt_sim_faults_hold(to, m, rq->delay_ms);
	else
		lt_sim_conn_send(to, m);
}

void lt_sim_reply_ok(lt_sim_req *rq)
{
	lt_buf *b = lt_sim_reply_begin(rq);
	LT_SIM_LIT(b, "\"ok\"");
	lt_sim_reply_end(rq);
}

static void reply_error_data(lt_sim_req *rq, int64_t code, const char *message, const char *param,
			     const char *reason)
{
	write_head(rq, "error");
	lt_sim_jo o;
	lt_sim_jo_begin(&o, &rq->msg->b);
	lt_sim_jo_int(&o, "code", code);
	lt_sim_jo_str(&o, "message", message);
	if (reason) {
		lt_sim_jo d;
		lt_sim_jo_key(&o, "data");
		lt_sim_jo_begin(&d, &rq->msg->b);
		if (param)
			lt_sim_jo_str(&d, "param", param);
		lt_sim_jo_str(&d, "reason", reason);
		lt_sim_jo_end(&d);
	}
	lt_sim_jo_end(&o);
	lt_sim_reply_end(rq);
}

void lt_sim_reply_error(lt_sim_req *rq, int64_t code, const char *message)
{
	reply_error_data(rq, code, message, NULL, NULL);
}

void lt_sim_reply_bad_request(lt_sim_req *rq, const char *reason)
{
	reply_error_data(rq, -32600, "Invalid Request", NULL, reason);
}

int lt_sim_reply_invalid(lt_sim_req *rq, const char *param, const char *reason)
{
	reply_error_data(rq, -32602, "Invalid params", param, reason);
	return -1;
}

lt_sim_msg *lt_sim_notify_begin(const char *channel)
{
	lt_sim_msg *m = lt_sim_msg_new();
	if (!m)
		return NULL;
	LT_SIM_LIT(&m->b,
		   "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":");
	lt_jw_string(&m->b, channel, strlen(channel));
	LT_SIM_LIT(&m->b, ",\"data\":");
	return m;
}

void lt_sim_notify_end(lt_sim_conn *c, lt_sim_msg *m)
{
	LT_SIM_LIT(&m->b, "}}");
	lt_sim_conn_send(c, m);
}

void lt_sim_reply_deliver(lt_sim_conn *c, lt_sim_msg *m) { lt_sim_conn_send(c, m); }
