/*
 * Step points' page changes (vmm/page_delta.h): what the encoder writes rebuilds the page
 * from its base exactly, stays within a page's size, and a forged encoding is refused
 * whole (the page untouched), never read or written past either buffer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/page_delta.h"

#define PAGE PAGE_DELTA_PAGE

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint8_t next_byte(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint8_t)(rng >> 56);
}

/* encode(base, page), then apply to a copy of base: the page again; returns the length */
static size_t round_trip(const uint8_t *base, const uint8_t *page)
{
	uint8_t out[PAGE_DELTA_MAX], copy[PAGE];
	size_t len = page_delta_encode(base, page, out);
	if (len > PAGE_DELTA_MAX) {
		assert_int_equal(len, PAGE_DELTA_MAX + 1);
		return len;
	}
	memcpy(copy, base, PAGE);
	if (len) {
		assert_int_equal(page_delta_check(out, len), 0);
		assert_int_equal(page_delta_apply(copy, out, len), 0);
	}
	assert_memory_equal(copy, page, PAGE);
	return len;
}

static void test_equal_pages(void **state)
{
	uint8_t a[PAGE], out[PAGE_DELTA_MAX];
	memset(a, 0x5a, sizeof(a));
	assert_int_equal(page_delta_encode(a, a, out), 0);
	/* an empty change is not an encoding: a page that did not change is not carried */
	assert_int_equal(page_delta_check(out, 0), -EINVAL);
}

static void test_small_changes(void **state)
{
	uint8_t base[PAGE], page[PAGE];
	for (size_t i = 0; i < PAGE; i++)
		base[i] = next_byte();
	memcpy(page, base, PAGE);
	page[0] ^= 1;			/* first byte */
	page[PAGE - 1] ^= 0x80;		/* last byte */
	page[1000] = 0xe8;		/* a call patched into text: 5 bytes */
	memcpy(page + 1001, "\x10\x20\x30\x40", 4);
	size_t len = round_trip(base, page);
	/* three runs: 2 varint bytes each at most 2 + 2, plus 1 + 5 + 1 bytes */
	assert_true(len > 0 && len <= 3 * 4 + 7);
}

static void test_runs_merge(void **state)
{
	uint8_t base[PAGE] = { 0 }, page[PAGE] = { 0 };
	/* differences 4 bytes apart: one run, not 64 */
	for (size_t i = 0; i < 64 * 4; i += 4)
		page[i] = 1;
	size_t len = round_trip(base, page);
	assert_true(len <= 2 + 2 + 64 * 4);
	/* differences PAGE_DELTA_MERGE apart: runs of their own */
	memset(page, 0, PAGE);
	page[0] = 1;
	page[1 + PAGE_DELTA_MERGE] = 1;
	assert_int_equal(round_trip(base, page), 2 * (1 + 1 + 1));
}

static void test_whole_page_changed(void **state)
{
	uint8_t base[PAGE], page[PAGE];
	for (size_t i = 0; i < PAGE; i++) {
		base[i] = next_byte();
		page[i] = (uint8_t)~base[i];
	}
	/* a run of the whole page and its varints: longer than the page, so not an encoding */
	assert_int_equal(round_trip(base, page), PAGE_DELTA_MAX + 1);
	/* every other byte: merged into one run of 4095 bytes plus varints, over the page */
	memcpy(page, base, PAGE);
	for (size_t i = 0; i < PAGE; i += 2)
		page[i] = (uint8_t)~base[i];
	assert_int_equal(round_trip(base, page), PAGE_DELTA_MAX + 1);
}

static void test_random_pages(void **state)
{
	uint8_t base[PAGE], page[PAGE];
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < PAGE; i++)
			base[i] = next_byte();
		memcpy(page, base, PAGE);
		unsigned changes = next_byte() % 64;
		for (unsigned c = 0; c < changes; c++) {
			size_t at = ((size_t)next_byte() << 8 | next_byte()) % PAGE;
			size_t n = 1 + next_byte() % 40;
			for (size_t i = at; i < at + n && i < PAGE; i++)
				page[i] = next_byte();
		}
		round_trip(base, page);
	}
}

