/* params_fuzz.c — libFuzzer harness for the parameter encoder, lt_method_encode (params.c), of
 * every method in lt_methods[]. The first input byte picks the method; the rest is read as a
 * program that builds one Lua value (reader below): a table whose keys are mostly the method's
 * own parameter names (so that validation gets past "unknown parameter") and whose values are
 * nested tables (depth <= 6), strings (random bytes, the parameter's enum values, a few venue
 * literals), integers (small, int64 extremes), floats (any bit pattern: NaN, inf, -0.0),
 * booleans, luatrade.null (NULL lightuserdata) and a C function. The value is encoded with a
 * random id, directly (lt_method_encode must not raise, so no protected call).
 * Invariants: never crashes or raises; the Lua stack is left as found; on 0 the text is
 * {"jsonrpc":"2.0","id":<id>,"method":"<name>"... and valid JSON (lt_json_decode) appended
 * after what the buffer held; on failure the code is LT_EINVAL (LT_ENOMEM only for memory),
 * the buffer is unchanged and the message names a parameter of the method, an unknown
 * parameter, or the method. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

typedef struct rd {
	const uint8_t *p;
	size_t n;
} rd;

static unsigned byte(rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint64_t word(rd *r, int nbytes)
{
	uint64_t v = 0;
	for (int i = 0; i < nbytes; i++)
		v = v << 8 | byte(r);
	return v;
}

static size_t nparams(const lt_method *m)
{
	size_t n = 0;
	while (m->params && m->params[n].name)
		n++;
	return n;
}

static const char *const literals[] = {
	"BTC-PERPETUAL",
	"ETH-PERPETUAL",
	"BTC",
	"ETH",
	"any",
	"future",
	"option",
	"limit",
	"market",
	"stop_market",
	"good_til_cancelled",
	"fill_or_kill",
	"buy",
	"sell",
	"ticker.BTC-PERPETUAL.100ms",
	"",
	"\xff\xfe",
	"a\"b\\c\n",
	"100",
	"1e400",
	"connection",
	"account",
};
#define NLIT (sizeof literals / sizeof literals[0])

static int cfunc(lua_State *L)
{
	(void)L;
	return 0;
}

static void push_value(lua_State *L, rd *r, const lt_method *m, const lt_param *hint, int depth);

static void push_key(lua_State *L, rd *r, const lt_method *m, const lt_param **hint)
{
	unsigned k = byte(r);
	size_t np = nparams(m);
	*hint = NULL;
	if (np && k < 200) {
		*hint = &m->params[k % np];
		lua_pushstring(L, (*hint)->name);
	} else if (k < 220) {
		lua_pushinteger(L, (lua_Integer)(k - 199));
	} else if (k < 240) {
		lua_pushstring(L, literals[k % NLIT]);
	} else if (k < 250) {
		size_t len = byte(r) % 16;
		char s[16];
		for (size_t i = 0; i < len; i++)
			s[i] = (char)byte(r);
		lua_pushlstring(L, s, len);
	} else {
		lua_pushboolean(L, 1); /* a non-string, non-integer key */
	}
}

static void push_table(lua_State *L, rd *r, const lt_method *m, int depth)
{
	unsigned n = byte(r) % 9;
	lua_createtable(L, 0, (int)n);
	for (unsigned i = 0; i < n && r->n; i++) {
		const lt_param *hint;
		push_key(L, r, m, &hint);
		push_value(L, r, m, hint, depth + 1);
		lua_rawset(L, -3);
	}
}

