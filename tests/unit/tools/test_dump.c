/*
 * `detvm dump` on traces written with the logs/ writer: exact text for known events,
 * escaping, valid JSON Lines, and --stats numbers against what the writer wrote.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/dump.h"
#include "tools/dump_priv.h"
#include "dump_harness.h"
#include "trace_fixture.h"

/* ---- a trace with one of each interesting event, at known positions ----------------- */

struct known {
	struct fx_header fh;
	uint8_t frame[60], regs[32], mem[32];
};

static void write_known(const char *path, struct known *k, const Detvm__TraceHeader *hdr)
{
	Detvm__TraceFooter f = DETVM__TRACE_FOOTER__INIT;
	Detvm__Event ev;
	Detvm__ExitRecord x = DETVM__EXIT_RECORD__INIT;
	Detvm__ExitRecord x2 = DETVM__EXIT_RECORD__INIT;
	Detvm__TimerFire t = DETVM__TIMER_FIRE__INIT;
	Detvm__Interrupt irq = DETVM__INTERRUPT__INIT;
	Detvm__ClockRead c = DETVM__CLOCK_READ__INIT;
	Detvm__ConsoleInput con = DETVM__CONSOLE_INPUT__INIT;
	Detvm__NetRx nr = DETVM__NET_RX__INIT;
	Detvm__Checkpoint cp = DETVM__CHECKPOINT__INIT;
	Detvm__PioRead pr = DETVM__PIO_READ__INIT;
	Detvm__DiskCompletion dc = DETVM__DISK_COMPLETION__INIT;
	Detvm__WallclockRead wc = DETVM__WALLCLOCK_READ__INIT;
	Detvm__End end = DETVM__END__INIT;
	struct trace_writer *w;
	uint8_t a = 'A';

#define APPEND(pos, kind, member, var, ripv)                          \
	do {                                                           \
		detvm__event__init(&ev);                               \
		ev.rip = (ripv);                                       \
		ev.payload_case = DETVM__EVENT__PAYLOAD_##kind;        \
		ev.member = &(var);                                    \
		assert_int_equal(trace_writer_append(w, pos, &ev), 0); \
	} while (0)

	for (int i = 0; i < 60; i++)
		k->frame[i] = (uint8_t)i;
	memset(k->regs, 0xaa, 32);
	memset(k->mem, 0xbb, 32);
	assert_int_equal(trace_writer_open(&w, path, hdr, NULL), 0);

	x.kind = DETVM__EXIT_KIND__EXIT_PIO;
	x.addr = 0x3f8;
	x.size = 1;
	x.is_write = 1;
	x.data.data = &a;
	x.data.len = 1;
	APPEND(345, EXIT, exit, x, 0x1000);
	t.timer = 0;
	t.time_ns = 10000000;
	APPEND(345, TIMER, timer, t, 0);
	irq.vector = 0x20;
	irq.irq = 0;
	APPEND(346, INTERRUPT, interrupt, irq, 0);
	c.source = DETVM__CLOCK_SOURCE__CLOCK_PIT;
	c.value_ns = 123456;
	APPEND(400, CLOCK, clock, c, 0);
	con.data.data = (uint8_t *)"ls\r";
	con.data.len = 3;
	APPEND(401, CONSOLE, console, con, 0);
	nr.nic = 1;
	nr.frame.data = k->frame;
	nr.frame.len = 60;
	APPEND(402, NET_RX, net_rx, nr, 0);
	cp.regs_digest.data = k->regs;
	cp.regs_digest.len = 32;
	cp.mem_digest.data = k->mem;
	cp.mem_digest.len = 32;
	cp.guest_time_ns = 5000;
	APPEND(403, CHECKPOINT, checkpoint, cp, 0);
	x2.kind = DETVM__EXIT_KIND__EXIT_MMIO;
	x2.addr = 0xd0000000;
	x2.size = 4;
	APPEND(404, EXIT, exit, x2, 0);
	pr.port = 0x60;
	pr.size = 1;
	pr.value = 0x1c;
	APPEND(405, PIO_READ, pio_read, pr, 0);
	dc.disk = 0;
	dc.request = 7;
	dc.status = -5;
	APPEND(405, DISK, disk, dc, 0);
	wc.source = DETVM__CLOCK_SOURCE__CLOCK_RTC;
	wc.value_ns = 0;
	APPEND(406, WALLCLOCK, wallclock, wc, 0);
	end.reason = DETVM__END_REASON__END_GUEST_SHUTDOWN;
	end.message = "bye \"x\"\n";
	end.exit_code = 1;
	APPEND(407, END, end, end, 0);
#undef APPEND
	f.final_position = 407;
	f.clean_exit = 1;
	f.reason = DETVM__END_REASON__END_GUEST_SHUTDOWN;
	f.message = "done";
	assert_int_equal(trace_writer_close(w, &f), 0);
}

