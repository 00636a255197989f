/*
 * replay/events.c: exits become trace records the same way in record and replay, two
 * records are equal exactly when every field replay checks is, and a divergence message
 * shows the field that differs (a landmark's state included).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay/events.h"

/* A kvm_run with room for PIO data after it, as KVM maps it. */
static struct kvm_run *fake_run(uint8_t storage[8192])
{
	memset(storage, 0, 8192);
	return (struct kvm_run *)storage;
}

static void pio_out(struct kvm_run *run, uint16_t port, uint8_t value)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = port;
	run->io.size = 1;
	run->io.count = 1;
	run->io.data_offset = 4096;
	((uint8_t *)run)[4096] = value;
	run->s.regs.regs.rip = 0x101c83;
}

static void test_pio_record_and_equality(void **state)
{
	(void)state;
	static uint8_t s1[8192], s2[8192];
	struct kvm_run *a = fake_run(s1), *b = fake_run(s2);
	pio_out(a, 0x3f8, 'A');
	pio_out(b, 0x3f8, 'A');
	struct event_buf ea, eb;
	event_from_exit(&ea, a, NULL);
	event_from_exit(&eb, b, NULL);
	assert_int_equal(ea.u.exit.kind, DETVM__EXIT_KIND__EXIT_PIO);
	assert_int_equal(ea.u.exit.addr, 0x3f8);
	assert_int_equal(ea.u.exit.data.len, 1);
	assert_int_equal(ea.ev.rip, 0x101c83);
	assert_true(event_exit_equal(&ea.u.exit, &eb.u.exit));

	char da[256], db[256];
	((uint8_t *)b)[4096] = 'B';
	event_from_exit(&eb, b, NULL);
	assert_false(event_exit_equal(&ea.u.exit, &eb.u.exit));
	event_describe(&ea.ev, da, sizeof(da));
	event_describe(&eb.ev, db, sizeof(db));
	assert_string_equal(da, "pio out 0x3f8 size 1 data 41");
	assert_string_equal(db, "pio out 0x3f8 size 1 data 42");
}

/* A window in ring 0 carries its state; two that differ only there differ in words too. */
static void test_window_landmark(void **state)
{
	(void)state;
	static uint8_t s1[8192];
	struct kvm_run *run = fake_run(s1);
	run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
	run->s.regs.regs.rip = 0xffffffff81000000ULL;
	run->s.regs.regs.rax = 1;
	uint8_t mem[OBSERVER_DIGEST_BYTES] = { 0xaa };
	struct event_buf w1, w2;
	event_from_exit(&w1, run, mem);
	assert_int_equal(w1.u.exit.landmark.len, 2 * OBSERVER_DIGEST_BYTES);
	run->s.regs.regs.rax = 2;
	event_from_exit(&w2, run, mem);
	assert_false(event_exit_equal(&w1.u.exit, &w2.u.exit));
	char d1[256], d2[256];
	event_describe(&w1.ev, d1, sizeof(d1));
	event_describe(&w2.ev, d2, sizeof(d2));
	assert_non_null(strstr(d1, "irq-window in ring 0 state "));
	assert_non_null(strstr(d1, "(32 bytes)"));
	assert_string_not_equal(d1, d2);

	/* in ring 3 a window has no landmark (the host reports those where they open) */
	run->s.regs.sregs.cs.selector = 0x23;
	event_from_exit(&w1, run, mem);
	assert_int_equal(w1.u.exit.landmark.len, 0);
}

/* Descriptions never overrun, whatever a trace holds. */
static void test_describe_bounds(void **state)
{
	(void)state;
	static uint8_t junk[100];
	memset(junk, 0xee, sizeof(junk));
	Detvm__ExitRecord x;
	detvm__exit_record__init(&x);
	x.kind = DETVM__EXIT_KIND__EXIT_PIO;
	x.is_write = 1;
	x.data = (ProtobufCBinaryData){ .len = sizeof(junk), .data = junk };
	x.landmark = (ProtobufCBinaryData){ .len = sizeof(junk), .data = junk };
	Detvm__Event ev;
	detvm__event__init(&ev);
	ev.payload_case = DETVM__EVENT__PAYLOAD_EXIT;
	ev.exit = &x;
	char small[24];
	memset(small, 'x', sizeof(small));
	event_describe(&ev, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	char big[256];
	event_describe(&ev, big, sizeof(big));
	assert_non_null(strstr(big, "state eeeeeeeeeeeeeeee... (100 bytes)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pio_record_and_equality),
		cmocka_unit_test(test_window_landmark),
		cmocka_unit_test(test_describe_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
