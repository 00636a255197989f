/*
 * Trace writer: packs Events into an in-memory block, closes the block into one LZ4
 * frame with a CRC32C'd block header, and writes it with a single write() so that a
 * crash leaves only whole blocks (or one torn tail block the reader reports as
 * truncated). Layout: logs/FORMAT.md.
 */
#include "logs/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logs/crc32c.h"
#include "logs/trace_format.h"

/* Event payload field numbers fit below this (oneof cases are field numbers). */
#define TRACE_KIND_SLOTS 64

/* Largest block_bytes a caller may ask for: a block may exceed it by one event. */
#define TRACE_BLOCK_BYTES_CAP (TRACE_MAX_BLOCK_BYTES - TRACE_MAX_EVENT_BYTES - 16)

struct trace_writer {
	int fd;				/* the file; -1 for a stream only */
	int (*sink)(void *ctx, const void *data, size_t len);
	void *sink_ctx;
	int err;			/* first failure, returned by every later call */
	size_t block_bytes;
	uint64_t max_age_ns;

	uint8_t *buf;			/* the open block: delimited Events */
	size_t len, cap;
	uint32_t nev;			/* events in the open block */
	uint64_t first_seq;		/* seq of its first event */
	uint64_t block_pos;		/* position of its last event (delta base) */
	bool age_armed;			/* block_since_ns is valid */
	uint64_t block_since_ns;

	uint8_t *zbuf;			/* block header + compressed frame */
	size_t zcap;
	LZ4F_cctx *cctx;
	LZ4F_preferences_t prefs;

	uint64_t last_pos;		/* position of the last event in the trace */
	uint64_t kinds[TRACE_KIND_SLOTS];
	struct trace_writer_stats st;
};

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One piece of the trace (the file header, a block, the footer): to the file, and to the
 * sink as one call. */
