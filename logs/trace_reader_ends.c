/*
 * The two ends of a trace: the file header, read and checked at open, and the footer,
 * checked against the body read before it (FORMAT.md). Lengths are bounded before
 * anything is allocated for them, as in trace_reader.c.
 */
#include "logs/trace_reader_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "logs/crc32c.h"
#include "logs/trace_format.h"

int trace_rd_header(struct trace_reader *r)
{
	struct trace_unpack_budget budget;
	uint8_t fixed[TRACE_FILE_FIXED_LEN], *b;
	uint32_t hlen, stored, computed;
	uint64_t size;
	ssize_t n;
	int ret;

	n = trace_rd_pread(r, fixed, sizeof(fixed), 0);
	if (n < 0)
		return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
	if (n == 0)
		return trace_rd_fail(r, TRACE_ERR_EMPTY, "empty file, not a trace");
	if (memcmp(fixed, TRACE_FILE_MAGIC, n < TRACE_FILE_MAGIC_LEN ? (size_t)n :
		   TRACE_FILE_MAGIC_LEN))
		return trace_rd_fail(r, TRACE_ERR_MAGIC,
				     "not a detvm trace (bad magic at offset 0)");
	if (n < TRACE_FILE_FIXED_LEN)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED,
				     "truncated inside the file header (%zd of %d bytes)", n,
				     TRACE_FILE_FIXED_LEN);
	r->version = trace_get_le32(fixed + 8);
	if (r->version > TRACE_FORMAT_VERSION)
		return trace_rd_fail(r, TRACE_ERR_VERSION, "trace format version %" PRIu32
				     " is newer than this detvm (%d)", r->version,
				     TRACE_FORMAT_VERSION);
	if (r->version == 0)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "invalid trace format version 0");
	hlen = trace_get_le32(fixed + 12);
	if (hlen > TRACE_MAX_HEADER_BYTES)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "header length %" PRIu32
				     " exceeds %u bytes", hlen, TRACE_MAX_HEADER_BYTES);
	ret = trace_rd_size(r, (uint64_t)TRACE_FILE_FIXED_LEN + hlen + 4, &size);
	if (ret)
		return ret;
	if (size < (uint64_t)TRACE_FILE_FIXED_LEN + hlen + 4)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "truncated inside the file header (%"
				     PRIu64 " of %" PRIu64 " bytes)", size,
				     (uint64_t)TRACE_FILE_FIXED_LEN + hlen + 4);
	b = malloc(TRACE_FILE_FIXED_LEN + hlen + 4);
	if (!b)
		return trace_rd_fail(r, -ENOMEM, "out of memory for a %" PRIu32 "-byte header",
				     hlen);
	memcpy(b, fixed, TRACE_FILE_FIXED_LEN);
	n = trace_rd_pread(r, b + TRACE_FILE_FIXED_LEN, hlen + 4, TRACE_FILE_FIXED_LEN);
	if (n < 0) {
		free(b);
		return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
	}
	if ((size_t)n < hlen + 4) {
		free(b);
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED, "truncated inside the file header");
	}
	stored = trace_get_le32(b + TRACE_FILE_FIXED_LEN + hlen);
	computed = crc32c(b, TRACE_FILE_FIXED_LEN + hlen);
	if (crc_mismatch(stored, computed)) {
		free(b);
		return trace_rd_fail(r, TRACE_ERR_CRC,
				     "file header CRC32C mismatch at offset %u (stored 0x%08" PRIx32
				     ", computed 0x%08" PRIx32 ")", TRACE_FILE_FIXED_LEN + hlen,
				     stored, computed);
	}
	r->hdr = detvm__trace_header__unpack(trace_unpack_budget(&budget, hlen), hlen,
					     b + TRACE_FILE_FIXED_LEN);
	free(b);
	if (!r->hdr && budget.over)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "file header (%" PRIu32 " bytes) unpacks"
				     " to more than %" PRIu64 " bytes, which no recorder writes",
				     hlen, TRACE_UNPACK_BUDGET(hlen));
	if (!r->hdr)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT,
				     "file header does not decode as TraceHeader");
	r->off = TRACE_FILE_FIXED_LEN + (uint64_t)hlen + 4;
	return 0;
}

