/*
 * The memory digest is kept up to date incrementally (only written pages are rehashed and
 * their share of the digest swapped): it must always equal a digest taken from scratch
 * over the same bytes, and must see every change a guest or the VMM can make.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "vmm/digest.h"

#define RAM (1ULL << 20)

struct ram {
	struct guest_mem mem;
	struct mem_digest digest;
};

static void ram_open(struct ram *r)
{
	/* anonymous like real guest RAM, so untouched pages are known zero (mincore) */
	void *p = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	guest_mem_wrap(&r->mem, p, RAM);
	assert_int_equal(guest_mem_track_dirty(&r->mem), 0);
	assert_int_equal(mem_digest_init(&r->digest, &r->mem), 0);
}

static void ram_close(struct ram *r)
{
	mem_digest_destroy(&r->digest);
	guest_mem_destroy(&r->mem);	/* unmaps the wrapped RAM too */
}

static void take(struct ram *r, uint8_t out[OBSERVER_DIGEST_BYTES])
{
	struct run_digest d;
	assert_int_equal(mem_digest_take(&r->digest, &r->mem, NULL, &d), 0);
	memcpy(out, d.mem, OBSERVER_DIGEST_BYTES);
}

/* A fresh digest over a copy of a's bytes. */
static void from_scratch(struct ram *a, uint8_t out[OBSERVER_DIGEST_BYTES])
{
	struct ram b;
	ram_open(&b);
	assert_int_equal(guest_mem_write(&b.mem, 0, a->mem.base, RAM), 0);
	take(&b, out);
	ram_close(&b);
}

static void put(struct ram *r, uint64_t gpa, uint64_t value)
{
	assert_int_equal(guest_mem_write(&r->mem, gpa, &value, sizeof(value)), 0);
}

static void test_incremental_equals_scratch(void **state)
{
	(void)state;
	struct ram r;
	ram_open(&r);
	uint8_t inc[OBSERVER_DIGEST_BYTES], ref[OBSERVER_DIGEST_BYTES];
	uint64_t seed = 12345;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 1 + round % 7; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			put(&r, (seed >> 20) % (RAM - 8), seed);
		}
		take(&r, inc);
		from_scratch(&r, ref);
		assert_memory_equal(inc, ref, OBSERVER_DIGEST_BYTES);
	}
	/* only written pages were rehashed after the first digest */
	assert_true(r.digest.rehashed < 20 * 8 + 1);
	ram_close(&r);
}

static void test_sees_every_change(void **state)
{
	(void)state;
	struct ram r;
	ram_open(&r);
	uint8_t before[OBSERVER_DIGEST_BYTES], after[OBSERVER_DIGEST_BYTES], back[OBSERVER_DIGEST_BYTES];
	take(&r, before);
	put(&r, 0x3008, 1);	/* one bit */
	take(&r, after);
	assert_memory_not_equal(before, after, OBSERVER_DIGEST_BYTES);
	put(&r, 0x3008, 0);	/* and back: the same state, the same digest */
	take(&r, back);
	assert_memory_equal(before, back, OBSERVER_DIGEST_BYTES);
	ram_close(&r);
}

struct write {
	uint64_t gpa, value;
};

/* Two RAMs that differ only by the writes given: their digests must differ. */
static void assert_digests_differ(const struct write *a, unsigned na, const struct write *b, unsigned nb)
{
	struct ram ra, rb;
	ram_open(&ra);
	ram_open(&rb);
	for (unsigned i = 0; i < na; i++)
		put(&ra, a[i].gpa, a[i].value);
	for (unsigned i = 0; i < nb; i++)
		put(&rb, b[i].gpa, b[i].value);
	uint8_t da[OBSERVER_DIGEST_BYTES], db[OBSERVER_DIGEST_BYTES];
	take(&ra, da);
	take(&rb, db);
	assert_memory_not_equal(da, db, OBSERVER_DIGEST_BYTES);
	ram_close(&ra);
	ram_close(&rb);
}

/* The same page content in another place is another state. */
static void test_position_matters(void **state)
{
	(void)state;
	const struct write a[] = { { 0x5000, 0xfeed }, { 0x9000, 0xbeef } };
	const struct write b[] = { { 0x9000, 0xfeed }, { 0x5000, 0xbeef } };
	assert_digests_differ(a, 2, b, 2);
}

/* Two equal changes cancel in a plain xor of page hashes; here they must not. */
static void test_equal_pages_do_not_cancel(void **state)
{
	(void)state;
	const struct write a[] = { { 0x5000, 7 }, { 0x6000, 7 } };
	assert_digests_differ(a, 2, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_equals_scratch),
		cmocka_unit_test(test_sees_every_change),
		cmocka_unit_test(test_position_matters),
		cmocka_unit_test(test_equal_pages_do_not_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
