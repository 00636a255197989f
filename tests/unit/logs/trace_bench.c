/*
 * trace_bench [EVENTS] [PATH]: writer throughput on one core. Two workloads:
 *  - small: alternating Interrupt and ClockRead events (~16 bytes packed), the hot case
 *    in issue 4 (target >= 2 M events/s);
 *  - mixed: the test fixture's events of every kind, with payloads up to 600 bytes.
 * Prints events/s, MB/s of packed events, and the compression ratio. Then reads the file
 * back to time the reader too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trace_fixture.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(const char *name, const char *path, uint64_t n, int mixed)
{
	Detvm__Interrupt irq = DETVM__INTERRUPT__INIT;
	Detvm__ClockRead clk = DETVM__CLOCK_READ__INIT;
	Detvm__Event ev = DETVM__EVENT__INIT;
	struct trace_writer_stats st;
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_event te;
	struct fx_event fx;
	double t0, t1, t2;
	uint64_t got = 0;
	char err[256];
	int ret;

	ret = trace_writer_open(&w, path, NULL, NULL);
	if (ret) {
		fprintf(stderr, "%s: %s\n", path, trace_strerror(ret));
		return 1;
	}
	t0 = now_s();
	for (uint64_t i = 0; i < n; i++) {
		const Detvm__Event *e = &ev;
		uint64_t pos = i / 2;

		if (mixed) {
			e = fx_event_make(&fx, i);
			pos = fx_position(i);
		} else if (i & 1) {
			irq.vector = 32 + (i >> 6) % 16;
			irq.irq = (i >> 6) % 16;
			ev.payload_case = DETVM__EVENT__PAYLOAD_INTERRUPT;
			ev.interrupt = &irq;
			ev.rip = 0x401000 + (i * 7) % 4096;
		} else {
			clk.source = DETVM__CLOCK_SOURCE__CLOCK_PIT;
			clk.value_ns = i * 838;
			ev.payload_case = DETVM__EVENT__PAYLOAD_CLOCK;
			ev.clock = &clk;
			ev.rip = 0x401000 + (i * 7) % 4096;
		}
		ret = trace_writer_append(w, pos, e);
		if (ret) {
			fprintf(stderr, "append: %s\n", trace_strerror(ret));
			return 1;
		}
	}
	ret = trace_writer_flush(w);
	trace_writer_get_stats(w, &st);
	t1 = now_s();
	ret = ret ? ret : trace_writer_close(w, NULL);
	if (ret) {
		fprintf(stderr, "close: %s\n", trace_strerror(ret));
		return 1;
	}
	printf("%-6s write: %llu events in %.3f s = %.2f M events/s, %.1f MB/s packed; "
	       "%.1f B/event packed, %.2f B/event on disk, compression %.2fx, %llu blocks\n",
	       name, (unsigned long long)n, t1 - t0, n / (t1 - t0) / 1e6,
	       st.raw_bytes / (t1 - t0) / 1e6, (double)st.raw_bytes / n,
	       (double)st.file_bytes / n, (double)st.raw_bytes / st.compressed_bytes,
	       (unsigned long long)st.blocks);

	t1 = now_s();
	if (trace_reader_open(&r, path, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	while ((ret = trace_reader_next(r, &te)) == 1)
		got++;
	t2 = now_s();
	if (ret || got != n) {
		fprintf(stderr, "read back: %s\n", trace_reader_error(r));
		return 1;
	}
	trace_reader_close(r);
	printf("%-6s read:  %.2f M events/s\n", name, n / (t2 - t1) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000000;
	const char *path = argc > 2 ? argv[2] : "/tmp/trace_bench.trace";
	int ret;

	ret = bench("small", path, n, 0);
	ret = ret ? ret : bench("mixed", path, n / 10, 1);
	remove(path);
	return ret;
}
