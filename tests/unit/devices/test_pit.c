#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/pit.h"
#include "tests/unit/devices/test_devices_util.h"
#include "tests/unit/support/test_hostio.h"

struct fix {
	struct test_hostio th;
	struct bus pio;
	struct line_rec lines;
	struct irq_sink sink;
	struct pit pit;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	test_hostio_init(&f->th);
	bus_init(&f->pio, "pio");
	f->sink = line_rec_sink(&f->lines);
	pit_init(&f->pit, &f->th.io, &f->sink, 0);
	assert_int_equal(pit_attach(&f->pit, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

/* Independent reference: ceil(ticks * 1e9 / F) with 128-bit math. */
static uint64_t ref_ticks_to_ns(uint64_t ticks)
{
	unsigned __int128 n = (unsigned __int128)ticks * 1000000000u;
	return (uint64_t)((n + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ);
}

static uint64_t ref_ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_FREQ_HZ / 1000000000u);
}

static void program(struct fix *f, unsigned ch, uint8_t mode, uint16_t count)
{
	outb(&f->pio, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1));
	outb(&f->pio, 0x40 + ch, count & 0xff);
	outb(&f->pio, 0x40 + ch, count >> 8);
}

static uint16_t latch_read(struct fix *f, unsigned ch)
{
	outb(&f->pio, 0x43, (uint8_t)(ch << 6));
	uint8_t lo = inb(&f->pio, 0x40 + ch);
	return (uint16_t)(lo | inb(&f->pio, 0x40 + ch) << 8);
}

static void periodic(void **state, uint8_t mode)
{
	struct fix *f = *state;
	const uint16_t reload = 1193;	/* ~1 ms */
	f->th.now_ns = 5000;
	program(f, 0, mode, reload);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], 5000 + ref_ticks_to_ns(reload));

	for (uint64_t t = 5000 + 250000; t < 5000 + 50000000; t += 250000) {
		test_hostio_advance(&f->th, t);
		uint64_t expect = ref_ns_to_ticks(t - 5000) / reload;
		assert_int_equal(f->lines.rises[0], expect);
		assert_int_equal(f->lines.level[0], 0);	/* pulses, never left high */
		uint64_t next = (expect + 1) * reload;
		assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], 5000 + ref_ticks_to_ns(next));
	}
	assert_int_equal(f->pit.lost_ticks, 0);
}

static void test_mode2_periodic(void **state)
{
	periodic(state, 2);
}

static void test_mode3_periodic(void **state)
{
	periodic(state, 3);
}

static void test_lost_ticks_coalesced(void **state)
{
	struct fix *f = *state;
	const uint16_t reload = 11932;	/* ~10 ms */
	program(f, 0, 2, reload);
	test_hostio_advance(&f->th, 1000000000);	/* the guest did not exit for 1 s */
	assert_int_equal(f->lines.rises[0], 1);
	uint64_t e = ref_ns_to_ticks(1000000000);
	assert_int_equal(f->pit.lost_ticks, e / reload - 1);
	uint64_t dl = f->th.timer_deadline[HOSTIO_TIMER_PIT];
	assert_true(dl > 1000000000);
	assert_int_equal(dl, ref_ticks_to_ns((e / reload + 1) * reload));
	test_hostio_advance(&f->th, dl);
	assert_int_equal(f->lines.rises[0], 2);
}

static void test_oneshot_modes(void **state)
{
	struct fix *f = *state;
	program(f, 0, 0, 1000);
	uint64_t dl = ref_ticks_to_ns(1000);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], dl);
	test_hostio_advance(&f->th, dl - 1);
	assert_int_equal(f->lines.rises[0], 0);
	test_hostio_advance(&f->th, dl);
	assert_int_equal(f->lines.rises[0], 1);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], HOSTIO_TIMER_OFF);
	test_hostio_advance(&f->th, 10 * dl);
	assert_int_equal(f->lines.rises[0], 1);

	/* Linux's oneshot clockevent: mode 4 control word, then each delta in lohi */
	outb(&f->pio, 0x43, 0x38);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], HOSTIO_TIMER_OFF);
	uint64_t t0 = f->th.now_ns;
	outb(&f->pio, 0x40, 500 & 0xff);
	outb(&f->pio, 0x40, 500 >> 8);
	dl = f->th.timer_deadline[HOSTIO_TIMER_PIT];
	assert_int_equal(dl, t0 + ref_ticks_to_ns(501));
	test_hostio_advance(&f->th, dl + 100000000);
	assert_int_equal(f->lines.rises[0], 2);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], HOSTIO_TIMER_OFF);

	/* shutdown (0x30) cancels a pending one-shot */
	outb(&f->pio, 0x40, 100);
	outb(&f->pio, 0x40, 0);
	assert_true(f->th.timer_deadline[HOSTIO_TIMER_PIT] != HOSTIO_TIMER_OFF);
	outb(&f->pio, 0x43, 0x30);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], HOSTIO_TIMER_OFF);
}

