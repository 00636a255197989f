/*
 * The FT log link (ft/link.h) over a real TCP link to a forked peer. Asserts: every piece
 * reaches the backup's file whole and in order, the backup ACKs them all and sees the
 * primary finish (BYE); a backup killed mid-stream, or stopped (no heartbeats), is dead
 * to the primary, which then refuses pieces (-EPIPE) and says why in one line; a primary
 * killed mid-stream ends the backup's reader with the peer dead. What a backup takes is
 * bounded: a state to a backup that takes none, a trace past its quota, and guest memory
 * above its bound are refused as a faulty peer, in one line. A guest's disk flush under
 * the output rule reaches the host only after the backup made the log durable, even
 * when no new block goes with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ft/link.h"
#include "ft/output.h"
#include "ft/protect.h"

#define PIECES 300
static struct transport_listener lst;
static const uint8_t link_key[TRANSPORT_KEY_BYTES] = "a key of 32 bytes for the tests";
static const struct transport_terms link_terms = { link_key, 0, 0 };	/* dead_ms differs per test */
static char path[] = "/tmp/detvm-ft-link.XXXXXX";

static size_t piece_len(unsigned i)
{
	return 1 + (i * 7919u) % (200u << 10);
}

static void piece(uint8_t *b, unsigned i)
{
	for (size_t k = 0; k < piece_len(i); k++)
		b[k] = (uint8_t)(k * 31 + i);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The forked backup: accepts, writes pieces to `path`, reads until the end, exits with
 * 0 when the primary finished (BYE), 1 when it died, 2 on any other trouble. */
static pid_t backup(int dead_ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	char err[256];
	struct transport *t;
	if (transport_accept(&t, &lst, "tcp", &link_terms, 10000, err, sizeof(err)))
		_exit(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct ft_link l = { 0 };
	if (fd < 0 || ft_backup_start(&l, t, fd, 0, dead_ms))
		_exit(2);
	while (!ft_backup_more(&l))
		;
	int rc = l.peer == FT_PEER_DONE ? 0 : l.peer == FT_PEER_DEAD ? 1 : 2;
	char sp[64];
	snprintf(sp, sizeof(sp), "%s.synced", path);
	FILE *f = fopen(sp, "w");	/* pieces made durable before their ACK */
	if (f) {
		fprintf(f, "%llu\n", (unsigned long long)l.synced);
		fclose(f);
	}
	ft_link_destroy(&l);
	_exit(rc);
}

static struct transport *connect_to_backup(void)
{
	char err[256];
	struct transport *t;
	if (transport_connect(&t, lst.addr, "tcp", &link_terms, 10000, err, sizeof(err)))
		fail_msg("connect: %s", err);
	return t;
}

static int status(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* How many pieces the backup that just ended made durable before their ACK. */
static unsigned long long backup_synced(void)
{
	char sp[64];
	unsigned long long synced = 0;
	snprintf(sp, sizeof(sp), "%s.synced", path);
	FILE *f = fopen(sp, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &synced), 1);
	fclose(f);
	unlink(sp);
	return synced;
}

static void test_stream(void **state)
{
	pid_t pid = backup(0);
	struct ft_link l;
	assert_int_equal(ft_primary_start(&l, connect_to_backup(), 0, 0), 0);
	uint8_t *b = malloc(200 << 10);
	size_t total = 0;
	unsigned syncs = 0;
	for (unsigned i = 0; i < PIECES; i++) {
		piece(b, i);
		if (i % 7 == 3) {	/* a disk flush in it: durable before its ACK */
			l.sync_next = 1;
			syncs++;
		}
		assert_int_equal(ft_primary_sink(&l, b, piece_len(i)), 0);
		total += piece_len(i);
	}
	assert_int_equal(ft_primary_finish(&l, 30000), 0);
	assert_int_equal(ft_primary_acked(&l), PIECES);
	ft_link_destroy(&l);
	assert_int_equal(status(pid), 0);
	assert_int_equal(backup_synced(), syncs);
	/* the file is the pieces, in order */
	int fd = open(path, O_RDONLY);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((size_t)st.st_size, total);
	uint8_t *got = malloc(200 << 10);
	for (unsigned i = 0; i < PIECES; i++) {
		piece(b, i);
		assert_int_equal(read(fd, got, piece_len(i)), (ssize_t)piece_len(i));
		assert_memory_equal(got, b, piece_len(i));
	}
	close(fd);
	free(b);
	free(got);
}

/* The live host under the output rule: counts what reaches it. */
static unsigned host_writes, host_flushes;

static int host_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	host_writes++;
	return 0;
}

static int host_flush(struct hostio *h, unsigned disk)
{
	host_flushes++;
	return 0;
}

/* The recorder's flush: a block the first time, nothing new after it. */
static int one_block(void *link)
{
	static const uint8_t block[64];
	static int sent;
	return sent++ ? 0 : ft_primary_sink(link, block, sizeof(block));
}

/* A guest flush whose exit's block already went (an age-flushed block, or a flush right
 * after a write's mark) still reaches the guest only once the backup made the log
 * durable: an empty piece carries the sync. */
static void test_flush_no_block(void **state)
{
	static const struct hostio_ops ops = { .name = "test", .disk_write = host_write, .disk_flush = host_flush };
	struct hostio host;
	hostio_init(&host, &ops, NULL);
	pid_t pid = backup(0);
	struct ft_link l;
	assert_int_equal(ft_primary_start(&l, connect_to_backup(), 0, 0), 0);
	static struct ft_hold h;
	ft_hold_init(&h, &host, &l);
	ft_hold_set_flush(&h, one_block, &l);
	uint8_t sector[512] = { 0 };
	assert_int_equal(hostio_disk_write(&h.io, 0, 0, sector, sizeof(sector)), 0);
	assert_int_equal(ft_hold_drain(&h, 10000), 0);
	assert_int_equal(host_writes, 1);
	assert_int_equal(hostio_disk_flush(&h.io, 0), 0);
	assert_int_equal(host_flushes, 0);	/* held */
	assert_int_equal(ft_hold_drain(&h, 10000), 0);
	assert_int_equal(host_flushes, 1);
	assert_int_equal(ft_primary_finish(&l, 10000), 0);
	ft_hold_destroy(&h);
	ft_link_destroy(&l);
	assert_int_equal(status(pid), 0);
	assert_int_equal(backup_synced(), 1);
}

/* Pieces until the link refuses one; how long that took after `from`. */
static double until_refused(struct ft_link *l, double from)
{
	uint8_t b[4096] = { 0 };
	while (ft_primary_sink(l, b, sizeof(b)) == 0)
		usleep(1000);
	return now() - from;
}

static void test_backup_killed(void **state)
{
	pid_t pid = backup(0);
	struct ft_link l;
	assert_int_equal(ft_primary_start(&l, connect_to_backup(), 0, 0), 0);
	uint8_t b[100] = { 0 };
	assert_int_equal(ft_primary_sink(&l, b, sizeof(b)), 0);
	kill(pid, SIGKILL);
	double t = until_refused(&l, now());
	assert_int_equal(l.peer, FT_PEER_DEAD);
	assert_true(l.why[0] && !strchr(l.why, '\n'));
	assert_true(t < 5);
	assert_int_equal(ft_primary_finish(&l, 100), -EPIPE);
	ft_link_destroy(&l);
	assert_int_equal(status(pid), 128 + SIGKILL);
}

static void test_backup_silent(void **state)
{
	pid_t pid = backup(0);
	struct ft_link l;
	assert_int_equal(ft_primary_start(&l, connect_to_backup(), 10, 300), 0);
	usleep(100 * 1000);
	double t0 = now();
	kill(pid, SIGSTOP);	/* alive, connected, and silent: a hung host */
	double t = until_refused(&l, t0);
	assert_int_equal(l.peer, FT_PEER_DEAD);
	assert_non_null(strstr(l.why, "no word from the backup for 300 ms"));
	assert_true(t >= 0.25 && t < 5);
	ft_link_destroy(&l);
	kill(pid, SIGKILL);
	kill(pid, SIGCONT);
	status(pid);
}

static void test_primary_killed(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ft_link l;
		if (ft_primary_start(&l, connect_to_backup(), 0, 0))
			_exit(2);
		uint8_t b[1000] = { 7 };
		for (int i = 0; i < 5; i++)
			ft_primary_sink(&l, b, sizeof(b));
		pause();
		_exit(0);
	}
	char err[256];
	struct transport *t;
	assert_int_equal(transport_accept(&t, &lst, "tcp", &link_terms, 10000, err, sizeof(err)), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct ft_link l = { 0 };
	assert_int_equal(ft_backup_start(&l, t, fd, 0, 0), 0);
	unsigned seen = 0;
	while (seen < 5 && !ft_backup_more(&l))
		seen = (unsigned)l.seen;
	assert_int_equal(seen, 5);
	kill(pid, SIGKILL);
	double t0 = now();
	assert_int_equal(ft_backup_more(&l), 1);
	assert_true(now() - t0 < 5);
	assert_int_equal(l.peer, FT_PEER_DEAD);
	ft_link_destroy(&l);
	close(fd);
	assert_int_equal(status(pid), 128 + SIGKILL);
}

/* A forked primary that sends five 1000-byte pieces, or a STATE first, then waits. */
static pid_t primary_sends(int state_first)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	struct ft_link l;
	if (ft_primary_start(&l, connect_to_backup(), 0, 0))
		_exit(2);
	uint8_t b[1000] = { 'B', 0, 0, 0, 0x40 };	/* a state's begin: 1 GiB */
	if (state_first)
		ft_primary_state(&l, b, 9);
	for (int i = 0; i < 5; i++)
		ft_primary_sink(&l, b, sizeof(b));
	pause();
	_exit(0);
}

