/*
 * Trace writer/reader: round trips across many blocks, flush by age, footer present or
 * absent, writer argument checks, and `lz4 -d` inflating a block.
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

static char dir[] = "/tmp/detvm-logs-test.XXXXXX";

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void test_round_trip(void **state)
{
	const uint64_t n = 20000;
	const Detvm__TraceFooter *f;
	const Detvm__TraceHeader *h;
	struct trace_reader *r;
	struct fx_header fh;
	uint64_t got, kinds = 0;
	uint8_t *a, *b;
	size_t la, lb;
	char path[256], err[256];

	path_in_dir(path, sizeof(path), "rt.trace");
	assert_int_equal(fx_write_trace(path, n, 8192, 1), 0);
	assert_int_equal(trace_reader_open(&r, path, err, sizeof(err)), 0);
	assert_int_equal(trace_reader_version(r), TRACE_FORMAT_VERSION);
	assert_null(trace_reader_footer(r));

	/* the header comes back byte for byte */
	h = trace_reader_header(r);
	la = detvm__trace_header__get_packed_size(h);
	lb = detvm__trace_header__get_packed_size(fx_header_make(&fh));
	assert_int_equal(la, lb);
	a = malloc(la);
	b = malloc(lb);
	detvm__trace_header__pack(h, a);
	detvm__trace_header__pack(&fh.hdr, b);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	assert_string_equal(h->config->cmdline, "console=ttyS0 nolapic noapic noxsave");
	assert_int_equal(h->config->n_cpuid, 4);
	assert_int_equal(h->delivery, DETVM__DELIVERY_POLICY__DELIVERY_STEP);

	assert_int_equal(fx_read_all(r, &got), 0);
	assert_int_equal(got, n);
	assert_true(trace_reader_blocks(r) > 10);
	f = trace_reader_footer(r);
	assert_non_null(f);
	assert_int_equal(f->total_events, n);
	assert_int_equal(f->total_blocks, trace_reader_blocks(r));
	assert_int_equal(f->final_position, fx_position(n - 1));
	assert_true(f->clean_exit);
	assert_string_equal(f->message, "fixture done");
	assert_int_equal(f->n_kinds, FX_KINDS);
	for (size_t i = 0; i < f->n_kinds; i++)
		kinds += f->kinds[i]->count;
	assert_int_equal(kinds, n);
	/* the end is sticky */
	assert_int_equal(trace_reader_next(r, &(struct trace_event){ 0 }), 0);
	trace_reader_close(r);
}

