/*
 * The recorder's copy of guest RAM (vmm/step_shadow.h): a page has a base only where the
 * copy is known to hold it as it was at the last exit -- copied by an update, not written
 * by the VMM since, not reported by the update's own dirty-log fetch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/step_shadow.h"

#define MEM (1u << 20)
#define PAGES (MEM / GUEST_PAGE_SIZE)

struct fx {
	struct guest_mem m;
	struct step_shadow s;
	uint64_t written[(PAGES + 63) / 64];	/* what the guest wrote, as KVM would report */
};

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(guest_mem_init(&f.m, MEM), 0);
	assert_int_equal(guest_mem_track_dirty(&f.m), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	step_shadow_destroy(&f->s, &f->m);
	assert_null(f->m.shadow_stale);
	guest_mem_destroy(&f->m);
	return 0;
}

/* the guest writes a page: KVM's log has it, guest_mem's VMM hooks do not */
static void guest_writes(struct fx *f, uint64_t page, uint8_t v)
{
	memset(f->m.base + page * GUEST_PAGE_SIZE, v, GUEST_PAGE_SIZE);
	f->written[page / 64] |= 1ULL << (page % 64);
}

static void test_untouched_pages_are_zero(void **state)
{
	struct fx *f = *state;
	assert_int_equal(step_shadow_init(&f->s, &f->m), 0);
	static const uint8_t zero[GUEST_PAGE_SIZE];
	/* never written: resident in neither, and zero in both */
	const uint8_t *b = step_shadow_base(&f->s, 7);
	assert_non_null(b);
	assert_memory_equal(b, zero, GUEST_PAGE_SIZE);
	assert_null(step_shadow_base(&f->s, PAGES));
}

static void test_loaded_pages_wait_for_an_update(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16];
	memset(buf, 0xab, sizeof(buf));
	/* the loader wrote page 3 before the shadow began: resident, so stale */
	assert_int_equal(guest_mem_write(&f->m, 3 * GUEST_PAGE_SIZE, buf, sizeof(buf)), 0);
	assert_int_equal(step_shadow_init(&f->s, &f->m), 0);
	assert_null(step_shadow_base(&f->s, 3));
	step_shadow_update(&f->s, &f->m, f->written);
	step_shadow_unsure(&f->s, f->written);
	const uint8_t *b = step_shadow_base(&f->s, 3);
	assert_non_null(b);
	assert_memory_equal(b, f->m.base + 3 * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
}

static void test_update_then_point(void **state)
{
	struct fx *f = *state;
	assert_int_equal(step_shadow_init(&f->s, &f->m), 0);
	guest_writes(f, 5, 0x11);	/* before the last exit, collected since the last update */
	/* the kick after the exits: update from the written set, then the fetch that covers
	 * the last exit reports page 9 (written around it) */
	step_shadow_update(&f->s, &f->m, f->written);
	memset(f->written, 0, sizeof(f->written));
	guest_writes(f, 9, 0x22);
	step_shadow_unsure(&f->s, f->written);
	/* quiet period: the guest writes page 5 again; the point stores it against 0x11 */
	guest_writes(f, 5, 0x33);
	const uint8_t *b = step_shadow_base(&f->s, 5);
	assert_non_null(b);
	assert_int_equal(b[0], 0x11);
	assert_int_equal(f->m.base[5 * GUEST_PAGE_SIZE], 0x33);
	assert_null(step_shadow_base(&f->s, 9));	/* unsure: stored whole */
	/* the next update copies both and forgets page 9's doubt */
	step_shadow_update(&f->s, &f->m, f->written);
	memset(f->written, 0, sizeof(f->written));
	step_shadow_unsure(&f->s, f->written);
	assert_int_equal(step_shadow_base(&f->s, 5)[0], 0x33);
	assert_int_equal(step_shadow_base(&f->s, 9)[0], 0x22);
}

static void test_vmm_writes_make_pages_stale(void **state)
{
	struct fx *f = *state;
	assert_int_equal(step_shadow_init(&f->s, &f->m), 0);
	step_shadow_update(&f->s, &f->m, f->written);
	step_shadow_unsure(&f->s, f->written);
	assert_non_null(step_shadow_base(&f->s, 12));
	uint8_t buf[2] = { 1, 2 };
	/* device DMA across a page boundary: both pages lose their base until copied */
	assert_int_equal(guest_mem_write(&f->m, 13 * GUEST_PAGE_SIZE - 1, buf, 2), 0);
	assert_null(step_shadow_base(&f->s, 12));
	assert_null(step_shadow_base(&f->s, 13));
	assert_non_null(step_shadow_base(&f->s, 14));
	step_shadow_update(&f->s, &f->m, f->written);
	step_shadow_unsure(&f->s, f->written);
	assert_int_equal(step_shadow_base(&f->s, 13)[0], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_untouched_pages_are_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loaded_pages_wait_for_an_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_then_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmm_writes_make_pages_stale, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
