/* log.h — the runtime's log: one line per event on stderr, level from LUATRADE_LOG
 * (error, warn, info, debug; default info) or lt_log_set_level. Callers never pass secrets or
 * tokens; message content from the venue is never logged whole. */
#ifndef LT_LOG_H
#define LT_LOG_H

enum { LT_LOG_ERROR = 0, LT_LOG_WARN, LT_LOG_INFO, LT_LOG_DEBUG };

void lt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lt_log_set_level(int level);
int lt_log_get_level(void);
/* Parse "error" | "warn" | "info" | "debug"; -1 if none of them. */
int lt_log_parse_level(const char *name);

#endif
