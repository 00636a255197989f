/* virtio-mmio register semantics, driven through the bus as a guest would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/virtio/vdriver.h"

#define DUMMY_FEATURE_LO 3
#define DUMMY_FEATURE_HI 40

struct dummy {
	struct virtio_mmio t;
	uint8_t config[8];
	unsigned notifies[2];
	unsigned resets;
};

static void d_config_read(void *dev, uint32_t off, uint8_t *data, unsigned size)
{
	struct dummy *d = dev;

	memcpy(data, d->config + off, size);
}

static void d_config_write(void *dev, uint32_t off, const uint8_t *data, unsigned size)
{
	struct dummy *d = dev;

	memcpy(d->config + off, data, size);
}

static void d_notify(void *dev, unsigned q)
{
	struct dummy *d = dev;

	d->notifies[q]++;
}

static void d_reset(void *dev)
{
	struct dummy *d = dev;

	d->resets++;
}

static const struct virtio_device_ops dummy_ops = {
	.name = "dummy",
	.device_id = 42,
	.features = 1ULL << DUMMY_FEATURE_LO | 1ULL << DUMMY_FEATURE_HI,
	.num_queues = 2,
	.queue_max = 16,
	.config_size = 8,
	.config_read = d_config_read,
	.config_write = d_config_write,
	.queue_notify = d_notify,
	.reset = d_reset,
};

struct fix {
	struct vdriver d;
	struct dummy dev;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));

	vd_init(&f->d);
	assert_int_equal(virtio_mmio_init(&f->dev.t, &dummy_ops, &f->dev, &f->d.mem, &f->d.irq, 5), 0);
	assert_int_equal(virtio_mmio_attach(&f->dev.t, &f->d.bus, VD_MMIO_BASE), 0);
	memcpy(f->dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
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

static void test_identity(void **state)
{
	struct fix *f = *state;

	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	/* the window is exactly 4 KiB and cannot be placed twice */
	assert_int_equal(virtio_mmio_attach(&f->dev.t, &f->d.bus, VD_MMIO_BASE + 0x800), -EEXIST);
	assert_non_null(bus_find(&f->d.bus, VD_MMIO_BASE + 0xfff));
	assert_null(bus_find(&f->d.bus, VD_MMIO_BASE + 0x1000));
	/* ops out of limits are refused */
	struct virtio_device_ops bad = dummy_ops;
	struct virtio_mmio t;
	bad.queue_max = 12;
	assert_int_equal(virtio_mmio_init(&t, &bad, NULL, &f->d.mem, NULL, 0), -EINVAL);
}

