/*
 * `detvm dump` exit codes and messages: usage errors, files that are not traces, newer
 * versions, truncation (partial output, then exit 7), checksum damage, and the real
 * entry point through a process.
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
#include "dump_harness.h"
#include "trace_fixture.h"

/* ---- errors -------------------------------------------------------------------------- */

static void test_usage_errors(void **state)
{
	char path[256];
	struct result r;

	path_of(path, sizeof(path), "u.trace");
	assert_int_equal(fx_write_trace(path, 3, 0, 1), 0);

	run(&r, NULL);
	assert_int_equal(r.code, DUMP_EXIT_USAGE);
	assert_string_equal(r.out, "");
	assert_one_error_line(&r);
	assert_non_null(strstr(r.err, "(try `detvm dump --help`)"));
	result_free(&r);

	run(&r, path, path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_USAGE);
	assert_string_equal(r.out, "");
	assert_one_error_line(&r);
	assert_non_null(strstr(r.err, "more than one"));
	assert_non_null(strstr(r.err, "(try `detvm dump --help`)"));
	result_free(&r);

	run(&r, "--bogus", path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_USAGE);
	assert_string_equal(r.out, "");
	assert_one_error_line(&r);
	assert_non_null(strstr(r.err, "'--bogus'"));
	assert_non_null(strstr(r.err, "(try `detvm dump --help`)"));
	result_free(&r);

	run(&r, "--help", NULL);
	assert_int_equal(r.code, 0);
	assert_true(!strncmp(r.out, "usage: detvm dump [--json] [--stats] TRACE\n", 43));
	assert_string_equal(r.err, "");
	result_free(&r);

	/* "--" ends options: a file may start with '-' */
	run(&r, "--", "-nonexistent", NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	result_free(&r);
}

/* A file that cannot be opened as a trace: nothing on stdout, one line, exit 7. */
static void expect_open_error(const char *path, const char *needle)
{
	struct result r;

	run(&r, path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_string_equal(r.out, "");
	assert_one_error_line(&r);
	if (!strstr(r.err, needle))
		print_message("'%s' not in: %s", needle, r.err);
	assert_non_null(strstr(r.err, needle));
	result_free(&r);

	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_one_error_line(&r);
	assert_int_equal(count_lines(r.out), 1);
	assert_json(r.out, "len(L)==1 and L[0]['type']=='error'");
	result_free(&r);
}

static void test_bad_files(void **state)
{
	char path[256], good[256];
	uint8_t *b;
	size_t len;

	path_of(path, sizeof(path), "empty.trace");
	write_file(path, "", 0);
	expect_open_error(path, "empty");

	path_of(path, sizeof(path), "magic.trace");
	write_file(path, "this is not a detvm trace at all\n", 33);
	expect_open_error(path, "bad magic");

	path_of(good, sizeof(good), "good.trace");
	assert_int_equal(fx_write_trace(good, 50, 0, 1), 0);
	b = fx_slurp(good, &len);
	assert_non_null(b);
	b[8] = 2;	/* format version 2: from a newer detvm */
	path_of(path, sizeof(path), "newer.trace");
	write_file(path, b, len);
	expect_open_error(path, "newer than this detvm");
	free(b);

	path_of(path, sizeof(path), "no-such.trace");
	expect_open_error(path, "No such file");
	expect_open_error(dt_dir, "");	/* a directory */
}

static void test_truncated(void **state)
{
	const uint64_t n = 300;
	char path[256], line[64];
	struct result r;
	uint8_t *b;
	size_t len;

	/* a killed recorder: every block flushed, no footer */
	path_of(path, sizeof(path), "nofooter.trace");
	assert_int_equal(fx_write_trace(path, n, 4096, 0), 0);
	run(&r, path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	snprintf(line, sizeof(line), "\n%" PRIu64 " @%" PRIu64 " ", n - 1, fx_position(n - 1));
	assert_non_null(strstr(r.out, line));
	assert_true(!strncmp(last_line(r.out), "truncated: no footer after ", 27));
	assert_null(strstr(r.out, "footer:"));
	assert_one_error_line(&r);
	result_free(&r);

	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_json(r.out, "L[0]['type']=='header' and len(L)==302 and "
		    "L[-1]['type']=='error' and L[-1]['error']=='truncated' and "
		    "L[-1]['events']==300");
	result_free(&r);

	run(&r, "--stats", path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_int_equal(table_value(r.out, "total"), n);
	assert_true(!strncmp(last_line(r.out), "truncated: ", 11));
	result_free(&r);

	/* cut inside the last block: only the complete blocks are shown */
	path_of(path, sizeof(path), "cut.trace");
	assert_int_equal(fx_write_trace(path, n, 4096, 1), 0);
	b = fx_slurp(path, &len);
	assert_non_null(b);
	write_file(path, b, len - 200);
	free(b);
	run(&r, path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_non_null(strstr(r.out, "\n0 @0 exit "));
	assert_null(strstr(r.out, line));
	assert_true(!strncmp(last_line(r.out), "truncated: ", 11));
	assert_one_error_line(&r);
	result_free(&r);
}

/* Damage in the second block: the first block is printed, then the error; exit 7. */
static void test_crc_error(void **state)
{
	char path[256];
	struct result r;
	uint8_t *b;
	size_t len, off;

	path_of(path, sizeof(path), "crc.trace");
	assert_int_equal(fx_write_trace(path, 300, 4096, 1), 0);
	b = fx_slurp(path, &len);
	assert_non_null(b);
	off = 16 + (b[12] | b[13] << 8 | (size_t)b[14] << 16 | (size_t)b[15] << 24) + 4;
	off += 28 + (b[off + 4] | b[off + 5] << 8 | (size_t)b[off + 6] << 16);
	assert_memory_equal(b + off, "BLK1", 4);
	b[off + 40] ^= 0x10;
	write_file(path, b, len);
	free(b);

	run(&r, path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_non_null(strstr(r.out, "\n0 @0 exit "));
	assert_true(!strncmp(last_line(r.out), "error: ", 7));
	assert_non_null(strstr(r.out, "CRC32C mismatch"));
	assert_one_error_line(&r);
	assert_non_null(strstr(r.err, "CRC32C mismatch"));
	result_free(&r);

	run(&r, "--json", path, NULL);
	assert_int_equal(r.code, DUMP_EXIT_TRACE);
	assert_json(r.out, "L[-1]['type']=='error' and L[-1]['error']=='crc'");
	result_free(&r);
}

/* The real entry point, through stdout/stderr and the process exit status. */
static void test_driver(void **state)
{
	char path[256], cmd[768], buf[256];
	FILE *p;
	int st;

	path_of(path, sizeof(path), "driver.trace");
	assert_int_equal(fx_write_trace(path, 20, 0, 1), 0);

	snprintf(cmd, sizeof(cmd), "%s dump %s 2>&1", DUMP_DRIVER, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(buf, sizeof(buf), p));
	assert_true(!strncmp(buf, "trace: \"", 8));
	while (fgets(buf, sizeof(buf), p))
		;
	st = pclose(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	snprintf(cmd, sizeof(cmd), "%s dump --nope %s >/dev/null 2>&1", DUMP_DRIVER, path);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), DUMP_EXIT_USAGE);

	snprintf(cmd, sizeof(cmd), "%s dump /nonexistent/x.trace >/dev/null 2>&1", DUMP_DRIVER);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), DUMP_EXIT_TRACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_crc_error),
		cmocka_unit_test(test_driver),
	};

	return cmocka_run_group_tests(tests, dt_setup, dt_teardown);
}