int trace_rd_footer(struct trace_reader *r)
{
	struct trace_unpack_budget budget;
	uint64_t size;
	uint8_t fixed[TRACE_FOOTER_FIXED_LEN], *b;
	uint32_t flen, stored, computed;
	uint64_t off = r->off;
	Detvm__TraceFooter *f;
	ssize_t n;

	n = trace_rd_pread(r, fixed, sizeof(fixed), off);
	if (n < 0)
		return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
	if (n < (ssize_t)sizeof(fixed))
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED,
				     "truncated inside the footer at offset %" PRIu64, off);
	flen = trace_get_le32(fixed + 4);
	if (flen > TRACE_MAX_FOOTER_BYTES)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "footer at offset %" PRIu64 ": length %"
				     PRIu32 " exceeds %u bytes", off, flen, TRACE_MAX_FOOTER_BYTES);
	int ret = trace_rd_size(r, off + TRACE_FOOTER_FIXED_LEN + flen + 4, &size);
	if (ret)
		return ret;
	if (size < off + TRACE_FOOTER_FIXED_LEN + flen + 4)
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED,
				     "truncated inside the footer at offset %" PRIu64, off);
	b = malloc(TRACE_FOOTER_FIXED_LEN + flen + 4);
	if (!b)
		return trace_rd_fail(r, -ENOMEM, "out of memory for the footer");
	n = trace_rd_pread(r, b, TRACE_FOOTER_FIXED_LEN + flen + 4, off);
	if (n < 0 || (size_t)n < TRACE_FOOTER_FIXED_LEN + flen + 4) {
		free(b);
		if (n < 0)
			return trace_rd_fail(r, (int)n, "read: %s", strerror((int)-n));
		return trace_rd_fail(r, TRACE_ERR_TRUNCATED,
				     "truncated inside the footer at offset %" PRIu64, off);
	}
	stored = trace_get_le32(b + TRACE_FOOTER_FIXED_LEN + flen);
	computed = crc32c(b, TRACE_FOOTER_FIXED_LEN + flen);
	if (crc_mismatch(stored, computed)) {
		free(b);
		return trace_rd_fail(r, TRACE_ERR_CRC, "footer at offset %" PRIu64
				     ": CRC32C mismatch (stored 0x%08" PRIx32 ", computed 0x%08"
				     PRIx32 ")", off, stored, computed);
	}
	f = detvm__trace_footer__unpack(trace_unpack_budget(&budget, flen), flen,
					b + TRACE_FOOTER_FIXED_LEN);
	free(b);
	if (!f && budget.over)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "footer at offset %" PRIu64 " (%" PRIu32
				     " bytes) unpacks to more than %" PRIu64 " bytes, which no"
				     " recorder writes", off, flen, TRACE_UNPACK_BUDGET(flen));
	if (!f)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "footer at offset %" PRIu64
				     " does not decode as TraceFooter", off);
	r->footer = f;
	if (f->total_events != r->seq || f->total_blocks != r->blocks)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "footer says %" PRIu64 " events in %"
				     PRIu64 " blocks, the body has %" PRIu64 " in %" PRIu64,
				     f->total_events, f->total_blocks, r->seq, r->blocks);
	for (size_t i = 0; i < f->n_kinds; i++) {
		uint32_t k = f->kinds[i]->kind;

		if (k >= TRACE_KIND_SLOTS || f->kinds[i]->count != r->kinds[k])
			return trace_rd_fail(r, TRACE_ERR_CORRUPT, "footer count for event kind %"
					     PRIu32 " does not match the body", k);
	}
	off += TRACE_FOOTER_FIXED_LEN + flen + 4;
	if (size != off)
		return trace_rd_fail(r, TRACE_ERR_CORRUPT, "%" PRIu64
				     " unexpected bytes after the footer", size - off);
	r->done = true;
	r->state = 0;
	return 0;
}
