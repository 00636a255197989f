#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/pic.h"
#include "tests/unit/devices/test_devices_util.h"

struct fix {
	struct pic pic;
	struct bus pio;
};

/* What Linux's init_8259A(0) does: vectors 0x30/0x38, cascade on IR2, 8086 mode. */
static void linux_init(struct bus *b, uint8_t icw4)
{
	outb(b, 0x21, 0xff);
	outb(b, 0x20, 0x11);
	outb(b, 0x21, 0x30);
	outb(b, 0x21, 0x04);
	outb(b, 0x21, icw4);
	outb(b, 0xa0, 0x11);
	outb(b, 0xa1, 0x38);
	outb(b, 0xa1, 0x02);
	outb(b, 0xa1, 0x01);
	outb(b, 0x21, 0x00);
	outb(b, 0xa1, 0x00);
}

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	pic_init(&f->pic);
	bus_init(&f->pio, "pio");
	assert_int_equal(pic_attach(&f->pic, &f->pio), 0);
	linux_init(&f->pio, 0x01);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

static uint8_t read_isr(struct bus *b, uint16_t cmd)
{
	outb(b, cmd, 0x0b);
	uint8_t v = inb(b, cmd);
	outb(b, cmd, 0x0a);
	return v;
}

static void pulse(struct pic *p, unsigned irq)
{
	pic_set_irq(p, irq, 1);
	pic_set_irq(p, irq, 0);
}

static void test_init_and_eoi(void **state)
{
	struct fix *f = *state;
	assert_false(pic_has_interrupt(&f->pic));
	assert_int_equal(inb(&f->pio, 0x21), 0x00);

	struct irq_sink sink = pic_irq_sink(&f->pic);
	irq_pulse(&sink, 0);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(inb(&f->pio, 0x20) & 1, 1);	/* IRR by default */
	assert_int_equal(pic_ack(&f->pic), 0x30);
	assert_false(pic_has_interrupt(&f->pic));
	assert_int_equal(inb(&f->pio, 0x20) & 1, 0);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x01);

	/* a second edge while in service waits for the EOI */
	pulse(&f->pic, 0);
	assert_false(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0x20, 0x20);	/* non-specific EOI */
	assert_int_equal(read_isr(&f->pio, 0x20), 0x00);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x30);
	outb(&f->pio, 0x20, 0x60);	/* specific EOI IR0 */
	assert_int_equal(read_isr(&f->pio, 0x20), 0x00);
}

static void test_edge_needs_new_rise(void **state)
{
	struct fix *f = *state;
	pic_set_irq(&f->pic, 1, 1);
	assert_int_equal(pic_ack(&f->pic), 0x31);
	outb(&f->pio, 0x20, 0x20);
	pic_set_irq(&f->pic, 1, 1);	/* still high: no new edge */
	assert_false(pic_has_interrupt(&f->pic));
	pic_set_irq(&f->pic, 1, 0);
	pic_set_irq(&f->pic, 1, 1);
	assert_true(pic_has_interrupt(&f->pic));
}

static void test_priority_nesting(void **state)
{
	struct fix *f = *state;
	pulse(&f->pic, 3);
	pulse(&f->pic, 1);
	assert_int_equal(pic_ack(&f->pic), 0x31);
	assert_false(pic_has_interrupt(&f->pic));	/* IR3 is lower than IR1 in service */
	pulse(&f->pic, 0);
	assert_true(pic_has_interrupt(&f->pic));	/* IR0 nests */
	assert_int_equal(pic_ack(&f->pic), 0x30);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x03);
	outb(&f->pio, 0x20, 0x20);	/* clears IR0, the highest in service */
	assert_int_equal(read_isr(&f->pio, 0x20), 0x02);
	assert_false(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0x20, 0x20);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x33);
}

static void test_cascade(void **state)
{
	struct fix *f = *state;
	pulse(&f->pic, 10);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(inb(&f->pio, 0x20) & 0x04, 0x04);	/* master IRR shows IR2 */
	assert_int_equal(pic_ack(&f->pic), 0x3a);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x04);
	assert_int_equal(read_isr(&f->pio, 0xa0), 0x04);

	/* master IR2 in service blocks IR3-7 and, without SFNM, the whole slave */
	pulse(&f->pic, 4);
	pulse(&f->pic, 9);
	assert_false(pic_has_interrupt(&f->pic));
	pulse(&f->pic, 0);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x30);
	outb(&f->pio, 0x20, 0x60);

	/* Linux's order: slave specific EOI, then master specific EOI for IR2 */
	outb(&f->pio, 0xa0, 0x62);
	outb(&f->pio, 0x20, 0x62);
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x39);	/* IR9 above master IR4 via IR2 */
	outb(&f->pio, 0xa0, 0x20);
	outb(&f->pio, 0x20, 0x20);
	assert_int_equal(pic_ack(&f->pic), 0x34);
}

static void test_masking(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, 0x21, 0x01);
	assert_int_equal(inb(&f->pio, 0x21), 0x01);
	pulse(&f->pic, 0);
	assert_false(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0xa1, 0x08);
	pulse(&f->pic, 11);
	assert_false(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0x21, 0x00);	/* the latched edge is delivered once unmasked */
	assert_int_equal(pic_ack(&f->pic), 0x30);
	outb(&f->pio, 0x20, 0x20);
	outb(&f->pio, 0xa1, 0x00);
	assert_int_equal(pic_ack(&f->pic), 0x3b);

	/* masking the cascade input hides the slave */
	outb(&f->pio, 0x20, 0x20);
	outb(&f->pio, 0xa0, 0x20);
	outb(&f->pio, 0x21, 0x04);
	pulse(&f->pic, 12);
	assert_false(pic_has_interrupt(&f->pic));
}