/* The backup's side of primary_sends, with the link's bounds set by `bound`; returns once
 * the link ended, the pieces it let through in *seen. */
static void backup_refuses(struct ft_link *l, int state_first, void (*bound)(struct ft_link *l), unsigned *seen)
{
	pid_t pid = primary_sends(state_first);
	char err[256];
	struct transport *t;
	assert_int_equal(transport_accept(&t, &lst, "tcp", &link_terms, 10000, err, sizeof(err)), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(l, 0, sizeof(*l));
	bound(l);
	assert_int_equal(ft_backup_start(l, t, fd, 0, 0), 0);
	while (!ft_backup_more(l))
		;
	*seen = (unsigned)l->seen;
	assert_int_equal(l->peer, FT_PEER_DEAD);
	if (!l->fault)
		fail_msg("not a fault: %s", l->why);
	assert_null(strchr(l->why, '\n'));
	kill(pid, SIGKILL);
	status(pid);
	close(fd);
}

static void no_state(struct ft_link *l)
{
	l->on_state = NULL;
}

static struct ft_incoming small;

static void small_guest(struct ft_link *l)
{
	small.mem_max = 256 << 20;
	l->on_state = ft_incoming_take;
	l->state_ctx = &small;
}

static void quota(struct ft_link *l)
{
	l->fd_max = 2500;
}

static void test_bounds(void **state)
{
	struct ft_link l;
	unsigned seen;
	backup_refuses(&l, 1, no_state, &seen);
	assert_non_null(strstr(l.why, "not started to re-protect a live VM (--protect): refused"));
	assert_int_equal(seen, 0);
	ft_link_destroy(&l);

	backup_refuses(&l, 1, small_guest, &seen);
	assert_non_null(strstr(l.why, "more guest memory than this backup takes"));
	assert_null(small.mem);
	assert_int_equal(seen, 0);
	ft_link_destroy(&l);
	ft_incoming_destroy(&small);
	assert_int_equal(small.mem_max, 256 << 20);	/* kept for the next primary */

	backup_refuses(&l, 0, quota, &seen);
	assert_non_null(strstr(l.why, "passed this backup's quota of 2500 bytes"));
	assert_int_equal(seen, 2);
	ft_link_destroy(&l);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2000);
}

static int setup(void **state)
{
	char err[256];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	if (transport_listen(&lst, "127.0.0.1:0", err, sizeof(err)))
		fail_msg("%s", err);
	return 0;
}

static int teardown(void **state)
{
	transport_listener_close(&lst);
	unlink(path);
	return 0;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_flush_no_block),
		cmocka_unit_test(test_backup_killed),
		cmocka_unit_test(test_backup_silent),
		cmocka_unit_test(test_primary_killed),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
