/*
 * The trace reader's state and the helpers its files share (internal to logs/):
 * trace_reader.c reads blocks and events, trace_reader_ends.c the file header and the
 * footer.
 */
#ifndef DETVM_LOGS_TRACE_READER_INT_H
#define DETVM_LOGS_TRACE_READER_INT_H

#include <lz4frame.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "logs/trace.h"

#define TRACE_KIND_SLOTS TRACE_MARK_KINDS

/*
 * Fuzz builds skip the verdict of CRC checks (the checksums are still computed) so the
 * fuzzer reaches the LZ4 and protobuf decoders behind them.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define crc_mismatch(stored, computed) ((void)(stored), (void)(computed), false)
#else
#define crc_mismatch(stored, computed) ((stored) != (computed))
#endif

struct trace_reader {
	int fd;
	char *name;
	uint32_t version;
	Detvm__TraceHeader *hdr;
	Detvm__TraceFooter *footer;

	uint64_t off;			/* file offset of the next block or footer */
	uint64_t blocks;		/* complete blocks loaded */
	uint64_t seq;			/* seq of the next event */
	uint64_t pos;			/* position of the previous event in this block */
	uint64_t last_pos;		/* position of the previous event in the trace */
	uint64_t kinds[TRACE_KIND_SLOTS];

	uint8_t *zbuf, *ubuf;
	size_t zcap, ucap;
	size_t ulen, upos;		/* decompressed block and read cursor */
	uint32_t left;			/* events not yet returned from this block */
	uint64_t block_off;		/* offset of the current block, for messages */
	uint64_t block_seq;		/* seq of its first event ... */
	uint64_t block_last_pos;	/* ... last_pos before it: trace_reader_mark() ... */
	uint64_t block_kinds[TRACE_KIND_SLOTS];	/* ... and kinds */
	LZ4F_dctx *dctx;
	Detvm__Event *cur;

	bool done;			/* state is final */
	int state;
	char msg[256];

	/* follow mode: a file still being written (see trace_reader_open_follow) */
	int (*more)(void *ctx);
	void *more_ctx;
	bool ended;			/* more() said nothing more comes */
};

/* Latches the error: code, and the message "NAME: " + fmt. Returns code. */
__attribute__((format(printf, 3, 4)))
int trace_rd_fail(struct trace_reader *r, int code, const char *fmt, ...);
/* Up to len bytes at off (short only at the end of the file), or -errno. */
ssize_t trace_rd_pread(struct trace_reader *r, void *buf, size_t len, uint64_t off);
/* The file's size in *size, once it is at least need in follow mode; 0 or the error. */
int trace_rd_size(struct trace_reader *r, uint64_t need, uint64_t *size);
/* The file header (at open) and the footer (at r->off): 0 or the latched error. */
int trace_rd_header(struct trace_reader *r);
int trace_rd_footer(struct trace_reader *r);

#endif
