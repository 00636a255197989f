/*
 * Trace reader on bad input: each kind of damage gives its own error code and a message,
 * truncation at every byte offset keeps every complete block, and no single-byte change
 * anywhere in a file goes unnoticed or crashes the reader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "logs/crc32c.h"
#include "logs/trace_format.h"
#include "trace_fixture.h"

static char dir[] = "/tmp/detvm-logs-err.XXXXXX";

/* A small fixture trace, loaded into memory, with its block layout. */
struct image {
	uint8_t *b;
	size_t len;
	size_t hdr_end;			/* first byte after the file header */
	size_t nblocks;
	size_t blk_off[256], blk_end[256];
	uint64_t blk_events[256];	/* events in blocks 0..i inclusive */
	size_t footer_off;
};

static void image_make(struct image *im, uint64_t n, size_t block_bytes, int footer)
{
	char path[256];
	size_t off;

	snprintf(path, sizeof(path), "%s/img-%llu-%zu-%d.trace", dir, (unsigned long long)n,
		 block_bytes, footer);
	assert_int_equal(fx_write_trace(path, n, block_bytes, footer), 0);
	memset(im, 0, sizeof(*im));
	im->b = fx_slurp(path, &im->len);
	assert_non_null(im->b);
	im->hdr_end = 16 + trace_get_le32(im->b + 12) + 4;
	off = im->hdr_end;
	while (off + 28 <= im->len && !memcmp(im->b + off, "BLK1", 4)) {
		assert_true(im->nblocks < 256);
		im->blk_off[im->nblocks] = off;
		off += 28 + trace_get_le32(im->b + off + 4);
		im->blk_end[im->nblocks] = off;
		im->blk_events[im->nblocks] = (im->nblocks ? im->blk_events[im->nblocks - 1] : 0) +
					      trace_get_le32(im->b + im->blk_off[im->nblocks] + 12);
		im->nblocks++;
	}
	im->footer_off = off;
}

/* Open buf[0..len) and read it all: returns the open error or the final next() value. */
static int read_buf(const uint8_t *buf, size_t len, uint64_t *nev, char *msg, size_t msglen)
{
	struct trace_reader *r;
	int fd = fx_memfd(buf, len), ret;

	assert_true(fd >= 0);
	*nev = 0;
	ret = trace_reader_open_fd(&r, fd, "mem", msg, msglen);
	if (ret) {
		assert_null(r);
		assert_true(msg == NULL || msg[0] != '\0');
		return ret;
	}
	ret = fx_read_all(r, nev);
	if (msg)
		snprintf(msg, msglen, "%s", trace_reader_error(r));
	if (ret < 0)
		assert_true(trace_reader_error(r)[0] != '\0');
	trace_reader_close(r);
	return ret;
}

static void test_empty_and_magic(void **state)
{
	char msg[256], path[256];
	struct trace_reader *r;
	uint64_t n;

	assert_int_equal(read_buf((const uint8_t *)"", 0, &n, msg, sizeof(msg)), TRACE_ERR_EMPTY);
	assert_int_equal(read_buf((const uint8_t *)"PK\3\4 not a trace at all", 24, &n, msg,
				  sizeof(msg)), TRACE_ERR_MAGIC);
	assert_non_null(strstr(msg, "not a detvm trace"));
	assert_int_equal(read_buf((const uint8_t *)"XY", 2, &n, msg, sizeof(msg)),
			 TRACE_ERR_MAGIC);
	assert_int_equal(read_buf((const uint8_t *)"DETV", 4, &n, msg, sizeof(msg)),
			 TRACE_ERR_TRUNCATED);
	snprintf(path, sizeof(path), "%s/missing.trace", dir);
	assert_int_equal(trace_reader_open(&r, path, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "missing.trace"));
}

static void test_version(void **state)
{
	struct image im;
	char msg[256];
	uint64_t n;

	image_make(&im, 100, 1024, 1);
	trace_put_le32(im.b + 8, 2);
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_VERSION);
	assert_non_null(strstr(msg, "trace format version 2 is newer than this detvm (1)"));
	trace_put_le32(im.b + 8, 0);
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
	free(im.b);
}

static void test_header_crc(void **state)
{
	struct image im;
	char msg[256];
	uint64_t n;

	image_make(&im, 100, 1024, 1);
	im.b[20] ^= 0x40;	/* inside the TraceHeader message */
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CRC);
	assert_non_null(strstr(msg, "header CRC32C"));
	im.b[20] ^= 0x40;
	im.b[im.hdr_end - 1] ^= 1;	/* the stored CRC itself */
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CRC);
	free(im.b);
}

