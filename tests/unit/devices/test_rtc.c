#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/rtc.h"
#include "tests/unit/devices/test_devices_util.h"
#include "tests/unit/support/test_hostio.h"

#define SEC 1000000000ull

struct fix {
	struct test_hostio th;
	struct bus pio;
	struct line_rec lines;
	struct irq_sink sink;
	struct rtc rtc;
};

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	test_hostio_init(&f->th);	/* wallclock 2026-01-02 03:04:05 UTC at now 0 */
	bus_init(&f->pio, "pio");
	f->sink = line_rec_sink(&f->lines);
	rtc_init(&f->rtc, &f->th.io, &f->sink, 8);
	assert_int_equal(rtc_attach(&f->rtc, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

static uint8_t cmos_read(struct fix *f, uint8_t idx)
{
	outb(&f->pio, 0x70, idx);
	return inb(&f->pio, 0x71);
}

static void cmos_write(struct fix *f, uint8_t idx, uint8_t v)
{
	outb(&f->pio, 0x70, idx);
	outb(&f->pio, 0x71, v);
}

static void expect_time(struct fix *f, uint8_t h, uint8_t m, uint8_t s)
{
	assert_int_equal(cmos_read(f, 0x04), h);
	assert_int_equal(cmos_read(f, 0x02), m);
	assert_int_equal(cmos_read(f, 0x00), s);
}

static void test_bcd_24h_known_date(void **state)
{
	struct fix *f = *state;
	assert_int_equal(cmos_read(f, 0x0b), 0x02);
	expect_time(f, 0x03, 0x04, 0x05);
	assert_int_equal(cmos_read(f, 0x06), 6);	/* Friday; Sunday = 1 */
	assert_int_equal(cmos_read(f, 0x07), 0x02);
	assert_int_equal(cmos_read(f, 0x08), 0x01);
	assert_int_equal(cmos_read(f, 0x09), 0x26);
	assert_int_equal(cmos_read(f, 0x32), 0x20);
	assert_int_equal(cmos_read(f, 0x0d), 0x80);
	assert_int_equal(cmos_read(f, 0x0a), 0x26);

	f->th.now_ns = 62 * SEC + 500;	/* time moves with the clock */
	expect_time(f, 0x03, 0x05, 0x07);

	/* NMI mask bit in the index write selects the same register */
	outb(&f->pio, 0x70, 0x80 | 0x09);
	assert_int_equal(inb(&f->pio, 0x71), 0x26);
	assert_int_equal(f->rtc.nmi_masked, 1);
}

static void test_binary_and_12h(void **state)
{
	struct fix *f = *state;
	cmos_write(f, 0x0b, 0x06);	/* binary, 24h */
	expect_time(f, 3, 4, 5);
	assert_int_equal(cmos_read(f, 0x09), 26);
	assert_int_equal(cmos_read(f, 0x32), 20);

	cmos_write(f, 0x0b, 0x00);	/* BCD, 12h */
	assert_int_equal(cmos_read(f, 0x04), 0x03);	/* 3 AM */
	f->th.now_ns = 12 * 3600 * SEC;	/* 15:04:05 */
	assert_int_equal(cmos_read(f, 0x04), 0x83);
	f->th.now_ns = (20 * 3600 + 55 * 60 + 55) * SEC;	/* 00:00 next day */
	assert_int_equal(cmos_read(f, 0x04), 0x12);
	assert_int_equal(cmos_read(f, 0x07), 0x03);
	assert_int_equal(cmos_read(f, 0x06), 7);
	f->th.now_ns = (20 * 3600 + 55 * 60 + 55 + 12 * 3600) * SEC;	/* noon */
	assert_int_equal(cmos_read(f, 0x04), 0x92);

	cmos_write(f, 0x0b, 0x04);	/* binary, 12h */
	assert_int_equal(cmos_read(f, 0x04), 0x80 | 12);
}

static void test_uip_window(void **state)
{
	struct fix *f = *state;
	f->th.now_ns = 999700000;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	f->th.now_ns = 999756001;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0x80);
	f->th.now_ns = 999999999;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0x80);
	f->th.now_ns = 1000000000;
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	cmos_write(f, 0x0a, 0xa6);	/* UIP is read-only */
	assert_int_equal(cmos_read(f, 0x0a), 0x26);
}

