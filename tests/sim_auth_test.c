/* sim_auth_test.c — src/sim/auth.c and src/sim/accounts.c without a server: the client_signature
 * test vectors of deribit-api.md §3 (and the negative one without the trailing "\n"), the 60 s
 * timestamp window, nonce reuse, the demo account and --account lists, and tokens with a fake
 * clock (expiry, connection vs session scope, refresh outliving access, revocation, the 16
 * sessions per account).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sim/internal.h"

#define T0 ((int64_t)1767225600000) /* a fake venue clock, ms */

/* ---- signatures (deribit-api.md §3 test vectors) ---- */

static void test_signature_vectors(void **state)
{
	(void)state;
	char sig[65];
	assert_int_equal(lt_sim_auth_sign("AMANDASECRECT", 1576074319000, "1iqt2wls", "", sig), 0);
	assert_string_equal(sig,
			    "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1");
	assert_int_equal(lt_sim_auth_sign("Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ", 1767225600123,
					  "k7d2q9xa", "", sig),
			 0);
	assert_string_equal(sig,
			    "97c9abe265685205b581c7b680c10deba882daf27d06910d1321838465a2f9b3");
	assert_int_equal(lt_sim_auth_sign("Z1pX9kQ3vR7sT2wY5uB8nC4mD6fG0hJ", 1767225600123,
					  "k7d2q9xa", "rt-1", sig),
			 0);
	assert_string_equal(sig,
			    "1b045dbee54f4df8bb568ede64589a94156cfffe5aae4290fdaa30b9b1f29fe0");
	/* NULL data is the empty string */
	assert_int_equal(lt_sim_auth_sign("AMANDASECRECT", 1576074319000, "1iqt2wls", NULL, sig),
			 0);
	assert_string_equal(sig,
			    "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1");
}

static void test_signature_without_trailing_newline_differs(void **state)
{
	(void)state;
	static const char wrong[] = "1576074319000\n1iqt2wls";
	char sig[65];
	lt_sim_auth_hmac_hex("AMANDASECRECT", wrong, strlen(wrong), sig);
	assert_string_equal(sig,
			    "76f34b2e54c7013ef490ccd464945f867a2cce4e4d673d1bd5520908e1a3c8a4");
	assert_int_equal(lt_sim_auth_sign("AMANDASECRECT", 1576074319000, "1iqt2wls", "", sig), 0);
	assert_string_not_equal(sig,
				"76f34b2e54c7013ef490ccd464945f867a2cce4e4d673d1bd5520908e1a3c8a4");
	for (size_t i = 0; i < 64; i++) /* lowercase hex */
		assert_true(isdigit((unsigned char)sig[i]) || (sig[i] >= 'a' && sig[i] <= 'f'));
}

static void test_signature_refuses_oversized_input(void **state)
{
	(void)state;
	static char data[5000];
	memset(data, 'x', sizeof data - 1);
	char sig[65];
	assert_int_equal(lt_sim_auth_sign("s", T0, "n", data, sig), LT_EINVAL);
	assert_string_equal(sig, "");
}

/* ---- timestamp window and nonces ---- */

static void test_timestamp_window_is_60_seconds_either_way(void **state)
{
	(void)state;
	assert_true(lt_sim_auth_ts_ok(T0, T0));
	assert_true(lt_sim_auth_ts_ok(T0 - 60000, T0));
	assert_true(lt_sim_auth_ts_ok(T0 + 60000, T0));
	assert_false(lt_sim_auth_ts_ok(T0 - 60001, T0));
	assert_false(lt_sim_auth_ts_ok(T0 + 60001, T0));
	assert_false(lt_sim_auth_ts_ok(0, T0));
	assert_false(lt_sim_auth_ts_ok(T0 / 1000, T0)); /* seconds instead of ms */
}

static void test_nonce_reuse_is_detected_per_account(void **state)
{
	(void)state;
	lt_sim_account a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	assert_true(lt_sim_auth_nonce_use(&a, "k7d2q9xa"));
	assert_false(lt_sim_auth_nonce_use(&a, "k7d2q9xa"));
	assert_true(lt_sim_auth_nonce_use(&a, "k7d2q9xb"));
	assert_true(lt_sim_auth_nonce_use(&b, "k7d2q9xa")); /* another account's nonces */
	/* a UUID-long nonce works too */
	assert_true(lt_sim_auth_nonce_use(&a, "3b241101-e2bb-4255-8caf-4136c566a962"));
	assert_false(lt_sim_auth_nonce_use(&a, "3b241101-e2bb-4255-8caf-4136c566a962"));
	assert_true(lt_sim_auth_nonce_use(&a, "3b241101-e2bb-4255-8caf-4136c566a963"));
}

