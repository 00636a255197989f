/*
 * trace_header_to_setup (replay/trace_header.h) on a header whose run starts from a state
 * that came over the FT link, as a forged primary or an edited snapshot would send it:
 * its disk names a host file. Asserts: without the caller's shared disks it is refused
 * (7) in one line; with a different number of them, 12; with them, the disks are the
 * caller's paths, never the header's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/sha256.h"
#include "replay/trace_header.h"
#include "vmm/digest.h"
#include "vmm/exitcode.h"

static char image[] = "/tmp/detvm-th-image.XXXXXX";
static uint8_t sha[TRACE_HEADER_SHA_LEN];
static Detvm__TraceHeader h;
static Detvm__VmConfig c;
static Detvm__ImageRef kernel, start;
static Detvm__DiskConfig disk, *disks[1] = { &disk };

static int setup(void **state)
{
	int fd = mkstemp(image);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a kernel", 12), 12);
	close(fd);
	assert_int_equal(sha256_file(image, sha), 0);
	detvm__trace_header__init(&h);
	detvm__vm_config__init(&c);
	detvm__image_ref__init(&kernel);
	detvm__image_ref__init(&start);
	detvm__disk_config__init(&disk);
	kernel.path = image;
	kernel.sha256 = (ProtobufCBinaryData){ TRACE_HEADER_SHA_LEN, sha };
	start.path = TRACE_START_FT_LINK;
	disk.path = "/etc/victim";
	c.kernel = &kernel;
	c.start_state = &start;
	c.disks = disks;
	c.n_disks = 1;
	c.vcpus = 1;
	c.mem_bytes = 64 << 20;
	h.config = &c;
	h.delivery = DETVM__DELIVERY_POLICY__DELIVERY_SYNC;
	h.digest_version = DIGEST_VERSION;
	return 0;
}

static int teardown(void **state)
{
	unlink(image);
	return 0;
}

static void test_link_disks_from_the_caller(void **state)
{
	static struct replay_setup s;
	char err[512];
	assert_int_equal(trace_header_to_setup(&h, "/tmp/t.trace", NULL, &s, err, sizeof(err)), DETVM_EXIT_TRACE);
	assert_non_null(strstr(err, "received over its link"));
	assert_null(strchr(err, '\n'));

	struct machine_config shared = { .ndisks = 2 };
	shared.disks[0] = (struct machine_disk){ "/srv/vm1/disk.img", 0 };
	shared.disks[1] = (struct machine_disk){ "/srv/vm1/other.img", 0 };
	assert_int_equal(trace_header_to_setup(&h, "/tmp/t.trace", &shared, &s, err, sizeof(err)), DETVM_EXIT_MISMATCH);
	assert_non_null(strstr(err, "has 1 disks, this backup was given 2"));

	shared.ndisks = 1;
	assert_int_equal(trace_header_to_setup(&h, "/tmp/t.trace", &shared, &s, err, sizeof(err)), 0);
	assert_true(s.start_from_link);
	assert_int_equal(s.cfg.ndisks, 1);
	assert_string_equal(s.cfg.disks[0].path, "/srv/vm1/disk.img");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_disks_from_the_caller),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
