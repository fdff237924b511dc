/* json_envelope.c — the JSON-RPC envelope state machine of the decoder (codec.h:
 * lt_json_decode_envelope; deribit-api.md §1 envelope).
 *
 * The envelope decoder runs json_decode.c's callbacks with two extra frame kinds for the
 * top-level object and for "params": their scalars (id, method, channel, usIn, ...) go into
 * lt_envelope, unknown keys are skipped without pushing anything, and only the payload
 * (result, error or params.data) is pushed. A payload is decoded with the schema its id or
 * channel selects; one that comes before its selector is skipped, and the message is decoded a
 * second time with the selector known (json_retype.c), so the outcome does not depend on key
 * order and no payload is ever decoded with the wrong schema.
 */
#include <string.h>

#include "json_decode_internal.h"

static const char *slot_name(lt_jd_slot s)
{
	return s == JS_RESULT ? "result" : s == JS_ERROR ? "error" : "params.data";
}

/* A message has one payload: fails (0) if one was already decoded or deferred. */
static int second_payload(lt_jd *d, lt_jd_slot slot)
{
	if (!d->payload && !d->deferred)
		return 1;
	if (d->payload_slot == slot)
		return lt_jd_fail(d, "json-rpc: duplicate %s", slot_name(slot));
	return lt_jd_fail(d, "json-rpc: message has both %s and %s", slot_name(d->payload_slot),
			  slot_name(slot));
}

/* The slot key k selects in envelope frame f. */
static lt_jd_slot key_slot(const lt_jd_frame *f, const char *k, size_t len)
{
	static const struct {
		const char *name;
		lt_jd_slot slot;
	} keys[] = {
		{"id", JS_ID},       {"method", JS_METHOD}, {"params", JS_PARAMS},
		{"usIn", JS_USIN},   {"usOut", JS_USOUT},   {"testnet", JS_TESTNET},
		{"error", JS_ERROR}, {"result", JS_RESULT},
	};
	if (f->kind == JF_PARAMS)
		return len == 7 && !memcmp(k, "channel", 7) ? JS_CHANNEL
		       : len == 4 && !memcmp(k, "type", 4)  ? JS_TYPE
		       : len == 4 && !memcmp(k, "data", 4)  ? JS_DATA
							    : JS_IGNORE;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (lt_jd_key_eq(keys[i].name, k, len))
			return keys[i].slot;
	return JS_IGNORE; /* jsonrpc, usDiff and unknown keys */
}

/* Contract in json_decode_internal.h. The resolver is asked here when the selector came first
 * (the venue's order), else by json_retype.c. A deferred payload is checked against a second
 * one at once (a decoded one when it is complete: lt_jenv_payload), so that neither is decoded
 * with a schema chosen too early. */
int lt_jenv_key(lt_jd *d, lt_jd_frame *f, const char *k, size_t len)
{
	static const lt_field error_fields[] = {
		{"code", &lt_s_int}, {"message", &lt_s_string}, {NULL, NULL}};
	static const lt_schema error_schema = {LT_T_OBJECT, error_fields, NULL, 3};
	const lt_resolver *r = d->res;
	f->next = NULL;
	f->slot = key_slot(f, k, len);
	if (f->slot == JS_RESULT && d->env->has_id) {
		if (r && r->result)
			f->next = r->result(r->ud, d->env->id);
	} else if (f->slot == JS_DATA && d->has_channel) {
		if (r && r->data)
			f->next = r->data(r->ud, d->env->channel, d->chan_len);
	} else if (f->slot == JS_ERROR) { /* typed by its own schema, not by the id */
		f->next = &error_schema;
	} else if ((f->slot == JS_RESULT || f->slot == JS_DATA) && !lt_jretype_select(d, f)) {
		if (!second_payload(d, f->slot))
			return 0;
		d->deferred = true; /* skip the value: the second pass decodes it */
		d->payload_slot = f->slot;
		f->slot = JS_IGNORE;
	}
	return 1;
}

