/* Split virtqueue parsing against a guest_mem that wraps a malloc'd buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/virtio/vdriver.h"

struct fix {
	struct vdriver d;
	struct virtq q;
	struct virtq_chain c;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));

	vd_init(&f->d);
	vd_virtq(&f->d, 0, &f->q);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	vd_destroy(&f->d);
	test_free(f);
	return 0;
}

/* Pop one chain that must be rejected: counted, and returned with len 0 if head valid. */
static void expect_bad(struct fix *f, uint16_t head, int returned)
{
	uint64_t before = f->q.bad_chains;
	uint16_t used_before = vd_used_idx(&f->d, 0);
	uint32_t id, len;

	vd_post(&f->d, 0, head);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), -EBADMSG);
	assert_int_equal(f->q.bad_chains, before + 1);
	if (returned) {
		assert_int_equal(vd_used_idx(&f->d, 0), (uint16_t)(used_before + 1));
		vd_used_elem(&f->d, 0, used_before, &id, &len);
		assert_int_equal(id, head);
		assert_int_equal(len, 0);
	} else {
		assert_int_equal(vd_used_idx(&f->d, 0), used_before);
	}
	/* the bad entry was consumed: the queue is empty again */
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 0);
}

static void test_good_chain(void **state)
{
	struct fix *f = *state;
	struct vd_seg s[] = { { VD_DATA, 100, 0 }, { VD_DATA + 0x1000, 50, 0 },
			      { VD_DATA + 0x2000, 200, 1 } };
	uint16_t head = vd_chain(&f->d, 0, s, 3);
	uint32_t id, len;

	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 0);
	vd_post(&f->d, 0, head);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.nseg, 3);
	assert_int_equal(f->c.nread, 2);
	assert_int_equal(f->c.read_len, 150);
	assert_int_equal(f->c.write_len, 200);
	assert_int_equal(f->c.seg[2].gpa, VD_DATA + 0x2000);
	assert_int_equal(f->c.seg[2].write, 1);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 0);

	assert_int_equal(virtq_push(&f->q, &f->d.mem, head, 123), 0);
	assert_int_equal(vd_used_idx(&f->d, 0), 1);
	vd_used_elem(&f->d, 0, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 123);
	assert_int_equal(f->q.bad_chains, 0);
}

static void test_chain_copy_across_segments(void **state)
{
	struct fix *f = *state;
	struct vd_seg s[] = { { VD_DATA, 3, 0 }, { VD_DATA + 0x100, 5, 0 },
			      { VD_DATA + 0x200, 4, 1 }, { VD_DATA + 0x300, 4, 1 } };
	uint8_t buf[8];

	memcpy(f->d.ram + VD_DATA, "abc", 3);
	memcpy(f->d.ram + VD_DATA + 0x100, "defgh", 5);
	vd_post(&f->d, 0, vd_chain(&f->d, 0, s, 4));
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);

	assert_int_equal(virtq_chain_read(&f->d.mem, &f->c, 1, buf, 6), 0);
	assert_memory_equal(buf, "bcdefg", 6);
	assert_int_equal(virtq_chain_read(&f->d.mem, &f->c, 2, buf, 7), -EFAULT);
	assert_int_equal(virtq_chain_write(&f->d.mem, &f->c, 2, "WXYZ", 4), 0);
	assert_memory_equal(f->d.ram + VD_DATA + 0x202, "WX", 2);
	assert_memory_equal(f->d.ram + VD_DATA + 0x300, "YZ", 2);
	assert_int_equal(virtq_chain_write(&f->d.mem, &f->c, 5, "WXYZ", 4), -EFAULT);
}

static void test_outside_ram(void **state)
{
	struct fix *f = *state;

	vd_desc(&f->d, 0, 0, VD_RAM_SIZE - 10, 100, 0, 0);
	expect_bad(f, 0, 1);
	/* an address that wraps past 2^64 */
	vd_desc(&f->d, 0, 1, 0xfffffffffffffff0ULL, 0x20, VIRTQ_DESC_F_WRITE, 0);
	expect_bad(f, 1, 1);
	/* in the middle of a chain */
	vd_desc(&f->d, 0, 2, VD_DATA, 16, VIRTQ_DESC_F_NEXT, 3);
	vd_desc(&f->d, 0, 3, 1ULL << 40, 16, 0, 0);
	expect_bad(f, 2, 1);
}

