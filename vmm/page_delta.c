/* A page as the runs of bytes that differ from a base page (vmm/page_delta.h). */
#include "vmm/page_delta.h"

#include <errno.h>
#include <string.h>

static size_t put_varint(uint8_t *out, size_t at, size_t v)
{
	while (v >= 0x80) {
		out[at++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[at++] = (uint8_t)v;
	return at;
}

/* The first byte at or after i where the pages differ, or PAGE_DELTA_PAGE. Word by word:
 * most of a page is usually equal. */
static size_t next_diff(const uint8_t *a, const uint8_t *b, size_t i)
{
	while (i < PAGE_DELTA_PAGE && (i & 7)) {
		if (a[i] != b[i])
			return i;
		i++;
	}
	for (; i < PAGE_DELTA_PAGE; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + (size_t)(__builtin_ctzll(x ^ y) / 8);
	}
	return PAGE_DELTA_PAGE;
}

size_t page_delta_encode(const uint8_t *base, const uint8_t *page, uint8_t *out)
{
	/* a run's varints take at most 2 + 2 bytes for a page: room checked before each */
	size_t len = 0, done = 0, start;
	while ((start = next_diff(base, page, done)) < PAGE_DELTA_PAGE) {
		/* the run ends where PAGE_DELTA_MERGE equal bytes in a row begin, or at the end */
		size_t end = start + 1, equal = 0;
		for (size_t i = end; i < PAGE_DELTA_PAGE && equal < PAGE_DELTA_MERGE; i++) {
			if (base[i] == page[i]) {
				equal++;
			} else {
				equal = 0;
				end = i + 1;
			}
		}
		size_t run = end - start;
		if (len + 4 + run > PAGE_DELTA_MAX)
			return PAGE_DELTA_MAX + 1;
		len = put_varint(out, len, start - done);
		len = put_varint(out, len, run);
		memcpy(out + len, page + start, run);
		len += run;
		done = end;
	}
	return len;
}

/* A varint of at most two bytes (page offsets fit in 13 bits): 0, or -EINVAL. */
static int get_varint(const uint8_t *d, size_t len, size_t *at, size_t *v)
{
	size_t x = 0;
	for (unsigned shift = 0; shift < 14; shift += 7) {
		if (*at >= len)
			return -EINVAL;
		uint8_t b = d[(*at)++];
		x |= (size_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EINVAL;
}

/* Walks the runs; copies them into page where it is not NULL. */
static int walk(uint8_t *page, const uint8_t *d, size_t len)
{
	size_t at = 0, done = 0;
	if (!len || len > PAGE_DELTA_MAX)
		return -EINVAL;
	while (at < len) {
		size_t gap, run;
		if (get_varint(d, len, &at, &gap) || get_varint(d, len, &at, &run))
			return -EINVAL;
		if (!run || gap > PAGE_DELTA_PAGE - done || run > PAGE_DELTA_PAGE - done - gap || run > len - at)
			return -EINVAL;
		done += gap;
		if (page)
			memcpy(page + done, d + at, run);
		done += run;
		at += run;
	}
	return 0;
}

int page_delta_check(const uint8_t *delta, size_t len)
{
	return walk(NULL, delta, len);
}

int page_delta_apply(uint8_t *page, const uint8_t *delta, size_t len)
{
	int r = walk(NULL, delta, len);
	return r ? r : walk(page, delta, len);
}