static void test_empty_trace(void **state)
{
	struct trace_reader *r;
	uint64_t got;
	char path[256];

	path_in_dir(path, sizeof(path), "empty.trace");
	assert_int_equal(fx_write_trace(path, 0, 0, 1), 0);
	assert_int_equal(trace_reader_open(&r, path, NULL, 0), 0);
	assert_int_equal(fx_read_all(r, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(trace_reader_footer(r)->total_blocks, 0);
	trace_reader_close(r);
}

/* One event bigger than the block threshold gets a block of its own. */
static void test_large_event(void **state)
{
	Detvm__Event ev = DETVM__EVENT__INIT;
	Detvm__NetRx rx = DETVM__NET_RX__INIT;
	struct trace_writer_opts opts = { .block_bytes = 1024 };
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_event te;
	size_t big = 300000;
	uint8_t *frame = malloc(big);
	char path[256];

	for (size_t i = 0; i < big; i++)
		frame[i] = (uint8_t)(i * 13 + (i >> 9));
	path_in_dir(path, sizeof(path), "large.trace");
	assert_int_equal(trace_writer_open(&w, path, NULL, &opts), 0);
	rx.frame.data = frame;
	rx.frame.len = big;
	ev.payload_case = DETVM__EVENT__PAYLOAD_NET_RX;
	ev.net_rx = &rx;
	for (int i = 0; i < 3; i++)
		assert_int_equal(trace_writer_append(w, 7 + i, &ev), 0);
	assert_int_equal(trace_writer_close(w, NULL), 0);

	assert_int_equal(trace_reader_open(&r, path, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(trace_reader_next(r, &te), 1);
		assert_int_equal(te.position, 7 + i);
		assert_int_equal(te.block, i);
		assert_int_equal(te.ev->net_rx->frame.len, big);
		assert_memory_equal(te.ev->net_rx->frame.data, frame, big);
	}
	assert_int_equal(trace_reader_next(r, &te), 0);
	assert_false(trace_reader_footer(r)->clean_exit);
	trace_reader_close(r);
	free(frame);
}

static void test_flush_by_age(void **state)
{
	struct trace_writer_opts opts = { .max_age_ns = 100000000 };
	struct trace_writer_stats st;
	struct trace_writer *w;
	struct trace_reader *r;
	struct fx_event fx;
	uint64_t got;
	char path[256];
	off_t before;

	path_in_dir(path, sizeof(path), "age.trace");
	assert_int_equal(trace_writer_open(&w, path, NULL, &opts), 0);
	/* nothing open: never due */
	assert_int_equal(trace_writer_flush_if_due(w, 0), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 10000000000ull), 0);

	assert_int_equal(trace_writer_append(w, fx_position(0), fx_event_make(&fx, 0)), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 5000), 0);	/* arms the age */
	assert_int_equal(trace_writer_flush_if_due(w, 5000 + 99999999), 0);
	trace_writer_get_stats(w, &st);
	assert_int_equal(st.blocks, 0);
	before = (off_t)st.file_bytes;
	assert_int_equal(trace_writer_append(w, fx_position(1), fx_event_make(&fx, 1)), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 5000 + 100000000), 1);
	trace_writer_get_stats(w, &st);
	assert_int_equal(st.blocks, 1);
	assert_true((off_t)st.file_bytes > before);
	/* the block is on disk already: a crash now keeps both events */
	assert_int_equal(trace_writer_flush_if_due(w, 5000 + 300000000), 0);

	/* a new block re-arms from its own first poll */
	assert_int_equal(trace_writer_append(w, fx_position(2), fx_event_make(&fx, 2)), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 1000000000), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 1050000000), 0);
	assert_int_equal(trace_writer_flush_if_due(w, 1100000000), 1);
	trace_writer_discard(w);	/* killed: no footer */

	assert_int_equal(trace_reader_open(&r, path, NULL, 0), 0);
	assert_int_equal(fx_read_all(r, &got), TRACE_ERR_TRUNCATED);
	assert_int_equal(got, 3);
	assert_null(trace_reader_footer(r));
	assert_non_null(strstr(trace_reader_error(r), "without a footer"));
	trace_reader_close(r);
}

/* The recorder killed between blocks: every block is readable, then TRUNCATED. */
struct pieces {
	uint8_t *buf;
	size_t len;
	unsigned n, blocks;
	int fail_at;		/* piece number whose sink call fails (0: none) */
};

static int collect(void *ctx, const void *data, size_t len)
{
	struct pieces *p = ctx;
	p->n++;
	if (p->fail_at && (int)p->n == p->fail_at)
		return -EPIPE;
	p->blocks += len >= 4 && !memcmp(data, TRACE_BLOCK_MAGIC, 4);
	p->buf = realloc(p->buf, p->len + len);
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	return 0;
}

