#include "vmm/evq.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

int evq_init(struct evq *q, unsigned max_depth)
{
	memset(q, 0, sizeof(*q));
	q->max_depth = max_depth ? max_depth : EVQ_DEFAULT_MAX_DEPTH;
	q->room_fd = -1;
	q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->wake_fd < 0)
		return -errno;
	q->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->room_fd < 0) {
		int r = -errno;
		close(q->wake_fd);
		q->wake_fd = -1;
		return r;
	}
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void evq_destroy(struct evq *q)
{
	struct evq_item *it;
	while ((it = evq_pop(q)))
		evq_item_free(it);
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	if (q->room_fd >= 0)
		close(q->room_fd);
	q->wake_fd = q->room_fd = -1;
	pthread_mutex_destroy(&q->lock);
}

static struct evq_item *item_new(uint32_t kind, uint32_t source, uint64_t time_ns,
				 const void *data, uint32_t len)
{
	struct evq_item *it = malloc(sizeof(*it) + len);
	if (!it)
		return NULL;
	it->next = NULL;
	it->ev = (struct hostio_event){ kind, source, time_ns, len, it->buf };
	if (len)
		memcpy(it->buf, data, len);
	return it;
}

/* Appends it, or -ENOBUFS with it still the caller's: counted as a drop, or, for a
 * producer that will wait, noted so the next pop signals room. */
static int push(struct evq *q, struct evq_item *it, int will_wait)
{
	pthread_mutex_lock(&q->lock);
	if (q->depth >= q->max_depth) {
		if (will_wait)
			q->want_room = 1;
		else
			q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return -ENOBUFS;
	}
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->depth++;
	pthread_mutex_unlock(&q->lock);

	uint64_t one = 1;
	if (write(q->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int evq_post(struct evq *q, uint32_t kind, uint32_t source, uint64_t time_ns, const void *data,
	     uint32_t len)
{
	if (len > EVQ_MAX_DATA)
		return -EINVAL;
	struct evq_item *it = item_new(kind, source, time_ns, data, len);
	if (!it)
		return -ENOMEM;
	int r = push(q, it, 0);
	if (r == -ENOBUFS)
		free(it);
	return r;
}

int evq_post_wait(struct evq *q, uint32_t kind, uint32_t source, uint64_t time_ns,
		  const void *data, uint32_t len, int stop_fd)
{
	if (len > EVQ_MAX_DATA)
		return -EINVAL;
	struct evq_item *it = item_new(kind, source, time_ns, data, len);
	if (!it)
		return -ENOMEM;
	for (;;) {
		int r = push(q, it, 1);
		if (r != -ENOBUFS)
			return r;
		struct pollfd p[2] = { { .fd = q->room_fd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN } };
		if (poll(p, stop_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
			r = -errno;
			free(it);
			return r;
		}
		if (p[1].revents) {
			free(it);
			return -ECANCELED;
		}
		uint64_t n;
		if (read(q->room_fd, &n, sizeof(n)) < 0) {
			/* EAGAIN: EINTR woke us, not a pop; try again all the same */
		}
	}
}

int evq_nonempty(struct evq *q)
{
	pthread_mutex_lock(&q->lock);
	int r = q->head != NULL;
	pthread_mutex_unlock(&q->lock);
	return r;
}

struct evq_item *evq_pop(struct evq *q)
{
	pthread_mutex_lock(&q->lock);
	struct evq_item *it = q->head;
	if (it) {
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		q->depth--;
		if (q->want_room) {	/* a producer waits for this room (evq_post_wait) */
			uint64_t one = 1;
			q->want_room = 0;
			if (write(q->room_fd, &one, sizeof(one)) < 0) {
				/* EAGAIN: the counter is already set, the waiter wakes anyway */
			}
		}
	}
	if (!q->head) {
		uint64_t n;
		/* drain the counter so poll() sleeps again; done under the lock so a
		 * concurrent post cannot be lost between the check and the read */
		if (read(q->wake_fd, &n, sizeof(n)) < 0) {
			/* EAGAIN: already drained */
		}
	}
	pthread_mutex_unlock(&q->lock);
	return it;
}

void evq_item_free(struct evq_item *it)
{
	free(it);
}

int evq_wait(struct evq *q, int64_t timeout_ns)
{
	pthread_mutex_lock(&q->lock);
	int have = q->head != NULL;
	pthread_mutex_unlock(&q->lock);
	if (have)
		return 1;
	struct pollfd p = { .fd = q->wake_fd, .events = POLLIN };
	struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
	/* the caller's stop flag must be checked on a signal, so EINTR is returned */
	int r = ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL);
	if (r < 0)
		return errno == EINTR ? -EINTR : -errno;
	return r > 0;
}