static void test_set_bit(void **state)
{
	struct fix *f = *state;
	cmos_write(f, 0x0b, 0x82);
	f->th.now_ns = 10 * SEC + 300000000;
	expect_time(f, 0x03, 0x04, 0x05);	/* frozen */
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	cmos_write(f, 0x04, 0x10);
	cmos_write(f, 0x02, 0x20);
	cmos_write(f, 0x09, 0x27);
	expect_time(f, 0x10, 0x20, 0x05);
	cmos_write(f, 0x0b, 0x02);
	expect_time(f, 0x10, 0x20, 0x05);
	assert_int_equal(cmos_read(f, 0x09), 0x27);
	f->th.now_ns += 3 * SEC;
	expect_time(f, 0x10, 0x20, 0x08);
	/* the new second starts at the host's second boundary */
	f->th.now_ns = 13 * SEC + 999999999;
	assert_int_equal(cmos_read(f, 0x00), 0x08);
	f->th.now_ns = 14 * SEC;
	assert_int_equal(cmos_read(f, 0x00), 0x09);

	/* writing a field of the running clock (no SET) also takes */
	cmos_write(f, 0x02, 0x45);
	expect_time(f, 0x10, 0x45, 0x09);
	f->th.now_ns += SEC;
	expect_time(f, 0x10, 0x45, 0x10);

	/* SET clears UIE */
	cmos_write(f, 0x0b, 0x92);
	assert_int_equal(cmos_read(f, 0x0b), 0x82);
}

static void test_reg_c_and_periodic_irq(void **state)
{
	struct fix *f = *state;
	assert_int_equal(cmos_read(f, 0x0c), 0x00);
	cmos_write(f, 0x0b, 0x42);	/* PIE, rate 6 = 1024 Hz */
	uint64_t dl = f->th.timer_deadline[HOSTIO_TIMER_RTC];
	assert_int_equal(dl, 976563);	/* ceil(32 * 1e9 / 32768) */
	test_hostio_advance(&f->th, 1000000);
	assert_int_equal(f->lines.rises[8], 1);
	assert_int_equal(f->lines.level[8], 1);
	/* no reg C read: the line stays high, no new edge, and no timer events meanwhile */
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_RTC], HOSTIO_TIMER_OFF);
	test_hostio_advance(&f->th, 5000000);
	assert_int_equal(f->lines.rises[8], 1);
	assert_int_equal(cmos_read(f, 0x0c), 0xc0);
	assert_int_equal(f->lines.level[8], 0);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_RTC], 5859375);	/* 192 / 32768 s */
	assert_int_equal(cmos_read(f, 0x0c), 0x00);	/* read clears */
	test_hostio_advance(&f->th, 6000000);
	assert_int_equal(f->lines.rises[8], 2);
	assert_int_equal(cmos_read(f, 0x0c), 0xc0);

	/* the period follows register A: rate 15 = 2 Hz */
	cmos_write(f, 0x0a, 0x2f);
	dl = f->th.timer_deadline[HOSTIO_TIMER_RTC];
	assert_int_equal(dl, 500000000);
	test_hostio_advance(&f->th, 499999999);
	assert_int_equal(f->lines.rises[8], 2);
	test_hostio_advance(&f->th, 500000000);
	assert_int_equal(f->lines.rises[8], 3);
	cmos_read(f, 0x0c);

	/* PIE off: no timer, but PF still shows up for a polling guest */
	cmos_write(f, 0x0b, 0x02);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_RTC], HOSTIO_TIMER_OFF);
	f->th.now_ns = 2 * SEC;
	uint8_t c = cmos_read(f, 0x0c);
	assert_int_equal(c & 0xc0, 0x40);
	assert_int_equal(f->lines.rises[8], 3);
}

