/* unsubscribe_test.c — the public/unsubscribe codec (src/methods/unsubscribe.c); the cases, shared with
 * the other channel-list method, are in channels_cases.h. */
#define CH_METHOD "public/unsubscribe"
#define CH_LUA "unsubscribe"
#define CH_POOL LT_POOL_NON_ME /* deribit-api.md §7: charged as a default request */
#define CH_COST 500
#include "methods/channels_cases.h"

int main(void)
{
	const struct CMUnitTest tests[] = {CH_TESTS};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
