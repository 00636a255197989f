/* virtio-blk against test_hostio's in-memory disk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/blk.h"
#include "tests/unit/support/test_hostio.h"
#include "tests/unit/virtio/vdriver.h"

#define DISK_SIZE (64 * 1024)
/* the device sees half the host disk, so its own range checks are what refuse the rest */
#define CAPACITY (DISK_SIZE / 2)
#define SECTORS (CAPACITY / 512)
#define HDR VD_DATA
#define BUF (VD_DATA + 0x1000)
#define STATUS (VD_DATA + 0x8000)

struct fix {
	struct vdriver d;
	struct test_hostio th;
	struct virtio_blk blk;
	uint8_t disk[DISK_SIZE];
};

static int setup_rw(void **state, int ro)
{
	struct fix *f = test_calloc(1, sizeof(*f));

	vd_init(&f->d);
	test_hostio_init(&f->th);
	for (unsigned i = 0; i < DISK_SIZE; i++)
		f->disk[i] = (uint8_t)(i * 7 + i / 512);
	f->th.disk = f->disk;
	f->th.disk_size = DISK_SIZE;
	/* one byte more than whole sectors: the tail is not addressable */
	assert_int_equal(virtio_blk_init(&f->blk, &f->d.mem, &f->th.io, &f->d.irq, 9, 0, CAPACITY + 1, ro),
			 0);
	assert_int_equal(virtio_blk_attach(&f->blk, &f->d.bus, VD_MMIO_BASE), 0);
	assert_true(vd_setup(&f->d, 1, 1ULL << VIRTIO_BLK_F_FLUSH) & VIRTIO_STATUS_DRIVER_OK);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_rw(state, 0);
}

static int setup_ro(void **state)
{
	return setup_rw(state, 1);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	vd_destroy(&f->d);
	test_free(f);
	return 0;
}

static void put_hdr(struct fix *f, uint32_t type, uint64_t sector)
{
	memset(f->d.ram + HDR, 0, 16);
	memcpy(f->d.ram + HDR, &type, 4);
	memcpy(f->d.ram + HDR + 8, &sector, 8);
}

/* Submit header + one data buffer + status; returns the status byte, *used the used len. */
static int submit(struct fix *f, uint32_t type, uint64_t sector, uint32_t len, int data_write,
		  uint32_t *used)
{
	struct vd_seg s[3] = { { HDR, 16, 0 }, { BUF, len, data_write }, { STATUS, 1, 1 } };
	struct vd_seg s2[2] = { { HDR, 16, 0 }, { STATUS, 1, 1 } };
	uint16_t before = vd_used_idx(&f->d, 0);
	uint32_t id;
	uint16_t head;

	put_hdr(f, type, sector);
	f->d.ram[STATUS] = 0xee;
	head = len ? vd_chain(&f->d, 0, s, 3) : vd_chain(&f->d, 0, s2, 2);
	vd_post(&f->d, 0, head);
	vd_notify(&f->d, 0);
	assert_int_equal(vd_used_idx(&f->d, 0), (uint16_t)(before + 1));
	vd_used_elem(&f->d, 0, before, &id, used);
	assert_int_equal(id, head);
	return f->d.ram[STATUS];
}

static void test_config_and_features(void **state)
{
	struct fix *f = *state;
	uint64_t cap = 0;
	uint32_t seg_max = 0;

	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	bus_read(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_CONFIG, (uint8_t *)&cap, 8);
	assert_int_equal(cap, SECTORS);
	seg_max = vd_read32(&f->d, VIRTIO_MMIO_CONFIG + 12);
	assert_int_equal(seg_max, VIRTIO_BLK_QUEUE_MAX - 2);
	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & 1u << VIRTIO_BLK_F_FLUSH);
	assert_false(lo & 1u << VIRTIO_BLK_F_RO);
}

static void test_read(void **state)
{
	struct fix *f = *state;
	uint32_t used;
	unsigned edges = f->d.edges;

	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, 3, 1024, 1, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	assert_memory_equal(f->d.ram + BUF, f->disk + 3 * 512, 1024);
	assert_int_equal(f->d.edges, edges + 1);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* the last sector is readable */
	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, SECTORS - 1, 512, 1, &used), VIRTIO_BLK_S_OK);
	assert_memory_equal(f->d.ram + BUF, f->disk + CAPACITY - 512, 512);
}

