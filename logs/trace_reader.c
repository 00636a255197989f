/*
 * Trace reader: validates the file header at open, then returns events block by block.
 * Every length read from the file is checked against the file size and the format's
 * limits before anything is allocated for it, because traces are user input (and the
 * fuzzer's). Each error is decided once, with a one-line message naming the block and
 * byte offset, and latched: later calls return the same code.
 */
#include "logs/trace_reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4frame.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs/crc32c.h"
#include "logs/trace_format.h"

const char *trace_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case TRACE_ERR_EMPTY:
		return "empty trace file";
	case TRACE_ERR_MAGIC:
		return "not a detvm trace";
	case TRACE_ERR_VERSION:
		return "trace format version is newer than this detvm";
	case TRACE_ERR_CRC:
		return "trace checksum mismatch";
	case TRACE_ERR_TRUNCATED:
		return "trace is truncated";
	case TRACE_ERR_CORRUPT:
		return "trace is corrupt";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown trace error";
	}
}

int trace_rd_fail(struct trace_reader *r, int code, const char *fmt, ...)
{
	int n;
	va_list ap;

	n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->name);
	if (n < 0 || (size_t)n >= sizeof(r->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - n, fmt, ap);
	va_end(ap);
	r->done = true;
	r->state = code;
	return code;
}

/* Follow mode at the end of the file: wait for it to grow. 1 if it may have, 0 if the
 * writer is done (or this is no follow mode). */
static int wait_more(struct trace_reader *r)
{
	if (!r->more || r->ended)
		return 0;
	if (r->more(r->more_ctx)) {
		r->ended = true;
		return 0;
	}
	return 1;
}

/* Reads up to len bytes at off; returns the count (short only at end of file: in follow
 * mode, once the writer is done) or -errno. */
ssize_t trace_rd_pread(struct trace_reader *r, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(r->fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0 && !wait_more(r))
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The file's size, once it is at least `need` (follow mode waits for that); a smaller
 * size means it ends before. */
int trace_rd_size(struct trace_reader *r, uint64_t need, uint64_t *size)
{
	struct stat st;
	int e;

	for (;;) {
		*size = 0;
		if (fstat(r->fd, &st) < 0) {
			e = errno;
			return trace_rd_fail(r, -e, "fstat: %s", strerror(e));
		}
		*size = (uint64_t)st.st_size;
		if (*size >= need || !wait_more(r))
			return 0;
	}
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *nb;

	if (need <= *cap)
		return 0;
	nb = realloc(*buf, need);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = need;
	return 0;
}

int trace_reader_open_fd(struct trace_reader **out, int fd, const char *name,
			 char *errbuf, size_t errlen)
{
	return trace_reader_open_follow(out, fd, name, NULL, NULL, errbuf, errlen);
}

int trace_reader_open_follow(struct trace_reader **out, int fd, const char *name,
			     int (*more)(void *ctx), void *ctx, char *errbuf, size_t errlen)
{
	struct trace_reader *r;
	int ret;

	*out = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	r->fd = fd;
	r->more = more;
	r->more_ctx = ctx;
	r->name = strdup(name ? name : "trace");
	if (!r->name || LZ4F_isError(LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION))) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: out of memory", name);
		trace_reader_close(r);
		return -ENOMEM;
	}
	ret = trace_rd_header(r);
	if (ret) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", r->msg);
		trace_reader_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

int trace_reader_open(struct trace_reader **out, const char *path, char *errbuf, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int ret = -errno;

		*out = NULL;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return trace_reader_open_fd(out, fd, path, errbuf, errlen);
}