static void test_text_known_events(void **state)
{
	static const char *const want[] = {
		"format: version 1",
		"recorded by: \"detvm test\"",
		"host: \"testhost\"",
		"created: 1700000000 (2023-11-14T22:13:20Z)",
		"mem: 268435456 bytes (256 MiB)",
		"cmdline: \"console=ttyS0 nolapic noapic noxsave\"",
		"disks: 2",
		"nics: 1",
		"  nic 0: \"tap:tap0\" mac=52:54:00:12:34:56",
		"cpuid: 4 entries (policy version 1)",
		"vcpus: 1",
		"delivery: step",
		"checkpoint interval: 10000 exits",
		"digest version: 3",
		"0 @345 exit pio out port=0x3f8 size=1 data=41 rip=0x1000",
		"1 @345 timer id=0 t=10000000ns",
		"2 @346 irq vector=0x20 line=0",
		"3 @400 clock source=pit value=123456ns",
		"4 @401 console id=0 \"ls\\r\"",
		"5 @402 net_rx nic=1 len=60 data=000102030405060708090a0b0c0d0e0f...",
		"6 @403 checkpoint regs=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		" mem=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb t=5000ns",
		"7 @404 exit mmio read addr=0xd0000000 size=4",
		"8 @405 pio_read port=0x60 size=1 value=0x1c",
		"9 @405 disk id=0 req=7 status=-5 len=0",
		"10 @406 wallclock source=rtc value=0ns (1970-01-01T00:00:00Z)",
		"11 @407 end reason=guest_shutdown exit_code=1 message=\"bye \\\"x\\\"\\n\"",
		"footer: events=12 blocks=1 final_position=407 clean_exit=yes"
		" reason=guest_shutdown message=\"done\"",
		"footer kinds: exit=2 clock=1 wallclock=1 irq=1 timer=1 console=1 net_rx=1 disk=1"
		" pio_read=1 checkpoint=1 end=1",
	};
	char path[256], line[512], h[3][65], check[128];
	struct known k;
	struct result r;

	path_of(path, sizeof(path), "known.trace");
	write_known(path, &k, fx_header_make(&k.fh));
	run(&r, path, NULL);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.err, "");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!has_line(r.out, want[i]))
			print_message("missing line: %s\n---\n%s", want[i], r.out);
		assert_true(has_line(r.out, want[i]));
	}
	/* image digests in hex */
	for (int i = 0; i < 3; i++)
		hex(k.fh.sha[i], 32, h[i]);
	snprintf(line, sizeof(line), "kernel: \"/boot/bzImage\" sha256=%s", h[0]);
	assert_true(has_line(r.out, line));
	snprintf(line, sizeof(line), "initrd: \"/boot/initrd.cpio\" sha256=%s", h[1]);
	assert_true(has_line(r.out, line));
	snprintf(line, sizeof(line), "  disk 0: \"/img/disk0.raw\" sha256=%s ro", h[2]);
	assert_true(has_line(r.out, line));
	snprintf(line, sizeof(line),
		 "  disk 1: \"/img/disk1.qcow\" sha256=%s overlay=\"/tmp/overlay1\" rw", h[2]);
	assert_true(has_line(r.out, line));
	result_free(&r);

	/* the same trace as JSON Lines */
	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, 0);
	assert_int_equal(count_lines(r.out), 1 + 12 + 1);
	snprintf(check, sizeof(check), "L[0]['config']['kernel']['sha256']=='%s'", h[0]);
	assert_json(r.out, check);
	assert_json(r.out,
		    "L[0]['type']=='header' and L[0]['config']['cpuid_entries']==4 and "
		    "L[0]['delivery']=='step' and L[0]['digest_version']==3 and "
		    "L[1]=={'type':'event','seq':0,'position':345,'block':0,'rip':4096,"
		    "'kind':'exit','exit':'pio','addr':1016,'size':1,'is_write':True,"
		    "'data':'41','count':0} and L[5]['data']=='6c730d' and "
		    "L[12]['exit_code']==1 and L[12]['message']=='bye \\\"x\\\"\\n' and "
		    "L[-1]['type']=='footer' and "
		    "L[-1]['kinds']['exit']==2 and L[-1]['clean_exit']");
	result_free(&r);
}

