/* lt.h — what every luatrade C file shares: status codes and the caller-supplied error struct.
 *
 * Convention (STYLE.md §2): functions return int, 0 on success, a negative LT_E* on failure, and
 * fill the caller's lt_err with a message that names what was wrong. Messages never contain
 * credentials or tokens.
 */
#ifndef LT_H
#define LT_H

#include <stddef.h>
#include <stdint.h>

enum {
	LT_OK = 0,
	LT_EINVAL = -1,    /* bad argument or parameter (validation) */
	LT_ENOMEM = -2,    /* allocation failed */
	LT_EJSON = -3,     /* malformed JSON or wrong shape */
	LT_EIO = -4,       /* connection or socket failure */
	LT_ESTATE = -6,    /* call not allowed in the current state (closed, not connected) */
	LT_ETLS = -7,      /* TLS setup or certificate problem */
	LT_ENOTFOUND = -8, /* unknown id, method or name */
	LT_EFULL = -9      /* a bounded queue is full */
};

typedef struct lt_err {
	int code;      /* one of LT_E*, or 0 */
	char msg[256]; /* human-readable, NUL-terminated */
} lt_err;

/* Fill *e (if not NULL) with code and a printf-style message; returns code so callers can
 * `return lt_err_set(e, LT_EINVAL, "...")`. */
int lt_err_set(lt_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format a double so that strtod() of the text gives back the same double, using the shortest
 * of %.15g, %.16g, %.17g that round-trips. Integral values print without exponent up to 1e15
 * ("100", "93201.5", "2.68e-07"). buf must hold 32 bytes. Returns the length. NaN and infinity
 * are not JSON: they format as "null". */
size_t lt_fmt_double(char buf[32], double v);

#endif
