#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "tests/unit/devices/test_devices_util.h"

struct fix {
	struct bus pio;
	struct i8042 kbc;
	unsigned resets;
};

static void on_reset(void *opaque)
{
	struct fix *f = opaque;
	f->resets++;
}

static int setup(void **state)
{
	struct fix *f = test_calloc(1, sizeof(*f));
	bus_init(&f->pio, "pio");
	i8042_init(&f->kbc, on_reset, f);
	assert_int_equal(i8042_attach(&f->kbc, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

/* i8042_command() as Linux does it: wait IBF clear, command, args, wait OBF, read. */
static int command(struct fix *f, uint8_t cmd, const uint8_t *args, unsigned nargs, uint8_t *reply,
		   unsigned nreply, int want_aux)
{
	assert_int_equal(inb(&f->pio, 0x64) & 0x02, 0);
	outb(&f->pio, 0x64, cmd);
	for (unsigned i = 0; i < nargs; i++) {
		assert_int_equal(inb(&f->pio, 0x64) & 0x02, 0);
		outb(&f->pio, 0x60, args[i]);
	}
	for (unsigned i = 0; i < nreply; i++) {
		uint8_t st = inb(&f->pio, 0x64);
		if (!(st & 0x01))
			return -1;	/* Linux would now spin for 500 ms */
		if (want_aux != !!(st & 0x20))
			return -2;
		reply[i] = inb(&f->pio, 0x60);
	}
	return 0;
}

static void test_status_and_selftest(void **state)
{
	struct fix *f = *state;
	uint8_t st = inb(&f->pio, 0x64);
	assert_int_equal(st & 0x03, 0);	/* nothing to read, ready for input */
	assert_int_equal(st & 0x10, 0x10);	/* keylock off */
	assert_true(st != 0xff);
	uint8_t r;
	assert_int_equal(command(f, 0xaa, NULL, 0, &r, 1, 0), 0);
	assert_int_equal(r, 0x55);
	assert_int_equal(inb(&f->pio, 0x64) & 0x01, 0);
	assert_int_equal(inb(&f->pio, 0x64) & 0x08, 0x08);	/* last write was a command */
	assert_int_equal(command(f, 0xab, NULL, 0, &r, 1, 0), 0);
	assert_int_equal(r, 0x00);
	assert_int_equal(command(f, 0xa9, NULL, 0, &r, 1, 0), 0);
	assert_int_equal(r, 0x00);
}

static void test_command_byte(void **state)
{
	struct fix *f = *state;
	uint8_t a, b;
	/* Linux reads the CTR until two reads agree */
	assert_int_equal(command(f, 0x20, NULL, 0, &a, 1, 0), 0);
	assert_int_equal(command(f, 0x20, NULL, 0, &b, 1, 0), 0);
	assert_int_equal(a, b);
	assert_int_equal(a & 0x04, 0x04);
	uint8_t ctr = 0x47;
	assert_int_equal(command(f, 0x60, &ctr, 1, NULL, 0, 0), 0);
	assert_int_equal(command(f, 0x20, NULL, 0, &a, 1, 0), 0);
	assert_int_equal(a, 0x47);

	/* AUX / keyboard disable bits as i8042_toggle_aux() checks them */
	command(f, 0xa7, NULL, 0, NULL, 0, 0);
	command(f, 0x20, NULL, 0, &a, 1, 0);
	assert_int_equal(a & 0x20, 0x20);
	command(f, 0xa8, NULL, 0, NULL, 0, 0);
	command(f, 0x20, NULL, 0, &a, 1, 0);
	assert_int_equal(a & 0x20, 0);
	command(f, 0xad, NULL, 0, NULL, 0, 0);
	command(f, 0x20, NULL, 0, &a, 1, 0);
	assert_int_equal(a & 0x10, 0x10);
	command(f, 0xae, NULL, 0, NULL, 0, 0);
	command(f, 0x20, NULL, 0, &a, 1, 0);
	assert_int_equal(a & 0x10, 0);
}

static void test_aux_loop(void **state)
{
	struct fix *f = *state;
	/* the MUX probe: 0xf0, 0x56, 0xa4 echoed back means "not a multiplexer" */
	static const uint8_t seq[] = { 0xf0, 0x56, 0xa4, 0x5a };
	for (unsigned i = 0; i < sizeof(seq); i++) {
		uint8_t r;
		assert_int_equal(command(f, 0xd3, &seq[i], 1, &r, 1, 1), 0);
		assert_int_equal(r, seq[i]);
	}
	/* keyboard-output write comes back as keyboard data */
	uint8_t v = 0x99, r;
	assert_int_equal(command(f, 0xd2, &v, 1, &r, 1, 0), 0);
	assert_int_equal(r, 0x99);
	/* bytes for the absent devices vanish */
	outb(&f->pio, 0x60, 0xff);
	command(f, 0xd4, &v, 1, NULL, 0, 0);
	assert_int_equal(inb(&f->pio, 0x64) & 0x01, 0);
}

static void test_reset(void **state)
{
	struct fix *f = *state;
	assert_int_equal(f->resets, 0);
	outb(&f->pio, 0x64, 0xfe);
	assert_int_equal(f->resets, 1);
	outb(&f->pio, 0x64, 0xff);	/* pulse nothing */
	assert_int_equal(f->resets, 1);
	uint8_t op = 0x03;
	command(f, 0xd1, &op, 1, NULL, 0, 0);	/* A20 on, reset high: no reset */
	assert_int_equal(f->resets, 1);
	uint8_t r;
	command(f, 0xd0, NULL, 0, &r, 1, 0);
	assert_int_equal(r, 0x03);
	op = 0x02;
	command(f, 0xd1, &op, 1, NULL, 0, 0);	/* reset line low */
	assert_int_equal(f->resets, 2);
	/* Linux's reboot loop: up to ten 0xfe writes, each after kb_wait() */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(inb(&f->pio, 0x64) & 0x02, 0);
		outb(&f->pio, 0x64, 0xfe);
	}
	assert_int_equal(f->resets, 12);
	assert_int_equal(f->kbc.resets, 12);
}

static void test_no_reset_callback(void **state)
{
	struct i8042 k;
	struct bus b;
	bus_init(&b, "pio");
	i8042_init(&k, NULL, NULL);
	assert_int_equal(i8042_attach(&k, &b), 0);
	outb(&b, 0x64, 0xfe);
	assert_int_equal(k.resets, 1);
	assert_int_equal(i8042_attach(&k, &b), -EEXIST);
}

static void test_garbage(void **state)
{
	struct fix *f = *state;
	uint64_t s = 0xdeadbeef12345678ull;
	enum log_level saved = log_threshold;
	log_threshold = LOG_ERROR;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd_next(&s);
		uint16_t port = (r & 1) ? 0x64 : 0x60;
		if ((r >> 8) & 1)
			outb(&f->pio, port, (uint8_t)(r >> 16));
		else
			inb(&f->pio, port);
		uint8_t st = inb(&f->pio, 0x64);
		assert_int_equal(st & 0xc2, 0);	/* never busy, no errors */
		assert_true(f->kbc.outq_count <= I8042_OUTQ_SIZE);
	}
	log_threshold = saved;
	/* Linux's i8042_flush() drains in a bounded number of reads */
	int n = 0;
	while ((inb(&f->pio, 0x64) & 0x01) && n < 16) {
		inb(&f->pio, 0x60);
		n++;
	}
	assert_true(n <= I8042_OUTQ_SIZE);
	uint8_t r;
	assert_int_equal(command(f, 0xaa, NULL, 0, &r, 1, 0), 0);
	assert_int_equal(r, 0x55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_selftest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aux_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test(test_no_reset_callback),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
