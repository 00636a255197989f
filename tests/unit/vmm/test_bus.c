#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/bus.h"

struct dev {
	uint64_t last_off;
	uint8_t last[8];
	unsigned writes, reads;
};

static void dev_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct dev *d = opaque;
	d->reads++;
	d->last_off = off;
	memset(data, 0xa0 + (int)off, size);
}

static void dev_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct dev *d = opaque;
	d->writes++;
	d->last_off = off;
	memcpy(d->last, data, size);
}

static const struct io_handler ops = { dev_read, dev_write };

static void test_overlap_rejected(void **state)
{
	struct bus b;
	struct dev d = { 0 };
	bus_init(&b, "pio");
	assert_int_equal(bus_register(&b, 0x3f8, 8, &ops, &d, "com1"), 0);
	assert_int_equal(bus_register(&b, 0x3f8, 1, &ops, &d, "same"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f0, 9, &ops, &d, "tail"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3ff, 4, &ops, &d, "head"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x3f0, 8, &ops, &d, "below"), 0);
	assert_int_equal(bus_register(&b, 0x400, 1, &ops, &d, "above"), 0);
	assert_int_equal(bus_register(&b, 0x500, 0, &ops, &d, "empty"), -EINVAL);
	assert_int_equal(bus_register(&b, UINT64_MAX, 2, &ops, &d, "wrap"), -EINVAL);
	assert_int_equal(b.count, 3);
}

static void test_lookup_and_offsets(void **state)
{
	struct bus b;
	struct dev d = { 0 }, e = { 0 };
	bus_init(&b, "mmio");
	bus_register(&b, 0xd0001000, 0x1000, &ops, &e, "e");
	bus_register(&b, 0xd0000000, 0x1000, &ops, &d, "d");
	assert_null(bus_find(&b, 0xcfffffff));
	assert_ptr_equal(bus_find(&b, 0xd0000000)->opaque, &d);
	assert_ptr_equal(bus_find(&b, 0xd0000fff)->opaque, &d);
	assert_ptr_equal(bus_find(&b, 0xd0001000)->opaque, &e);
	assert_null(bus_find(&b, 0xd0002000));
	uint8_t v[4] = { 1, 2, 3, 4 };
	assert_int_equal(bus_write(&b, 0xd0001070, v, 4), 0);
	assert_int_equal(e.last_off, 0x70);
	assert_memory_equal(e.last, v, 4);
	assert_int_equal(bus_read(&b, 0xd0000004, v, 2), 0);
	assert_int_equal(v[0], 0xa4);
	assert_int_equal(d.last_off, 4);
}

static void test_unclaimed_counted(void **state)
{
	struct bus b;
	struct dev d = { 0 };
	bus_init(&b, "pio");
	bus_register(&b, 0x60, 1, &ops, &d, "kbd");
	uint8_t v[4] = { 0 };
	assert_int_equal(bus_read(&b, 0x61, v, 1), -ENOENT);
	assert_int_equal(v[0], 0xff);
	/* an access that starts inside but runs past the range is not claimed */
	assert_int_equal(bus_read(&b, 0x60, v, 2), -ENOENT);
	assert_int_equal(bus_write(&b, 0x1234, v, 4), -ENOENT);
	assert_int_equal(b.unclaimed_reads, 2);
	assert_int_equal(b.unclaimed_writes, 1);
	assert_int_equal(d.reads + d.writes, 0);
}

static void test_removal(void **state)
{
	struct bus b;
	struct dev d = { 0 };
	bus_init(&b, "pio");
	bus_register(&b, 0x20, 2, &ops, &d, "pic");
	bus_register(&b, 0xa0, 2, &ops, &d, "pic2");
	assert_int_equal(bus_unregister(&b, 0x21), -ENOENT);
	assert_int_equal(bus_unregister(&b, 0x20), 0);
	assert_null(bus_find(&b, 0x20));
	assert_non_null(bus_find(&b, 0xa1));
	assert_int_equal(bus_register(&b, 0x20, 2, &ops, &d, "again"), 0);
}

static void test_full(void **state)
{
	struct bus b;
	struct dev d = { 0 };
	bus_init(&b, "pio");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&b, 0x1000 + 2 * (BUS_MAX_RANGES - i), 1, &ops, &d, "x"), 0);
	assert_int_equal(bus_register(&b, 0x10, 1, &ops, &d, "over"), -ENOSPC);
	for (unsigned i = 1; i < b.count; i++)
		assert_true(b.ranges[i - 1].base < b.ranges[i].base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_rejected), cmocka_unit_test(test_lookup_and_offsets),
		cmocka_unit_test(test_unclaimed_counted), cmocka_unit_test(test_removal),
		cmocka_unit_test(test_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