/* Decompress into ubuf; the frame must decode to exactly ulen bytes using all of zdata. */
static int inflate_block(struct trace_reader *r, uint32_t clen, uint32_t ulen)
{
	size_t in_done = 0, out_done = 0, ret = 1;

	LZ4F_resetDecompressionContext(r->dctx);
	while (ret != 0) {
		size_t in = clen - in_done, outsz = ulen - out_done;

		ret = LZ4F_decompress(r->dctx, r->ubuf + out_done, &outsz, r->zbuf + in_done,
				      &in, NULL);
		if (LZ4F_isError(ret))
			return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %"
					     PRIu64 ": LZ4 frame: %s", r->blocks, r->block_off,
					     LZ4F_getErrorName(ret));
		in_done += in;
		out_done += outsz;
		if (ret != 0 && in == 0 && outsz == 0)
			break;	/* no progress: frame incomplete or output full */
	}
	if (ret != 0 || in_done != clen || out_done != ulen)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": LZ4 frame holds %zu bytes (header says %" PRIu32 ")%s",
				     r->blocks, r->block_off, out_done, ulen,
				     in_done != clen ? " and has trailing data" : "");
	return 0;
}

static bool get_varint(const uint8_t *p, size_t avail, uint64_t *v, size_t *used)
{
	uint64_t x = 0;

	for (size_t i = 0; i < avail && i < TRACE_VARINT_MAX; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i == 9 && p[i] > 1)
				return false;	/* more than 64 bits */
			*v = x;
			*used = i + 1;
			return true;
		}
	}
	return false;
}

/*
 * Walk the length prefixes of a decompressed block: exactly `count` records must tile it,
 * so a block is rejected as a whole before any of its events is returned. A record larger
 * than the writer ever makes is refused here, before protobuf-c sees it.
 */
static int frame_check(struct trace_reader *r, size_t len, uint32_t count)
{
	const uint8_t *p = r->ubuf;
	size_t off = 0, used;
	uint64_t elen;

	for (uint32_t i = 0; i < count; i++) {
		if (!get_varint(p + off, len - off, &elen, &used) || elen > len - off - used)
			break;
		if (elen > TRACE_MAX_EVENT_BYTES)
			return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %"
					     PRIu64 ": event %" PRIu64 " is %" PRIu64 " bytes, more"
					     " than a recorder writes (%u)", r->blocks,
					     r->block_off, r->seq + i, elen, TRACE_MAX_EVENT_BYTES);
		off += used + (size_t)elen;
	}
	if (off != len)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": does not hold %" PRIu32 " length-delimited events",
				     r->blocks, r->block_off, count);
	return 0;
}

