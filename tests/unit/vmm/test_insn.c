/* insn_is_rep_string: the guard that keeps `step` points off half-done string ops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/insn.h"

#define IS_REP(...) insn_is_rep_string((const uint8_t[]){ __VA_ARGS__ }, \
	sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void test_rep_string(void **state)
{
	(void)state;
	assert_int_equal(IS_REP(0xf3, 0xaa), 1);		/* rep stosb */
	assert_int_equal(IS_REP(0xf3, 0x48, 0xab), 1);		/* rep stosq */
	assert_int_equal(IS_REP(0xf3, 0xa4), 1);		/* rep movsb */
	assert_int_equal(IS_REP(0xf2, 0xae), 1);		/* repne scasb */
	assert_int_equal(IS_REP(0x66, 0xf3, 0x6f), 1);		/* rep outsw */
	assert_int_equal(IS_REP(0xf3, 0x66, 0xa5), 1);		/* rep movsw, prefixes swapped */
	assert_int_equal(IS_REP(0x64, 0xf3, 0xa6), 1);		/* fs: repe cmpsb */
}

static void test_not_rep_string(void **state)
{
	(void)state;
	assert_int_equal(IS_REP(0xaa), 0);			/* stosb without rep: one step */
	assert_int_equal(IS_REP(0xf3, 0x90), 0);		/* pause */
	assert_int_equal(IS_REP(0xf3, 0x0f, 0xb8, 0xc0), 0);	/* popcnt */
	assert_int_equal(IS_REP(0xff, 0xc9), 0);		/* dec ecx */
	assert_int_equal(IS_REP(0x48, 0x89, 0xdf), 0);		/* mov rdi, rbx */
	assert_int_equal(IS_REP(0xf3, 0xc3), 0);		/* rep ret */
}

static void test_undecodable(void **state)
{
	(void)state;
	assert_int_equal(insn_is_rep_string(NULL, 0), 1);
	assert_int_equal(IS_REP(0xf3), 1);			/* cut off after the prefix */
	assert_int_equal(IS_REP(0x66, 0x66, 0x48), 1);
}

#define GATE(lm, of, ...) insn_gate_vector((const uint8_t[]){ __VA_ARGS__ }, \
						sizeof((const uint8_t[]){ __VA_ARGS__ }), lm, of)

static void test_gate_vector(void **state)
{
	(void)state;
	assert_int_equal(GATE(1, 0, 0xcd, 0x80), 0x80);		/* int 0x80 */
	assert_int_equal(GATE(1, 0, 0xcc), 3);			/* int3 */
	assert_int_equal(GATE(1, 0, 0xf1), 1);			/* int1 */
	assert_int_equal(GATE(1, 0, 0x0f, 0x0b), 6);		/* ud2 */
	assert_int_equal(GATE(1, 0, 0xce), 6);			/* into: #UD in 64-bit mode */
	assert_int_equal(GATE(0, 1, 0xce), 4);			/* into with OF */
	assert_int_equal(GATE(0, 0, 0xce), -1);			/* into without OF: no gate */
	assert_int_equal(GATE(1, 0, 0xcd), -1);			/* cut off */
	assert_int_equal(GATE(1, 0, 0x0f, 0x05), -1);		/* syscall: no gate */
	assert_int_equal(GATE(1, 0, 0x48, 0xcf), -1);		/* iretq */
	assert_int_equal(insn_gate_vector(NULL, 0, 1, 0), -1);
}

#define PUSHF(lm, ...) insn_pushf_len((const uint8_t[]){ __VA_ARGS__ }, \
					sizeof((const uint8_t[]){ __VA_ARGS__ }), lm)

static void test_pushf(void **state)
{
	(void)state;
	assert_int_equal(PUSHF(1, 0x9c), 1);			/* pushfq */
	assert_int_equal(PUSHF(1, 0x66, 0x9c), 2);		/* pushfw */
	assert_int_equal(PUSHF(1, 0x48, 0x9c), 2);		/* REX.W: still pushfq */
	assert_int_equal(PUSHF(0, 0x48, 0x9c), 0);		/* dec eax in 32-bit code */
	assert_int_equal(PUSHF(1, 0x9d), 0);			/* popf */
	assert_int_equal(PUSHF(1, 0x0f, 0x31), 0);		/* rdtsc */
	assert_int_equal(PUSHF(1, 0x66), 0);			/* cut off */
	assert_int_equal(insn_pushf_len(NULL, 0, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rep_string),
		cmocka_unit_test(test_not_rep_string),
		cmocka_unit_test(test_undecodable),
		cmocka_unit_test(test_gate_vector),
		cmocka_unit_test(test_pushf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