/* Strings and bytes a guest or a user controls are escaped in both output forms. */
static void test_escaping(void **state)
{
	static char cmdline[] = "a\"b\\c\n\x01\x1b[2J\xff\xc3\xa9 \xe2\x82\xac";
	char path[256];
	struct known k;
	struct result r;

	fx_header_make(&k.fh);
	k.fh.cfg.cmdline = cmdline;
	k.fh.hdr.host = "\xed\xa0\x80";	/* a UTF-16 surrogate: not valid UTF-8 */
	path_of(path, sizeof(path), "escape.trace");
	write_known(path, &k, &k.fh.hdr);
	run(&r, path, NULL);
	assert_int_equal(r.code, 0);
	assert_true(has_line(r.out,
		"cmdline: \"a\\\"b\\\\c\\n\\x01\\x1b[2J\\xff\\xc3\\xa9 \\xe2\\x82\\xac\""));
	for (const char *p = r.out; *p; p++)
		assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	result_free(&r);

	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, 0);
	assert_json(r.out, "L[0]['config']['cmdline']=='a\"b\\\\c\\n\\x01\\x1b[2J\\xff\\xe9 "
		    "\\u20ac' and L[0]['host']=='\\xed\\xa0\\x80'");
	result_free(&r);
}

/* The fixture stream (every kind, several blocks): one line per event, valid JSON. */
static void test_fixture_all_kinds(void **state)
{
	const uint64_t n = 1000;
	char path[256], line[64], check[256];
	struct fx_event fx;
	struct result r;

	path_of(path, sizeof(path), "fixture.trace");
	assert_int_equal(fx_write_trace(path, n, 4096, 1), 0);
	run(&r, path, NULL);
	assert_int_equal(r.code, 0);
	for (uint64_t i = 0; i < n; i++) {
		const Detvm__Event *ev = fx_event_make(&fx, i);
		static const char *const names[] = {
			[3] = "exit", "clock", "wallclock", "irq", "timer", "console", "net_rx",
			"disk", "pio_read", "mmio_read", "checkpoint", "landmark", "end",
		};
		const char *p;

		snprintf(line, sizeof(line), "\n%" PRIu64 " @%" PRIu64 " %s ", i, fx_position(i),
			 names[ev->payload_case]);
		p = strstr(r.out, line);
		if (!p)
			print_message("no event line '%s'\n", line + 1);
		assert_non_null(p);
	}
	assert_true(!strncmp(last_line(r.out), "footer kinds: exit=77 ", 22));
	result_free(&r);

	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, 0);
	assert_int_equal(count_lines(r.out), (int)n + 2);
	snprintf(check, sizeof(check),
		 "[x['seq'] for x in L[1:-1]]==list(range(%" PRIu64 ")) and "
		 "L[-1]['total_events']==%" PRIu64 " and L[-1]['total_blocks']>3 and "
		 "len(set(x['kind'] for x in L[1:-1]))==13", n, n);
	assert_json(r.out, check);
	result_free(&r);
}

