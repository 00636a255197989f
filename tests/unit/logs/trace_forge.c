/*
 * Forged traces for the reader's resource bounds (see trace_fixture.h): written byte by
 * byte, as an attacker would, since the writer refuses to make them.
 */
#include "trace_fixture.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs/crc32c.h"
#include "logs/trace_format.h"

/* The fixture's header as the file starts: magic, version, length, TraceHeader, CRC. */
static int write_header(FILE *f)
{
	struct fx_header fh;
	const Detvm__TraceHeader *h = fx_header_make(&fh);
	size_t hlen = detvm__trace_header__get_packed_size(h);
	uint8_t *b = malloc(TRACE_FILE_FIXED_LEN + hlen + 4);
	int ret;

	if (!b)
		return -ENOMEM;
	detvm__trace_header__pack(h, b + TRACE_FILE_FIXED_LEN);
	trace_frame_header(b, hlen);
	ret = fwrite(b, 1, TRACE_FILE_FIXED_LEN + hlen + 4, f) == TRACE_FILE_FIXED_LEN + hlen + 4;
	free(b);
	return ret ? 0 : -EIO;
}

/* ulen bytes of records as one block: an LZ4 frame as the writer makes it, and its CRC. */
static int write_block(FILE *f, const uint8_t *u, size_t ulen, uint32_t count)
{
	LZ4F_preferences_t prefs = { .frameInfo = { .blockSizeID = LZ4F_max64KB,
						    .contentSize = ulen } };
	size_t cap = LZ4F_compressFrameBound(ulen, &prefs), clen;
	uint8_t h[TRACE_BLOCK_HDR_LEN], *z = malloc(cap);
	int ret = -EIO;

	if (!z)
		return -ENOMEM;
	clen = LZ4F_compressFrame(z, cap, u, ulen, &prefs);
	if (!LZ4F_isError(clen)) {
		memcpy(h, TRACE_BLOCK_MAGIC, 4);
		trace_put_le32(h + 4, (uint32_t)clen);
		trace_put_le32(h + 8, (uint32_t)ulen);
		trace_put_le32(h + 12, count);
		trace_put_le64(h + 16, 0);
		trace_put_le32(h + 24, crc32c(z, clen));
		if (fwrite(h, 1, sizeof(h), f) == sizeof(h) && fwrite(z, 1, clen, f) == clen)
			ret = 0;
	}
	free(z);
	return ret;
}

int fx_write_page_bomb(const char *path, uint32_t events, uint32_t pages)
{
	/* Event { landmark (14) = Landmark { pages (8) = PageImage {} x pages } } */
	uint64_t body = 2ull * pages, elen;
	uint8_t head[2 * TRACE_VARINT_MAX + 1], *u, *p;
	size_t hn, ulen;
	FILE *f;
	int ret;

	hn = trace_put_varint(head + TRACE_VARINT_MAX, body);
	elen = 1 + hn + body;
	hn = trace_put_varint(head, elen);
	head[hn++] = 14 << 3 | 2;
	hn += trace_put_varint(head + hn, body);
	if (!events || (hn + body) * events > TRACE_MAX_BLOCK_BYTES)
		return -EINVAL;
	ulen = (hn + body) * events;
	u = malloc(ulen);
	if (!u)
		return -ENOMEM;
	p = u;
	for (uint32_t e = 0; e < events; e++) {
		memcpy(p, head, hn);
		p += hn;
		for (uint32_t i = 0; i < pages; i++) {
			*p++ = 8 << 3 | 2;	/* PageImage, length 0 */
			*p++ = 0;
		}
	}
	f = fopen(path, "wb");
	ret = f ? write_header(f) : -errno;
	if (!ret)
		ret = write_block(f, u, ulen, events);
	if (f && fclose(f) && !ret)
		ret = -EIO;
	free(u);
	return ret;
}
