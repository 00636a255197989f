/* The chaos gate: holds within the bound, never at a HLT, and the same decisions for the
 * same seed and exit sequence (what makes a seed worth quoting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/chaos.h"

/* splitmix64 from seed 0: the reference sequence of Steele, Lea and Flood's paper. */
static void test_splitmix_reference(void **state)
{
	(void)state;
	struct chaos c;
	chaos_init(&c, 0, 1, 0);
	assert_true(chaos_next(&c) == 0xe220a8397b1dcdafULL);
	assert_true(chaos_next(&c) == 0x6e789e6aa1b965f4ULL);
	assert_true(chaos_next(&c) == 0x06c45d188009454fULL);
}

/* Offers an interrupt at every exit from `from` on until the gate lets it in; the exit
 * it went in at. */
static uint64_t delivered_at(struct chaos *c, uint64_t from)
{
	uint64_t p = from;
	while (c->gate.ops->hold(c->gate.self, p, 0))
		p++;
	return p;
}

static void test_delay_bounded(void **state)
{
	(void)state;
	struct chaos c;
	chaos_init(&c, 12345, 7, 0);
	unsigned seen[8] = { 0 };
	uint64_t p = 100;
	for (int i = 0; i < 4000; i++) {
		uint64_t at = delivered_at(&c, p);
		assert_true(at >= p && at <= p + 7);
		seen[at - p]++;
		p = at + 3;
	}
	for (int k = 0; k <= 7; k++)	/* every delay in 0..max happens, roughly evenly */
		assert_true(seen[k] > 300 && seen[k] < 700);
	assert_int_equal(c.delays, 4000);
}

static void test_never_at_halt(void **state)
{
	(void)state;
	struct chaos c;
	chaos_init(&c, 99, 1000, 0);
	for (uint64_t p = 1; p < 500; p++)
		assert_int_equal(c.gate.ops->hold(c.gate.self, p, 1), 0);
	/* a halt ends a running hold too: the guest is woken by the interrupt */
	uint64_t p = 1000;
	while (!c.gate.ops->hold(c.gate.self, p, 0))
		p += 2000;	/* until a delay > 0 is drawn */
	assert_int_equal(c.gate.ops->hold(c.gate.self, p + 1, 1), 0);
}

static void test_same_seed_same_decisions(void **state)
{
	(void)state;
	struct chaos a, b, other;
	chaos_init(&a, 7, 16, 0);
	chaos_init(&b, 7, 16, 0);
	chaos_init(&other, 8, 16, 0);
	int differs = 0;
	uint64_t pa = 1, pb = 1, po = 1;
	for (int i = 0; i < 200; i++) {
		pa = delivered_at(&a, pa) + 5;
		pb = delivered_at(&b, pb) + 5;
		po = delivered_at(&other, po) + 5;
		assert_true(pa == pb);
		differs |= po != pa;
	}
	assert_true(differs);
}

static void test_pause_off(void **state)
{
	(void)state;
	struct chaos c;
	chaos_init(&c, 3, 16, 0);
	for (uint64_t p = 1; p < 1000; p++)
		c.gate.ops->pause(c.gate.self, p);
	assert_int_equal(c.pauses, 0);
	chaos_init(&c, 3, 16, 1);	/* 0..1 us: cheap to take */
	for (uint64_t p = 1; p < 1600; p++)
		c.gate.ops->pause(c.gate.self, p);
	assert_true(c.pauses > 1600 / CHAOS_PAUSE_ODDS / 2 && c.pauses < 1600 / CHAOS_PAUSE_ODDS * 2);
	assert_true(c.paused_us <= c.pauses);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splitmix_reference),
		cmocka_unit_test(test_delay_bounded),
		cmocka_unit_test(test_never_at_halt),
		cmocka_unit_test(test_same_seed_same_decisions),
		cmocka_unit_test(test_pause_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
