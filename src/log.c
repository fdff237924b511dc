/* log.c — leveled logging to stderr, as text or one JSON object per line; see log.h. The level
 * and format are process-wide by nature (one stderr), so they are the one piece of static state
 * in the core. JSON lines are built with yajl's generator. */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl_gen.h>

#include "utf8.h"

static int current = -2; /* -2: not read from the environment yet */
static int format = -2;
static FILE *stream;

int lt_log_parse_level(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; name && i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int lt_log_parse_format(const char *name)
{
	if (name && strcmp(name, "text") == 0)
		return LT_LOG_TEXT;
	if (name && strcmp(name, "json") == 0)
		return LT_LOG_JSON;
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

int lt_log_get_format(void)
{
	if (format == -2) {
		int f = lt_log_parse_format(getenv("LUATRADE_LOG_FORMAT"));
		format = f < 0 ? LT_LOG_TEXT : f;
	}
	return format;
}

void lt_log_set_level(int level) { current = level; }
void lt_log_set_format(int f) { format = f; }
void lt_log_set_stream(FILE *f) { stream = f; }
bool lt_log_on(int level) { return level <= lt_log_get_level(); }

/* s, or a copy in buf with every byte of an invalid UTF-8 string above 0x7f replaced by '?'. */
static const char *clean(const char *s, char *buf, size_t n)
{
	size_t len = strlen(s);
	if (lt_utf8_ok((const unsigned char *)s, len))
		return s;
	size_t i = 0;
	for (; i + 1 < n && s[i]; i++)
		buf[i] = (unsigned char)s[i] > 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void gen_str(yajl_gen g, const char *s)
{
	char buf[1024];
	s = clean(s, buf, sizeof buf);
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* Write one JSON line to out; -1 if the generator failed (nothing written). */
static int json_line(FILE *out, const char *when, int level, const char *component,
		     const lt_log_field *f, int nf, const char *msg)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return -1;
	yajl_gen_map_open(g);
	gen_str(g, "time");
	gen_str(g, when);
	gen_str(g, "level");
	gen_str(g, names[level & 3]);
	gen_str(g, "component");
	gen_str(g, component ? component : "luatrade");
	gen_str(g, "message");
	gen_str(g, msg);
	gen_str(g, "fields");
	yajl_gen_map_open(g);
	for (int i = 0; i < nf; i++) {
		gen_str(g, f[i].key);
		if (f[i].str)
			gen_str(g, f[i].str);
		else if (f[i].num == (double)(long long)f[i].num)
			yajl_gen_integer(g, (long long)f[i].num);
		else
			yajl_gen_double(g, f[i].num);
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t len;
	int rc = yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok ? 0 : -1;
	if (!rc) {
		fwrite(buf, 1, len, out);
		fputc('\n', out);
		fflush(out);
	}
	yajl_gen_free(g);
	return rc;
}

static void vlog(int level, const char *component, const lt_log_field *f, int nf, const char *fmt,
		 va_list ap)
{
	static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	if (!lt_log_on(level))
		return;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	FILE *out = stream ? stream : stderr;
	if (lt_log_get_format() == LT_LOG_JSON) {
		char when[64];
		snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000);
		if (json_line(out, when, level, component, f, nf, msg) == 0)
			return;
	}
	fprintf(out, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, tags[level & 3], msg);
	fflush(out);
}

void lt_logf(int level, const char *component, const lt_log_field *fields, int nf, const char *fmt,
	     ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, component, fields, nf, fmt, ap);
	va_end(ap);
}

void lt_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}