static void push_value(lua_State *L, rd *r, const lt_method *m, const lt_param *hint, int depth)
{
	unsigned op = byte(r) % 12;
	if (op >= 10 && depth >= 6)
		op = 0;
	switch (op) {
	case 0:
		lua_pushinteger(L, (lua_Integer)(int8_t)byte(r));
		break;
	case 1:
		lua_pushinteger(L, (lua_Integer)word(r, 8));
		break;
	case 2: {
		uint64_t bits = word(r, 8);
		double d;
		memcpy(&d, &bits, sizeof d);
		lua_pushnumber(L, d);
		break;
	}
	case 3:
		lua_pushnumber(L, (double)(int16_t)word(r, 2) / 4.0);
		break;
	case 4:
		lua_pushboolean(L, (int)(byte(r) & 1));
		break;
	case 5: {
		size_t len = byte(r) % 80;
		char s[80];
		for (size_t i = 0; i < len; i++)
			s[i] = (char)byte(r);
		lua_pushlstring(L, s, len);
		break;
	}
	case 6: {
		unsigned i = byte(r);
		if (hint && hint->type == LT_P_ENUM && hint->enums) {
			size_t ne = 0;
			while (hint->enums[ne])
				ne++;
			lua_pushstring(L, hint->enums[i % ne]);
		} else
			lua_pushstring(L, literals[i % NLIT]);
		break;
	}
	case 7:
		lua_pushlightuserdata(L, NULL);
		break; /* luatrade.null */
	case 8:
		if (byte(r) & 1)
			lua_pushcfunction(L, cfunc);
		else
			lua_pushnil(L);
		break;
	case 9:
		lua_pushinteger(L, (byte(r) & 1) ? INT64_MIN : INT64_MAX);
		break;
	default:
		push_table(L, r, m, depth);
		break;
	}
}

static void check(bool ok, const char *what, const lt_method *m, const lt_err *err)
{
	if (!ok) {
		fprintf(stderr, "params_fuzz: %s (%s: %s)\n", what, m->name, err ? err->msg : "");
		abort();
	}
}

/* Does msg name a parameter of m, an unknown parameter, or m? */
static bool names_parameter(const lt_method *m, const char *msg)
{
	if (strstr(msg, "parameter") || strncmp(msg, m->name, strlen(m->name)) == 0)
		return true;
	for (size_t i = 0; i < nparams(m); i++) {
		size_t n = strlen(m->params[i].name);
		if (strncmp(msg, m->params[i].name, n) == 0 && strchr(":[.", msg[n]))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t nm = 0;
	while (lt_methods[nm])
		nm++;
	const lt_method *m = lt_methods[data[0] % nm];
	rd r = {data + 1, size - 1};
	int64_t id = (int64_t)(word(&r, 2) + 1);
	/* a fresh state per input: nothing outlives it, so LeakSanitizer sees real leaks only */
	lua_State *L = luaL_newstate();
	int top = lua_gettop(L);
	if (byte(&r) < 240)
		push_table(L, &r, m, 0);
	else
		push_value(L, &r, m, NULL, 0);
	int idx = lua_gettop(L);
	lt_buf b;
	lt_buf_init(&b, 16);
	lt_buf_add(&b, "x", 1); /* what the buffer held before */
	lt_err err = {0, ""};
	int rc = lt_method_encode(L, idx, m, id, &b, &err);
	check(lua_gettop(L) == idx, "stack balance", m, &err);
	if (rc == 0) {
		char head[160];
		int hn = snprintf(head, sizeof head,
				  "x{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\"",
				  (long long)id, m->name);
		const char *text = lt_buf_text(&b);
		check(b.len > (size_t)hn && memcmp(text, head, (size_t)hn) == 0, "request head", m,
		      &err);
		lt_err jerr = {0, ""};
		check(lt_json_decode(L, text + 1, b.len - 1, NULL, &jerr) == 0, "valid JSON", m,
		      &jerr);
		lua_pop(L, 1);
	} else {
		check(rc == LT_EINVAL || rc == LT_ENOMEM, "LT_EINVAL", m, &err);
		check(err.msg[0] && names_parameter(m, err.msg), "message names a parameter", m,
		      &err);
		check(b.len == 1 && lt_buf_text(&b)[0] == 'x', "buffer unchanged", m, &err);
	}
	lt_buf_free(&b);
	lua_settop(L, top);
	lua_close(L);
	return 0;
}