/* A stream of the trace: the same bytes as the file, one sink call per piece. */
static void test_sink(void **state)
{
	struct pieces p = { 0 }, q = { 0 };
	struct trace_writer_opts opts = { .block_bytes = 4096, .sink = collect, .sink_ctx = &p };
	struct trace_writer_stats st;
	struct trace_writer *w;
	struct fx_event fx;
	struct fx_header fh;
	char path[256];
	size_t flen;

	path_in_dir(path, sizeof(path), "sink.trace");
	assert_int_equal(trace_writer_open(&w, path, fx_header_make(&fh), &opts), 0);
	assert_int_equal(p.n, 1);	/* the file header, at once */
	assert_memory_equal(p.buf, TRACE_FILE_MAGIC, TRACE_FILE_MAGIC_LEN);
	for (uint64_t i = 0; i < 2000; i++)
		assert_int_equal(trace_writer_append(w, fx_position(i), fx_event_make(&fx, i)), 0);
	trace_writer_get_stats(w, &st);
	assert_int_equal(trace_writer_close(w, NULL), 0);
	uint8_t *file = fx_slurp(path, &flen);
	assert_int_equal(p.len, flen);
	assert_memory_equal(p.buf, file, flen);
	assert_int_equal(p.n, 1 + p.blocks + 1);
	assert_true(p.blocks > st.blocks);	/* stats were taken before the last block */

	/* a stream with no file: the same bytes */
	opts.sink_ctx = &q;
	assert_int_equal(trace_writer_open(&w, NULL, fx_header_make(&fh), &opts), 0);
	for (uint64_t i = 0; i < 2000; i++)
		assert_int_equal(trace_writer_append(w, fx_position(i), fx_event_make(&fx, i)), 0);
	assert_int_equal(trace_writer_close(w, NULL), 0);
	assert_int_equal(q.len, flen);
	assert_memory_equal(q.buf, file, flen);

	/* a sink that fails stops the writer with its error */
	struct pieces f = { .fail_at = 3 };
	opts.sink_ctx = &f;
	assert_int_equal(trace_writer_open(&w, NULL, NULL, &opts), 0);
	int ret = 0;
	for (uint64_t i = 0; i < 2000 && !ret; i++)
		ret = trace_writer_append(w, fx_position(i), fx_event_make(&fx, i));
	assert_int_equal(ret, -EPIPE);
	assert_int_equal(trace_writer_append(w, fx_position(5000), fx_event_make(&fx, 5000)), -EPIPE);
	trace_writer_discard(w);

	/* neither a file nor a sink */
	opts.sink = NULL;
	assert_int_equal(trace_writer_open(&w, NULL, NULL, &opts), -EINVAL);
	free(file);
	free(p.buf);
	free(q.buf);
	free(f.buf);
}

static void test_no_footer(void **state)
{
	struct trace_reader *r;
	uint64_t got;
	char path[256];

	path_in_dir(path, sizeof(path), "nofooter.trace");
	assert_int_equal(fx_write_trace(path, 5000, 4096, 0), 0);
	assert_int_equal(trace_reader_open(&r, path, NULL, 0), 0);
	assert_int_equal(fx_read_all(r, &got), TRACE_ERR_TRUNCATED);
	assert_int_equal(got, 5000);
	assert_null(trace_reader_footer(r));
	/* sticky, and the message names the place */
	assert_int_equal(trace_reader_next(r, &(struct trace_event){ 0 }), TRACE_ERR_TRUNCATED);
	assert_non_null(strstr(trace_reader_error(r), "offset"));
	trace_reader_close(r);
}

static void test_writer_args(void **state)
{
	Detvm__Event ev = DETVM__EVENT__INIT;
	struct trace_writer *w;
	struct fx_event fx;
	char path[256];

	assert_int_equal(trace_writer_open(&w, "/nonexistent-dir/x.trace", NULL, NULL), -ENOENT);
	assert_null(w);
	path_in_dir(path, sizeof(path), "args.trace");
	assert_int_equal(trace_writer_open(&w, path, NULL, NULL), 0);
	assert_int_equal(trace_writer_append(w, 1, &ev), -EINVAL);	/* no payload */
	assert_int_equal(trace_writer_append(w, 10, fx_event_make(&fx, 0)), 0);
	assert_int_equal(trace_writer_append(w, 9, fx_event_make(&fx, 1)), -EINVAL);
	assert_int_equal(trace_writer_append(w, 10, fx_event_make(&fx, 1)), 0);
	assert_int_equal(trace_writer_close(w, NULL), 0);
}

