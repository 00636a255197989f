/*
 * The live hostio's console reader (vmm/host_run.c) without KVM: typed bytes come through
 * a pipe and are taken at "delivery points" the test makes. While the event queue is full
 * the reader stops reading, so the writer waits instead of its bytes being lost; and a
 * reader held up that way still stops when the host is destroyed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/host_run.h"

#define TYPED (256u * 1024)	/* four pipe buffers and many times what the queue holds */
#define QUEUE 4			/* items: 4 reads of at most 256 bytes */

struct typist {
	int fd;
	size_t wrote;
};

static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 9));
}

static void *type_all(void *arg)
{
	struct typist *t = arg;
	uint8_t buf[4096];

	while (t->wrote < TYPED) {
		size_t n = TYPED - t->wrote < sizeof(buf) ? TYPED - t->wrote : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(t->wrote + i);
		ssize_t w = write(t->fd, buf, n);
		if (w <= 0)
			break;
		__atomic_add_fetch(&t->wrote, (size_t)w, __ATOMIC_RELEASE);
	}
	close(t->fd);
	return NULL;
}

struct screen {
	size_t got, wrong;
};

static void on_input(void *opaque, const struct hostio_event *ev)
{
	struct screen *s = opaque;

	for (uint32_t i = 0; i < ev->len; i++)
		s->wrong += ev->data[i] != byte_at(s->got + i);
	s->got += ev->len;
}

static unsigned depth(struct evq *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned d = q->depth;
	pthread_mutex_unlock(&q->lock);
	return d;
}

static void start(struct host_run *h, int *wfd, struct screen *s)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(host_run_init(h, -1, p[0]), 0);
	/* a small queue, so the reader finds it full at once */
	evq_destroy(&h->queue);
	assert_int_equal(evq_init(&h->queue, QUEUE), 0);
	assert_int_equal(hostio_subscribe(&h->io, HOSTIO_EV_CONSOLE_IN, 0, on_input, s), 0);
	assert_int_equal(host_run_start(h), 0);
	*wfd = p[1];
}

static void test_full_queue_holds_the_typist_back(void **state)
{
	struct host_run h;
	struct screen s = { 0 };
	struct typist t = { 0 };
	pthread_t th;

	start(&h, &t.fd, &s);
	assert_int_equal(pthread_create(&th, NULL, type_all, &t), 0);
	/* a guest that takes no input for a while: the queue fills and stays full */
	for (int i = 0; i < 2000 && depth(&h.queue) < QUEUE; i++)
		usleep(1000);
	assert_int_equal(depth(&h.queue), QUEUE);
	usleep(200 * 1000);
	assert_true(__atomic_load_n(&t.wrote, __ATOMIC_ACQUIRE) < TYPED);
	/* then it takes everything at its delivery points, until nothing more comes */
	while (s.got < TYPED) {
		int r = evq_wait(&h.queue, 2000000000LL);
		if (r == 0)
			break;
		h.io.ops->deliver_due(&h.io, 0);
	}
	pthread_join(th, NULL);
	assert_int_equal(t.wrote, TYPED);
	assert_int_equal(s.got, TYPED);
	assert_int_equal(s.wrong, 0);
	assert_int_equal(h.queue.dropped, 0);
	host_run_destroy(&h);
}

static void test_destroy_while_held_back(void **state)
{
	struct host_run h;
	struct screen s = { 0 };
	int wfd;

	start(&h, &wfd, &s);
	/* more than the queue holds, all in the pipe at once: the reader waits for room */
	uint8_t buf[QUEUE * 256 * 4] = { 0 };
	assert_int_equal(write(wfd, buf, sizeof(buf)), sizeof(buf));
	for (int i = 0; i < 2000 && depth(&h.queue) < QUEUE; i++)
		usleep(1000);
	assert_int_equal(depth(&h.queue), QUEUE);
	host_run_destroy(&h);	/* returns: the reader gives up waiting */
	close(wfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_queue_holds_the_typist_back),
		cmocka_unit_test(test_destroy_while_held_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
