/*
 * A hostio for unit tests: the test sets the clock, reads back what devices wrote to
 * the console and network, and gives devices a disk held in memory. It is the same seam
 * run/record/replay implement, driven by hand.
 */
#ifndef DETVM_TESTS_TEST_HOSTIO_H
#define DETVM_TESTS_TEST_HOSTIO_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/hostio.h"

#define TEST_HOSTIO_OUT_MAX 65536
#define TEST_HOSTIO_FRAMES 32

struct test_hostio {
	struct hostio io;
	uint64_t now_ns;
	int64_t wall_ns;		/* wallclock at now_ns == 0 */
	uint64_t clock_reads;
	uint64_t timer_deadline[HOSTIO_TIMERS];	/* HOSTIO_TIMER_OFF when disarmed */
	unsigned timer_arms[HOSTIO_TIMERS];
	uint8_t out[TEST_HOSTIO_OUT_MAX];	/* console bytes, all consoles */
	size_t out_len;
	uint8_t *disk;			/* disk 0, owned by the test */
	size_t disk_size;
	int disk_error;			/* nonzero: disk ops fail with this -errno */
	unsigned flushes;
	struct {
		uint8_t data[2048];
		size_t len;
	} frames[TEST_HOSTIO_FRAMES];
	unsigned frame_count;
};

void test_hostio_init(struct test_hostio *t);
/* Move the clock to now_ns and deliver HOSTIO_EV_TIMER for every timer that expired. */
void test_hostio_advance(struct test_hostio *t, uint64_t now_ns);
/* Deliver one event as the run loop would at a delivery point. */
int test_hostio_deliver(struct test_hostio *t, uint32_t kind, uint32_t source, const void *data,
			uint32_t len);

#endif
