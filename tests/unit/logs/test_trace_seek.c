/*
 * trace_reader_mark/seek (replay going back to a checkpoint): read on past a marked
 * event, seek back, and get the same events again, with the footer's per-kind counts
 * still matching at the end; also from the end of the trace and within one block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace_fixture.h"

static char dir[] = "/tmp/detvm-seek-test.XXXXXX";
static char path[256];

/* Event `want` of the fixture is what te holds. */
static int is_event(const struct trace_event *te, uint64_t want)
{
	struct fx_event fx;
	size_t la, lb;
	uint8_t *a = fx_pack_event(te->ev, &la), *b = fx_pack_event(fx_event_make(&fx, want), &lb);
	int same = te->seq == want && te->position == fx_position(want) && a && b && la == lb && !memcmp(a, b, la);
	free(a);
	free(b);
	return same;
}

/* Reads on from the event after `from` to the end, each checked; the end must be clean. */
static void read_rest(struct trace_reader *r, uint64_t from, uint64_t n)
{
	struct trace_event te;
	for (uint64_t i = from + 1; i < n; i++) {
		assert_int_equal(trace_reader_next(r, &te), 1);
		assert_true(is_event(&te, i));
	}
	assert_int_equal(trace_reader_next(r, &te), 0);	/* the footer's counts agree */
	assert_non_null(trace_reader_footer(r));
}

static void test_seek_back(void **state)
{
	const uint64_t n = 6000, marked[] = { 0, 1, 1234, 2999, 5999 };
	struct trace_reader *r;
	struct trace_event te;
	char err[256];
	assert_int_equal(trace_reader_open(&r, path, err, sizeof(err)), 0);
	struct trace_mark marks[5];
	unsigned k = 0;
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(trace_reader_next(r, &te), 1);
		if (k < 5 && i == marked[k])
			trace_reader_mark(r, &te, &marks[k++]);
	}
	assert_true(trace_reader_blocks(r) > 20);
	assert_int_equal(trace_reader_next(r, &te), 0);
	/* from the end, back to each mark in turn, latest first, and on to the end again */
	for (int j = 4; j >= 0; j--) {
		assert_int_equal(trace_reader_seek(r, &marks[j], &te), 1);
		assert_true(is_event(&te, marked[j]));
		read_rest(r, marked[j], n);
	}
	/* back within the same stretch, not reading to the end */
	assert_int_equal(trace_reader_seek(r, &marks[2], &te), 1);
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(trace_reader_next(r, &te), 1);
	assert_int_equal(trace_reader_seek(r, &marks[2], &te), 1);
	assert_true(is_event(&te, marked[2]));
	read_rest(r, marked[2], n);
	trace_reader_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_seek_back) };
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/seek.trace", dir);
	if (fx_write_trace(path, 6000, 4096, 1))
		return 1;
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return r;
}