static int load_block(struct trace_reader *r)
{
	uint8_t h[TRACE_BLOCK_HDR_LEN];
	uint32_t clen, ulen, count, stored, computed;
	uint64_t first, size, off = r->off;
	size_t cmp;
	ssize_t n;
	int ret;

	n = trace_rd_pread(r, h, sizeof(h), off);
	if (n < 0)
		return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
	if (n == 0)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "ends at offset %" PRIu64 " after %"
				     PRIu64 " complete blocks and %" PRIu64
				     " events, without a footer (the recorder did not finish)", off,
				     r->blocks, r->seq);
	/* the magics differ in their first byte, so a 1..3-byte tail is unambiguous */
	cmp = n < 4 ? (size_t)n : 4;
	if (!memcmp(h, TRACE_FOOTER_MAGIC, cmp))
		return trace_rd_footer(r);
	if (memcmp(h, TRACE_BLOCK_MAGIC, cmp))
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "block %" PRIu64 " at offset %" PRIu64 ": bad block magic",
				     r->blocks, off);
	if (n < TRACE_BLOCK_HDR_LEN)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "block %" PRIu64 " at offset %" PRIu64
				     " is incomplete (%zd of %d header bytes; the recorder was"
				     " killed?)", r->blocks, off, n, TRACE_BLOCK_HDR_LEN);
	clen = trace_get_le32(h + 4);
	ulen = trace_get_le32(h + 8);
	count = trace_get_le32(h + 12);
	first = trace_get_le64(h + 16);
	stored = trace_get_le32(h + 24);
	r->block_off = off;
	/* LZ4 expands at most ~255x: a larger claim is a lie, and is refused before we
	 * allocate for it */
	if (ulen > TRACE_MAX_BLOCK_BYTES || clen > LZ4F_compressFrameBound(ulen, NULL) ||
	    ulen > (uint64_t)clen * 255 + 65536 || count == 0 || count > ulen)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": impossible sizes (%" PRIu32 " compressed, %" PRIu32
				     " uncompressed, %" PRIu32 " events)", r->blocks, off, clen,
				     ulen, count);
	if (first != r->seq)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "block %" PRIu64 " at offset %" PRIu64 ": first event %" PRIu64
				     ", expected %" PRIu64, r->blocks, off, first, r->seq);
	ret = trace_rd_size(r, off + TRACE_BLOCK_HDR_LEN + clen, &size);
	if (ret)
		return ret;
	if (size < off + TRACE_BLOCK_HDR_LEN + clen)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "block %" PRIu64 " at offset %" PRIu64
				     " is incomplete (%" PRIu64 " of %" PRIu32
				     " bytes; the recorder was killed?)", r->blocks, off,
				     size > off + TRACE_BLOCK_HDR_LEN ?
				     size - off - TRACE_BLOCK_HDR_LEN : 0, clen);
	if (reserve(&r->zbuf, &r->zcap, clen ? clen : 1))
		return trace_rd_fail(r, -ENOMEM, "out of memory for block %" PRIu64, r->blocks);
	n = trace_rd_pread(r, r->zbuf, clen, off + TRACE_BLOCK_HDR_LEN);
	if (n < 0)
		return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
	if ((size_t)n < clen)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "block %" PRIu64 " at offset %" PRIu64
				     " is incomplete", r->blocks, off);
	computed = crc32c(r->zbuf, clen);
	if (crc_mismatch(stored, computed))
		return trace_rd_fail(r, TRACE_ERR_CRC, "block %" PRIu64 " at offset %" PRIu64
				     ": CRC32C mismatch (stored 0x%08" PRIx32 ", computed 0x%08"
				     PRIx32 ")", r->blocks, off, stored, computed);
	if (reserve(&r->ubuf, &r->ucap, ulen ? ulen : 1))
		return trace_rd_fail(r, -ENOMEM, "out of memory for block %" PRIu64, r->blocks);
	ret = inflate_block(r, clen, ulen);
	if (ret)
		return ret;
	ret = frame_check(r, ulen, count);
	if (ret)
		return ret;
	r->ulen = ulen;
	r->upos = 0;
	r->left = count;
	r->pos = 0;
	r->off = off + TRACE_BLOCK_HDR_LEN + clen;
	r->blocks++;
	r->block_seq = r->seq;
	r->block_last_pos = r->last_pos;
	memcpy(r->block_kinds, r->kinds, sizeof(r->kinds));
	return 1;
}