/* apply refuses d whole: the page is left as it was */
static void refused(const uint8_t *d, size_t len)
{
	uint8_t page[PAGE], copy[PAGE];
	memset(page, 0x33, PAGE);
	memcpy(copy, page, PAGE);
	assert_int_equal(page_delta_check(d, len), -EINVAL);
	assert_int_equal(page_delta_apply(page, d, len), -EINVAL);
	assert_memory_equal(page, copy, PAGE);
}

static void test_forged(void **state)
{
	/* a good run first, so a partial application would show */
	static const uint8_t zero_len[] = { 0, 1, 0xaa, 5, 0 };
	static const uint8_t past_end_gap[] = { 0, 1, 0xaa, 0x80, 0x20, 1, 0xbb };	/* gap 4096 */
	static const uint8_t past_end_run[] = { 0xff, 0x1f, 2, 1, 2 };	/* gap 4095, run 2 */
	static const uint8_t short_bytes[] = { 0, 1, 0xaa, 3, 4, 1, 2 };	/* 4 bytes promised, 2 */
	static const uint8_t cut_varint[] = { 0, 1, 0xaa, 0x80 };
	static const uint8_t long_varint[] = { 0x80, 0x80, 0x01, 1, 0xaa };	/* 3-byte varint */
	static const uint8_t no_run[] = { 0, 1, 0xaa, 7 };		/* a gap, no length */
	static const uint8_t huge_run[] = { 0, 0xff, 0x7f, 0xaa };	/* run 16383 */
	refused(zero_len, sizeof(zero_len));
	refused(past_end_gap, sizeof(past_end_gap));
	refused(past_end_run, sizeof(past_end_run));
	refused(short_bytes, sizeof(short_bytes));
	refused(cut_varint, sizeof(cut_varint));
	refused(long_varint, sizeof(long_varint));
	refused(no_run, sizeof(no_run));
	refused(huge_run, sizeof(huge_run));
	refused(NULL, 0);
	/* longer than a page's worth: refused before it is read */
	uint8_t *big = calloc(1, PAGE_DELTA_MAX + 1);
	assert_non_null(big);
	refused(big, PAGE_DELTA_MAX + 1);
	free(big);
	/* the last byte of the page is reachable, one past it is not */
	static const uint8_t last[] = { 0xff, 0x1f, 1, 0xcc };
	uint8_t page[PAGE] = { 0 };
	assert_int_equal(page_delta_apply(page, last, sizeof(last)), 0);
	assert_int_equal(page[PAGE - 1], 0xcc);
}

/* every truncation and every single-byte change of a good encoding: refused or in bounds */
static void test_mutations(void **state)
{
	uint8_t base[PAGE], page[PAGE], out[PAGE_DELTA_MAX], d[PAGE_DELTA_MAX];
	for (size_t i = 0; i < PAGE; i++)
		base[i] = next_byte();
	memcpy(page, base, PAGE);
	for (size_t i = 100; i < PAGE; i += 300)
		page[i] ^= 0xff;
	size_t len = page_delta_encode(base, page, out);
	assert_true(len > 0 && len <= PAGE_DELTA_MAX);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t copy[PAGE];
		memcpy(copy, base, PAGE);
		int r = page_delta_apply(copy, out, cut);
		assert_true(r == 0 || r == -EINVAL);
	}
	for (size_t at = 0; at < len; at++) {
		for (unsigned v = 0; v < 256; v += 51) {
			uint8_t copy[PAGE];
			memcpy(d, out, len);
			d[at] = (uint8_t)v;
			memcpy(copy, base, PAGE);
			int r = page_delta_apply(copy, d, len);
			assert_true(r == 0 || r == -EINVAL);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_pages),
		cmocka_unit_test(test_small_changes),
		cmocka_unit_test(test_runs_merge),
		cmocka_unit_test(test_whole_page_changed),
		cmocka_unit_test(test_random_pages),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
