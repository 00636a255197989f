/*
 * libFuzzer target: the input is a whole trace file. Open it, read every event, look at
 * the header and footer. The reader must never crash, leak or read out of bounds,
 * whatever the bytes. Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes
 * the reader ignore CRC mismatches so mutations reach the LZ4 and protobuf decoders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "logs/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1;
	const Detvm__TraceFooter *f;
	struct trace_reader *r;
	struct trace_event te;
	uint64_t sum = 0;
	char err[256];
	int fd, ret;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-trace", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
	}
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	fd = dup(memfd);	/* the reader owns and closes its fd */
	if (fd < 0)
		abort();
	if (trace_reader_open_fd(&r, fd, "fuzz", err, sizeof(err)))
		return 0;
	if (trace_reader_header(r)->config)
		sum += trace_reader_header(r)->config->n_cpuid;
	while ((ret = trace_reader_next(r, &te)) == 1)
		sum += te.position + te.ev->payload_case;
	f = trace_reader_footer(r);
	if (f)
		sum += f->total_events;
	if (ret < 0 && !trace_reader_error(r)[0])
		abort();	/* every error has a message */
	trace_reader_close(r);
	return sum == 42 ? 0 : 0;
}
