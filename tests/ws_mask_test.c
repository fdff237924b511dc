/* ws_mask_test.c — src/ws_mask.c: masking keys from a pool of RAND_bytes output. Every take is
 * fresh bytes: takes that cross many refills never repeat, a take that does not fit in what
 * is left refills the pool instead of reading past it, and a take larger than the pool still
 * gets random bytes. (Two equal 8-byte random values among 1,000: p < 1e-13.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ws_mask.h"

#define TAKES 1000

/* 1,000 takes of 8 bytes (31 refills of the 256-byte pool): all different, none all-zero. */
static void test_takes_never_repeat(void **state)
{
	(void)state;
	static uint8_t got[TAKES][8];
	static const uint8_t zero[8];
	lt_ws_masks m = {0};
	for (int i = 0; i < TAKES; i++) {
		assert_int_equal(lt_ws_masks_take(&m, got[i], 8), 0);
		assert_memory_not_equal(got[i], zero, 8);
	}
	for (int i = 0; i < TAKES; i++)
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(got[i], got[j], 8);
}

/* With 2 bytes left, a 4-byte take refills: it gets a whole fresh key from the new pool's
 * first bytes, and the pool's accounting stays inside it. */
static void test_take_that_does_not_fit_refills(void **state)
{
	(void)state;
	lt_ws_masks m = {0};
	uint8_t b[LT_WS_MASK_POOL];
	assert_int_equal(lt_ws_masks_take(&m, b, LT_WS_MASK_POOL - 2), 0);
	assert_int_equal(m.left, 2);
	uint8_t key[4];
	assert_int_equal(lt_ws_masks_take(&m, key, sizeof key), 0);
	assert_int_equal(m.left, LT_WS_MASK_POOL - 4);
	assert_memory_equal(key, m.pool, 4);
}

/* A take larger than the pool comes from RAND_bytes directly and leaves the pool alone. */
static void test_large_take(void **state)
{
	(void)state;
	lt_ws_masks m = {0};
	uint8_t a[LT_WS_MASK_POOL + 16], b[LT_WS_MASK_POOL + 16];
	assert_int_equal(lt_ws_masks_take(&m, a, sizeof a), 0);
	assert_int_equal(lt_ws_masks_take(&m, b, sizeof b), 0);
	assert_int_equal(m.left, 0);
	assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_takes_never_repeat),
		cmocka_unit_test(test_take_that_does_not_fit_refills),
		cmocka_unit_test(test_large_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
