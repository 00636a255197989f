/* virtio-net: tx frames reach test_hostio, rx events land in guest buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/net.h"
#include "tests/unit/support/test_hostio.h"
#include "tests/unit/virtio/vdriver.h"

#define RXQ 0
#define TXQ 1
#define RXBUF(i) (VD_DATA + 0x800ULL * (i))
#define RXBUF_LEN (VIRTIO_NET_HDR_LEN + 1518)
#define TXBUF (VD_DATA + 0x40000)

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct fix {
	struct vdriver d;
	struct test_hostio th;
	struct virtio_net net;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));

	vd_init(&f->d);
	test_hostio_init(&f->th);
	assert_int_equal(virtio_net_init(&f->net, &f->d.mem, &f->th.io, &f->d.irq, 10, 2, mac), 0);
	assert_int_equal(virtio_net_attach(&f->net, &f->d.bus, VD_MMIO_BASE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	virtio_net_destroy(&f->net);
	vd_destroy(&f->d);
	test_free(f);
	return 0;
}

static void make_frame(uint8_t *fr, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		fr[i] = (uint8_t)(seed + i * 3);
}

static int deliver(struct fix *f, uint8_t seed, size_t len)
{
	uint8_t fr[2048];

	make_frame(fr, len, seed);
	return test_hostio_deliver(&f->th, HOSTIO_EV_NET_RX, 2, fr, (uint32_t)len);
}

static void post_rx(struct fix *f, unsigned i, uint32_t len)
{
	struct vd_seg s = { RXBUF(i), len, 1 };

	vd_post(&f->d, RXQ, vd_chain(&f->d, RXQ, &s, 1));
}

/* The frame in rx buffer i, checked against what deliver(seed, len) sent. */
static void check_rx(struct fix *f, unsigned used_i, unsigned buf, uint8_t seed, size_t len)
{
	uint8_t fr[2048];
	uint32_t id, used;
	uint16_t num_buffers;

	vd_used_elem(&f->d, RXQ, used_i, &id, &used);
	assert_int_equal(used, VIRTIO_NET_HDR_LEN + len);
	make_frame(fr, len, seed);
	assert_memory_equal(f->d.ram + RXBUF(buf) + VIRTIO_NET_HDR_LEN, fr, len);
	memcpy(&num_buffers, f->d.ram + RXBUF(buf) + 10, 2);
	assert_int_equal(num_buffers, 1);
	assert_int_equal(f->d.ram[RXBUF(buf)], 0);	/* flags: no checksum offload */
}

static void test_config(void **state)
{
	struct fix *f = *state;
	uint8_t got[6];

	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	vd_write32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_DEVICE_FEATURES),
			 1u << VIRTIO_NET_F_MAC | 1u << VIRTIO_F_INDIRECT_DESC);
	for (unsigned i = 0; i < 6; i++)
		bus_read(&f->d.bus, VD_MMIO_BASE + VIRTIO_MMIO_CONFIG + i, &got[i], 1);
	assert_memory_equal(got, mac, 6);
	/* one nic per hostio source */
	struct virtio_net *other = calloc(1, sizeof(*other));
	assert_int_equal(virtio_net_init(other, &f->d.mem, &f->th.io, NULL, 0, 2, mac), -EBUSY);
	free(other);
}

static void test_tx(void **state)
{
	struct fix *f = *state;
	uint8_t fr[60];
	uint32_t id, used;

	assert_true(vd_setup(&f->d, 2, 1ULL << VIRTIO_NET_F_MAC) & VIRTIO_STATUS_DRIVER_OK);
	make_frame(fr, sizeof(fr), 1);
	/* header and frame in one buffer */
	memset(f->d.ram + TXBUF, 0, VIRTIO_NET_HDR_LEN);
	memcpy(f->d.ram + TXBUF + VIRTIO_NET_HDR_LEN, fr, sizeof(fr));
	struct vd_seg s = { TXBUF, VIRTIO_NET_HDR_LEN + sizeof(fr), 0 };
	vd_post(&f->d, TXQ, vd_chain(&f->d, TXQ, &s, 1));
	/* header split 7 + 5, the second piece carrying the frame's first 20 bytes */
	memcpy(f->d.ram + TXBUF + 0x1000 + 5, fr, 20);
	memcpy(f->d.ram + TXBUF + 0x2000, fr + 20, 40);
	struct vd_seg s2[3] = { { TXBUF + 0x3000, 7, 0 }, { TXBUF + 0x1000, 5 + 20, 0 },
				{ TXBUF + 0x2000, 40, 0 } };
	vd_post(&f->d, TXQ, vd_chain(&f->d, TXQ, s2, 3));
	vd_notify(&f->d, TXQ);

	assert_int_equal(f->th.frame_count, 2);
	assert_int_equal(f->th.frames[0].len, sizeof(fr));
	assert_memory_equal(f->th.frames[0].data, fr, sizeof(fr));
	assert_int_equal(f->th.frames[1].len, sizeof(fr));
	assert_memory_equal(f->th.frames[1].data, fr, sizeof(fr));
	assert_int_equal(f->net.tx_frames, 2);
	assert_int_equal(vd_used_idx(&f->d, TXQ), 2);
	vd_used_elem(&f->d, TXQ, 1, &id, &used);
	assert_int_equal(used, 0);
	assert_int_equal(f->d.level, 1);
}

