/* envelope_fuzz.c — libFuzzer harness for the venue-message decoder (lt_json_decode_envelope)
 * with the real channel schemas and, by id, the ticker, order and auth result schemas (the
 * last with tokens, LT_T_SECRET): any input must decode or fail with LT_EJSON, leave the Lua
 * stack balanced, and never crash or raise. Run with `make fuzz` (seeds: tests/fixtures and
 * fuzz/seeds/envelope_fuzz/). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec.h"

/* public/auth's result (src/methods/auth.c), so that tokens decode into secrets. */
static const lt_field auth_fields[] = {
	{"access_token", &lt_s_secret},
	{"refresh_token", &lt_s_secret},
	{"expires_in", &lt_s_int},
	{"scope", &lt_s_string},
	{"enabled_features", &lt_s_string_array},
	{NULL, NULL},
};
static const lt_schema auth_result = {.type = LT_T_OBJECT, .fields = auth_fields};

static const lt_schema *res_result(void *ud, int64_t id)
{
	(void)ud;
	switch (id % 3) {
	case 0:
		return &auth_result;
	case 1:
		return &lt_s_ticker;
	default:
		return &lt_s_order_result;
	}
}

static const lt_schema *res_data(void *ud, const char *channel, size_t len)
{
	(void)ud;
	return lt_channel_schema(channel, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lt_resolver res = {res_result, res_data, NULL};
	lt_envelope env;
	lt_err err;
	/* a fresh state per input: nothing outlives it, so LeakSanitizer sees real leaks only */
	lua_State *L = luaL_newstate();
	int top = lua_gettop(L);
	int rc = lt_json_decode_envelope(L, (const char *)data, size, &res, &env, &err);
	if ((rc == 0 && lua_gettop(L) != top + 1) || (rc != 0 && lua_gettop(L) != top))
		abort();
	lua_settop(L, top);
	rc = lt_json_decode(L, (const char *)data, size, NULL, &err);
	lua_settop(L, top);
	lua_close(L);
	return 0;
}
