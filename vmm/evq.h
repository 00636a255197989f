/*
 * The event queue between host-side producers (console reader, network backends, timers)
 * and the vCPU thread, which drains it only at delivery points. Many producers, one
 * consumer. The queue owns a copy of each event's data.
 */
#ifndef DETVM_VMM_EVQ_H
#define DETVM_VMM_EVQ_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/hostio.h"

struct evq_item {
	struct evq_item *next;
	struct hostio_event ev;	/* ev.data points into buf */
	uint8_t buf[];
};

struct evq {
	pthread_mutex_t lock;
	struct evq_item *head, *tail;
	unsigned depth, max_depth;
	uint64_t dropped;	/* posts refused because the queue was full */
	int wake_fd;		/* eventfd, readable while items are queued */
	int room_fd;		/* eventfd, set by a pop while want_room */
	int want_room;		/* a producer waits in evq_post_wait() */
};

#define EVQ_DEFAULT_MAX_DEPTH 4096
#define EVQ_MAX_DATA (64 * 1024)

int evq_init(struct evq *q, unsigned max_depth);
void evq_destroy(struct evq *q);
/* Copies data. -EINVAL if len > EVQ_MAX_DATA, -ENOBUFS (counted) if full, -ENOMEM. */
int evq_post(struct evq *q, uint32_t kind, uint32_t source, uint64_t time_ns, const void *data,
	     uint32_t len);
/*
 * For input that must not be lost (typed console bytes): as evq_post(), but while the
 * queue is full the caller waits, until the consumer pops an item or stop_fd (-1: none)
 * becomes readable (-ECANCELED, the data not queued). A producer that waits here stops
 * reading its source, so the writer at the other end is held back instead of losing
 * bytes. Nothing is counted as dropped. One waiting producer at a time.
 */
int evq_post_wait(struct evq *q, uint32_t kind, uint32_t source, uint64_t time_ns,
		  const void *data, uint32_t len, int stop_fd);
/* Oldest item or NULL; the caller frees it with evq_item_free(). */
struct evq_item *evq_pop(struct evq *q);
void evq_item_free(struct evq_item *it);
/* Whether an item is queued (a snapshot: producers may add one right after). */
int evq_nonempty(struct evq *q);
/* Wait until an item is queued or timeout_ns passes (negative: forever).
 * 1 if items are queued, 0 on timeout, -EINTR if a signal arrived. */
int evq_wait(struct evq *q, int64_t timeout_ns);

#endif