static void test_device_features(void **state)
{
	struct fix *f = *state;
	uint32_t lo, hi;

	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES);
	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(lo, 1u << DUMMY_FEATURE_LO | 1u << VIRTIO_F_INDIRECT_DESC);
	assert_int_equal(hi, 1u << (VIRTIO_F_VERSION_1 - 32) | 1u << (DUMMY_FEATURE_HI - 32));
	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static uint32_t negotiate(struct fix *f, uint64_t feat)
{
	vd_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	vd_write32(&f->d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	vd_write32(&f->d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						      VIRTIO_STATUS_FEATURES_OK);
	return vd_read32(&f->d, VIRTIO_MMIO_STATUS);
}

static void test_feature_negotiation(void **state)
{
	struct fix *f = *state;
	const uint64_t v1 = 1ULL << VIRTIO_F_VERSION_1;

	/* legacy drivers (no VERSION_1) are refused */
	assert_false(negotiate(f, 1ULL << DUMMY_FEATURE_LO) & VIRTIO_STATUS_FEATURES_OK);
	/* a feature the device did not offer is refused */
	assert_false(negotiate(f, v1 | 1ULL << 5) & VIRTIO_STATUS_FEATURES_OK);
	/* a subset with VERSION_1 is accepted */
	assert_true(negotiate(f, v1 | 1ULL << DUMMY_FEATURE_HI) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(f->dev.t.driver_features, v1 | 1ULL << DUMMY_FEATURE_HI);
	/* features are frozen once FEATURES_OK is set */
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write32(&f->d, VIRTIO_MMIO_DRIVER_FEATURES, 1u << DUMMY_FEATURE_LO);
	assert_int_equal(f->dev.t.driver_features, v1 | 1ULL << DUMMY_FEATURE_HI);
	assert_true(f->dev.t.bad_accesses > 0);
}

static void setup_queue(struct fix *f, unsigned q, uint32_t num, uint64_t desc)
{
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, q);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_NUM, num);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)VD_AVAIL(q));
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)VD_USED(q));
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_queue_setup(void **state)
{
	struct fix *f = *state;
	struct virtq *q = &f->dev.t.queues[1];

	negotiate(f, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_INDIRECT_DESC);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 2);	/* no such queue */
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);

	/* not a power of two, too large, rings outside RAM, misaligned: all refused */
	setup_queue(f, 1, 12, VD_DESC(1));
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(f, 1, 32, VD_DESC(1));
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(f, 1, 16, VD_RAM_SIZE - 16);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(f, 1, 16, 0x1ULL << 36);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(f, 1, 16, VD_DESC(1) + 8);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);

	setup_queue(f, 1, 8, VD_DESC(1));
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(q->ready, 1);
	assert_int_equal(q->num, 8);
	assert_int_equal(q->desc_gpa, VD_DESC(1));
	assert_int_equal(q->avail_gpa, VD_AVAIL(1));
	assert_int_equal(q->used_gpa, VD_USED(1));
	assert_int_equal(q->indirect, 1);
	assert_false(f->dev.t.queues[0].ready);
	/* a running queue cannot be moved */
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_NUM, 4);
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	assert_int_equal(q->num, 8);
	assert_int_equal(q->desc_gpa, VD_DESC(1));
	/* QueueReady 0 stops it */
	vd_write32(&f->d, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void test_notify_waits_for_driver_ok(void **state)
{
	struct fix *f = *state;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;

	negotiate(f, 1ULL << VIRTIO_F_VERSION_1);
	setup_queue(f, 0, 16, VD_DESC(0));
	vd_notify(&f->d, 0);
	assert_int_equal(f->dev.notifies[0], 0);
	assert_null(virtio_mmio_queue(&f->dev.t, 0));
	/* DRIVER_OK serves what was posted before it */
	vd_write32(&f->d, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.notifies[0], 1);
	assert_int_equal(f->dev.notifies[1], 0);	/* queue 1 was never made ready */
	assert_non_null(virtio_mmio_queue(&f->dev.t, 0));
	assert_null(virtio_mmio_queue(&f->dev.t, 1));
	vd_notify(&f->d, 0);
	assert_int_equal(f->dev.notifies[0], 2);
	/* a notify for a queue that is not ready or does not exist is ignored */
	vd_notify(&f->d, 1);
	vd_notify(&f->d, 7);
	assert_int_equal(f->dev.notifies[1], 0);
}

static void test_interrupts(void **state)
{
	struct fix *f = *state;
	struct virtq *q;

	vd_setup(&f->d, 1, 0);
	q = virtio_mmio_queue(&f->dev.t, 0);
	assert_non_null(q);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* nothing pushed: no interrupt */
	virtio_mmio_notify_used(&f->dev.t, 0);
	assert_int_equal(f->d.edges, 0);

	virtq_push(q, &f->d.mem, 0, 0);
	virtio_mmio_notify_used(&f->dev.t, 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(f->d.level, 1);
	assert_int_equal(f->d.edges, 1);

	/* more used buffers while still pending: no second edge */
	virtq_push(q, &f->d.mem, 0, 0);
	virtio_mmio_notify_used(&f->dev.t, 0);
	assert_int_equal(f->d.edges, 1);

	/* config change adds bit 1 and bumps the generation */
	uint32_t gen = vd_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_mmio_config_changed(&f->dev.t);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), 3);

	/* partial ack keeps the line up, full ack drops it */
	vd_write32(&f->d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(f->d.level, 1);
	vd_write32(&f->d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->d.level, 0);

	/* the next used buffer makes a new edge */
	virtq_push(q, &f->d.mem, 0, 0);
	virtio_mmio_notify_used(&f->dev.t, 0);
	assert_int_equal(f->d.edges, 2);
}

static void test_reset(void **state)
{
	struct fix *f = *state;

	assert_true(vd_setup(&f->d, 2, 0) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.resets, 1);	/* vd_setup starts with a reset */
	virtq_push(&f->dev.t.queues[0], &f->d.mem, 0, 0);
	virtio_mmio_notify_used(&f->dev.t, 0);
	assert_int_equal(f->d.level, 1);

	vd_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->dev.resets, 2);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->d.level, 0);
	assert_int_equal(f->dev.t.driver_features, 0);
	for (unsigned q = 0; q < 2; q++) {
		vd_write32(&f->d, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_QUEUE_READY), 0);
		assert_int_equal(f->dev.t.queues[q].used_idx, 0);
	}
	assert_string_equal(f->dev.t.queues[1].name, "dummy.q1");
	/* the device works again after a fresh setup */
	assert_true(vd_setup(&f->d, 2, 0) & VIRTIO_STATUS_DRIVER_OK);
	assert_non_null(virtio_mmio_queue(&f->dev.t, 1));
}

static void test_config_space(void **state)
{
	struct fix *f = *state;
	uint8_t b[8];
	uint64_t bad;

	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_CONFIG), 0x04030201);
	assert_int_equal(bus_read(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_CONFIG + 5, b, 1), 0);
	assert_int_equal(b[0], 6);
	assert_int_equal(bus_read(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_CONFIG, b, 8), 0);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(bus_write(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_CONFIG + 2, (const uint8_t *)"\xaa\xbb", 2), 0);
	assert_memory_equal(f->dev.config, "\x01\x02\xaa\xbb", 4);

	/* past the end of config space: zeros, counted, device untouched */
	bad = f->dev.t.bad_accesses;
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_CONFIG + 6), 0);
	vd_write32(&f->d, VIRTIO_MMIO_CONFIG + 8, 0xffffffff);
	assert_int_equal(f->dev.t.bad_accesses, bad + 2);
	/* registers take only aligned 32-bit accesses */
	memset(b, 0xff, sizeof(b));
	bus_read(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE, b, 2);
	assert_int_equal(b[0], 0);
	vd_write32(&f->d, VIRTIO_MMIO_STATUS + 1, 0);
	bus_write(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_STATUS, b, 1);
	vd_read32(&f->d, 0x0a8);	/* not a register */
	vd_write32(&f->d, VIRTIO_MMIO_MAGIC_VALUE, 0);	/* read-only */
	assert_int_equal(f->dev.t.bad_accesses, bad + 7);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_waits_for_driver_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