static void test_huge_length(void **state)
{
	struct fix *f = *state;

	vd_desc(&f->d, 0, 0, 0, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
	expect_bad(f, 0, 1);
	/* exactly all of RAM is fine */
	vd_desc(&f->d, 0, 1, 0, VD_RAM_SIZE, VIRTQ_DESC_F_WRITE, 0);
	vd_post(&f->d, 0, 1);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.write_len, VD_RAM_SIZE);
}

static void test_loops(void **state)
{
	struct fix *f = *state;

	vd_desc(&f->d, 0, 0, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 0);	/* self loop */
	expect_bad(f, 0, 1);
	vd_desc(&f->d, 0, 1, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	vd_desc(&f->d, 0, 2, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	expect_bad(f, 1, 1);
	/* a loop of empty descriptors adds no segment but must still end */
	vd_desc(&f->d, 0, 3, 0, 0, VIRTQ_DESC_F_NEXT, 3);
	expect_bad(f, 3, 1);
}

static void test_out_of_range_indices(void **state)
{
	struct fix *f = *state;

	expect_bad(f, VD_QNUM, 0);		/* head beyond the table: cannot be returned */
	expect_bad(f, 0xffff, 0);
	vd_desc(&f->d, 0, 4, VD_DATA, 8, VIRTQ_DESC_F_NEXT, VD_QNUM);
	expect_bad(f, 4, 1);
}

static void test_zero_length(void **state)
{
	struct fix *f = *state;

	vd_desc(&f->d, 0, 0, VD_DATA, 10, VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&f->d, 0, 1, 0xdeadbeef0000ULL, 0, VIRTQ_DESC_F_NEXT, 2);	/* empty: no access */
	vd_desc(&f->d, 0, 2, VD_DATA + 100, 20, VIRTQ_DESC_F_WRITE, 0);
	vd_post(&f->d, 0, 0);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.nseg, 2);
	assert_int_equal(f->c.read_len, 10);
	assert_int_equal(f->c.write_len, 20);
}

static void test_readable_after_writable(void **state)
{
	struct fix *f = *state;

	vd_desc(&f->d, 0, 0, VD_DATA, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vd_desc(&f->d, 0, 1, VD_DATA + 100, 10, 0, 0);
	expect_bad(f, 0, 1);
}

static void write_desc_at(struct fix *f, uint64_t table, uint16_t idx, uint64_t addr, uint32_t len,
			  uint16_t flags, uint16_t next)
{
	uint8_t *p = f->d.ram + table + 16ULL * idx;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void test_indirect(void **state)
{
	struct fix *f = *state;
	const uint64_t tbl = 0x40000;

	write_desc_at(f, tbl, 0, VD_DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	write_desc_at(f, tbl, 2, VD_DATA + 0x100, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	write_desc_at(f, tbl, 1, VD_DATA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	/* a direct descriptor may precede the indirect one */
	vd_desc(&f->d, 0, 5, VD_DATA + 0x800, 4, VIRTQ_DESC_F_NEXT, 6);
	vd_desc(&f->d, 0, 6, tbl, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);

	/* not negotiated: rejected */
	expect_bad(f, 5, 1);

	f->q.indirect = 1;
	vd_post(&f->d, 0, 5);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.head, 5);
	assert_int_equal(f->c.nseg, 4);
	assert_int_equal(f->c.read_len, 4 + 16);
	assert_int_equal(f->c.write_len, 513);
	assert_int_equal(f->c.seg[3].gpa, VD_DATA + 0x400);
}

static void test_indirect_bad(void **state)
{
	struct fix *f = *state;
	const uint64_t tbl = 0x40000;

	f->q.indirect = 1;
	/* INDIRECT together with NEXT */
	vd_desc(&f->d, 0, 0, tbl, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	expect_bad(f, 0, 1);
	/* length not a multiple of 16, zero, or too large */
	vd_desc(&f->d, 0, 0, tbl, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	vd_desc(&f->d, 0, 0, tbl, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	vd_desc(&f->d, 0, 0, tbl, 16 * (VIRTQ_MAX_INDIRECT + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	/* table outside RAM */
	vd_desc(&f->d, 0, 0, VD_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	/* nested indirect */
	write_desc_at(f, tbl, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vd_desc(&f->d, 0, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	/* loop inside the table */
	write_desc_at(f, tbl, 0, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	write_desc_at(f, tbl, 1, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	vd_desc(&f->d, 0, 0, tbl, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	/* next beyond the table's end */
	write_desc_at(f, tbl, 1, VD_DATA, 8, VIRTQ_DESC_F_NEXT, 2);
	expect_bad(f, 0, 1);
	/* more segments than VIRTQ_MAX_SEGS */
	for (uint16_t i = 0; i <= VIRTQ_MAX_SEGS; i++)
		write_desc_at(f, tbl, i, VD_DATA, 8, i < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	vd_desc(&f->d, 0, 0, tbl, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, 0, 1);
	/* exactly VIRTQ_MAX_SEGS is accepted */
	write_desc_at(f, tbl, VIRTQ_MAX_SEGS - 1, VD_DATA, 8, 0, 0);
	vd_post(&f->d, 0, 0);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.nseg, VIRTQ_MAX_SEGS);
}

static void test_bad_rings(void **state)
{
	struct fix *f = *state;
	uint16_t idx = VD_QNUM + 1;

	/* avail idx more than a queue's worth ahead */
	memcpy(f->d.ram + VD_AVAIL(0) + 2, &idx, 2);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), -EFAULT);
	assert_int_equal(f->q.bad_rings, 1);
	/* rings moved outside RAM */
	f->q.avail_gpa = VD_RAM_SIZE;
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), -EFAULT);
	f->q.used_gpa = VD_RAM_SIZE - 4;
	assert_int_equal(virtq_push(&f->q, &f->d.mem, 0, 0), -EFAULT);
	assert_int_equal(f->q.bad_rings, 3);
	/* a queue that is not ready pops nothing */
	f->q.ready = 0;
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 0);
}

static void test_index_wrap_and_unpop(void **state)
{
	struct fix *f = *state;
	struct vd_seg s = { VD_DATA, 8, 1 };
	uint16_t head;

	f->q.last_avail = 0xffff;
	f->d.avail_idx[0] = 0xffff;
	head = vd_chain(&f->d, 0, &s, 1);
	vd_post(&f->d, 0, head);		/* avail idx wraps to 0 */
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.head, head);
	virtq_unpop(&f->q);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 1);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->q.last_avail, 0);
	assert_int_equal(virtq_pop(&f->q, &f->d.mem, &f->c), 0);
}

static void test_need_notify(void **state)
{
	struct fix *f = *state;
	uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	assert_int_equal(virtq_need_notify(&f->q, &f->d.mem), 0);
	virtq_push(&f->q, &f->d.mem, 0, 0);
	assert_int_equal(virtq_need_notify(&f->q, &f->d.mem), 1);
	assert_int_equal(virtq_need_notify(&f->q, &f->d.mem), 0);
	memcpy(f->d.ram + VD_AVAIL(0), &flags, 2);
	virtq_push(&f->q, &f->d.mem, 0, 0);
	assert_int_equal(virtq_need_notify(&f->q, &f->d.mem), 0);
}

static void test_dirty_tracking(void **state)
{
	struct fix *f = *state;

	assert_int_equal(guest_mem_track_dirty(&f->d.mem), 0);
	virtq_push(&f->q, &f->d.mem, 0, 0);
	/* the used ring's page was written by the VMM and must be reported */
	assert_true(f->d.mem.dirty[(VD_USED(0) / 4096) / 64] & (1ULL << ((VD_USED(0) / 4096) % 64)));
	free(f->d.mem.dirty);
	f->d.mem.dirty = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_copy_across_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_wrap_and_unpop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_need_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_tracking, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