static void test_latch_and_readback(void **state)
{
	struct fix *f = *state;
	program(f, 0, 2, 1000);
	f->th.now_ns = ref_ticks_to_ns(100);
	uint64_t reads = f->th.clock_reads;
	outb(&f->pio, 0x43, 0x00);	/* counter latch */
	assert_int_equal(f->th.clock_reads, reads + 1);
	f->th.now_ns = ref_ticks_to_ns(300);
	outb(&f->pio, 0x43, 0x00);	/* ignored: a latch is still unread */
	uint8_t lo = inb(&f->pio, 0x40), hi = inb(&f->pio, 0x40);
	assert_int_equal(lo | hi << 8, 900);
	assert_int_equal(f->th.clock_reads, reads + 1);

	/* live lohi read: one clock read for both bytes */
	reads = f->th.clock_reads;
	lo = inb(&f->pio, 0x40);
	hi = inb(&f->pio, 0x40);
	assert_int_equal(lo | hi << 8, 700);
	assert_int_equal(f->th.clock_reads, reads + 1);

	/* read-back: status then count of channel 0 */
	outb(&f->pio, 0x43, 0xc2);
	assert_int_equal(inb(&f->pio, 0x40), 0x80 | 0x30 | 2 << 1);
	lo = inb(&f->pio, 0x40);
	hi = inb(&f->pio, 0x40);
	assert_int_equal(lo | hi << 8, 700);

	/* null count right after the control word, status-only read-back */
	outb(&f->pio, 0x43, 0x34);
	outb(&f->pio, 0x43, 0xe2);
	assert_int_equal(inb(&f->pio, 0x40), 0x80 | 0x40 | 0x30 | 2 << 1);

	/* lobyte-only access, mode 3 counts down by two */
	outb(&f->pio, 0x43, 0x96);	/* channel 2, lobyte, mode 3 */
	outb(&f->pio, 0x61, 0x01);
	outb(&f->pio, 0x42, 100);
	f->th.now_ns += ref_ticks_to_ns(10) + 1;
	outb(&f->pio, 0x43, 0x80);
	assert_int_equal(inb(&f->pio, 0x42), 80);
}

static void test_channel2_gate_and_out(void **state)
{
	struct fix *f = *state;
	/* the speaker-calibration pattern: gate on, mode 0, poll OUT in bit 5 */
	outb(&f->pio, 0x61, 0x01);
	assert_int_equal(inb(&f->pio, 0x61) & 0x03, 0x01);
	f->th.now_ns = 1000;
	program(f, 2, 0, 1000);
	assert_int_equal(inb(&f->pio, 0x61) & 0x20, 0);
	f->th.now_ns = 1000 + ref_ticks_to_ns(999);
	assert_int_equal(inb(&f->pio, 0x61) & 0x20, 0);
	/* gate off for a while: the count pauses */
	outb(&f->pio, 0x61, 0x00);
	f->th.now_ns += 50000000;
	assert_int_equal(latch_read(f, 2), 1);
	assert_int_equal(inb(&f->pio, 0x61) & 0x20, 0);
	outb(&f->pio, 0x61, 0x01);
	f->th.now_ns += ref_ticks_to_ns(1) + 1;
	assert_int_equal(inb(&f->pio, 0x61) & 0x20, 0x20);
	assert_int_equal(f->lines.rises[0], 0);	/* channel 2 raises no interrupt */

	/* mode 2 on channel 2: a rising gate restarts the count */
	program(f, 2, 2, 500);
	f->th.now_ns += ref_ticks_to_ns(200) + 1;
	assert_int_equal(latch_read(f, 2), 300);
	outb(&f->pio, 0x61, 0x00);
	assert_int_equal(inb(&f->pio, 0x61) & 0x20, 0x20);	/* gate low forces OUT high */
	outb(&f->pio, 0x61, 0x01);
	assert_int_equal(latch_read(f, 2), 500);

	/* refresh toggle follows the clock, not the number of reads */
	f->th.now_ns = 0;
	uint8_t a = inb(&f->pio, 0x61) & 0x10, b = inb(&f->pio, 0x61) & 0x10;
	assert_int_equal(a, b);
	f->th.now_ns = 15085;
	assert_int_not_equal(inb(&f->pio, 0x61) & 0x10, a);
	outb(&f->pio, 0x61, 0x03);
	assert_int_equal(inb(&f->pio, 0x61) & 0x0f, 0x03);
}

static void test_long_uptime_exact(void **state)
{
	struct fix *f = *state;
	/* start late (days of uptime): deadlines must not overflow or drift */
	uint64_t t0 = 5ull * 86400 * 1000000000ull + 123;
	f->th.now_ns = t0;
	program(f, 0, 2, 0);	/* 0 = 65536 */
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_PIT], t0 + ref_ticks_to_ns(65536));
	for (int i = 1; i <= 100; i++) {
		uint64_t dl = f->th.timer_deadline[HOSTIO_TIMER_PIT];
		assert_int_equal(dl, t0 + ref_ticks_to_ns((uint64_t)i * 65536));
		test_hostio_advance(&f->th, dl);
	}
	assert_int_equal(f->lines.rises[0], 100);
	assert_int_equal(f->pit.lost_ticks, 0);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;
	static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };
	uint64_t s = 0x123456789abcdefull;
	enum log_level saved = log_threshold;
	log_threshold = LOG_ERROR;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd_next(&s);
		uint16_t port = ports[r % 5];
		if ((r >> 8) & 1)
			outb(&f->pio, port, (uint8_t)(r >> 16));
		else
			inb(&f->pio, port);
		if (((r >> 24) & 15) == 0) {
			test_hostio_advance(&f->th, f->th.now_ns + ((r >> 32) & 0xfffff));
			uint64_t dl = f->th.timer_deadline[HOSTIO_TIMER_PIT];
			assert_true(dl == HOSTIO_TIMER_OFF || dl > f->th.now_ns);
		}
		assert_int_equal(f->lines.level[0], 0);
	}
	log_threshold = saved;
	/* still works after the abuse */
	unsigned before = f->lines.rises[0];
	program(f, 0, 2, 1193);
	test_hostio_advance(&f->th, f->th.now_ns + 10000000);
	assert_int_equal(f->lines.rises[0], before + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mode2_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode3_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_ticks_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneshot_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latch_and_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel2_gate_and_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_uptime_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
