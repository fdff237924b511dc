/* log.h — the runtime's log: one line per event on stderr, level from LUATRADE_LOG (error,
 * warn, info, debug; default info) or lt_log_set_level, format from LUATRADE_LOG_FORMAT (text,
 * json; default text) or lt_log_set_format. Callers never pass secrets or tokens, nor the
 * parameters of public/auth; message content from the venue is never logged whole.
 *
 * text: "HH:MM:SS.mmm LEVEL message" (UTC), the fields are not printed (the message says it).
 * json: one object per line, encoded with yajl's generator, for log shippers:
 *     {"time":"2026-12-02T01:58:06.295Z","level":"debug","component":"request",
 *      "message":"public/ticker id 7: result in 1.2 ms","fields":{"method":"public/ticker",
 *      "id":7,"ms":1.2}}
 * Invalid UTF-8 in a message or field is replaced by '?' so every line parses.
 *
 * Example:
 *     if (lt_log_on(LT_LOG_DEBUG)) {
 *             lt_log_field f[] = {LT_LF_S("url", url), LT_LF_N("code", 1000)};
 *             lt_logf(LT_LOG_DEBUG, "ws", f, 2, "%s: closed (code %d)", url, 1000);
 *     }
 * Nothing here fails: a line that cannot be encoded (out of memory) is written as text. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum { LT_LOG_ERROR = 0, LT_LOG_WARN, LT_LOG_INFO, LT_LOG_DEBUG };
enum { LT_LOG_TEXT = 0, LT_LOG_JSON };

/* One structured field of a log event: a string (str != NULL) or a number. */
typedef struct lt_log_field {
	const char *key;
	const char *str;
	double num;
} lt_log_field;
#define LT_LF_S(k, v) ((lt_log_field){(k), (v) ? (v) : "", 0})
#define LT_LF_N(k, v) ((lt_log_field){(k), NULL, (double)(v)})

/* The general entry point: level, component ("ws", "client", "request", "auth", "subs",
 * "lua", "runner", ...), nf fields, printf message. */
void lt_logf(int level, const char *component, const lt_log_field *fields, int nf, const char *fmt,
	     ...) __attribute__((format(printf, 5, 6)));
/* lt_logf with component "luatrade" and no fields (the calls that predate components). */
void lt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Would a line at this level be written? (Guard the work of building fields.) */
bool lt_log_on(int level);
void lt_log_set_level(int level);
int lt_log_get_level(void);
/* Parse "error" | "warn" | "info" | "debug"; -1 if none of them. */
int lt_log_parse_level(const char *name);
/* LT_LOG_TEXT or LT_LOG_JSON; lt_log_parse_format("text" | "json") -> -1 if neither. */
void lt_log_set_format(int format);
int lt_log_get_format(void);
int lt_log_parse_format(const char *name);
/* Where lines go (default stderr; tests pass a tmpfile). NULL restores stderr. */
void lt_log_set_stream(FILE *f);

#endif