int trace_reader_next(struct trace_reader *r, struct trace_event *out)
{
	struct trace_unpack_budget budget;
	uint64_t elen, pos;
	size_t used;
	Detvm__Event *ev;
	uint64_t blk;
	int ret;

	if (r->cur) {
		detvm__event__free_unpacked(r->cur, NULL);
		r->cur = NULL;
	}
	if (r->done)
		return r->state;
	if (!r->left) {
		ret = load_block(r);
		if (ret <= 0)
			return ret;
	}
	blk = r->blocks - 1;
	if (!get_varint(r->ubuf + r->upos, r->ulen - r->upos, &elen, &used) ||
	    elen > r->ulen - r->upos - used)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "block %" PRIu64 " at offset %" PRIu64 ": event %" PRIu64
				     " has a bad length", blk, r->block_off, r->seq);
	ev = detvm__event__unpack(trace_unpack_budget(&budget, (size_t)elen), (size_t)elen,
				  r->ubuf + r->upos + used);
	if (!ev && budget.over)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": event %" PRIu64 " (%" PRIu64 " bytes) unpacks to more than"
				     " %" PRIu64 " bytes, which no recorder writes", blk,
				     r->block_off, r->seq, elen, TRACE_UNPACK_BUDGET(elen));
	if (!ev)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "block %" PRIu64 " at offset %" PRIu64 ": event %" PRIu64
				     " does not decode as Event", blk, r->block_off, r->seq);
	r->cur = ev;
	r->upos += used + (size_t)elen;
	pos = r->pos + ev->position_delta;
	if (pos < r->pos)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "block %" PRIu64 " at offset %" PRIu64 ": event %" PRIu64
				     " position overflows", blk, r->block_off, r->seq);
	if (pos < r->last_pos)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": event %" PRIu64 " goes back to position %" PRIu64 " from %"
				     PRIu64, blk, r->block_off, r->seq, pos, r->last_pos);
	r->pos = pos;
	r->last_pos = pos;
	if (--r->left == 0 && r->upos != r->ulen)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "block %" PRIu64 " at offset %" PRIu64
				     ": %zu bytes after its last event", blk, r->block_off,
				     r->ulen - r->upos);
	/* unknown (newer) kinds decode with no payload; they are returned, not counted */
	if ((unsigned)ev->payload_case < TRACE_KIND_SLOTS)
		r->kinds[ev->payload_case]++;
	out->seq = r->seq++;
	out->position = pos;
	out->block = blk;
	out->ev = ev;
	return 1;
}

const char *trace_reader_error(const struct trace_reader *r)
{
	return r->msg;
}

const Detvm__TraceHeader *trace_reader_header(const struct trace_reader *r)
{
	return r->hdr;
}

uint32_t trace_reader_version(const struct trace_reader *r)
{
	return r->version;
}

const Detvm__TraceFooter *trace_reader_footer(const struct trace_reader *r)
{
	return r->done && r->state == 0 ? r->footer : NULL;
}

void trace_reader_mark(const struct trace_reader *r, const struct trace_event *ev, struct trace_mark *m)
{
	m->block_off = r->block_off;
	m->blocks = r->blocks - 1;
	m->first_seq = r->block_seq;
	m->last_pos = r->block_last_pos;
	m->skip = ev->seq - r->block_seq;
	memcpy(m->kinds, r->block_kinds, sizeof(m->kinds));
}

int trace_reader_seek(struct trace_reader *r, const struct trace_mark *m, struct trace_event *out)
{
	if (r->cur)
		detvm__event__free_unpacked(r->cur, NULL);
	r->cur = NULL;
	if (r->footer)
		detvm__trace_footer__free_unpacked(r->footer, NULL);
	r->footer = NULL;
	r->done = false;
	r->state = 0;
	r->msg[0] = 0;
	r->off = m->block_off;
	r->blocks = m->blocks;
	r->seq = m->first_seq;
	r->last_pos = m->last_pos;
	r->left = 0;
	memcpy(r->kinds, m->kinds, sizeof(r->kinds));
	int ret = 0;
	for (uint64_t i = 0; i <= m->skip; i++)
		if ((ret = trace_reader_next(r, out)) <= 0)
			break;
	return ret;
}

uint64_t trace_reader_blocks(const struct trace_reader *r)
{
	return r->blocks;
}

uint64_t trace_reader_offset(const struct trace_reader *r)
{
	return r->off;
}

void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	if (r->cur)
		detvm__event__free_unpacked(r->cur, NULL);
	if (r->hdr)
		detvm__trace_header__free_unpacked(r->hdr, NULL);
	if (r->footer)
		detvm__trace_footer__free_unpacked(r->footer, NULL);
	if (r->dctx)
		LZ4F_freeDecompressionContext(r->dctx);
	if (r->fd >= 0)
		close(r->fd);
	free(r->zbuf);
	free(r->ubuf);
	free(r->name);
	free(r);
}
