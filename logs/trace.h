/*
 * detvm trace files: writer and reader. The byte layout is specified in logs/FORMAT.md
 * and the records in logs/trace.proto (generated C types: Detvm__Event, Detvm__TraceHeader,
 * Detvm__TraceFooter, ... from "logs/trace.pb-c.h").
 *
 * Writer: events are packed into an in-memory block; a block is compressed (one LZ4
 * frame), checksummed and written with one write() when it reaches the size threshold,
 * when trace_writer_flush_if_due() finds it older than the age limit, or on flush/close.
 * A SIGKILL therefore loses at most the open block. No threads are used: the caller
 * (the recorder, on its vCPU thread) decides when time passes.
 *
 * Reader: sequential. Every error is reported once with a one-line message that names
 * the block index and byte offset; a trace whose recorder died (no footer, or a partial
 * last block) reads up to its last complete block and then returns TRACE_ERR_TRUNCATED.
 *
 * Not thread-safe: one writer or reader per thread.
 */
#ifndef DETVM_LOGS_TRACE_H
#define DETVM_LOGS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "logs/trace.pb-c.h"

#define TRACE_FORMAT_VERSION 1

/* Defaults and hard limits (the reader rejects larger claims as corrupt). */
#define TRACE_BLOCK_BYTES_DEFAULT (64u * 1024)		/* uncompressed, before closing */
#define TRACE_BLOCK_AGE_NS_DEFAULT (100ull * 1000 * 1000)	/* 100 ms */
#define TRACE_MAX_BLOCK_BYTES (64u * 1024 * 1024)	/* one block, uncompressed */
#define TRACE_MAX_EVENT_BYTES (16u * 1024 * 1024)	/* one packed Event */
#define TRACE_MAX_HEADER_BYTES (16u * 1024 * 1024)
#define TRACE_MAX_FOOTER_BYTES (1u * 1024 * 1024)

/*
 * What unpacking one record of `len` bytes from a file or a peer may allocate. protobuf-c's
 * memory is not proportional to a record's bytes: an empty repeated sub-message is 2
 * bytes on the wire and ~100 once unpacked, so one 64 MiB block of them would take 3 GB.
 * What the recorder writes stays far inside: a step point's pages (at most 3,500) unpack
 * to 1.03x their bytes, and no record has enough small parts to need the 1 MiB.
 */
#define TRACE_UNPACK_BUDGET(len) (2 * (uint64_t)(len) + (1u << 20))

/*
 * An allocator for detvm__*__unpack() that refuses beyond TRACE_UNPACK_BUDGET(len): the
 * unpack then returns NULL and `over` says the budget was the reason. What it allocated
 * is freed with free_unpacked(x, NULL), as usual. One record per arming.
 */
struct trace_unpack_budget {
	ProtobufCAllocator alloc;
	uint64_t left;
	int over;
};
ProtobufCAllocator *trace_unpack_budget(struct trace_unpack_budget *b, size_t len);

/*
 * Error codes: negative, below any -errno (I/O and allocation failures are returned as
 * -errno). trace_strerror() names them.
 */
enum trace_error {
	TRACE_ERR_EMPTY = -1001,	/* zero-length file */
	TRACE_ERR_MAGIC = -1002,	/* not a detvm trace */
	TRACE_ERR_VERSION = -1003,	/* written by a newer detvm */
	TRACE_ERR_CRC = -1004,		/* a checksum does not match: bit rot / tampering */
	TRACE_ERR_TRUNCATED = -1005,	/* ends early: recorder killed, copy cut short */
	TRACE_ERR_CORRUPT = -1006,	/* structurally invalid (bad lengths, bad protobuf...) */
};

const char *trace_strerror(int err);

/* ---- Writer ------------------------------------------------------------------------- */

struct trace_writer;

struct trace_writer_opts {
	size_t block_bytes;	/* close a block at this many uncompressed bytes; 0 = default */
	uint64_t max_age_ns;	/* flush_if_due() threshold; 0 = default */
	int lz4_level;		/* LZ4F compressionLevel: 0 = fast (default), 3..12 = HC */
	/* A stream of the trace (the FT primary sends it to its backup): each piece the file
	 * gets -- the file header, each block, the footer -- is also passed to sink, once and
	 * whole, in file order. A nonzero return is the writer's error from then on. */
	int (*sink)(void *ctx, const void *data, size_t len);
	void *sink_ctx;
	/* Creates the file at path for writing: the fd or -errno. NULL: open() with O_CREAT
	 * and O_TRUNC, mode 0600 (detvm passes its private-file policy, vmm/file_io.h). */
	int (*create)(const char *path);
};

/*
 * Create (or truncate) `path` and write the file header; path may be NULL where opts has
 * a sink (a stream with no file). hdr may be NULL (an empty TraceHeader), opts may be
 * NULL (defaults). Returns 0 or -errno; *out is NULL on error.
 */
int trace_writer_open(struct trace_writer **out, const char *path,
		      const Detvm__TraceHeader *hdr, const struct trace_writer_opts *opts);