static void test_update_interrupt(void **state)
{
	struct fix *f = *state;
	f->th.now_ns = 250000000;
	cmos_write(f, 0x0a, 0x20);	/* no periodic rate: only UF/AF below */
	cmos_read(f, 0x0c);
	cmos_write(f, 0x0b, 0x12);	/* UIE */
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_RTC], SEC);
	test_hostio_advance(&f->th, SEC);
	assert_int_equal(f->lines.rises[8], 1);
	assert_int_equal(cmos_read(f, 0x0c), 0x90);
	assert_int_equal(f->th.timer_deadline[HOSTIO_TIMER_RTC], 2 * SEC);

	/* alarm at 03:04:08 */
	cmos_write(f, 0x01, 0x08);
	cmos_write(f, 0x03, 0x04);
	cmos_write(f, 0x05, 0xc0);	/* any hour */
	cmos_write(f, 0x0b, 0x22);	/* AIE only */
	test_hostio_advance(&f->th, 2 * SEC);
	assert_int_equal(f->lines.rises[8], 1);
	assert_int_equal(cmos_read(f, 0x0c) & 0x20, 0x00);
	test_hostio_advance(&f->th, 3 * SEC);
	assert_int_equal(f->lines.rises[8], 2);
	assert_int_equal(cmos_read(f, 0x0c), 0xb0);
}

static void test_mem_size(void **state)
{
	struct fix *f = *state;
	rtc_set_mem_size(&f->rtc, 32ull << 20);
	assert_int_equal(cmos_read(f, 0x15) | cmos_read(f, 0x16) << 8, 640);
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 31 * 1024);
	assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 31 * 1024);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, 16 * 16);
	unsigned sum = 0;
	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += cmos_read(f, (uint8_t)i);
	assert_int_equal(cmos_read(f, 0x2e) << 8 | cmos_read(f, 0x2f), sum & 0xffff);

	rtc_set_mem_size(&f->rtc, 8ull << 30);	/* 3 GiB low, 5 GiB high */
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 0xffff);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, (3072 - 16) * 16);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 | cmos_read(f, 0x5d) << 16,
			 (5ull << 30) >> 16);

	/* plain CMOS RAM keeps what the guest writes */
	cmos_write(f, 0x40, 0xa5);
	assert_int_equal(cmos_read(f, 0x40), 0xa5);
	cmos_write(f, 0x7f, 0x5a);
	assert_int_equal(cmos_read(f, 0x7f), 0x5a);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;
	uint64_t s = 0xfeedfacecafebeefull;
	enum log_level saved = log_threshold;
	log_threshold = LOG_ERROR;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd_next(&s);
		uint16_t port = 0x70 + (r & 1);
		if ((r >> 8) & 1)
			outb(&f->pio, port, (uint8_t)(r >> 16));
		else
			inb(&f->pio, port);
		if (((r >> 24) & 63) == 0) {
			test_hostio_advance(&f->th, f->th.now_ns + ((r >> 32) & 0xffffff));
			uint64_t dl = f->th.timer_deadline[HOSTIO_TIMER_RTC];
			assert_true(dl == HOSTIO_TIMER_OFF || dl > f->th.now_ns);
		}
		if (((r >> 40) & 255) == 0)
			/* any host wallclock within +-73 years of 1970, even negative */
			f->th.wall_ns = (int64_t)(rnd_next(&s) >> 2) - (1ll << 61);
		assert_int_equal(cmos_read(f, 0x0d), 0x80);
		assert_int_equal(f->lines.level[8], (f->rtc.cmos[0x0c] & 0x80) != 0);
	}
	log_threshold = saved;
	/* a sane setting afterwards reads back sanely */
	f->th.wall_ns = 0;
	cmos_write(f, 0x0b, 0x86);
	cmos_write(f, 0x32, 20);
	cmos_write(f, 0x09, 30);
	cmos_write(f, 0x08, 6);
	cmos_write(f, 0x07, 15);
	cmos_write(f, 0x04, 12);
	cmos_write(f, 0x02, 0);
	cmos_write(f, 0x00, 0);
	cmos_write(f, 0x0b, 0x06);
	assert_int_equal(cmos_read(f, 0x09), 30);
	assert_int_equal(cmos_read(f, 0x08), 6);
	assert_int_equal(cmos_read(f, 0x07), 15);
	assert_int_equal(cmos_read(f, 0x06), 7);	/* 2030-06-15 is a Saturday */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_24h_known_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uip_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_c_and_periodic_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
