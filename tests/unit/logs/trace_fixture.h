/*
 * Deterministic trace content for the logs tests, the Python cross-check, the benchmark
 * and the fuzzer's seed corpus: a header with every field set and a stream of events
 * that cycles through every payload kind.
 */
#ifndef DETVM_TESTS_TRACE_FIXTURE_H
#define DETVM_TESTS_TRACE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "logs/trace.h"

/* Storage for one event and whichever sub-message it uses. */
struct fx_event {
	Detvm__Event ev;
	Detvm__ExitRecord exit;
	Detvm__ClockRead clock;
	Detvm__WallclockRead wallclock;
	Detvm__Interrupt interrupt;
	Detvm__TimerFire timer;
	Detvm__ConsoleInput console;
	Detvm__NetRx net_rx;
	Detvm__DiskCompletion disk;
	Detvm__PioRead pio_read;
	Detvm__MmioRead mmio_read;
	Detvm__Checkpoint checkpoint;
	Detvm__Landmark landmark;
	Detvm__End end;
	uint8_t data[2][600];
	char text[64];
};

#define FX_KINDS 13	/* payload kinds 3..15 */

/* Fill fx with event number i (every kind in turn; sizes vary); returns &fx->ev. */
const Detvm__Event *fx_event_make(struct fx_event *fx, uint64_t i);
/* The position event i is written at: non-decreasing, with repeats and jumps. */
uint64_t fx_position(uint64_t i);

/* Storage for a header with every field set. */
struct fx_header {
	Detvm__TraceHeader hdr;
	Detvm__VmConfig cfg;
	Detvm__ImageRef kernel, initrd;
	Detvm__DiskConfig disk[2], *diskp[2];
	Detvm__NicConfig nic, *nicp[1];
	Detvm__CpuidEntry cpuid[4], *cpuidp[4];
	uint8_t sha[3][32];
	uint8_t mac[6];
};
const Detvm__TraceHeader *fx_header_make(struct fx_header *fh);

/* Pack ev with position_delta = 0 into a malloc'd buffer (for comparisons). */
uint8_t *fx_pack_event(const Detvm__Event *ev, size_t *len);

/*
 * Write `n` fixture events to path with the given block size; with_footer = 0 leaves the
 * file as a killed recorder would (after flushing every block). Returns 0 or negative.
 */
int fx_write_trace(const char *path, uint64_t n, size_t block_bytes, int with_footer);

/*
 * Read r to the end, checking every event against the fixture (seq, position, content).
 * *nev = events returned. Returns the final trace_reader_next() value (0 or negative),
 * or 2 if an event differs from the fixture.
 */
int fx_read_all(struct trace_reader *r, uint64_t *nev);

/*
 * A forged trace: the fixture's header, then one block of `events` step points, each
 * holding `pages` empty PageImage records (2 bytes each in the file, ~100 in memory once
 * unpacked), and no footer. The writer would refuse it; the reader must refuse it without
 * unpacking it. 0 or -errno (-EINVAL: more than a block holds).
 */
int fx_write_page_bomb(const char *path, uint32_t events, uint32_t pages);

/* Load a whole file into memory (malloc); NULL on failure. */
uint8_t *fx_slurp(const char *path, size_t *len);
/* An anonymous file holding buf[0..len), for trace_reader_open_fd(). -errno on failure. */
int fx_memfd(const void *buf, size_t len);

#endif