/* Strict reading of the block framing, by hand, as an independent check of FORMAT.md. */
static void test_layout(void **state)
{
	size_t len, off, hlen;
	uint64_t seq = 0, blocks = 0;
	uint8_t *b;
	char path[256];

	path_in_dir(path, sizeof(path), "layout.trace");
	assert_int_equal(fx_write_trace(path, 3000, 4096, 1), 0);
	b = fx_slurp(path, &len);
	assert_non_null(b);
	assert_memory_equal(b, "DETVMTR\0", 8);
	assert_int_equal(trace_get_le32(b + 8), 1);
	hlen = trace_get_le32(b + 12);
	off = 16 + hlen + 4;
	while (!memcmp(b + off, "BLK1", 4)) {
		uint32_t clen = trace_get_le32(b + off + 4);

		assert_int_equal(trace_get_le64(b + off + 16), seq);
		assert_int_equal(trace_get_le32(b + off + 24), crc32c(b + off + 28, clen));
		/* an LZ4 frame: magic 0x184D2204 */
		assert_int_equal(trace_get_le32(b + off + 28), 0x184D2204u);
		seq += trace_get_le32(b + off + 12);
		blocks++;
		off += 28 + clen;
	}
	assert_int_equal(seq, 3000);
	assert_memory_equal(b + off, "END1", 4);
	assert_int_equal(off + 8 + trace_get_le32(b + off + 4) + 4, len);
	assert_true(blocks > 3);
	free(b);
}

/* A block's compressed bytes are a standard LZ4 frame that the lz4 tool inflates. */
static void test_lz4_tool(void **state)
{
	char path[256], zpath[256], upath[256], cmd[1024];
	size_t len, ulen_got, off;
	uint32_t clen, ulen, count;
	uint8_t *b, *u;
	FILE *f;

	if (system("command -v lz4 >/dev/null 2>&1") != 0) {
		print_message("lz4 binary not found: skipping the lz4 -d check\n");
		skip();
	}
	path_in_dir(path, sizeof(path), "lz4.trace");
	path_in_dir(zpath, sizeof(zpath), "block0.lz4");
	path_in_dir(upath, sizeof(upath), "block0.raw");
	assert_int_equal(fx_write_trace(path, 2000, 16384, 1), 0);
	b = fx_slurp(path, &len);
	assert_non_null(b);
	off = 16 + trace_get_le32(b + 12) + 4;
	clen = trace_get_le32(b + off + 4);
	ulen = trace_get_le32(b + off + 8);
	count = trace_get_le32(b + off + 12);
	f = fopen(zpath, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b + off + 28, 1, clen, f), clen);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "lz4 -d -q -f %s %s", zpath, upath);
	assert_int_equal(system(cmd), 0);
	u = fx_slurp(upath, &ulen_got);
	assert_non_null(u);
	assert_int_equal(ulen_got, ulen);

	/* the inflated bytes are the delimited Events, first of them at its absolute position */
	off = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct fx_event fx;
		size_t la, lb, vl = 0;
		uint64_t elen = 0;
		Detvm__Event *ev;
		uint8_t *x, *y;

		while (u[off + vl] & 0x80) {
			elen |= (uint64_t)(u[off + vl] & 0x7f) << (7 * vl);
			vl++;
		}
		elen |= (uint64_t)u[off + vl] << (7 * vl);
		vl++;
		ev = detvm__event__unpack(NULL, elen, u + off + vl);
		assert_non_null(ev);
		if (i == 0)
			assert_int_equal(ev->position_delta, fx_position(0));
		x = fx_pack_event(ev, &la);
		y = fx_pack_event(fx_event_make(&fx, i), &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(x, y, la);
		free(x);
		free(y);
		detvm__event__free_unpacked(ev, NULL);
		off += vl + elen;
	}
	assert_int_equal(off, ulen);
	free(u);
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
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_trace),
		cmocka_unit_test(test_large_event),
		cmocka_unit_test(test_flush_by_age),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_no_footer),
		cmocka_unit_test(test_writer_args),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_lz4_tool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
