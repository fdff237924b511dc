/* subscribe_test.c — the public/subscribe codec (src/methods/subscribe.c); the cases, shared with
 * the other channel-list method, are in channels_cases.h. */
#define CH_METHOD "public/subscribe"
#define CH_LUA "subscribe"
#define CH_POOL LT_POOL_SUBSCRIBE
#define CH_COST 3000
#include "methods/channels_cases.h"

int main(void)
{
	const struct CMUnitTest tests[] = {CH_TESTS};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
