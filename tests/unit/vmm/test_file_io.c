/* The file policies of vmm/file_io.c: inputs that must be regular files, private outputs
 * that no planted symbolic link redirects. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/file_io.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/detvm-fileio-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void fifo_and_device_are_refused_without_blocking(void **state)
{
	(void)state;
	char fifo[128], reg[128];
	in_dir(fifo, sizeof(fifo), "fifo");
	in_dir(reg, sizeof(reg), "image");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* with no writer, a plain open() of the FIFO would never return */
	assert_int_equal(file_open_regular(fifo, O_RDONLY), FILE_ERR_NOT_REGULAR);
	assert_int_equal(file_open_regular("/dev/zero", O_RDONLY), FILE_ERR_NOT_REGULAR);
	assert_int_equal(file_open_regular(dir, O_RDONLY), FILE_ERR_NOT_REGULAR);
	assert_int_equal(file_open_regular("/nonexistent/x", O_RDONLY), -ENOENT);
	assert_string_equal(file_strerror(FILE_ERR_NOT_REGULAR), "not a regular file");
	int fd = open(reg, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	fd = file_open_regular(reg, O_RDONLY);
	assert_true(fd >= 0);
	char buf[4];
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	close(fd);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void outputs_are_private(void **state)
{
	(void)state;
	char out[128], old[128];
	in_dir(out, sizeof(out), "trace");
	in_dir(old, sizeof(old), "old");
	mode_t um = umask(0);
	int fd = file_create_private(out);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(out), 0600);
	/* an earlier file with a wider mode is emptied and loses group and other access */
	fd = open(old, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	chmod(old, 0644);
	fd = file_create_private(old);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(old), 0600);
	struct stat st;
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* the umask can only narrow it */
	umask(077 | 040);
	unlink(out);
	fd = file_create_private(out);
	close(fd);
	assert_int_equal(mode_of(out), 0600);
	umask(0277);
	unlink(out);
	fd = file_create_private(out);
	close(fd);
	assert_int_equal(mode_of(out), 0400);
	umask(um);
}

static void planted_symlink_is_not_followed(void **state)
{
	(void)state;
	char victim[128], out[128];
	in_dir(victim, sizeof(victim), "victim");
	in_dir(out, sizeof(out), "trace");
	int fd = open(victim, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(symlink(victim, out), 0);
	assert_int_equal(file_create_private(out), -ELOOP);
	assert_non_null(strstr(file_strerror(-ELOOP), "symbolic link"));
	struct stat st;
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 8);
	/* a dangling link (a file the attacker wants created) is refused too */
	char dangling[128], made[128];
	in_dir(dangling, sizeof(dangling), "snap");
	in_dir(made, sizeof(made), "made-by-detvm");
	assert_int_equal(symlink(made, dangling), 0);
	assert_int_equal(file_create_private(dangling), -ELOOP);
	assert_int_equal(access(made, F_OK), -1);
}

static void temp_files_are_fresh_and_private(void **state)
{
	(void)state;
	char out[128], tmp[160], tmp2[160], victim[128], planted[160];
	in_dir(out, sizeof(out), "x.snap");
	in_dir(victim, sizeof(victim), "victim");
	/* the names an older detvm used, planted as links */
	snprintf(planted, sizeof(planted), "%s.tmp", out);
	assert_int_equal(symlink(victim, planted), 0);
	snprintf(planted, sizeof(planted), "%s.tmp.%ld", out, (long)getpid());
	assert_int_equal(symlink(victim, planted), 0);
	mode_t um = umask(0);
	int fd = file_create_temp(out, tmp, sizeof(tmp));
	int fd2 = file_create_temp(out, tmp2, sizeof(tmp2));
	umask(um);
	assert_true(fd >= 0 && fd2 >= 0);
	assert_string_not_equal(tmp, tmp2);
	assert_int_equal(strncmp(tmp, out, strlen(out)), 0);
	assert_int_equal(strncmp(tmp + strlen(out), ".tmp.", 5), 0);
	assert_int_equal(mode_of(tmp), 0600);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	close(fd2);
	assert_int_equal(access(victim, F_OK), -1);
	char huge[5000];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	assert_int_equal(file_create_temp(huge, tmp, sizeof(tmp)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fifo_and_device_are_refused_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(outputs_are_private, setup, teardown),
		cmocka_unit_test_setup_teardown(planted_symlink_is_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(temp_files_are_fresh_and_private, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