static void test_tx_bad(void **state)
{
	struct fix *f = *state;

	vd_setup(&f->d, 2, 0);
	/* shorter than the header */
	struct vd_seg s = { TXBUF, 5, 0 };
	vd_post(&f->d, TXQ, vd_chain(&f->d, TXQ, &s, 1));
	/* larger than any frame */
	struct vd_seg s2 = { TXBUF, VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME + 1, 0 };
	vd_post(&f->d, TXQ, vd_chain(&f->d, TXQ, &s2, 1));
	/* the backend refusing a frame is counted, not fatal */
	struct vd_seg s3 = { TXBUF, VIRTIO_NET_HDR_LEN + 4000, 0 };
	vd_post(&f->d, TXQ, vd_chain(&f->d, TXQ, &s3, 1));
	vd_notify(&f->d, TXQ);
	assert_int_equal(f->th.frame_count, 0);
	assert_int_equal(f->net.tx_bad, 2);
	assert_int_equal(f->net.tx_errors, 1);
	assert_int_equal(vd_used_idx(&f->d, TXQ), 3);	/* all returned */
}

static void test_rx_immediate(void **state)
{
	struct fix *f = *state;

	vd_setup(&f->d, 2, 0);
	post_rx(f, 0, RXBUF_LEN);
	post_rx(f, 1, RXBUF_LEN);
	vd_notify(&f->d, RXQ);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 0);

	assert_int_equal(deliver(f, 7, 60), 0);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 1);
	check_rx(f, 0, 0, 7, 60);
	assert_int_equal(f->d.level, 1);
	assert_int_equal(vd_read32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_int_equal(deliver(f, 9, 1514), 0);
	check_rx(f, 1, 1, 9, 1514);
	assert_int_equal(f->net.rx_frames, 2);
}

static void test_rx_waits_for_buffers(void **state)
{
	struct fix *f = *state;

	/* before DRIVER_OK a frame is dropped */
	assert_int_equal(deliver(f, 1, 60), 0);
	assert_int_equal(f->net.rx_dropped_down, 1);

	vd_setup(&f->d, 2, 0);
	for (unsigned i = 0; i < 3; i++)
		deliver(f, (uint8_t)(10 + i), 60 + i);
	assert_int_equal(f->net.rx_count, 3);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 0);
	assert_int_equal(f->d.edges, 0);

	for (unsigned i = 0; i < 4; i++)
		post_rx(f, i, RXBUF_LEN);
	vd_notify(&f->d, RXQ);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 3);
	for (unsigned i = 0; i < 3; i++)
		check_rx(f, i, i, (uint8_t)(10 + i), 60 + i);
	assert_int_equal(f->net.rx_count, 0);
	assert_int_equal(f->d.edges, 1);
}

static void test_rx_overflow(void **state)
{
	struct fix *f = *state;

	vd_setup(&f->d, 2, 0);
	for (unsigned i = 0; i < VIRTIO_NET_RX_PENDING + 6; i++)
		deliver(f, (uint8_t)i, 64);
	assert_int_equal(f->net.rx_count, VIRTIO_NET_RX_PENDING);
	assert_int_equal(f->net.rx_dropped, 6);
	/* the oldest frames survived */
	post_rx(f, 0, RXBUF_LEN);
	vd_notify(&f->d, RXQ);
	check_rx(f, 0, 0, 0, 64);
	/* a reset throws the rest away (and frees them: ASan checks) */
	vd_write32(&f->d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->net.rx_count, 0);
}

static void test_rx_too_big_for_buffer(void **state)
{
	struct fix *f = *state;

	vd_setup(&f->d, 2, 0);
	post_rx(f, 0, VIRTIO_NET_HDR_LEN + 100);
	vd_notify(&f->d, RXQ);
	deliver(f, 1, 200);
	assert_int_equal(f->net.rx_too_big, 1);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 0);	/* buffer not consumed */
	deliver(f, 2, 100);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 1);
	check_rx(f, 0, 0, 2, 100);
}

static void test_rx_across_segments(void **state)
{
	struct fix *f = *state;
	struct vd_seg s[3] = { { RXBUF(0), 10, 1 }, { RXBUF(1), 30, 1 }, { RXBUF(2), 2000, 1 } };
	uint8_t fr[100];

	vd_setup(&f->d, 2, 0);
	vd_post(&f->d, RXQ, vd_chain(&f->d, RXQ, s, 3));
	deliver(f, 5, 100);
	make_frame(fr, sizeof(fr), 5);
	assert_int_equal(vd_used_idx(&f->d, RXQ), 1);
	assert_memory_equal(f->d.ram + RXBUF(1) + 2, fr, 28);
	assert_memory_equal(f->d.ram + RXBUF(2), fr + 28, 72);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_immediate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_big_for_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_across_segments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
