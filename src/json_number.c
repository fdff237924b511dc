/* json_number.c — JSON number text to Lua numbers for the decoder (json_decode_internal.h).
 *
 * yajl hands numbers over as text, so the schema decides integer vs float without a round
 * trip through double (codec.h "Decoding rules"). A fast scan handles integer text within
 * int64 and decimal text that one exact IEEE operation converts; everything else goes through
 * Lua's own reader.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_decode_internal.h"

enum { N_SLOW, N_INT, N_FLOAT };

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Scan JSON number text s[0..len) (not NUL-terminated). Integer text within int64 gives N_INT
 * and *iv; text whose value one exact IEEE operation yields (<= 2^53 mantissa, |exp10| <= 22)
 * gives N_FLOAT and *dv, correctly rounded. Anything else (or any unexpected byte) gives
 * N_SLOW: the caller converts with Lua's own reader. */
static int scan_number(const char *s, size_t len, lua_Integer *iv, double *dv)
{
	size_t p = 0;
	bool neg = false, isint = true;
	uint64_t m = 0;
	int nd = 0;
	long e10 = 0;
	if (p < len && s[p] == '-') {
		neg = true;
		p++;
	}
	if (p == len || s[p] < '0' || s[p] > '9')
		return N_SLOW;
	for (; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
		unsigned dig = (unsigned)(s[p] - '0');
		if (nd == 0 && dig == 0)
			continue;
		if (nd == 19)
			return N_SLOW;
		m = m * 10 + dig;
		nd++;
	}
	if (p < len && s[p] == '.') {
		isint = false;
		for (p++; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
			unsigned dig = (unsigned)(s[p] - '0');
			e10--;
			if (nd == 0 && dig == 0)
				continue;
			if (nd == 19)
				return N_SLOW;
			m = m * 10 + dig;
			nd++;
		}
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		long ex = 0, sign = 1;
		isint = false;
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			sign = s[p++] == '-' ? -1 : 1;
		for (; p < len && s[p] >= '0' && s[p] <= '9'; p++)
			if (ex < 100000)
				ex = ex * 10 + (s[p] - '0');
		e10 += sign * ex;
	}
	if (p != len)
		return N_SLOW;
	if (isint) {
		if (m > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
			return N_SLOW;
		*iv = !neg                           ? (lua_Integer)m
		      : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN
						     : -(lua_Integer)m;
		return N_INT;
	}
	if (m == 0) {
		*dv = neg ? -0.0 : 0.0;
		return N_FLOAT;
	}
	if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
		return N_SLOW;
	double v = (double)m;
	v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
	*dv = neg ? -v : v;
	return N_FLOAT;
}

bool lt_jnum_integral(double v, lua_Integer *out)
{
	if (v >= -0x1p63 && v < 0x1p63 && floor(v) == v) {
		*out = (lua_Integer)v;
		return true;
	}
	return false;
}

/* Slow path: Lua's reader (locale-independent, strtod rounding; beyond int64 -> float;
 * 1e400 -> inf). Pushes the number; false if the text is not a number. Raises nothing. */
static bool push_number_slow(lua_State *L, const char *s, size_t len)
{
	char small[64];
	char *t = len < sizeof small ? small : malloc(len + 1);
	if (!t)
		return false;
	memcpy(t, s, len);
	t[len] = '\0';
	size_t used = lua_stringtonumber(L, t);
	if (t != small)
		free(t);
	return used == len + 1;
}

/* Push number text typed by t: LT_T_INT -> integer when integral and within int64, else
 * float; LT_T_FLOAT -> float; anything else -> integer text within int64 is an integer,
 * other text a float. False for text that is no number (nothing pushed). */
bool lt_jnum_push(lua_State *L, const char *s, size_t len, lt_type t)
{
	lua_Integer iv;
	double dv;
	switch (scan_number(s, len, &iv, &dv)) {
	case N_INT:
		if (t == LT_T_FLOAT)
			lua_pushnumber(L, (lua_Number)iv);
		else
			lua_pushinteger(L, iv);
		return true;
	case N_FLOAT:
		if (t == LT_T_INT && lt_jnum_integral(dv, &iv))
			lua_pushinteger(L, iv);
		else
			lua_pushnumber(L, dv);
		return true;
	default:
		break;
	}
	if (!push_number_slow(L, s, len))
		return false;
	if (lua_isinteger(L, -1)) {
		if (t == LT_T_FLOAT) {
			iv = lua_tointeger(L, -1);
			lua_pop(L, 1);
			lua_pushnumber(L, (lua_Number)iv);
		}
	} else if (t == LT_T_INT && lt_jnum_integral(lua_tonumber(L, -1), &iv)) {
		lua_pop(L, 1);
		lua_pushinteger(L, iv);
	}
	return true;
}

bool lt_jnum_int(const char *s, size_t len, int64_t *out)
{
	lua_Integer iv;
	double dv;
	if (scan_number(s, len, &iv, &dv) != N_INT)
		return false;
	*out = iv;
	return true;
}