static void test_spurious(void **state)
{
	struct fix *f = *state;
	assert_int_equal(pic_ack(&f->pic), 0x37);	/* nothing pending: spurious IRQ7 */
	assert_int_equal(read_isr(&f->pio, 0x20), 0x00);

	/* the slave's request goes away between INT and INTA: spurious IRQ15 */
	pulse(&f->pic, 13);
	assert_true(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0xa1, 0x20);
	assert_int_equal(pic_ack(&f->pic), 0x3f);
	assert_int_equal(read_isr(&f->pio, 0xa0), 0x00);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x04);	/* master still acknowledged IR2 */
	outb(&f->pio, 0x20, 0x62);
	assert_false(pic_has_interrupt(&f->pic));
}

static void test_auto_eoi(void **state)
{
	struct fix *f = *state;
	linux_init(&f->pio, 0x03);
	pulse(&f->pic, 1);
	assert_int_equal(pic_ack(&f->pic), 0x31);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x00);
	pulse(&f->pic, 5);
	assert_true(pic_has_interrupt(&f->pic));	/* nothing in service blocks it */
	assert_int_equal(pic_ack(&f->pic), 0x35);
}

static void test_level_elcr(void **state)
{
	struct fix *f = *state;
	outb(&f->pio, 0x4d1, 0x04);	/* IRQ10 level-triggered */
	assert_int_equal(inb(&f->pio, 0x4d1), 0x04);
	outb(&f->pio, 0x4d0, 0x07);	/* IRQ0-2 can never be level */
	assert_int_equal(inb(&f->pio, 0x4d0), 0x00);

	pic_set_irq(&f->pic, 10, 1);
	assert_int_equal(pic_ack(&f->pic), 0x3a);
	outb(&f->pio, 0xa0, 0x20);
	outb(&f->pio, 0x20, 0x20);
	assert_true(pic_has_interrupt(&f->pic));	/* line still high: again */
	assert_int_equal(pic_ack(&f->pic), 0x3a);
	pic_set_irq(&f->pic, 10, 0);
	outb(&f->pio, 0xa0, 0x20);
	outb(&f->pio, 0x20, 0x20);
	assert_false(pic_has_interrupt(&f->pic));
}

static void test_poll_and_rotation(void **state)
{
	struct fix *f = *state;
	pulse(&f->pic, 6);
	outb(&f->pio, 0x20, 0x0c);	/* OCW3 poll */
	assert_int_equal(inb(&f->pio, 0x20), 0x86);
	assert_int_equal(read_isr(&f->pio, 0x20), 0x40);
	outb(&f->pio, 0x20, 0x66);
	outb(&f->pio, 0x20, 0x0c);
	assert_int_equal(inb(&f->pio, 0x20), 0x00);	/* nothing pending */

	outb(&f->pio, 0x20, 0xc3);	/* IR3 lowest: IR4 is now the highest */
	pulse(&f->pic, 1);
	pulse(&f->pic, 5);
	assert_int_equal(pic_ack(&f->pic), 0x35);
	outb(&f->pio, 0x20, 0xa0);	/* rotate on non-specific EOI: IR5 becomes lowest */
	assert_int_equal(pic_ack(&f->pic), 0x31);
	outb(&f->pio, 0x20, 0x20);
	pulse(&f->pic, 5);
	pulse(&f->pic, 7);
	assert_int_equal(pic_ack(&f->pic), 0x37);	/* 6,7,0.. above 5 now */
}

static void test_special_mask(void **state)
{
	struct fix *f = *state;
	pulse(&f->pic, 1);
	assert_int_equal(pic_ack(&f->pic), 0x31);
	pulse(&f->pic, 4);
	assert_false(pic_has_interrupt(&f->pic));
	outb(&f->pio, 0x21, 0x02);	/* mask the in-service IR1 ... */
	outb(&f->pio, 0x20, 0x68);	/* ... and enter special mask mode */
	assert_true(pic_has_interrupt(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x34);
	outb(&f->pio, 0x20, 0x48);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	uint64_t s = 0x9e3779b97f4a7c15ull;
	enum log_level saved = log_threshold;
	log_threshold = LOG_ERROR;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd_next(&s);
		uint16_t port = ports[r % 6];
		switch ((r >> 8) % 5) {
		case 0:
			outb(&f->pio, port, (uint8_t)(r >> 16));
			break;
		case 1:
			inb(&f->pio, port);
			break;
		case 2:
			pic_set_irq(&f->pic, (unsigned)(r >> 16) % 20, (int)(r >> 24) & 1);
			break;
		default: {
			int v = pic_ack(&f->pic);
			assert_true(v >= 0 && v <= 0xff);
			int m = f->pic.chip[0].vector_base, sl = f->pic.chip[1].vector_base;
			assert_true((v & 0xf8) == m || (v & 0xf8) == sl);
			break;
		}
		}
	}
	log_threshold = saved;
	/* a fresh init sequence brings it back to a known state */
	for (unsigned i = 0; i < 16; i++)
		pic_set_irq(&f->pic, i, 0);
	outb(&f->pio, 0x4d0, 0);
	outb(&f->pio, 0x4d1, 0);
	linux_init(&f->pio, 0x01);
	assert_false(pic_has_interrupt(&f->pic));
	pulse(&f->pic, 14);
	assert_int_equal(pic_ack(&f->pic), 0x3e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_and_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_needs_new_rise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_elcr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
