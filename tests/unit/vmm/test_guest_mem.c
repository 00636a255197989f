#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/guest_mem.h"

static void test_bounds(void **state)
{
	struct guest_mem m;
	assert_int_equal(guest_mem_init(&m, 1 << 20), 0);
	assert_non_null(guest_mem_ptr(&m, 0, 1 << 20));
	assert_null(guest_mem_ptr(&m, 1, 1 << 20));
	assert_null(guest_mem_ptr(&m, (1 << 20) - 1, 2));
	assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&m, 1 << 20, 0));
	uint8_t buf[4] = { 1, 2, 3, 4 };
	assert_int_equal(guest_mem_write(&m, 0x1000, buf, 4), 0);
	assert_int_equal(guest_mem_write(&m, (1 << 20) - 2, buf, 4), -EFAULT);
	uint8_t out[4];
	assert_int_equal(guest_mem_read(&m, 0x1000, out, 4), 0);
	assert_memory_equal(out, buf, 4);
	assert_int_equal(guest_mem_init(&m, 1000), -EINVAL);
	guest_mem_destroy(&m);
}

static void test_hole(void **state)
{
	struct guest_mem m;
	/* 3 GiB + 1 MiB: the last MiB lives above 4 GiB; NORESERVE keeps this cheap */
	assert_int_equal(guest_mem_init(&m, GUEST_MEM_HOLE_START + (1 << 20)), 0);
	assert_int_equal(m.nslots, 2);
	assert_null(guest_mem_ptr(&m, GUEST_MEM_HOLE_START, 1));
	assert_null(guest_mem_ptr(&m, 0xd0000000, 4));
	uint8_t *hi = guest_mem_ptr(&m, GUEST_MEM_HIGH_START, 4096);
	assert_ptr_equal(hi, m.base + GUEST_MEM_HOLE_START);
	assert_null(guest_mem_ptr(&m, GUEST_MEM_HOLE_START - 2, 4));	/* spans the hole */
	guest_mem_destroy(&m);
}

static void test_dirty(void **state)
{
	struct guest_mem m;
	guest_mem_init(&m, 1 << 20);
	assert_int_equal(guest_mem_track_dirty(&m), 0);
	uint8_t buf[8192] = { 0 };
	guest_mem_write(&m, 0x2ffe, buf, 4);	/* pages 2 and 3 */
	guest_mem_mark_dirty(&m, 0x10000, 1);	/* page 16 */
	assert_int_equal(m.dirty[0], (1ULL << 2) | (1ULL << 3) | (1ULL << 16));
	guest_mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_hole),
		cmocka_unit_test(test_dirty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
