/*
 * Which parts of two trace headers say the two recordings ran different machines: the
 * memory size, command line, kernel and initrd (by content: SHA-256), disks (content and
 * read-only), NICs (MAC), CPUID entries, vCPUs, delivery policy, checkpoint interval and
 * digest version. Host paths of images and backends, the creation time, the host and
 * detvm's version are not compared: a copy of the same recording differs in those.
 */
#ifndef DETVM_TOOLS_TRACE_HEADER_CMP_H
#define DETVM_TOOLS_TRACE_HEADER_CMP_H

#include <stddef.h>

#include "logs/trace.h"

struct header_difference {
	const char *field;	/* "cmdline", "kernel", ... */
	char *a, *b;		/* each side as shown to a user (malloc'd) */
};

/*
 * Fill out[0..max) with the fields that differ; returns how many (the fields are few, a
 * max of HEADER_FIELDS holds them all), or -1 when out of memory.
 */
#define HEADER_FIELDS 12
int header_compare(const Detvm__TraceHeader *a, const Detvm__TraceHeader *b,
		   struct header_difference *out, size_t max);
void header_differences_free(struct header_difference *d, size_t n);

#endif
