#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/evq.h"

static void test_fifo_and_copy(void **state)
{
	struct evq q;
	assert_int_equal(evq_init(&q, 0), 0);
	char buf[] = "abc";
	assert_int_equal(evq_nonempty(&q), 0);
	assert_int_equal(evq_post(&q, HOSTIO_EV_CONSOLE_IN, 0, 10, buf, 3), 0);
	assert_int_equal(evq_nonempty(&q), 1);
	buf[0] = 'X';	/* the queue owns a copy */
	assert_int_equal(evq_post(&q, HOSTIO_EV_NET_RX, 1, 20, "frame", 5), 0);
	assert_int_equal(evq_wait(&q, 0), 1);
	struct evq_item *a = evq_pop(&q), *b = evq_pop(&q);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(evq_pop(&q));
	assert_int_equal(evq_nonempty(&q), 0);
	assert_int_equal(a->ev.kind, HOSTIO_EV_CONSOLE_IN);
	assert_memory_equal(a->ev.data, "abc", 3);
	assert_int_equal(b->ev.source, 1);
	assert_int_equal(b->ev.time_ns, 20);
	evq_item_free(a);
	evq_item_free(b);
	assert_int_equal(evq_wait(&q, 1000000), 0);	/* empty: times out */
	evq_destroy(&q);
}

static void test_bounds(void **state)
{
	struct evq q;
	evq_init(&q, 2);
	assert_int_equal(evq_post(&q, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(evq_post(&q, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(evq_post(&q, 0, 0, 0, NULL, 0), -ENOBUFS);
	assert_int_equal(q.dropped, 1);
	assert_int_equal(evq_post(&q, 0, 0, 0, "x", EVQ_MAX_DATA + 1), -EINVAL);
	evq_destroy(&q);	/* frees what is still queued (ASan checks) */
}

static void *producer(void *arg)
{
	struct evq *q = arg;
	for (uint32_t i = 0; i < 1000; i++)
		while (evq_post(q, HOSTIO_EV_CONSOLE_IN, 0, i, &i, sizeof(i)) == -ENOBUFS)
			;
	return NULL;
}

static void test_threads_keep_order(void **state)
{
	struct evq q;
	evq_init(&q, 64);
	pthread_t t;
	pthread_create(&t, NULL, producer, &q);
	uint32_t next = 0;
	while (next < 1000) {
		assert_true(evq_wait(&q, 2000000000LL) >= 0);
		struct evq_item *it;
		while ((it = evq_pop(&q))) {
			uint32_t v;
			memcpy(&v, it->ev.data, sizeof(v));
			assert_int_equal(v, next);
			next++;
			evq_item_free(it);
		}
	}
	pthread_join(t, NULL);
	evq_destroy(&q);
}

struct waiter {
	struct evq *q;
	int stop_fd;
	int ret;
	int done;
};

static void *post_waiting(void *arg)
{
	struct waiter *w = arg;
	w->ret = evq_post_wait(w->q, HOSTIO_EV_CONSOLE_IN, 0, 0, "late", 4, w->stop_fd);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int done_within(struct waiter *w, int ms)
{
	for (int i = 0; i < ms && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* A full queue holds a waiting producer until a pop makes room, or until it is stopped;
 * nothing it posts is dropped. */
static void test_post_wait(void **state)
{
	struct evq q;
	evq_init(&q, 1);
	assert_int_equal(evq_post_wait(&q, 0, 0, 0, "a", 1, -1), 0);
	int stop = eventfd(0, EFD_CLOEXEC);
	struct waiter w = { &q, stop, 1, 0 };
	pthread_t t;
	pthread_create(&t, NULL, post_waiting, &w);
	assert_false(done_within(&w, 100));	/* full: it waits */
	struct evq_item *it = evq_pop(&q);
	assert_memory_equal(it->ev.data, "a", 1);
	evq_item_free(it);
	assert_true(done_within(&w, 5000));	/* the pop made room */
	pthread_join(t, NULL);
	assert_int_equal(w.ret, 0);
	it = evq_pop(&q);
	assert_memory_equal(it->ev.data, "late", 4);
	evq_item_free(it);

	/* full again, and then stopped */
	assert_int_equal(evq_post(&q, 0, 0, 0, "b", 1), 0);
	w = (struct waiter){ &q, stop, 1, 0 };
	pthread_create(&t, NULL, post_waiting, &w);
	assert_false(done_within(&w, 100));
	uint64_t one = 1;
	assert_int_equal(write(stop, &one, sizeof(one)), sizeof(one));
	assert_true(done_within(&w, 5000));
	pthread_join(t, NULL);
	assert_int_equal(w.ret, -ECANCELED);
	assert_int_equal(q.dropped, 0);
	close(stop);
	evq_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_copy),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_threads_keep_order),
		cmocka_unit_test(test_post_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
