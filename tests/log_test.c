/* log_test.c — src/log.c: level filtering, the text line, the json line (parsed back with yajl's
 * tree parser: time, level, component, message, fields with strings and numbers; quotes,
 * newlines, control characters and invalid UTF-8 in messages still give one valid object per
 * line), the level and format names. Lines go to a tmpfile (lt_log_set_stream). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl_tree.h>

#include "log.h"

static FILE *out;

static int setup(void **state)
{
	(void)state;
	out = tmpfile();
	assert_non_null(out);
	lt_log_set_stream(out);
	lt_log_set_level(LT_LOG_INFO);
	lt_log_set_format(LT_LOG_TEXT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lt_log_set_stream(NULL);
	fclose(out);
	return 0;
}

/* Everything written so far (static buffer), and start afresh. */
static const char *written(void)
{
	static char buf[16384];
	fflush(out);
	long n = ftell(out);
	rewind(out);
	size_t got =
		fread(buf, 1, n > 0 && (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, out);
	buf[got] = '\0';
	rewind(out);
	if (ftruncate(fileno(out), 0) != 0)
		fail_msg("ftruncate");
	return buf;
}

static void test_levels_filter(void **state)
{
	(void)state;
	lt_log(LT_LOG_DEBUG, "hidden %d", 1);
	assert_string_equal(written(), "");
	assert_false(lt_log_on(LT_LOG_DEBUG));
	lt_log_set_level(LT_LOG_DEBUG);
	assert_true(lt_log_on(LT_LOG_DEBUG));
	lt_log(LT_LOG_DEBUG, "shown %d", 2);
	const char *w = written();
	assert_non_null(strstr(w, " DEBUG shown 2\n"));
	lt_log_set_level(LT_LOG_ERROR);
	lt_log(LT_LOG_WARN, "no");
	assert_string_equal(written(), "");
}

static void test_text_line_has_time_level_message_only(void **state)
{
	(void)state;
	lt_log_field f[] = {LT_LF_S("url", "wss://x/ws"), LT_LF_N("id", 7)};
	lt_logf(LT_LOG_INFO, "request", f, 2, "public/test id %d: sent", 7);
	const char *w = written();
	/* "HH:MM:SS.mmm INFO  message\n" */
	assert_int_equal(w[2], ':');
	assert_int_equal(w[8], '.');
	assert_string_equal(w + 12, " INFO  public/test id 7: sent\n");
}

static yajl_val parse_line(const char *line)
{
	char err[200];
	yajl_val v = yajl_tree_parse(line, err, sizeof err);
	if (!v)
		fail_msg("not JSON (%s): %s", err, line);
	return v;
}

static const char *str_at(yajl_val v, const char *a, const char *b)
{
	const char *path[] = {a, b, NULL};
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);
	return s ? YAJL_GET_STRING(s) : NULL;
}

static void test_json_line_parses_with_all_keys(void **state)
{
	(void)state;
	lt_log_set_format(LT_LOG_JSON);
	lt_log_field f[] = {LT_LF_S("method", "public/ticker"), LT_LF_N("id", 42),
			    LT_LF_N("ms", 1.25), LT_LF_S("reason", NULL)};
	lt_logf(LT_LOG_WARN, "request", f, 4, "public/ticker id %d: \"quoted\"\n\ttab \\ %s", 42,
		"end");
	const char *w = written();
	const char *nl = strchr(w, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0'); /* one line */
	yajl_val v = parse_line(w);
	assert_string_equal(str_at(v, "level", NULL), "warn");
	assert_string_equal(str_at(v, "component", NULL), "request");
	assert_string_equal(str_at(v, "message", NULL),
			    "public/ticker id 42: \"quoted\"\n\ttab \\ end");
	const char *t = str_at(v, "time", NULL);
	assert_non_null(t);
	assert_int_equal(strlen(t), 24); /* 2026-12-02T01:58:06.295Z */
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[23], 'Z');
	assert_string_equal(str_at(v, "fields", "method"), "public/ticker");
	assert_string_equal(str_at(v, "fields", "reason"), "");
	const char *pid[] = {"fields", "id", NULL}, *pms[] = {"fields", "ms", NULL};
	yajl_val id = yajl_tree_get(v, pid, yajl_t_number);
	assert_non_null(id);
	assert_true(YAJL_IS_INTEGER(id));
	assert_int_equal(YAJL_GET_INTEGER(id), 42);
	yajl_val ms = yajl_tree_get(v, pms, yajl_t_number);
	assert_non_null(ms);
	assert_true(YAJL_GET_DOUBLE(ms) > 1.24 && YAJL_GET_DOUBLE(ms) < 1.26);
	yajl_tree_free(v);
}

static void test_json_default_component_and_no_fields(void **state)
{
	(void)state;
	lt_log_set_format(LT_LOG_JSON);
	lt_log(LT_LOG_ERROR, "plain %s", "line");
	yajl_val v = parse_line(written());
	assert_string_equal(str_at(v, "component", NULL), "luatrade");
	assert_string_equal(str_at(v, "level", NULL), "error");
	const char *pf[] = {"fields", NULL};
	yajl_val f = yajl_tree_get(v, pf, yajl_t_object);
	assert_non_null(f);
	assert_int_equal(YAJL_GET_OBJECT(f)->len, 0);
	yajl_tree_free(v);
}

static void test_json_invalid_utf8_still_parses(void **state)
{
	(void)state;
	lt_log_set_format(LT_LOG_JSON);
	lt_log_field f[] = {LT_LF_S("channel", "bad\xff\xfe")};
	lt_logf(LT_LOG_INFO, "subs", f, 1, "venue said %s", "caf\xc3 \x01");
	yajl_val v = parse_line(written());
	assert_string_equal(str_at(v, "message", NULL), "venue said caf? \x01");
	assert_string_equal(str_at(v, "fields", "channel"), "bad??");
	yajl_tree_free(v);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(lt_log_parse_level("debug"), LT_LOG_DEBUG);
	assert_int_equal(lt_log_parse_level("loud"), -1);
	assert_int_equal(lt_log_parse_level(NULL), -1);
	assert_int_equal(lt_log_parse_format("json"), LT_LOG_JSON);
	assert_int_equal(lt_log_parse_format("text"), LT_LOG_TEXT);
	assert_int_equal(lt_log_parse_format("xml"), -1);
	lt_log_set_format(LT_LOG_JSON);
	assert_int_equal(lt_log_get_format(), LT_LOG_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_line_has_time_level_message_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_line_parses_with_all_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_default_component_and_no_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_invalid_utf8_still_parses, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
