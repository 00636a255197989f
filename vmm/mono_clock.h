/* The host's monotonic clock in ns: for budgets and flush ages, never for the guest. */
#ifndef DETVM_VMM_MONO_CLOCK_H
#define DETVM_VMM_MONO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_clock_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

#endif