static void test_stats(void **state)
{
	static const char *const names[] = {
		"exit", "clock", "wallclock", "irq", "timer", "console", "net_rx", "disk",
		"pio_read", "mmio_read", "checkpoint", "landmark", "end",
	};
	const uint64_t n = 2000;
	struct trace_writer_opts opts = { .block_bytes = 8192 };
	Detvm__TraceFooter f = DETVM__TRACE_FOOTER__INIT;
	struct trace_writer_stats ws;
	struct trace_writer *w;
	struct fx_header fh;
	struct fx_event fx;
	struct result r;
	struct stat sb;
	char path[256], check[512];

	path_of(path, sizeof(path), "stats.trace");
	assert_int_equal(trace_writer_open(&w, path, fx_header_make(&fh), &opts), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(trace_writer_append(w, fx_position(i), fx_event_make(&fx, i)), 0);
	assert_int_equal(trace_writer_flush(w), 0);
	trace_writer_get_stats(w, &ws);
	f.final_position = fx_position(n - 1);
	assert_int_equal(trace_writer_close(w, &f), 0);
	assert_int_equal(stat(path, &sb), 0);

	run(&r, "--stats", path, NULL);
	assert_int_equal(r.code, 0);
	for (unsigned int k = 0; k < 13; k++) {
		/* the fixture cycles through the 13 kinds */
		uint64_t want = n / 13 + (k < n % 13);

		assert_int_equal(table_value(r.out, names[k]), want);
	}
	assert_int_equal(table_value(r.out, "total"), n);
	assert_int_equal(table_value(r.out, "blocks           "), ws.blocks);
	assert_int_equal(table_value(r.out, "file bytes       "), (uint64_t)sb.st_size);
	assert_int_equal(table_value(r.out, "body bytes       "),
			 ws.compressed_bytes + 28 * ws.blocks);
	assert_int_equal(table_value(r.out, "event record bytes"), ws.raw_bytes);
	assert_int_equal(table_value(r.out, "positions spanned"), fx_position(n - 1));
	assert_int_equal(table_value(r.out, "exits            "), fx_position(n - 1));
	assert_non_null(strstr(r.out, "\ncompression ratio "));
	assert_non_null(strstr(r.out, "\nevents/1000 exits "));
	result_free(&r);

	run(&r, "--stats", "--json", path, NULL);
	assert_int_equal(r.code, 0);
	assert_int_equal(count_lines(r.out), 1);
	snprintf(check, sizeof(check),
		 "L[0]['type']=='stats' and L[0]['total_events']==%" PRIu64 " and "
		 "sum(v['events'] for v in L[0]['kinds'].values())==%" PRIu64 " and "
		 "L[0]['record_bytes']==%" PRIu64 " and L[0]['blocks']==%" PRIu64 " and "
		 "L[0]['file_bytes']==%lld and L[0]['kinds']['landmark']['events']==%" PRIu64,
		 n, n, ws.raw_bytes, ws.blocks, (long long)sb.st_size, n / 13 + (11 < n % 13));
	assert_json(r.out, check);
	result_free(&r);
}

/* A kind from a newer writer decodes with no payload; it is shown by field number. */
static void test_unknown_kind(void **state)
{
	/* rip (field 2) = 7, then field 16 (varint) = 5: tag 16 << 3 = 0x80 0x01 */
	static const uint8_t wire[] = { 0x10, 0x07, 0x80, 0x01, 0x05 };
	struct trace_event te = { .seq = 0, .position = 5 };
	Detvm__Event *ev = detvm__event__unpack(NULL, sizeof(wire), wire);
	FILE *out = tmpfile();
	char *text;

	assert_non_null(ev);
	assert_non_null(out);
	te.ev = ev;
	dump_text_event(out, &te);
	dump_json_event(out, &te);
	text = slurp_stream(out);
	assert_true(has_line(text, "0 @5 unknown kind=16 rip=0x7"));
	assert_json(strchr(text, '\n') + 1, "L[0]['kind']=='unknown' and L[0]['field']==16");
	free(text);
	detvm__event__free_unpacked(ev, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_known_events),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_fixture_all_kinds),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_unknown_kind),
	};

	return cmocka_run_group_tests(tests, dt_setup, dt_teardown);
}