static void test_nonce_memory_holds_the_last_64(void **state)
{
	(void)state;
	lt_sim_account a;
	memset(&a, 0, sizeof a);
	char n[16];
	for (int i = 0; i < 64; i++) {
		snprintf(n, sizeof n, "n%d", i);
		assert_true(lt_sim_auth_nonce_use(&a, n));
	}
	for (int i = 0; i < 64; i++) {
		snprintf(n, sizeof n, "n%d", i);
		assert_false(lt_sim_auth_nonce_use(&a, n));
	}
	assert_true(lt_sim_auth_nonce_use(&a, "n64")); /* evicts n0 (the 60 s window covers it) */
	assert_true(lt_sim_auth_nonce_use(&a, "n0"));
	assert_false(lt_sim_auth_nonce_use(&a, "n63"));
}

/* ---- accounts ---- */

static void sim_init(lt_sim *sim, uint64_t seed, const char *accounts)
{
	memset(sim, 0, sizeof *sim);
	sim->opts.seed = seed;
	sim->opts.accounts = accounts;
	lt_err err = {0, ""};
	if (lt_sim_accounts_init(sim, &err) != 0)
		fail_msg("accounts_init: %s", err.msg);
}

static void test_demo_account_secret_follows_the_seed(void **state)
{
	(void)state;
	lt_sim s1, s1b, s2;
	sim_init(&s1, 1, NULL);
	sim_init(&s1b, 1, NULL);
	sim_init(&s2, 2, NULL);
	const char *id, *secret, *secret_b, *secret2;
	assert_int_equal(lt_sim_demo_account(&s1, &id, &secret), 0);
	assert_string_equal(id, LT_SIM_DEMO_CLIENT_ID);
	assert_string_equal(id, "luatrade-demo");
	/* first 32 hex of HMAC-SHA256(key "luatrade-sim-demo", "1") */
	assert_string_equal(secret, "69566215fe965c6f29e193189b8e81a6");
	assert_int_equal(lt_sim_demo_account(&s1b, NULL, &secret_b), 0);
	assert_string_equal(secret, secret_b);
	assert_int_equal(lt_sim_demo_account(&s2, NULL, &secret2), 0);
	assert_string_not_equal(secret, secret2);
	assert_int_equal(lt_sim_demo_account(NULL, &id, &secret), LT_EINVAL);
	lt_sim_account *a = lt_sim_account_find(&s1, "luatrade-demo");
	assert_non_null(a);
	assert_true(a->balance[LT_SIM_IDX_BTC] == 10.0);
	assert_true(a->balance[LT_SIM_IDX_ETH] == 100.0);
	assert_int_equal(a->tier, 4);
	assert_non_null(a->limits);
	lt_sim_accounts_free(&s1);
	lt_sim_accounts_free(&s1); /* idempotent */
	lt_sim_accounts_free(&s1b);
	lt_sim_accounts_free(&s2);
}

static void test_account_list_option(void **state)
{
	(void)state;
	lt_sim sim;
	sim_init(&sim, 7, "alice:s3cr3t,bob:x:y");
	lt_sim_account *a = lt_sim_account_find(&sim, "alice");
	assert_non_null(a);
	assert_string_equal(a->client_secret, "s3cr3t");
	assert_int_equal(a->tier, 4);
	assert_true(a->balance[LT_SIM_IDX_BTC] == 10.0);
	lt_sim_account *b = lt_sim_account_find(&sim, "bob");
	assert_non_null(b);
	assert_string_equal(b->client_secret, "x:y"); /* the id ends at the first ':' */
	assert_true(a->user_id != b->user_id);
	assert_null(lt_sim_account_find(&sim, "carol"));
	assert_non_null(lt_sim_account_find(&sim, "luatrade-demo"));
	lt_sim_accounts_free(&sim);
}

static void test_account_list_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"alice",           "alice:",         ":secret", "alice:a,alice:b",
		"luatrade-demo:x", "alice:a,,bob:b", NULL};
	for (const char *const *p = bad; *p; p++) {
		lt_sim sim;
		memset(&sim, 0, sizeof sim);
		sim.opts.accounts = *p;
		lt_err err = {0, ""};
		assert_int_equal(lt_sim_accounts_init(&sim, &err), LT_EINVAL);
		assert_true(err.msg[0] != '\0');
		assert_null(sim.accounts); /* everything made was freed */
	}
}

/* ---- tokens with a fake clock ---- */

static void assert_token_format(const char *t, int64_t now_ms)
{
	char want[24];
	int n = snprintf(want, sizeof want, "%lld.", (long long)now_ms);
	assert_memory_equal(t, want, (size_t)n);
	assert_int_equal(strlen(t), (size_t)n + 32);
	for (size_t i = (size_t)n; t[i]; i++)
		assert_true(isxdigit((unsigned char)t[i]));
}