static int emit(struct trace_writer *w, const void *data, size_t len)
{
	int ret = w->fd >= 0 ? write_all(w->fd, data, len) : 0;
	if (!ret && w->sink)
		ret = w->sink(w->sink_ctx, data, len);
	return ret;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *nb;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int header_write(struct trace_writer *w, const Detvm__TraceHeader *hdr)
{
	Detvm__TraceHeader empty = DETVM__TRACE_HEADER__INIT;
	size_t hlen, total;
	uint8_t *b;
	int ret;

	if (!hdr)
		hdr = &empty;
	hlen = detvm__trace_header__get_packed_size(hdr);
	if (hlen > TRACE_MAX_HEADER_BYTES)
		return -EFBIG;
	total = TRACE_FILE_FIXED_LEN + hlen + 4;
	b = malloc(total);
	if (!b)
		return -ENOMEM;
	detvm__trace_header__pack(hdr, b + TRACE_FILE_FIXED_LEN);
	trace_frame_header(b, hlen);
	ret = emit(w, b, total);
	free(b);
	if (!ret)
		w->st.file_bytes += total;
	return ret;
}

static int create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int trace_writer_open(struct trace_writer **out, const char *path,
		      const Detvm__TraceHeader *hdr, const struct trace_writer_opts *opts)
{
	struct trace_writer *w;
	int ret;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->block_bytes = TRACE_BLOCK_BYTES_DEFAULT;
	w->max_age_ns = TRACE_BLOCK_AGE_NS_DEFAULT;
	if (opts && opts->block_bytes)
		w->block_bytes = opts->block_bytes < TRACE_BLOCK_BYTES_CAP ?
				 opts->block_bytes : TRACE_BLOCK_BYTES_CAP;
	if (opts && opts->max_age_ns)
		w->max_age_ns = opts->max_age_ns;
	if (opts) {
		w->sink = opts->sink;
		w->sink_ctx = opts->sink_ctx;
	}
	if (!path && !w->sink) {
		ret = -EINVAL;
		goto err;
	}

	/* Linked 64 KiB LZ4 blocks compress best; no LZ4 checksums: CRC32C covers it.
	 * The content size goes in the frame so `lz4 -d` and the reader can check it. */
	memset(&w->prefs, 0, sizeof(w->prefs));
	w->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	w->prefs.frameInfo.blockMode = LZ4F_blockLinked;
	w->prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	w->prefs.compressionLevel = opts ? opts->lz4_level : 0;

	if (LZ4F_isError(LZ4F_createCompressionContext(&w->cctx, LZ4F_VERSION))) {
		ret = -ENOMEM;
		goto err;
	}
	ret = grow(&w->buf, &w->cap, w->block_bytes + 64);
	if (ret)
		goto err;
	if (path) {
		w->fd = opts && opts->create ? opts->create(path) : create_file(path);
		if (w->fd < 0) {
			ret = w->fd;
			goto err;
		}
	}
	ret = header_write(w, hdr);
	if (ret)
		goto err;
	*out = w;
	return 0;
err:
	trace_writer_discard(w);
	return ret;
}

/* Compress the open block into one LZ4 frame and write header + frame in one write(). */
static int block_write(struct trace_writer *w)
{
	size_t bound, n, r;
	uint8_t *z;
	int ret;

	if (w->err)
		return w->err;
	if (!w->nev)
		return 0;
	w->prefs.frameInfo.contentSize = w->len;
	bound = LZ4F_compressBound(w->len, &w->prefs) + LZ4F_HEADER_SIZE_MAX + 16;
	ret = grow(&w->zbuf, &w->zcap, TRACE_BLOCK_HDR_LEN + bound);
	if (ret)
		goto fail;
	z = w->zbuf + TRACE_BLOCK_HDR_LEN;
	n = LZ4F_compressBegin(w->cctx, z, bound, &w->prefs);
	if (LZ4F_isError(n))
		goto lz4_fail;
	r = LZ4F_compressUpdate(w->cctx, z + n, bound - n, w->buf, w->len, NULL);
	if (LZ4F_isError(r))
		goto lz4_fail;
	n += r;
	r = LZ4F_compressEnd(w->cctx, z + n, bound - n, NULL);
	if (LZ4F_isError(r))
		goto lz4_fail;
	n += r;

	memcpy(w->zbuf, TRACE_BLOCK_MAGIC, 4);
	trace_put_le32(w->zbuf + 4, (uint32_t)n);
	trace_put_le32(w->zbuf + 8, (uint32_t)w->len);
	trace_put_le32(w->zbuf + 12, w->nev);
	trace_put_le64(w->zbuf + 16, w->first_seq);
	trace_put_le32(w->zbuf + 24, crc32c(z, n));
	ret = emit(w, w->zbuf, TRACE_BLOCK_HDR_LEN + n);
	if (ret)
		goto fail;

	w->st.blocks++;
	w->st.raw_bytes += w->len;
	w->st.compressed_bytes += n;
	w->st.file_bytes += TRACE_BLOCK_HDR_LEN + n;
	w->first_seq += w->nev;
	w->nev = 0;
	w->len = 0;
	w->age_armed = false;
	return 0;
lz4_fail:
	ret = -EIO;	/* cannot happen with a large enough bound; never write a bad block */
fail:
	w->err = ret;
	return ret;
}

int trace_writer_append(struct trace_writer *w, uint64_t position, const Detvm__Event *ev)
{
	Detvm__Event tmp;
	size_t size, need;
	int ret;

	if (w->err)
		return w->err;
	if (!ev || ev->payload_case == DETVM__EVENT__PAYLOAD__NOT_SET ||
	    (unsigned)ev->payload_case >= TRACE_KIND_SLOTS)
		return -EINVAL;
	if (position < w->last_pos)
		return -EINVAL;	/* positions never go back (FORMAT.md) */

	/* A shallow copy is enough to rewrite one scalar: packing only reads it. */
	tmp = *ev;
	tmp.position_delta = position - (w->nev ? w->block_pos : 0);
	size = detvm__event__get_packed_size(&tmp);
	if (size > TRACE_MAX_EVENT_BYTES)
		return -EFBIG;
	need = w->len + TRACE_VARINT_MAX + size;
	if (need > w->cap) {
		ret = grow(&w->buf, &w->cap, need);
		if (ret)
			return ret;
	}
	w->len += trace_put_varint(w->buf + w->len, size);
	w->len += detvm__event__pack(&tmp, w->buf + w->len);
	w->nev++;
	w->block_pos = position;
	w->last_pos = position;
	w->kinds[ev->payload_case]++;
	w->st.events++;

	if (w->len >= w->block_bytes)
		return block_write(w);
	return 0;
}

int trace_writer_flush_if_due(struct trace_writer *w, uint64_t now_ns)
{
	int ret;

	if (w->err)
		return w->err;
	if (!w->nev)
		return 0;
	if (!w->age_armed) {
		w->age_armed = true;
		w->block_since_ns = now_ns;
		return 0;
	}
	/* a clock that went backwards re-arms instead of underflowing */
	if (now_ns < w->block_since_ns) {
		w->block_since_ns = now_ns;
		return 0;
	}
	if (now_ns - w->block_since_ns < w->max_age_ns)
		return 0;
	ret = block_write(w);
	return ret ? ret : 1;
}

int trace_writer_flush(struct trace_writer *w)
{
	return block_write(w);
}

static int footer_write(struct trace_writer *w, const Detvm__TraceFooter *footer)
{
	Detvm__TraceFooter f = DETVM__TRACE_FOOTER__INIT;
	Detvm__KindCount kc[TRACE_KIND_SLOTS], *kp[TRACE_KIND_SLOTS];
	size_t nk = 0, flen, total;
	uint8_t *b;
	int ret;

	if (footer)
		f = *footer;
	f.total_events = w->st.events;
	f.total_blocks = w->st.blocks;
	for (unsigned k = 0; k < TRACE_KIND_SLOTS; k++) {
		if (!w->kinds[k])
			continue;
		detvm__kind_count__init(&kc[nk]);
		kc[nk].kind = k;
		kc[nk].count = w->kinds[k];
		kp[nk] = &kc[nk];
		nk++;
	}
	f.n_kinds = nk;
	f.kinds = kp;
	flen = detvm__trace_footer__get_packed_size(&f);
	if (flen > TRACE_MAX_FOOTER_BYTES)
		return -EFBIG;
	total = TRACE_FOOTER_FIXED_LEN + flen + 4;
	b = malloc(total);
	if (!b)
		return -ENOMEM;
	memcpy(b, TRACE_FOOTER_MAGIC, 4);
	trace_put_le32(b + 4, (uint32_t)flen);
	detvm__trace_footer__pack(&f, b + TRACE_FOOTER_FIXED_LEN);
	trace_put_le32(b + TRACE_FOOTER_FIXED_LEN + flen,
		       crc32c(b, TRACE_FOOTER_FIXED_LEN + flen));
	ret = emit(w, b, total);
	free(b);
	if (!ret)
		w->st.file_bytes += total;
	return ret;
}

int trace_writer_close(struct trace_writer *w, const Detvm__TraceFooter *footer)
{
	int ret;

	ret = block_write(w);
	if (!ret)
		ret = footer_write(w, footer);
	if (!ret && w->fd >= 0 && fsync(w->fd) < 0)
		ret = -errno;
	if (w->fd >= 0 && close(w->fd) < 0 && !ret)
		ret = -errno;
	w->fd = -1;
	trace_writer_discard(w);
	return ret;
}

void trace_writer_discard(struct trace_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->cctx)
		LZ4F_freeCompressionContext(w->cctx);
	free(w->buf);
	free(w->zbuf);
	free(w);
}

void trace_writer_get_stats(const struct trace_writer *w, struct trace_writer_stats *st)
{
	*st = w->st;
}