/*
 * Append one event at guest position `position` (the exit ordinal; must not be smaller
 * than the previous event's). ev->position_delta is ignored: the writer encodes the
 * delta itself. ev must have a payload. The event is copied; the caller keeps ev.
 * May write a block. Returns 0, -EINVAL (bad event), -EFBIG (event too large) or the
 * writer's latched I/O error.
 */
int trace_writer_append(struct trace_writer *w, uint64_t position, const Detvm__Event *ev);

/*
 * Write the open block if it has been open for max_age_ns. The block's age counts from
 * the first call that saw it non-empty, so the bound is max_age_ns plus the caller's
 * polling interval. now_ns is any monotonic clock (tests pass fake values).
 * Returns 1 if a block was written, 0 if not, or a negative error.
 */
int trace_writer_flush_if_due(struct trace_writer *w, uint64_t now_ns);

/* Write the open block now (if it holds any event). 0 or negative error. */
int trace_writer_flush(struct trace_writer *w);

/*
 * Write the last block and the footer, fsync, close and free w (also on error).
 * footer may be NULL. The writer fills total_events, total_blocks and kinds itself;
 * the caller provides final_position, final_digest, clean_exit, reason, message.
 */
int trace_writer_close(struct trace_writer *w, const Detvm__TraceFooter *footer);

/*
 * Close and free w without writing the open block or a footer -- what a crash leaves
 * behind. For error paths and tests.
 */
void trace_writer_discard(struct trace_writer *w);

/* Counters, for stats and benchmarks. */
struct trace_writer_stats {
	uint64_t events;
	uint64_t blocks;
	uint64_t raw_bytes;		/* delimited Event bytes before compression */
	uint64_t compressed_bytes;	/* LZ4 frames written */
	uint64_t file_bytes;		/* everything written so far */
};
void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *st);

/* ---- Reader ------------------------------------------------------------------------- */

struct trace_reader;

struct trace_event {
	uint64_t seq;		/* 0-based index of the event in the trace */
	uint64_t position;	/* absolute position (position_delta decoded) */
	uint64_t block;		/* 0-based index of the block it came from */
	/* The decoded event, owned by the reader, valid until the next trace_reader_next()
	 * or trace_reader_close(). ev->position_delta is left as stored. */
	const Detvm__Event *ev;
};

/*
 * Open `path` and validate the file header (magic, version, length, CRC, protobuf).
 * On failure returns a negative code and, if errbuf is not NULL, a one-line message.
 */
int trace_reader_open(struct trace_reader **out, const char *path, char *errbuf, size_t errlen);

/*
 * Same, from an open file descriptor positioned anywhere (the reader uses pread from
 * offset 0 and takes ownership of fd: it is closed by trace_reader_close(), or on
 * failure). `name` is used in messages.
 */
int trace_reader_open_fd(struct trace_reader **out, int fd, const char *name,
			 char *errbuf, size_t errlen);

/*
 * Follow mode, for a trace still being written (the FT backup writes what the primary
 * streams into a file as it comes): where the file ends inside the header, a block or
 * the footer, the reader calls more(ctx), which waits until the file may have grown and
 * returns 0, or returns nonzero once nothing more will come -- then the file is read as
 * it stands (a recorder that died: TRACE_ERR_TRUNCATED after its last complete block).
 */
int trace_reader_open_follow(struct trace_reader **out, int fd, const char *name,
			     int (*more)(void *ctx), void *ctx, char *errbuf, size_t errlen);

/*
 * Next event: 1 and *out filled, 0 at the clean end (footer read and consistent), or a
 * negative error; TRACE_ERR_TRUNCATED means every complete block has been returned and
 * the file ends without a footer or inside a block/footer. After an error or the end,
 * further calls return the same value.
 */
int trace_reader_next(struct trace_reader *r, struct trace_event *out);

/* The message of the last error ("" if none). */
const char *trace_reader_error(const struct trace_reader *r);

const Detvm__TraceHeader *trace_reader_header(const struct trace_reader *r);
uint32_t trace_reader_version(const struct trace_reader *r);

/* The footer once trace_reader_next() has returned 0; NULL before or if absent. */
const Detvm__TraceFooter *trace_reader_footer(const struct trace_reader *r);

/* Where an event lies, to read it again (replay going back to a checkpoint). */
#define TRACE_MARK_KINDS 64
struct trace_mark {
	uint64_t block_off, blocks, first_seq, last_pos, skip;
	uint64_t kinds[TRACE_MARK_KINDS];	/* events per kind before the block */
};
/* The mark of ev, the event trace_reader_next() returned last. */
void trace_reader_mark(const struct trace_reader *r, const struct trace_event *ev, struct trace_mark *m);
/* Reads again from the event m marks, which it returns into out (1), as
 * trace_reader_next() would. */
int trace_reader_seek(struct trace_reader *r, const struct trace_mark *m, struct trace_event *out);

/* Complete blocks read so far, and the file offset just after the last one. */
uint64_t trace_reader_blocks(const struct trace_reader *r);
uint64_t trace_reader_offset(const struct trace_reader *r);

void trace_reader_close(struct trace_reader *r);

#endif