static void test_connection_token_expires_and_stays_on_its_connection(void **state)
{
	(void)state;
	lt_sim sim;
	sim_init(&sim, 1, NULL);
	lt_sim_account *a = sim.accounts;
	lt_sim_token *t = lt_sim_token_issue(&sim, a, "connection mainaccount", NULL, 5, 2, T0);
	assert_non_null(t);
	assert_token_format(t->access, T0);
	assert_token_format(t->refresh, T0);
	assert_string_not_equal(t->access, t->refresh);
	char access[64], refresh[64];
	strcpy(access, t->access);
	strcpy(refresh, t->refresh);
	assert_ptr_equal(lt_sim_token_find(&sim, access, false, 5, T0 + 1999), t);
	assert_null(lt_sim_token_find(&sim, access, false, 6, T0));        /* foreign connection */
	assert_null(lt_sim_token_find(&sim, access, false, 5, T0 + 2000)); /* expired */
	assert_null(lt_sim_token_find(&sim, access, true, 5, T0));         /* not a refresh token */
	assert_ptr_equal(lt_sim_token_find(&sim, refresh, true, 5, T0 + 2000), t); /* outlives */
	assert_null(lt_sim_token_find(&sim, refresh, true, 6, T0));
	lt_sim_tokens_drop_conn(&sim, 5);
	assert_null(lt_sim_token_find(&sim, refresh, true, 5, T0));
	assert_null(sim.tokens);
	lt_sim_accounts_free(&sim);
}

static void test_session_tokens_work_anywhere_and_replace_their_session(void **state)
{
	(void)state;
	lt_sim sim;
	sim_init(&sim, 1, NULL);
	lt_sim_account *a = sim.accounts;
	lt_sim_token *t = lt_sim_token_issue(&sim, a, "session:x mainaccount", "x", 5, 900, T0);
	char first[64];
	strcpy(first, t->access);
	assert_int_equal(t->conn_id, 0);
	assert_ptr_equal(lt_sim_token_find(&sim, first, false, 9, T0 + 1000), t);
	lt_sim_tokens_drop_conn(&sim, 5); /* the connection closing keeps the session */
	assert_non_null(lt_sim_token_find(&sim, first, false, 9, T0));
	lt_sim_token *t2 =
		lt_sim_token_issue(&sim, a, "session:x mainaccount", "x", 9, 900, T0 + 5);
	assert_non_null(t2);
	assert_null(lt_sim_token_find(&sim, first, false, 9, T0 + 5)); /* replaced */
	assert_ptr_equal(lt_sim_token_find(&sim, t2->access, false, 1, T0 + 5), t2);
	lt_sim_token_revoke(&sim, t2);
	assert_null(sim.tokens);
	lt_sim_accounts_free(&sim);
}

static void test_an_account_keeps_16_sessions(void **state)
{
	(void)state;
	lt_sim sim;
	sim_init(&sim, 1, NULL);
	lt_sim_account *a = sim.accounts;
	char first[64], name[16];
	for (int i = 0; i < 17; i++) {
		snprintf(name, sizeof name, "s%d", i);
		lt_sim_token *t = lt_sim_token_issue(&sim, a, name, name, 1, 900, T0 + i);
		assert_non_null(t);
		if (i == 0)
			strcpy(first, t->access);
		else if (i < 16)
			assert_non_null(lt_sim_token_find(&sim, first, false, 1, T0 + i));
	}
	assert_null(lt_sim_token_find(&sim, first, false, 1, T0 + 17)); /* the oldest evicted */
	int n = 0;
	for (lt_sim_token *t = sim.tokens; t; t = t->next)
		n++;
	assert_int_equal(n, 16);
	lt_sim_accounts_free(&sim);
}

static void test_expired_pairs_are_purged_at_the_next_issue(void **state)
{
	(void)state;
	lt_sim sim;
	sim_init(&sim, 1, NULL);
	lt_sim_account *a = sim.accounts;
	assert_non_null(lt_sim_token_issue(&sim, a, "connection", NULL, 1, 1, T0));
	assert_non_null(lt_sim_token_issue(&sim, a, "connection", NULL, 2, 1, T0));
	/* refresh tokens live at least 7 days */
	lt_sim_token *t =
		lt_sim_token_issue(&sim, a, "connection", NULL, 3, 1, T0 + 7 * 86400000LL);
	assert_non_null(t);
	assert_ptr_equal(sim.tokens, t);
	assert_null(t->next);
	lt_sim_accounts_free(&sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_signature_without_trailing_newline_differs),
		cmocka_unit_test(test_signature_refuses_oversized_input),
		cmocka_unit_test(test_timestamp_window_is_60_seconds_either_way),
		cmocka_unit_test(test_nonce_reuse_is_detected_per_account),
		cmocka_unit_test(test_nonce_memory_holds_the_last_64),
		cmocka_unit_test(test_demo_account_secret_follows_the_seed),
		cmocka_unit_test(test_account_list_option),
		cmocka_unit_test(test_account_list_errors),
		cmocka_unit_test(test_connection_token_expires_and_stays_on_its_connection),
		cmocka_unit_test(test_session_tokens_work_anywhere_and_replace_their_session),
		cmocka_unit_test(test_an_account_keeps_16_sessions),
		cmocka_unit_test(test_expired_pairs_are_purged_at_the_next_issue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