static void test_block_damage(void **state)
{
	struct image im;
	char msg[256];
	uint64_t n;
	size_t b2;

	image_make(&im, 400, 1024, 1);
	assert_true(im.nblocks >= 4);
	b2 = im.blk_off[2];

	/* compressed bytes: CRC, after the events of blocks 0 and 1 */
	im.b[b2 + 28 + 10] ^= 0x01;
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CRC);
	assert_int_equal(n, im.blk_events[1]);
	assert_non_null(strstr(msg, "block 2 at offset"));
	im.b[b2 + 28 + 10] ^= 0x01;

	/* block magic */
	im.b[b2] = 'X';
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
	assert_int_equal(n, im.blk_events[1]);
	im.b[b2] = 'B';

	/* event count, first seq, uncompressed length: not covered by the CRC, still caught */
	for (size_t field = 8; field < 24; field += 4) {
		im.b[b2 + field] ^= 0x02;
		assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
		assert_int_equal(n, im.blk_events[1]);
		im.b[b2 + field] ^= 0x02;
	}
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 400);
	free(im.b);
}

static void test_footer_damage(void **state)
{
	Detvm__TraceFooter *f;
	struct image im;
	uint8_t *b;
	size_t flen, len;
	char msg[256];
	uint64_t n;

	image_make(&im, 200, 1024, 1);
	/* footer CRC */
	im.b[im.footer_off + 9] ^= 0x80;
	assert_int_equal(read_buf(im.b, im.len, &n, msg, sizeof(msg)), TRACE_ERR_CRC);
	assert_int_equal(n, 200);
	assert_non_null(strstr(msg, "footer"));
	im.b[im.footer_off + 9] ^= 0x80;

	/* a well-formed footer that disagrees with the body */
	flen = trace_get_le32(im.b + im.footer_off + 4);
	f = detvm__trace_footer__unpack(NULL, flen, im.b + im.footer_off + 8);
	assert_non_null(f);
	f->total_events++;
	len = im.footer_off + 8 + detvm__trace_footer__get_packed_size(f) + 4;
	b = malloc(len);
	memcpy(b, im.b, im.footer_off + 4);
	flen = detvm__trace_footer__pack(f, b + im.footer_off + 8);
	trace_put_le32(b + im.footer_off + 4, (uint32_t)flen);
	trace_put_le32(b + im.footer_off + 8 + flen,
		       crc32c(b + im.footer_off, 8 + flen));
	detvm__trace_footer__free_unpacked(f, NULL);
	assert_int_equal(read_buf(b, len, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
	assert_non_null(strstr(msg, "footer says 201 events"));
	free(b);

	/* bytes after the footer */
	b = malloc(im.len + 3);
	memcpy(b, im.b, im.len);
	memcpy(b + im.len, "abc", 3);
	assert_int_equal(read_buf(b, im.len + 3, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
	assert_int_equal(n, 200);
	free(b);
	free(im.b);
}

/* Cut the file at every offset: complete blocks are all returned, then TRUNCATED. */
static void test_truncate_everywhere(void **state)
{
	struct image im;
	size_t boundaries = 0;
	char msg[256];
	uint64_t n;

	image_make(&im, 300, 1024, 1);
	assert_true(im.nblocks >= 4);
	for (size_t len = 0; len <= im.len; len++) {
		uint64_t want = 0;
		int ret = read_buf(im.b, len, &n, msg, sizeof(msg));

		for (size_t k = 0; k < im.nblocks; k++)
			if (im.blk_end[k] <= len)
				want = im.blk_events[k];
		if (len == 0)
			assert_int_equal(ret, TRACE_ERR_EMPTY);
		else if (len == im.len)
			assert_int_equal(ret, 0);
		else
			assert_int_equal(ret, TRACE_ERR_TRUNCATED);
		assert_int_equal(n, want);
		for (size_t k = 0; k < im.nblocks; k++)
			boundaries += im.blk_end[k] == len;
	}
	assert_int_equal(boundaries, im.nblocks);
	free(im.b);
}

/* Change each byte of the file in turn: always an error, never a crash or bad event. */
static void test_flip_every_byte(void **state)
{
	struct image im;
	uint64_t n;

	image_make(&im, 120, 512, 1);
	for (size_t i = 0; i < im.len; i++) {
		int ret;

		im.b[i] ^= 0x5a;
		ret = read_buf(im.b, im.len, &n, NULL, 0);
		if (ret >= 0)
			fail_msg("byte %zu changed: result %d after %llu events", i, ret,
				 (unsigned long long)n);
		im.b[i] ^= 0x5a;
	}
	free(im.b);
}

/*
 * Memory: a record of empty PageImages unpacks to ~50x its bytes and is refused before it
 * does; the largest step point a recorder writes (3,500 pages, vmm/step.c, and 512 MSRs,
 * vmm/vcpu_state.h), as whole pages or as the smallest changes, still reads.
 */
static void test_unpack_budget(void **state)
{
	char msg[256], path[256];
	struct trace_reader *r;
	uint8_t *b;
	size_t len;
	uint64_t n;

	snprintf(path, sizeof(path), "%s/bomb.trace", dir);
	assert_int_equal(fx_write_page_bomb(path, 1, 1000000), 0);	/* 2 MB, ~100 MB unpacked */
	b = fx_slurp(path, &len);
	assert_non_null(b);
	assert_int_equal(trace_reader_open_fd(&r, fx_memfd(b, len), "mem", msg, sizeof(msg)), 0);
	assert_int_equal(fx_read_all(r, &n), TRACE_ERR_CORRUPT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(trace_reader_error(r), "mem: block 0 at offset "));
	assert_non_null(strstr(trace_reader_error(r), ": event 0 (2000004 bytes) unpacks to more than"));
	trace_reader_close(r);
	free(b);

	for (int whole = 0; whole < 2; whole++) {
		static Detvm__PageImage img[3500], *imgp[3500];
		static Detvm__Msr msr[512], *msrp[512];
		static uint8_t page[4096], regs[144];
		Detvm__Event ev = DETVM__EVENT__INIT;
		Detvm__Landmark lm = DETVM__LANDMARK__INIT;
		Detvm__VcpuState vs = DETVM__VCPU_STATE__INIT;
		struct trace_writer *w;
		struct trace_event te;

		for (size_t i = 0; i < 3500; i++) {
			detvm__page_image__init(&img[i]);
			img[i].gpa = 0x100000 + i * 4096;
			if (whole)
				img[i].data = (ProtobufCBinaryData){ sizeof(page), page };
			else	/* gap 0, length 1, one byte: the smallest change */
				img[i].delta = (ProtobufCBinaryData){ 3, (uint8_t *)"\0\1x" };
			imgp[i] = &img[i];
		}
		for (size_t i = 0; i < 512; i++) {
			detvm__msr__init(&msr[i]);
			msr[i].index = 0xc0000000u + (uint32_t)i;
			msr[i].value = ~(uint64_t)i;
			msrp[i] = &msr[i];
		}
		vs.regs = (ProtobufCBinaryData){ sizeof(regs), regs };
		vs.n_msrs = 512;
		vs.msrs = msrp;
		lm.state = &vs;
		lm.n_pages = 3500;
		lm.pages = imgp;
		ev.payload_case = DETVM__EVENT__PAYLOAD_LANDMARK;
		ev.landmark = &lm;
		snprintf(path, sizeof(path), "%s/step-%d.trace", dir, whole);
		assert_int_equal(trace_writer_open(&w, path, NULL, NULL), 0);
		assert_int_equal(trace_writer_append(w, 1, &ev), 0);
		assert_int_equal(trace_writer_close(w, NULL), 0);
		assert_int_equal(trace_reader_open(&r, path, msg, sizeof(msg)), 0);
		assert_int_equal(trace_reader_next(r, &te), 1);
		assert_int_equal(te.ev->landmark->n_pages, 3500);
		assert_int_equal(te.ev->landmark->state->n_msrs, 512);
		assert_int_equal(trace_reader_next(r, &te), 0);
		trace_reader_close(r);
	}
}

/* A file header of empty CpuidEntry records: refused the same way. */
static void test_header_budget(void **state)
{
	size_t cpuid = 1000000, vlen = 2 * cpuid, hlen = 1 + 3 + vlen;	/* vlen < 2^21 */
	uint8_t *b = malloc(TRACE_FILE_FIXED_LEN + hlen + 4), *p = b + TRACE_FILE_FIXED_LEN;
	char msg[256];
	uint64_t n;

	assert_non_null(b);
	/* TraceHeader { config (3) = VmConfig { cpuid (8) = CpuidEntry {} x cpuid } } */
	*p++ = 3 << 3 | 2;
	*p++ = (uint8_t)(vlen | 0x80);
	*p++ = (uint8_t)(vlen >> 7 | 0x80);
	*p++ = (uint8_t)(vlen >> 14);
	for (size_t i = 0; i < cpuid; i++) {
		*p++ = 8 << 3 | 2;
		*p++ = 0;
	}
	trace_frame_header(b, hlen);
	assert_int_equal(read_buf(b, TRACE_FILE_FIXED_LEN + hlen + 4, &n, msg, sizeof(msg)), TRACE_ERR_CORRUPT);
	assert_non_null(strstr(msg, "file header (2000004 bytes) unpacks to more than"));
	free(b);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_magic),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_header_crc),
		cmocka_unit_test(test_block_damage),
		cmocka_unit_test(test_footer_damage),
		cmocka_unit_test(test_truncate_everywhere),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_unpack_budget),
		cmocka_unit_test(test_header_budget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
