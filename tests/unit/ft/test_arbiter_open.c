/*
 * What --arbiter and its credentials may be (ft/arbiter.h), and etcd's reply fields
 * (ft/etcd_http.h), without an etcd. Asserts: file:, etcd:// and etcds:// URLs open; a
 * bad URL, credentials for a file: arbiter, credentials over plain etcd:// (a password
 * in clear), a password file open to others or without a colon are refused in one line;
 * reply fields are found by path, absent ones are NULL.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ft/arbiter.h"
#include "ft/etcd_http.h"

static char dir[] = "/tmp/detvm-arb.XXXXXX";
static char path[160], auth[160], badauth[160];

static void expect(int want, const char *url, const struct arbiter_creds *c, const char *why)
{
	struct arbiter *a = NULL;
	char err[512] = "";
	int r = arbiter_open(&a, url, "test", c, err, sizeof(err));
	if (want == 0) {
		if (r)
			fail_msg("%s: %s", url, err);
		assert_non_null(a);
		assert_false(arbiter_lost(a));
		arbiter_close(a);
		return;
	}
	assert_int_equal(r, want);
	assert_null(a);
	if (!strstr(err, why))
		fail_msg("%s: '%s' lacks '%s'", url, err, why);
	assert_null(strchr(err, '\n'));
}

static void put(const char *p, const char *text, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(p, mode);
}

static void test_urls(void **state)
{
	const struct arbiter_creds tls = { "ca.pem", "c.pem", "c.key", NULL }, pw = { .auth = auth },
				   open_pw = { .auth = badauth };
	snprintf(path, sizeof(path), "file:%s/arb", dir);
	expect(0, path, NULL, NULL);
	expect(0, "etcd://127.0.0.1:2379/detvm/x", NULL, NULL);
	expect(0, "etcds://127.0.0.1:2379/detvm/x", &tls, NULL);
	expect(0, "etcds://127.0.0.1:2379/detvm/x", &pw, NULL);
	expect(-EINVAL, "zookeeper://h:1/x", NULL, "use file:PATH, etcd://HOST:PORT/KEY or etcds://");
	expect(-EINVAL, "etcds://127.0.0.1:2379", NULL, "want etcds://HOST:PORT/KEY");
	expect(-EINVAL, path, &tls, "are for etcd, not for a file: arbiter");
	expect(-EINVAL, "etcd://127.0.0.1:2379/detvm/x", &pw, "need etcds:// (TLS)");
	put(badauth, "user:pw\n", 0644);
	expect(-EINVAL, "etcds://127.0.0.1:2379/detvm/x", &open_pw, "is open to other users");
	put(badauth, "no colon here\n", 0600);
	expect(-EINVAL, "etcds://127.0.0.1:2379/detvm/x", &open_pw, "does not hold USER:PASSWORD");
}

static void test_fields(void **state)
{
	char err[300];
	assert_int_equal(etcd_libs_load(err, sizeof(err)), 0);
	json_object *j = json_tokener_parse("{\"kvs\":[{\"value\":\"MSB4\",\"mod_revision\":\"7\"}],"
					    "\"succeeded\":true,\"result\":{\"TTL\":5},\"n\":null}");
	assert_non_null(j);
	static const char *const v[] = { "kvs", "0", "value" }, *const r[] = { "kvs", "0", "mod_revision" },
				 *const ok[] = { "succeeded" }, *const ttl[] = { "result", "TTL" },
				 *const past[] = { "kvs", "1", "value" }, *const n[] = { "n" }, *const deep[] = { "kvs", "x" };
	assert_string_equal(etcd_field(j, v, 3), "MSB4");
	assert_string_equal(etcd_field(j, r, 3), "7");
	assert_string_equal(etcd_field(j, ok, 1), "true");
	assert_string_equal(etcd_field(j, ttl, 2), "5");
	assert_null(etcd_field(j, past, 3));
	assert_null(etcd_field(j, n, 1));
	assert_null(etcd_field(j, deep, 2));
	json_object_put(j);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(auth, sizeof(auth), "%s/auth", dir);
	snprintf(badauth, sizeof(badauth), "%s/badauth", dir);
	put(auth, "user:password\n", 0600);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_fields),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : r;
}
