/* unsubscribe_all_test.c — public/unsubscribe_all codec (src/methods/unsubscribe_all.c): the
 * request has no params, any key is rejected, the method is WebSocket-only with an "ok" string
 * result, and an error reply decodes. (No fixture holds its "ok" result.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "methods/method_test.h"

#define REQ(m) "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"" m "\""

static void unsubscribe_all_descriptor(void **state)
{
	(void)state;
	mt_descriptor("public/unsubscribe_all", "unsubscribe_all", LT_POOL_NON_ME, 500);
	const lt_method *m = mt_method("public/unsubscribe_all");
	assert_ptr_equal(m->result, &lt_s_string);
}

static void unsubscribe_all_request(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"nil", REQ("public/unsubscribe_all") "}"},
		{"{}", REQ("public/unsubscribe_all") "}"},
	};
	mt_encode_ok("public/unsubscribe_all", cases, MT_N(cases));
}

static void unsubscribe_all_validation(void **state)
{
	(void)state;
	static const mt_case cases[] = {
		{"{ interval = 10 }", "unknown parameter 'interval' for public/unsubscribe_all"},
		{"{ 'x' }",
		 "unknown parameter [1] for public/unsubscribe_all (parameters are named)"},
		{"'x'", "public/unsubscribe_all: parameters must be a table, got string"},
	};
	mt_encode_err("public/unsubscribe_all", cases, MT_N(cases));
}

static void unsubscribe_all_error_reply(void **state)
{
	(void)state;
	mt_error_reply(mt_method("public/unsubscribe_all"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unsubscribe_all_descriptor),
		cmocka_unit_test(unsubscribe_all_request),
		cmocka_unit_test(unsubscribe_all_validation),
		cmocka_unit_test(unsubscribe_all_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
