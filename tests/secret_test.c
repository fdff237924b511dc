/* secret_test.c — the opaque credential holder: file permission rule, trimming, lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

static char path[64];

static void write_file(const char *text, mode_t mode)
{
	snprintf(path, sizeof path, "/tmp/lt-secret-test-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_file_readable_by_others_is_refused(void **state)
{
	(void)state;
	lt_secret *s = NULL;
	lt_err err = {0, ""};
	write_file("topsecret\n", 0644);
	assert_int_equal(lt_secret_from_file(path, &s, &err), LT_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_null(strstr(err.msg, "topsecret"));
	write_file("topsecret\n", 0640);
	assert_int_equal(lt_secret_from_file(path, &s, &err), LT_EINVAL);
	unlink(path);
}

static void test_private_file_is_read_and_trimmed(void **state)
{
	(void)state;
	lt_secret *s = NULL;
	lt_err err = {0, ""};
	write_file("topsecret\r\n", 0600);
	assert_int_equal(lt_secret_from_file(path, &s, &err), 0);
	size_t n;
	const char *p = lt_secret_expose(s, &n);
	assert_int_equal(n, 9);
	assert_memory_equal(p, "topsecret", 9);
	lt_secret_free(s);
	unlink(path);
}

static void test_missing_and_empty_files(void **state)
{
	(void)state;
	lt_secret *s = NULL;
	lt_err err = {0, ""};
	assert_int_equal(lt_secret_from_file("/nonexistent/x", &s, &err), LT_EINVAL);
	write_file("\n", 0600);
	assert_int_equal(lt_secret_from_file(path, &s, &err), LT_EINVAL);
	unlink(path);
	assert_null(lt_secret_new("", 0));
	lt_secret_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_readable_by_others_is_refused),
		cmocka_unit_test(test_private_file_is_read_and_trimmed),
		cmocka_unit_test(test_missing_and_empty_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
