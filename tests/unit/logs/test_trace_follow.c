/*
 * The reader's follow mode: a trace file read while another thread is still writing it,
 * in pieces cut anywhere (inside the file header, a block header, a frame, the footer).
 * Asserts: fed whole, every event comes back in order and the end is clean; cut off (the
 * writer died), the reader returns exactly the events of the complete blocks before the
 * cut, as the plain reader does on a file cut there, then TRACE_ERR_TRUNCATED; cut inside
 * the file header, opening fails as truncated. Nothing is read before it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace_fixture.h"

static char dir[] = "/tmp/detvm-follow-test.XXXXXX";
static uint8_t *whole;
static size_t whole_len;
#define EVENTS 3000

struct feed {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;
	size_t fed, stop_at, seen;
	size_t promised;	/* bytes write() may have put in the file so far */
	int done;
	unsigned seed;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	while (f->fed < f->stop_at) {
		size_t n = 1 + (size_t)rand_r(&f->seed) % 3000;
		if (n > f->stop_at - f->fed)
			n = f->stop_at - f->fed;
		__atomic_store_n(&f->promised, f->fed + n, __ATOMIC_SEQ_CST);
		assert_int_equal(write(f->fd, whole + f->fed, n), (ssize_t)n);
		pthread_mutex_lock(&f->mu);
		f->fed += n;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		if (rand_r(&f->seed) % 4 == 0)
			usleep(200);
	}
	pthread_mutex_lock(&f->mu);
	f->done = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The reader's more(): waits for the feeder to add bytes; 1 once it never will. */
static int more(void *ctx)
{
	struct feed *f = ctx;
	pthread_mutex_lock(&f->mu);
	while (f->fed == f->seen && !f->done)
		pthread_cond_wait(&f->cv, &f->mu);
	int ended = f->fed == f->seen && f->done;
	f->seen = f->fed;
	pthread_mutex_unlock(&f->mu);
	return ended;
}

/* Reads what the feeder writes, cut at stop_at: the events it got and the last return. */
static int follow(size_t stop_at, unsigned seed, uint64_t *events, int *open_rc)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/follow-%u.trace", dir, seed);
	struct feed f = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, stop_at, 0, 0, 0, seed };
	f.fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	int rfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(f.fd >= 0 && rfd >= 0);
	pthread_t th;
	pthread_create(&th, NULL, feeder, &f);
	struct trace_reader *r;
	struct trace_event ev;
	int ret;
	*events = 0;
	*open_rc = trace_reader_open_follow(&r, rfd, path, more, &f, err, sizeof(err));
	if (*open_rc) {
		pthread_join(th, NULL);
		close(f.fd);
		return *open_rc;
	}
	while ((ret = trace_reader_next(r, &ev)) == 1) {
		/* never ahead of the bytes written */
		assert_true(trace_reader_offset(r) <= __atomic_load_n(&f.promised, __ATOMIC_SEQ_CST));
		assert_int_equal(ev.seq, *events);
		assert_int_equal(ev.position, fx_position(*events));
		(*events)++;
	}
	trace_reader_close(r);
	pthread_join(th, NULL);
	close(f.fd);
	return ret;
}

static void test_whole(void **state)
{
	for (unsigned seed = 1; seed <= 4; seed++) {
		uint64_t n;
		int open_rc;
		assert_int_equal(follow(whole_len, seed, &n, &open_rc), 0);
		assert_int_equal(n, EVENTS);
	}
}

/* What the plain reader gets from a file cut at `cut`. */
static uint64_t plain_events(size_t cut)
{
	struct trace_reader *r;
	char err[256];
	uint64_t n = 0;
	if (trace_reader_open_fd(&r, fx_memfd(whole, cut), "cut", err, sizeof(err)))
		return 0;
	assert_int_equal(fx_read_all(r, &n), TRACE_ERR_TRUNCATED);
	trace_reader_close(r);
	return n;
}

static void test_cut(void **state)
{
	unsigned seed = 11;
	for (int i = 0; i < 12; i++) {
		/* past the file header, anywhere before the footer's end */
		size_t cut = 200 + (size_t)rand_r(&seed) % (whole_len - 201);
		uint64_t n;
		int open_rc;
		assert_int_equal(follow(cut, seed + (unsigned)i, &n, &open_rc), TRACE_ERR_TRUNCATED);
		assert_int_equal(open_rc, 0);
		assert_int_equal(n, plain_events(cut));
	}
}

static void test_cut_in_header(void **state)
{
	uint64_t n;
	int open_rc;
	assert_int_equal(follow(20, 99, &n, &open_rc), TRACE_ERR_TRUNCATED);
	assert_int_equal(open_rc, TRACE_ERR_TRUNCATED);
	assert_int_equal(follow(0, 98, &n, &open_rc), TRACE_ERR_EMPTY);
}

static int setup(void **state)
{
	char path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/whole.trace", dir);
	assert_int_equal(fx_write_trace(path, EVENTS, 2048, 1), 0);
	whole = fx_slurp(path, &whole_len);
	assert_non_null(whole);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	free(whole);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_cut_in_header),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
