/* json_envelope.c — the JSON-RPC envelope state machine of the decoder (codec.h:
 * lt_json_decode_envelope; deribit-api.md §1 envelope).
 *
 * The envelope decoder runs json_decode.c's callbacks with two extra frame kinds for the
 * top-level object and for "params": their scalars (id, method, channel, usIn, ...) go into
 * lt_envelope, unknown keys are skipped without pushing anything, and only the payload
 * (result, error or params.data) is pushed. A payload decoded before its id/channel was known
 * is retyped after the parse (json_retype.c) so the outcome does not depend on key order.
 */
#include <string.h>

#include "json_decode_internal.h"

/* For a payload key, sets f->next to its schema when the selecting id/channel is already
 * known (asking the resolver) and records in pending_typed whether it was. */
lt_jd_slot lt_jenv_slot(lt_jd *d, lt_jd_frame *f, const char *k, size_t len)
{
	const lt_resolver *r = d->res;
	f->next = NULL;
	if (f->kind == JF_PARAMS) {
		if (len == 7 && !memcmp(k, "channel", 7))
			return JS_CHANNEL;
		if (len == 4 && !memcmp(k, "type", 4))
			return JS_TYPE;
		if (len == 4 && !memcmp(k, "data", 4)) {
			d->pending_typed = d->has_channel;
			if (d->has_channel && r && r->data)
				f->next = r->data(r->ud, d->env->channel, d->chan_len);
			return JS_DATA;
		}
		return JS_IGNORE;
	}
	static const struct { const char *name; lt_jd_slot slot; } keys[] = {
		{"id", JS_ID}, {"method", JS_METHOD}, {"params", JS_PARAMS}, {"usIn", JS_USIN},
		{"usOut", JS_USOUT}, {"testnet", JS_TESTNET}, {"error", JS_ERROR}, {"result", JS_RESULT},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (lt_jd_key_eq(keys[i].name, k, len)) {
			if (keys[i].slot == JS_RESULT) {
				d->pending_typed = d->env->has_id;
				if (d->env->has_id && r && r->result)
					f->next = r->result(r->ud, d->env->id);
			} else if (keys[i].slot == JS_ERROR) {
				static const lt_field error_fields[] = {
					{"code", &lt_s_int}, {"message", &lt_s_string}, {NULL, NULL}
				};
				static const lt_schema error_schema = {LT_T_OBJECT, error_fields, NULL, 3};
				d->pending_typed = true;
				f->next = &error_schema;
			}
			return keys[i].slot;
		}
	return JS_IGNORE;  /* jsonrpc, usDiff and unknown keys */
}

static const char *slot_name(lt_jd_slot s)
{
	return s == JS_RESULT ? "result" : s == JS_ERROR ? "error" : "params.data";
}

/* A second payload is an error. */
int lt_jenv_payload(lt_jd *d, lt_jd_frame *f)
{
	if (d->payload) {
		if (d->payload_slot == f->slot)
			return lt_jd_fail(d, "json-rpc: duplicate %s", slot_name(f->slot));
		return lt_jd_fail(d, "json-rpc: message has both %s and %s", slot_name(d->payload_slot),
				  slot_name(f->slot));
	}
	d->payload = lua_gettop(d->L);
	d->payload_slot = f->slot;
	d->payload_typed = d->pending_typed;
	return 1;
}

/* Copy an envelope string into its fixed buffer; fails (0) naming `what` if it does not fit. */
static int copy_text(lt_jd *d, char *dst, size_t cap, const char *s, size_t len, const char *what)
{
	if (len >= cap)
		return lt_jd_fail(d, "json-rpc: %s longer than %zu bytes", what, cap - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 1;
}

/* Records what the slot wants. */
int lt_jenv_scalar(lt_jd *d, lt_jd_frame *f, int jt, const char *s, size_t len)
{
	lt_envelope *env = d->env;
	if (f->kind == JF_ENVROOT)
		return lt_jd_fail(d, "json-rpc: message is not an object");
	switch (f->slot) {
	case JS_ID:
		if (jt == LT_J_STRING)
			return lt_jd_fail(d, "json-rpc: string id is not supported");
		if (jt != LT_J_NUMBER || !lt_jnum_int(s, len, &env->id))
			return lt_jd_fail(d, "json-rpc: id is not an integer");
		env->has_id = true;
		break;
	case JS_METHOD:
		d->method = jt != LT_J_STRING ? JM_OTHER
			  : len == 12 && !memcmp(s, "subscription", 12) ? JM_SUBSCRIPTION
			  : len == 9 && !memcmp(s, "heartbeat", 9) ? JM_HEARTBEAT : JM_OTHER;
		break;
	case JS_CHANNEL:
		if (jt != LT_J_STRING)
			break;
		if (!copy_text(d, env->channel, sizeof env->channel, s, len, "channel"))
			return 0;
		d->chan_len = len;
		d->has_channel = true;
		break;
	case JS_TYPE:
		if (jt != LT_J_STRING)
			break;
		if (!copy_text(d, env->hb_type, sizeof env->hb_type, s, len, "params.type"))
			return 0;
		break;
	case JS_USIN:
	case JS_USOUT:
		if (jt == LT_J_NUMBER || jt == LT_J_STRING)  /* §1: integers, or strings in some captures */
			(void)lt_jnum_int(s, len, f->slot == JS_USIN ? &env->us_in : &env->us_out);
		break;
	case JS_TESTNET:
		if (jt == LT_J_BOOL)
			env->testnet = len != 0;
		break;
	default:
		break;
	}
	return 1;
}

int lt_jenv_open(lt_jd *d, lt_jd_frame *f, bool map)
{
	if (f->kind == JF_ENVROOT) {
		if (!map)
			return lt_jd_fail(d, "json-rpc: message is not an object");
		lt_jd_push_frame(d, JF_ENV, NULL);
		return 1;
	}
	if (f->slot == JS_PARAMS && map && f->kind == JF_ENV) {
		lt_jd_push_frame(d, JF_PARAMS, NULL);
		return 1;
	}
	if (f->slot == JS_ID)
		return lt_jd_fail(d, "json-rpc: id is not an integer");
	d->skip = 1;
	return 1;
}

/* An error response: its payload must be an object; error_code from its integer code. */
static int finish_error(lt_jd *d, lt_err *err)
{
	lua_State *L = d->L;
	lt_envelope *env = d->env;
	if (d->payload_slot != JS_ERROR)
		return lt_err_set(err, LT_EJSON, "json-rpc: response %lld has neither result nor error",
				  (long long)env->id);
	if (!lua_istable(L, -1))
		return lt_err_set(err, LT_EJSON, "json-rpc: error of response %lld is not an object",
				  (long long)env->id);
	env->kind = LT_MSG_ERROR;
	lua_pushliteral(L, "code");
	if (lua_rawget(L, -2) == LUA_TNUMBER && lua_isinteger(L, -1))
		env->error_code = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return 0;
}

/* After a successful parse: classify the message (§1), retype a payload that was decoded
 * before its id/channel, and leave exactly the one value to return above top. */
static int finish_envelope(lt_jd *d, int top, lt_err *err)
{
	lua_State *L = d->L;
	lt_envelope *env = d->env;
	const lt_resolver *r = d->res;
	if (env->has_id) {
		if (d->payload_slot != JS_RESULT)
			return finish_error(d, err);
		env->kind = LT_MSG_RESULT;
		if (!d->payload_typed && r && r->result)
			lt_jretype(L, r->result(r->ud, env->id));
		return 0;
	}
	if (d->payload_slot == JS_RESULT || d->payload_slot == JS_ERROR)
		return lt_err_set(err, LT_EJSON, "json-rpc: %s without an id", slot_name(d->payload_slot));
	if (d->method == JM_HEARTBEAT) {
		env->kind = LT_MSG_HEARTBEAT;
		lua_settop(L, top);
		lua_pushnil(L);
		return 0;
	}
	if (d->method != JM_SUBSCRIPTION)
		return lt_err_set(err, LT_EJSON, "json-rpc: message has no id and no known method");
	if (!d->has_channel)
		return lt_err_set(err, LT_EJSON, "json-rpc: notification without params.channel");
	if (d->payload_slot != JS_DATA)
		return lt_err_set(err, LT_EJSON, "json-rpc: notification on %s without params.data",
				  env->channel);
	env->kind = LT_MSG_NOTIFY;
	if (!d->payload_typed && r && r->data)
		lt_jretype(L, r->data(r->ud, env->channel, d->chan_len));
	return 0;
}

/* Contract in codec.h; errors as lt_json_decode, plus "json-rpc: ..." messages for messages of
 * the wrong shape. *env is zeroed first and again on failure. The resolver (or either of its
 * functions) may be NULL: ANY. resolver->result is not asked for error responses (they have
 * their own {code INT, message STRING} schema). Unknown top-level and params keys are skipped
 * without being pushed; "jsonrpc" and "usDiff" are not checked. */
int lt_json_decode_envelope(lua_State *L, const char *buf, size_t len, const lt_resolver *res,
			    lt_envelope *env, lt_err *err)
{
	lt_jd d;
	memset(env, 0, sizeof *env);
	if (!lua_checkstack(L, 8))
		return lt_err_set(err, LT_ENOMEM, "json: Lua stack overflow");
	int top = lua_gettop(L);
	lt_jd_init(&d, L, JF_ENVROOT, NULL);
	d.res = res;
	d.env = env;
	int rc = lt_jd_parse(&d, buf ? buf : "", buf ? len : 0, err);
	if (rc == 0)
		rc = finish_envelope(&d, top + 1, err);
	if (rc == 0 && lua_gettop(L) != top + 2)
		rc = lt_err_set(err, LT_EJSON, "json-rpc: internal error: %d values",
				lua_gettop(L) - top - 1);
	if (rc) {
		lua_settop(L, top);
		memset(env, 0, sizeof *env);
	} else {
		lua_replace(L, top + 1);  /* the value over the cache */
	}
	return rc;
}
