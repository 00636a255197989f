/* The control socket's guards (tools/local_sock.c) and the gdb stub's default address
 * (tools/gdb_rsp.c), without KVM. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/gdb_rsp.h"
#include "tools/local_sock.h"
#include "vmm/mono_clock.h"

struct fx {
	char dir[64], path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/detvm-lsock-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/ctl", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A socket bound at path that nothing will ever accept on: what a killed detvm leaves. */
static void leave_stale(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
}

static void socket_is_owner_only_whatever_the_umask(void **state)
{
	struct fx *f = *state;
	char err[256];
	mode_t old = umask(0);
	int fd = local_sock_listen(f->path, err, sizeof(err));
	umask(old);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd);
}

static void stale_socket_is_replaced(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	leave_stale(f->path);
	int fd = local_sock_listen(f->path, err, sizeof(err));
	assert_true(fd >= 0);
	int c = local_sock_connect(f->path);
	assert_true(c >= 0);	/* the new listener is the one there */
	close(c);
	close(fd);
}

static void live_socket_is_refused_and_kept(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	int live = local_sock_listen(f->path, err, sizeof(err));
	assert_true(live >= 0);
	assert_int_equal(local_sock_listen(f->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	int c = local_sock_connect(f->path);
	assert_true(c >= 0);	/* still the first VM's socket */
	close(c);
	close(live);
}

static void not_a_socket_is_refused_and_kept(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	int fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(local_sock_listen(f->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* a symbolic link, even to a stale socket, is not a socket either */
	char target[160];
	snprintf(target, sizeof(target), "%s/stale", f->dir);
	leave_stale(target);
	unlink(f->path);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(local_sock_listen(f->path, err, sizeof(err)), -1);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	unlink(target);
}

static void too_long_path_is_refused(void **state)
{
	(void)state;
	char path[200], err[256] = "";
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	assert_int_equal(local_sock_listen(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(local_sock_connect(path), -ENAMETOOLONG);
}

static void same_user_peer_is_accepted(void **state)
{
	struct fx *f = *state;
	char err[256];
	int l = local_sock_listen(f->path, err, sizeof(err));
	int c = local_sock_connect(f->path);
	int s = accept(l, NULL, NULL);
	assert_true(l >= 0 && c >= 0 && s >= 0);
	uid_t uid;
	assert_int_equal(local_sock_peer_ok(s, &uid), 1);
	assert_int_equal(uid, geteuid());
	close(s);
	close(c);
	close(l);
}

static void request_lines(void **state)
{
	(void)state;
	int sv[2];
	char line[16];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* an idle client: dropped at the deadline, not waited on */
	uint64_t t0 = mono_clock_ns();
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 200), -ETIMEDOUT);
	uint64_t took = mono_clock_ns() - t0;
	assert_true(took >= 150000000ull && took < 2000000000ull);
	/* half a line, then silence: the same */
	assert_int_equal(write(sv[1], "snap", 4), 4);
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 200), -ETIMEDOUT);
	/* a whole line */
	assert_int_equal(write(sv[1], "snapshot /x\n", 12), 12);
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 1000), 11);
	assert_string_equal(line, "snapshot /x");
	/* longer than the buffer */
	assert_int_equal(write(sv[1], "0123456789abcdefghij\n", 21), 21);
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 1000), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	/* a line ended by closing; nothing then closing */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "protect a", 9), 9);
	close(sv[1]);
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 1000), 9);
	assert_string_equal(line, "protect a");
	close(sv[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(local_sock_read_line(sv[0], line, sizeof(line), 1000), -EIO);
	close(sv[0]);
}

static void gdb_stub_defaults_to_loopback(void **state)
{
	(void)state;
	struct rsp r;
	unsigned port;
	char err[256];
	assert_int_equal(rsp_listen(&r, ":0", &port, err, sizeof(err)), 0);
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(r.lfd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(sa.sin_family, AF_INET);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(r.exposed, 0);
	rsp_close(&r);
	/* asked for explicitly: every address, and flagged so the stub says so */
	assert_int_equal(rsp_listen(&r, "0.0.0.0:0", &port, err, sizeof(err)), 0);
	assert_int_equal(r.exposed, 1);
	rsp_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(socket_is_owner_only_whatever_the_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_socket_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(live_socket_is_refused_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(not_a_socket_is_refused_and_kept, setup, teardown),
		cmocka_unit_test(too_long_path_is_refused),
		cmocka_unit_test_setup_teardown(same_user_peer_is_accepted, setup, teardown),
		cmocka_unit_test(request_lines),
		cmocka_unit_test(gdb_stub_defaults_to_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
