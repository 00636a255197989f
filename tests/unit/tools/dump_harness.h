/* Helpers shared by the `detvm dump` tests (dump_harness.c). */
#ifndef DETVM_TESTS_DUMP_HARNESS_H
#define DETVM_TESTS_DUMP_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Scratch directory for the test files (created by dt_setup, removed by dt_teardown). */
extern char dt_dir[];
int dt_setup(void **state);
int dt_teardown(void **state);

struct result {
	int code;
	char *out, *err;
};

/* dump_run("dump", args..., NULL) with stdout/stderr captured into r. */
void run(struct result *r, ...);
void result_free(struct result *r);
/* Read a tmpfile back as a string (malloc) and close it. */
char *slurp_stream(FILE *f);

int count_lines(const char *s);
/* Whether text has exactly this line. */
int has_line(const char *text, const char *line);
const char *last_line(const char *text);
/* A usage or open error: one line on stderr starting "detvm dump: ". */
void assert_one_error_line(const struct result *r);
/* The number after `label` on a --stats row. */
uint64_t table_value(const char *text, const char *label);

void path_of(char *buf, size_t len, const char *name);
void write_file(const char *path, const void *b, size_t len);
void hex(const uint8_t *p, size_t n, char *out);
/*
 * Every line of text must parse with python3's json.loads, and the Python expression
 * `check` over L (the list of objects) must hold. Skipped without /usr/bin/python3.
 */
void assert_json(const char *text, const char *check);

#endif