static void test_write(void **state)
{
	struct fix *f = *state;
	uint32_t used;

	for (unsigned i = 0; i < 1536; i++)
		f->d.ram[BUF + i] = (uint8_t)(0xa5 ^ i);
	assert_int_equal(submit(f, VIRTIO_BLK_T_OUT, 10, 1536, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_memory_equal(f->disk + 10 * 512, f->d.ram + BUF, 1536);
	assert_int_equal(f->disk[13 * 512], (uint8_t)(13 * 512 * 7 + 13));	/* untouched after */
}

static void test_flush_and_get_id(void **state)
{
	struct fix *f = *state;
	uint32_t used;
	char expect[20] = "detvm-disk0";

	assert_int_equal(submit(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(f->th.flushes, 1);
	assert_int_equal(used, 1);

	memset(f->d.ram + BUF, 0xff, 20);
	assert_int_equal(submit(f, VIRTIO_BLK_T_GET_ID, 0, 20, 1, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(f->d.ram + BUF, expect, 20);
}

static void test_out_of_range(void **state)
{
	struct fix *f = *state;
	uint32_t used;

	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, SECTORS, 512, 1, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, SECTORS - 1, 1024, 1, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(submit(f, VIRTIO_BLK_T_OUT, 1ULL << 63, 512, 0, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(submit(f, VIRTIO_BLK_T_OUT, UINT64_MAX, 512, 0, &used), VIRTIO_BLK_S_IOERR);
	/* not a whole number of sectors */
	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, 0, 100, 1, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(f->blk.io_errors, 5);
	/* the host disk failing is an I/O error too */
	f->th.disk_error = -EIO;
	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, 0, 512, 1, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(submit(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_IOERR);
}

static void test_unsupported_and_malformed(void **state)
{
	struct fix *f = *state;
	uint32_t used, id;

	assert_int_equal(submit(f, 11 /* DISCARD */, 0, 16, 0, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(f->blk.unsupported, 1);

	/* header only, no status byte: returned with len 0, counted */
	struct vd_seg s = { HDR, 16, 0 };
	uint16_t before = vd_used_idx(&f->d, 0);
	uint16_t head = vd_chain(&f->d, 0, &s, 1);
	vd_post(&f->d, 0, head);
	vd_notify(&f->d, 0);
	assert_int_equal(vd_used_idx(&f->d, 0), (uint16_t)(before + 1));
	vd_used_elem(&f->d, 0, before, &id, &used);
	assert_int_equal(used, 0);
	assert_int_equal(f->blk.bad_requests, 1);

	/* short header: IOERR in the status byte */
	struct vd_seg s2[2] = { { HDR, 8, 0 }, { STATUS, 1, 1 } };
	f->d.ram[STATUS] = 0xee;
	vd_post(&f->d, 0, vd_chain(&f->d, 0, s2, 2));
	vd_notify(&f->d, 0);
	assert_int_equal(f->d.ram[STATUS], VIRTIO_BLK_S_IOERR);

	/* a chain pointing outside RAM never reaches the device: bad_chains */
	struct vd_seg s3[2] = { { HDR, 16, 0 }, { VD_RAM_SIZE, 1, 1 } };
	vd_post(&f->d, 0, vd_chain(&f->d, 0, s3, 2));
	vd_notify(&f->d, 0);
	assert_int_equal(f->blk.mmio.queues[0].bad_chains, 1);
}

static void test_split_header_and_data(void **state)
{
	struct fix *f = *state;
	/* header in two pieces, data in three pieces, status sharing the last data buffer */
	struct vd_seg s[5] = { { HDR, 4, 0 },	      { HDR + 4, 12, 0 }, { BUF, 100, 1 },
			       { BUF + 0x400, 412, 1 }, { BUF + 0x800, 513, 1 } };
	uint32_t id, used;

	put_hdr(f, VIRTIO_BLK_T_IN, 2);
	vd_post(&f->d, 0, vd_chain(&f->d, 0, s, 5));
	vd_notify(&f->d, 0);
	vd_used_elem(&f->d, 0, 0, &id, &used);
	assert_int_equal(used, 1025);
	assert_memory_equal(f->d.ram + BUF, f->disk + 1024, 100);
	assert_memory_equal(f->d.ram + BUF + 0x400, f->disk + 1024 + 100, 412);
	assert_memory_equal(f->d.ram + BUF + 0x800, f->disk + 1024 + 512, 512);
	assert_int_equal(f->d.ram[BUF + 0x800 + 512], VIRTIO_BLK_S_OK);
}

static void test_batch_completes_in_order(void **state)
{
	struct fix *f = *state;
	uint16_t heads[4];

	for (unsigned i = 0; i < 4; i++) {
		struct vd_seg s[3] = { { HDR + 16 * i, 16, 0 }, { BUF + 512 * i, 512, 1 },
				       { STATUS + i, 1, 1 } };
		uint32_t type = VIRTIO_BLK_T_IN;
		uint64_t sector = i;

		memcpy(f->d.ram + HDR + 16 * i, &type, 4);
		memcpy(f->d.ram + HDR + 16 * i + 8, &sector, 8);
		heads[i] = vd_chain(&f->d, 0, s, 3);
		vd_post(&f->d, 0, heads[i]);
	}
	vd_notify(&f->d, 0);
	assert_int_equal(vd_used_idx(&f->d, 0), 4);
	for (unsigned i = 0; i < 4; i++) {
		uint32_t id, used;

		vd_used_elem(&f->d, 0, i, &id, &used);
		assert_int_equal(id, heads[i]);
		assert_int_equal(f->d.ram[STATUS + i], VIRTIO_BLK_S_OK);
	}
	assert_memory_equal(f->d.ram + BUF, f->disk, 2048);
	assert_int_equal(f->d.edges, 1);	/* one interrupt for the batch */
}

static void test_read_only(void **state)
{
	struct fix *f = *state;
	uint32_t used;
	uint8_t before[512];

	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_RO);
	memcpy(before, f->disk, 512);
	memset(f->d.ram + BUF, 0x11, 512);
	assert_int_equal(submit(f, VIRTIO_BLK_T_OUT, 0, 512, 0, &used), VIRTIO_BLK_S_IOERR);
	assert_memory_equal(f->disk, before, 512);
	/* reads still work */
	assert_int_equal(submit(f, VIRTIO_BLK_T_IN, 0, 512, 1, &used), VIRTIO_BLK_S_OK);
	assert_memory_equal(f->d.ram + BUF, before, 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_and_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_header_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_completes_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
