/* params.c — validation of named request parameters for the simulated venue's handlers
 * (deribit-api.md §1: params are named; invalid ones get -32602 "Invalid params" with data
 * {"param":name,"reason":..}). Each getter returns 1 when the parameter is present and valid,
 * 0 when an optional one is absent, -1 after it has answered the request with the error.
 * Unknown parameters are ignored. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The parameter's node, or NULL (absent or JSON null: both mean "not given"). */
static yajl_val get(lt_sim_req *rq, const char *name)
{
	yajl_val v = lt_sim_json_get(rq->params, name);
	return v && !YAJL_IS_NULL(v) ? v : NULL;
}

static int absent(lt_sim_req *rq, const char *name, bool required)
{
	return required ? lt_sim_reply_invalid(rq, name, "value required") : 0;
}

int lt_sim_param_str(lt_sim_req *rq, const char *name, bool required, const char **out)
{
	yajl_val v = get(rq, name);
	if (!v)
		return absent(rq, name, required);
	if (!YAJL_IS_STRING(v))
		return lt_sim_reply_invalid(rq, name, "must be a string");
	*out = v->u.string;
	return 1;
}

int lt_sim_param_enum(lt_sim_req *rq, const char *name, bool required, const char *const *allowed,
		      const char **out)
{
	const char *s;
	int rc = lt_sim_param_str(rq, name, required, &s);
	if (rc <= 0)
		return rc;
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(*a, s) == 0) {
			*out = s;
			return 1;
		}
	char reason[200];
	size_t n = (size_t)snprintf(reason, sizeof reason, "must be one of");
	for (const char *const *a = allowed; *a && n < sizeof reason; a++)
		n += (size_t)snprintf(reason + n, sizeof reason - n, "%s %s",
				      a == allowed ? "" : ",", *a);
	return lt_sim_reply_invalid(rq, name, reason);
}

int lt_sim_param_num(lt_sim_req *rq, const char *name, bool required, double *out)
{
	yajl_val v = get(rq, name);
	if (!v)
		return absent(rq, name, required);
	if (!YAJL_IS_NUMBER(v))
		return lt_sim_reply_invalid(rq, name, "must be a number");
	double d = YAJL_IS_DOUBLE(v) ? v->u.number.d : (double)v->u.number.i;
	if (!isfinite(d))
		return lt_sim_reply_invalid(rq, name, "must be a finite number");
	*out = d;
	return 1;
}

int lt_sim_param_int(lt_sim_req *rq, const char *name, bool required, int64_t *out)
{
	yajl_val v = get(rq, name);
	if (!v)
		return absent(rq, name, required);
	if (!YAJL_IS_INTEGER(v))
		return lt_sim_reply_invalid(rq, name, "must be an integer");
	*out = v->u.number.i;
	return 1;
}

int lt_sim_param_bool(lt_sim_req *rq, const char *name, bool required, bool *out)
{
	yajl_val v = get(rq, name);
	if (!v)
		return absent(rq, name, required);
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return lt_sim_reply_invalid(rq, name, "must be a boolean");
	*out = YAJL_IS_TRUE(v);
	return 1;
}

int lt_sim_param_strarr(lt_sim_req *rq, const char *name, bool required, size_t max, yajl_val *out)
{
	yajl_val v = get(rq, name);
	if (!v)
		return absent(rq, name, required);
	if (!YAJL_IS_ARRAY(v))
		return lt_sim_reply_invalid(rq, name, "must be an array of strings");
	if (v->u.array.len > max)
		return lt_sim_reply_invalid(rq, name, "too many elements");
	for (size_t i = 0; i < v->u.array.len; i++)
		if (!YAJL_IS_STRING(v->u.array.values[i]))
			return lt_sim_reply_invalid(rq, name, "must be an array of strings");
	*out = v;
	return 1;
}

/* deribit-api.md §8: an unknown instrument is 13020 not_found. */
lt_sim_ins *lt_sim_param_instrument(lt_sim_req *rq, const char *name)
{
	const char *s;
	if (lt_sim_param_str(rq, name, true, &s) <= 0)
		return NULL;
	lt_sim_ins *ins = lt_sim_market_find(rq->sim->mkt, s);
	if (!ins)
		lt_sim_reply_error(rq, 13020, "not_found");
	return ins;
}