/* A second payload is an error. */
int lt_jenv_payload(lt_jd *d, lt_jd_frame *f)
{
	if (!second_payload(d, f->slot))
		return 0;
	d->payload = lua_gettop(d->L);
	d->payload_slot = f->slot;
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
	case JS_ID: /* a second id could select another schema than the one used: refused */
		if (env->has_id)
			return lt_jd_fail(d, "json-rpc: duplicate id");
		if (jt == LT_J_STRING)
			return lt_jd_fail(d, "json-rpc: string id is not supported");
		if (jt != LT_J_NUMBER || !lt_jnum_int(s, len, &env->id))
			return lt_jd_fail(d, "json-rpc: id is not an integer");
		env->has_id = true;
		break;
	case JS_METHOD:
		d->method = jt != LT_J_STRING                             ? JM_OTHER
			    : len == 12 && !memcmp(s, "subscription", 12) ? JM_SUBSCRIPTION
			    : len == 9 && !memcmp(s, "heartbeat", 9)      ? JM_HEARTBEAT
									  : JM_OTHER;
		break;
	case JS_CHANNEL:
		if (jt != LT_J_STRING)
			break;
		if (d->has_channel) /* as a second id */
			return lt_jd_fail(d, "json-rpc: duplicate params.channel");
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
		if (jt == LT_J_NUMBER ||
		    jt == LT_J_STRING) /* §1: integers, or strings in some captures */
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
		return lt_err_set(err, LT_EJSON,
				  "json-rpc: response %lld has neither result nor error",
				  (long long)env->id);
	if (!lua_istable(L, -1))
		return lt_err_set(err, LT_EJSON,
				  "json-rpc: error of response %lld is not an object",
				  (long long)env->id);
	env->kind = LT_MSG_ERROR;
	lua_pushliteral(L, "code");
	if (lua_rawget(L, -2) == LUA_TNUMBER && lua_isinteger(L, -1))
		env->error_code = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return 0;
}

/* After a successful parse: classify the message (§1) and leave exactly the one value to
 * return above top. A first pass that deferred the payload gets here only if its selector is
 * missing: the message is an error (or a heartbeat, whose params.data is not returned). */
static int finish_envelope(lt_jd *d, int top, lt_err *err)
{
	lua_State *L = d->L;
	lt_envelope *env = d->env;
	if (env->has_id) {
		if (d->payload_slot != JS_RESULT)
			return finish_error(d, err);
		env->kind = LT_MSG_RESULT;
		return 0;
	}
	if (d->payload_slot == JS_RESULT || d->payload_slot == JS_ERROR)
		return lt_err_set(err, LT_EJSON, "json-rpc: %s without an id",
				  slot_name(d->payload_slot));
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
	return 0;
}

/* One parse of the message with d set up for it (known: NULL in a first pass). Leaves the
 * field-name cache and what was decoded on the stack. */
static int envelope_pass(lt_jd *d, const char *buf, size_t len, const lt_resolver *res,
			 lt_envelope *env, const lt_jd_known *known, lt_err *err)
{
	lt_jd_init(d, d->L, JF_ENVROOT, NULL);
	d->res = res;
	d->env = env;
	d->known = known;
	return lt_jd_parse(d, buf, len, err);
}

/* After a first pass that deferred the payload and found its selector: the second pass, with
 * the selector known, which decodes the payload with its schema. */
static int second_pass(lt_jd *d, const char *buf, size_t len, int top, lt_err *err)
{
	lt_envelope *env = d->env;
	lt_jd_known k = {.has_id = env->has_id,
			 .has_channel = d->has_channel,
			 .id = env->id,
			 .chan_len = d->chan_len};
	memcpy(k.channel, env->channel, sizeof k.channel);
	lua_settop(d->L, top);
	memset(env, 0, sizeof *env);
	return envelope_pass(d, buf, len, d->res, env, &k, err);
}

/* Contract in codec.h; errors as lt_json_decode, plus "json-rpc: ..." messages for messages of
 * the wrong shape. *env is zeroed first and again on failure. The resolver (or either of its
 * functions) may be NULL: ANY. It is asked once per message, when the selecting id/channel is
 * known: a payload that comes before it is decoded in a second pass (json_retype.c), which
 * only a message that parsed completely and names the selector gets. resolver->result is not
 * asked for error responses (they have their own {code INT, message STRING} schema). A second
 * id or params.channel is refused. Unknown top-level and params keys are skipped without being
 * pushed; "jsonrpc" and "usDiff" are not checked. */
int lt_json_decode_envelope(lua_State *L, const char *buf, size_t len, const lt_resolver *res,
			    lt_envelope *env, lt_err *err)
{
	lt_jd d;
	memset(env, 0, sizeof *env);
	if (!lua_checkstack(L, 8))
		return lt_err_set(err, LT_ENOMEM, "json: Lua stack overflow");
	int top = lua_gettop(L);
	if (!buf) {
		buf = "";
		len = 0;
	}
	d.L = L;
	int rc = envelope_pass(&d, buf, len, res, env, NULL, err);
	if (rc == 0 && d.deferred && (d.payload_slot == JS_RESULT ? env->has_id : d.has_channel))
		rc = second_pass(&d, buf, len, top, err);
	if (rc == 0)
		rc = finish_envelope(&d, top + 1, err);
	if (rc == 0 && lua_gettop(L) != top + 2)
		rc = lt_err_set(err, LT_EJSON, "json-rpc: internal error: %d values",
				lua_gettop(L) - top - 1);
	if (rc) {
		lua_settop(L, top);
		memset(env, 0, sizeof *env);
	} else {
		lua_replace(L, top + 1); /* the value over the cache */
	}
	return rc;
}
