/* log.c — leveled logging to stderr; see log.h. The level is process-wide by nature (one
 * stderr), so it is the one piece of static state in the core. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int current = -2; /* -2: not read from the environment yet */

int lt_log_parse_level(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; name && i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int lt_log_get_level(void)
{
	if (current == -2) {
		int l = lt_log_parse_level(getenv("LUATRADE_LOG"));
		current = l < 0 ? LT_LOG_INFO : l;
	}
	return current;
}

void lt_log_set_level(int level) { current = level; }

void lt_log(int level, const char *fmt, ...)
{
	static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	if (level > lt_log_get_level())
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, tags[level & 3], line);
}
