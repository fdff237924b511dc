/* auth_test.c — public/auth signing and request building (deribit-api.md §3 test vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth.h"

static lt_secret *sec(const char *s) { return lt_secret_new(s, strlen(s)); }

static void test_signature_vectors(void **state)
{
	(void)state;
	struct {
		const char *secret;
		int64_t ts;
		const char *nonce, *data, *sig;
	} v[] = {
		{"AMANDASECRECT", 1576074319000, "1iqt2wls", "",
		 "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"},
		{"Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ", 1767225600123, "k7d2q9xa", "",
		 "97c9abe265685205b581c7b680c10deba882daf27d06910d1321838465a2f9b3"},
		{"Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ", 1767225600123, "k7d2q9xa", "rt-1",
		 "1b045dbee54f4df8bb568ede64589a94156cfffe5aae4290fdaa30b9b1f29fe0"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		lt_secret *s = sec(v[i].secret);
		char out[65];
		lt_auth_sign(s, v[i].ts, v[i].nonce, v[i].data, out);
		assert_string_equal(out, v[i].sig);
		lt_secret_free(s);
	}
}

static void test_signature_needs_trailing_newline(void **state)
{
	(void)state;
	/* the negative vector: row 1 signed without the trailing "\n" must NOT be what we make */
	lt_secret *s = sec("AMANDASECRECT");
	char out[65];
	lt_auth_sign(s, 1576074319000, "1iqt2wls", "", out);
	assert_string_not_equal(out,
				"76f34b2e54c7013ef490ccd464945f867a2cce4e4d673d1bd5520908e1a3c8a4");
	lt_secret_free(s);
}

static void test_nonce_is_fresh_and_short(void **state)
{
	(void)state;
	char a[9], b[9];
	assert_int_equal(lt_auth_nonce(a), 0);
	assert_int_equal(lt_auth_nonce(b), 0);
	assert_int_equal(strlen(a), 8);
	assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789"), 8);
	assert_string_not_equal(a, b);
}

static void test_signature_request_never_carries_the_secret(void **state)
{
	(void)state;
	lt_secret *s = sec("Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ");
	lt_buf b;
	lt_buf_init(&b, 0);
	assert_int_equal(lt_auth_request(&b, 7, LT_GRANT_SIGNATURE, "fT3kLq9w", s, "session:x",
					 1767225600123),
			 0);
	const char *t = lt_buf_text(&b);
	assert_non_null(strstr(t, "\"id\":7,\"method\":\"public/auth\""));
	assert_non_null(strstr(t, "\"grant_type\":\"client_signature\""));
	assert_non_null(strstr(t, "\"client_id\":\"fT3kLq9w\""));
	assert_non_null(strstr(t, "\"timestamp\":1767225600123"));
	assert_non_null(strstr(t, "\"signature\":\""));
	assert_non_null(strstr(t, "\"scope\":\"session:x\""));
	assert_null(strstr(t, "Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ"));
	assert_null(strstr(t, "client_secret"));
	lt_buf_free(&b);
	lt_secret_free(s);
}

static void test_credentials_and_refresh_requests(void **state)
{
	(void)state;
	lt_secret *s = sec("s3cr\"et");
	lt_buf b;
	lt_buf_init(&b, 0);
	assert_int_equal(lt_auth_request(&b, 1, LT_GRANT_CREDENTIALS, "id1", s, NULL, 0), 0);
	assert_string_equal(
		lt_buf_text(&b),
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/"
		"auth\",\"params\":{\"grant_type\":"
		"\"client_credentials\",\"client_id\":\"id1\",\"client_secret\":\"s3cr\\\"et\"}}");
	lt_buf_reset(&b);
	assert_int_equal(lt_auth_request(&b, 2, LT_GRANT_REFRESH, "id1", s, NULL, 0), 0);
	assert_string_equal(lt_buf_text(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"public/"
			    "auth\",\"params\":{\"grant_type\":"
			    "\"refresh_token\",\"refresh_token\":\"s3cr\\\"et\"}}");
	lt_buf_free(&b);
	lt_secret_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_signature_needs_trailing_newline),
		cmocka_unit_test(test_nonce_is_fresh_and_short),
		cmocka_unit_test(test_signature_request_never_carries_the_secret),
		cmocka_unit_test(test_credentials_and_refresh_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
