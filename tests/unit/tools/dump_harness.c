/* Helpers for the `detvm dump` tests: run the dump in-process, inspect its output. */
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

#define PY "/usr/bin/python3"

char dt_dir[] = "/tmp/detvm-dump.XXXXXX";

char *slurp_stream(FILE *f)
{
	long n;
	char *b;

	assert_int_equal(fflush(f), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* dump_run("dump", args..., NULL) with stdout/stderr captured. */
void run(struct result *r, ...)
{
	char *argv[16] = { "dump" };
	int argc = 1;
	FILE *out = tmpfile(), *err = tmpfile();
	va_list ap;

	assert_non_null(out);
	assert_non_null(err);
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	r->code = dump_run(argc, argv, out, err);
	r->out = slurp_stream(out);
	r->err = slurp_stream(err);
}

void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

const char *last_line(const char *text)
{
	size_t n = strlen(text);
	const char *p;

	assert_true(n > 0 && text[n - 1] == '\n');
	for (p = text + n - 1; p > text && p[-1] != '\n'; p--)
		;
	return p;
}

/* A usage or open error: nothing on stdout, one line on stderr. */
void assert_one_error_line(const struct result *r)
{
	assert_int_equal(count_lines(r->err), 1);
	assert_true(!strncmp(r->err, "detvm dump: ", 12));
}

void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dt_dir, name);
}

void write_file(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/*
 * Feed text to python3 json.loads line by line, then evaluate `check` over L (the list of
 * objects). Skipped (returns) without python3.
 */
void assert_json(const char *text, const char *check)
{
	char path[256], script[256], cmd[768];
	FILE *f;
	int st;

	if (access(PY, X_OK)) {
		print_message("no " PY ": JSON check skipped\n");
		return;
	}
	path_of(path, sizeof(path), "out.jsonl");
	write_file(path, text, strlen(text));
	/* a script file, so the check's quotes never meet the shell */
	path_of(script, sizeof(script), "check.py");
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "import json, sys\nL = [json.loads(l) for l in sys.stdin]\n"
		"sys.exit(0 if (%s) else 1)\n", check);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "PYTHONIOENCODING=utf-8 " PY " %s <%s", script, path);
	st = system(cmd);
	if (st)
		print_message("JSON check failed: %s\n", check);
	assert_int_equal(st, 0);
}

uint64_t table_value(const char *text, const char *label)
{
	char key[64];
	const char *p;
	unsigned long long v;

	snprintf(key, sizeof(key), "\n%s ", label);
	p = strstr(text, key);
	if (!p)
		print_message("no '%s' row in\n%s", label, text);
	assert_non_null(p);
	p += strlen(key);
	assert_int_equal(sscanf(p, "%llu", &v), 1);
	return v;
}

int dt_setup(void **state)
{
	return mkdtemp(dt_dir) ? 0 : -1;
}

int dt_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dt_dir);
	return system(cmd) ? -1 : 0;
}

