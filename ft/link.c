#include "ft/link.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* MSG_PIECE_SYNC: a piece the backup makes durable (fdatasync) before it acknowledges it */
enum { MSG_PIECE = 1, MSG_ACK = 2, MSG_BEAT = 3, MSG_BYE = 4, MSG_STATE = 5, MSG_MARK = 6, MSG_PIECE_SYNC = 7 };

/* The primary queues at most this much for the backup; past it the guest waits. */
#define QUEUE_MAX_BYTES (64u << 20)
/* How often the primary's thread looks for queued pieces while nothing comes in. */
#define PRIMARY_POLL_MS 1

struct ft_piece {
	struct ft_piece *next;
	int piece;		/* counts for ACKs (a STATE message does not) */
	size_t len;		/* bytes in msg: the type byte and the piece */
	uint8_t msg[];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The peer is gone: say why once, wake whoever waits. Called with mu held. */
static void peer_ended(struct ft_link *l, enum ft_peer_state st, const char *why)
{
	if (l->peer == FT_PEER_UP) {
		l->peer = st;
		snprintf(l->why, sizeof(l->why), "%s", why);
	}
	pthread_cond_broadcast(&l->cv);
}

static int send_small(struct ft_link *l, uint8_t type, uint64_t v, int with_value)
{
	uint8_t m[9] = { type };
	memcpy(m + 1, &v, 8);
	return transport_send(l->t, m, with_value ? 9 : 1);
}

/* ACKs what the backup holds, unless a state transfer gates them. Called with mu held
 * (dropped while sending); 0, or 1 when the primary is gone. */
static int send_acks(struct ft_link *l)
{
	if (l->acks_gated || l->held == l->acks_said)
		return 0;
	uint64_t held = l->held;
	pthread_mutex_unlock(&l->mu);
	int r = send_small(l, MSG_ACK, held, 1);
	pthread_mutex_lock(&l->mu);
	if (r) {
		peer_ended(l, FT_PEER_DEAD, l->t->error[0] ? l->t->error : "the primary is gone");
		return 1;
	}
	if (held > l->acks_said)
		l->acks_said = held;
	return 0;
}

/* One message from the peer; 0 handled, 1 the link ended. Called without mu. */
static int handle(struct ft_link *l, const uint8_t *m, ssize_t n, int primary)
{
	int ended = 0;
	pthread_mutex_lock(&l->mu);
	if (n >= 1 && m[0] == MSG_BEAT && n == 1) {
		/* alive */
	} else if (primary && n == 9 && m[0] == MSG_ACK) {
		uint64_t v;
		memcpy(&v, m + 1, 8);
		if (v > l->sent) {
			peer_ended(l, FT_PEER_DEAD, "the backup acknowledged pieces never sent: garbage");
			ended = 1;
		} else if (v > l->acked) {
			l->acked = v;
			pthread_cond_broadcast(&l->cv);
		}
	} else if (!primary && n >= 1 && (m[0] == MSG_PIECE || m[0] == MSG_PIECE_SYNC) &&
		   l->fd_bytes + (uint64_t)n - 1 > l->fd_max) {
		char why[200];
		snprintf(why, sizeof(why), "the primary's trace passed this backup's quota of %" PRIu64 " bytes: refused",
			 l->fd_max);
		l->fault = 1;	/* a backup that cannot hold the log has nothing to go live from */
		peer_ended(l, FT_PEER_DEAD, why);
		ended = 1;
	} else if (!primary && n >= 1 && (m[0] == MSG_PIECE || m[0] == MSG_PIECE_SYNC)) {
		l->fd_bytes += (uint64_t)n - 1;
		pthread_mutex_unlock(&l->mu);
		const uint8_t *p = m + 1;
		size_t left = (size_t)n - 1;
		int err = 0;
		while (left && !err) {
			ssize_t w = write(l->fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				err = w < 0 ? errno : EIO;
			else
				p += w, left -= (size_t)w;
		}
		/* a disk flush the guest waits for is in it: on stable storage before the ACK */
		if (!err && m[0] == MSG_PIECE_SYNC && fdatasync(l->fd) < 0)
			err = errno;
		if (m[0] == MSG_PIECE_SYNC)
			l->synced++;
		pthread_mutex_lock(&l->mu);
		if (err) {
			char why[160];
			snprintf(why, sizeof(why), "cannot write the backup's trace: %s", strerror(err));
			peer_ended(l, FT_PEER_DEAD, why);
			ended = 1;
		} else {
			l->held++;
			pthread_cond_broadcast(&l->cv);
			ended = send_acks(l);
		}
	} else if (!primary && n >= 1 && m[0] == MSG_STATE && !l->on_state) {
		/* only a backup that asked a live VM for its state (--protect) takes one: a
		 * state from anyone else would be a machine the backup never agreed to run */
		l->fault = 1;
		peer_ended(l, FT_PEER_DEAD, "the primary sent a running state, but this backup was not started "
					    "to re-protect a live VM (--protect): refused");
		ended = 1;
	} else if (!primary && n >= 2 && m[0] == MSG_STATE && !l->held) {
		l->acks_gated = 1;
		pthread_mutex_unlock(&l->mu);
		int r = l->on_state(l->state_ctx, m + 1, (size_t)n - 1);
		pthread_mutex_lock(&l->mu);
		if (r) {
			char why[160];
			snprintf(why, sizeof(why), "the primary sent a state the backup cannot take: %s",
				 r == -EINVAL  ? "malformed (garbage)"
				 : r == -E2BIG ? "more guest memory than this backup takes"
					       : strerror(-r));
			l->fault = r == -EINVAL || r == -E2BIG;
			peer_ended(l, FT_PEER_DEAD, why);
			ended = 1;
		}
	} else if (!primary && n == 9 && m[0] == MSG_MARK) {
		uint64_t v;
		memcpy(&v, m + 1, 8);
		if (v > __atomic_load_n(&l->mark, __ATOMIC_RELAXED))
			__atomic_store_n(&l->mark, v, __ATOMIC_RELEASE);
	} else if (!primary && n == 1 && m[0] == MSG_BYE) {
		peer_ended(l, FT_PEER_DONE, "the primary finished its trace");
		ended = 1;
	} else {
		char why[120];
		snprintf(why, sizeof(why), "the %s sent garbage (a message of %zd bytes, type %d)",
			 primary ? "backup" : "primary", n, n > 0 ? m[0] : -1);
		l->fault = 1;
		peer_ended(l, FT_PEER_DEAD, why);
		ended = 1;
	}
	pthread_mutex_unlock(&l->mu);
	return ended;
}

/* The primary's pieces, in order, then BYE once closing; 0 or 1 (the link ended). */
static int send_queued(struct ft_link *l, uint64_t *last_sent)
{
	for (;;) {
		pthread_mutex_lock(&l->mu);
		struct ft_piece *p = l->head;
		int bye = !p && l->closing == 1;
		if (p) {
			l->head = p->next;
			if (!l->head)
				l->tail = NULL;
		}
		if (bye)
			l->closing = 2;
		pthread_mutex_unlock(&l->mu);
		if (!p && !bye)
			return 0;
		int r = p ? transport_send(l->t, p->msg, p->len) : send_small(l, MSG_BYE, 0, 0);
		pthread_mutex_lock(&l->mu);
		if (p) {
			l->queued_bytes -= p->len;
			l->sent += (uint64_t)p->piece;
			free(p);
		}
		if (r)
			peer_ended(l, FT_PEER_DEAD, l->t->error[0] ? l->t->error : "the backup is gone");
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		*last_sent = now_ms();
		if (r)
			return 1;
	}
}

static void *run(struct ft_link *l, int primary)
{
	uint8_t *buf = malloc(TRANSPORT_MAX_MSG + 1);
	uint64_t sent = now_ms();
	for (;;) {
		pthread_mutex_lock(&l->mu);
		int stop = l->stop || l->peer != FT_PEER_UP;
		pthread_mutex_unlock(&l->mu);
		if (stop || !buf)
			break;
		if (primary && send_queued(l, &sent))
			break;
		uint64_t mark = __atomic_load_n(&l->mark, __ATOMIC_ACQUIRE);
		if (primary && mark != l->mark_said) {
			if (send_small(l, MSG_MARK, mark, 1)) {
				pthread_mutex_lock(&l->mu);
				peer_ended(l, FT_PEER_DEAD, l->t->error[0] ? l->t->error : "the backup is gone");
				pthread_mutex_unlock(&l->mu);
				break;
			}
			l->mark_said = mark;
			sent = now_ms();
		}
		if (!primary) {
			pthread_mutex_lock(&l->mu);
			int gone = send_acks(l);
			pthread_mutex_unlock(&l->mu);
			if (gone)
				break;
		}
		if (now_ms() - sent >= (uint64_t)l->beat_ms) {
			if (send_small(l, MSG_BEAT, 0, 0)) {
				pthread_mutex_lock(&l->mu);
				peer_ended(l, FT_PEER_DEAD, l->t->error[0] ? l->t->error : "the peer is gone");
				pthread_mutex_unlock(&l->mu);
				break;
			}
			sent = now_ms();
		}
		int wait = primary ? PRIMARY_POLL_MS : l->beat_ms;
		uint64_t before = now_ms();
		ssize_t n = transport_recv(l->t, buf, TRANSPORT_MAX_MSG + 1, wait);
		/* A primary that was not running for longer than the timeout (frozen, starved)
		 * may have been declared dead and its backup gone live: what it reads now (beats
		 * and ACKs queued while it stood) proves nothing, so it stops here. */
		if (primary && now_ms() - before > (uint64_t)l->dead_ms + (uint64_t)wait) {
			char why[160];
			snprintf(why, sizeof(why), "this side stood still for %llu ms, longer than the %d ms "
				 "that make it dead to the backup", (unsigned long long)(now_ms() - before), l->dead_ms);
			pthread_mutex_lock(&l->mu);
			peer_ended(l, FT_PEER_DEAD, why);
			pthread_mutex_unlock(&l->mu);
			break;
		}
		if (n >= 0) {
			__atomic_store_n(&l->heard_ms, now_ms(), __ATOMIC_RELAXED);
			if (handle(l, buf, n, primary))
				break;
			continue;
		}
		if (n == -ETIMEDOUT) {
			if (now_ms() - __atomic_load_n(&l->heard_ms, __ATOMIC_RELAXED) <= (uint64_t)l->dead_ms)
				continue;
			char why[120];
			snprintf(why, sizeof(why), "no word from the %s for %d ms", primary ? "backup" : "primary",
				 l->dead_ms);
			pthread_mutex_lock(&l->mu);
			peer_ended(l, FT_PEER_DEAD, why);
			pthread_mutex_unlock(&l->mu);
			break;
		}
		pthread_mutex_lock(&l->mu);
		/* the backup leaves once it holds the whole trace: that is the end, not a death */
		if (primary && l->closing == 2 && l->acked == l->queued)
			peer_ended(l, FT_PEER_DONE, "the backup holds the whole trace and left");
		else
			peer_ended(l, FT_PEER_DEAD, l->t->error[0] ? l->t->error : strerror((int)-n));
		pthread_mutex_unlock(&l->mu);
		break;
	}
	free(buf);
	return NULL;
}

static void *run_primary(void *l)
{
	return run(l, 1);
}

static void *run_backup(void *l)
{
	return run(l, 0);
}

static int start(struct ft_link *l, struct transport *t, int beat_ms, int dead_ms, void *(*fn)(void *))
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->t = t;
	l->beat_ms = beat_ms > 0 ? beat_ms : FT_BEAT_MS_DEFAULT;
	l->dead_ms = dead_ms > 0 ? dead_ms : FT_DEAD_MS_DEFAULT;
	l->heard_ms = now_ms();
	t->send_timeout_ms = l->dead_ms;	/* blocked on a peer that reads nothing: as silent */
	l->peer = FT_PEER_UP;
	int r = pthread_create(&l->thread, NULL, fn, l);
	return r ? -r : 0;
}

int ft_primary_start(struct ft_link *l, struct transport *t, int beat_ms, int dead_ms)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	/* a queued piece goes at once, not at the next poll of the link's thread */
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return start(l, t, beat_ms, dead_ms, run_primary);
}

int ft_backup_start(struct ft_link *l, struct transport *t, int fd, int beat_ms, int dead_ms)
{
	int (*on_state)(void *, const uint8_t *, size_t) = l->on_state;
	void *state_ctx = l->state_ctx;
	uint64_t fd_max = l->fd_max;
	memset(l, 0, sizeof(*l));
	l->on_state = on_state;
	l->state_ctx = state_ctx;
	l->fd_max = fd_max ? fd_max : FT_TRACE_MAX_DEFAULT;
	l->fd = fd;
	return start(l, t, beat_ms, dead_ms, run_backup);
}

/* The link's thread, waiting for a word from the backup, has something to send. */
static void wake(struct ft_link *l)
{
	if (l->t->wake_fd < 0)
		return;
	ssize_t w = write(l->t->wake_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
	(void)w;	/* the counter full: a wake-up is pending anyway */
}

static int queue(struct ft_link *l, uint8_t type, const void *data, size_t len)
{
	if (len > TRANSPORT_MAX_MSG - 1)
		return -EMSGSIZE;
	struct ft_piece *p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->piece = type == MSG_PIECE || type == MSG_PIECE_SYNC;
	p->len = len + 1;
	p->msg[0] = type;
	memcpy(p->msg + 1, data, len);
	pthread_mutex_lock(&l->mu);
	while (l->peer == FT_PEER_UP && l->queued_bytes > QUEUE_MAX_BYTES)
		pthread_cond_wait(&l->cv, &l->mu);
	int r = l->peer == FT_PEER_UP ? 0 : -EPIPE;
	if (!r) {
		if (l->tail)
			l->tail->next = p;
		else
			l->head = p;
		l->tail = p;
		l->queued += (uint64_t)p->piece;
		l->queued_bytes += p->len;
	}
	pthread_mutex_unlock(&l->mu);
	if (r)
		free(p);
	else
		wake(l);
	return r;
}

int ft_primary_sink(void *link, const void *data, size_t len)
{
	struct ft_link *l = link;
	int sync = __atomic_exchange_n(&l->sync_next, 0, __ATOMIC_ACQ_REL);
	return queue(link, sync ? MSG_PIECE_SYNC : MSG_PIECE, data, len);
}

int ft_primary_state(struct ft_link *l, const void *data, size_t len)
{
	return queue(l, MSG_STATE, data, len);
}

void ft_backup_open_acks(struct ft_link *l)
{
	pthread_mutex_lock(&l->mu);
	l->acks_gated = 0;
	pthread_mutex_unlock(&l->mu);
}

static struct timespec deadline(int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	return until;
}

int ft_primary_wait_acked(struct ft_link *l, uint64_t n, int timeout_ms)
{
	struct timespec until = deadline(timeout_ms < 0 ? 0 : timeout_ms);
	int r = 0;
	pthread_mutex_lock(&l->mu);
	while (!r && l->acked < n && l->peer == FT_PEER_UP)
		r = timeout_ms < 0 ? pthread_cond_wait(&l->cv, &l->mu) : pthread_cond_timedwait(&l->cv, &l->mu, &until);
	int ok = l->acked >= n;
	pthread_mutex_unlock(&l->mu);
	return ok ? 0 : r == ETIMEDOUT ? -ETIMEDOUT : -EPIPE;
}

uint64_t ft_primary_queued(struct ft_link *l)
{
	pthread_mutex_lock(&l->mu);
	uint64_t v = l->queued;
	pthread_mutex_unlock(&l->mu);
	return v;
}

int ft_primary_finish(struct ft_link *l, int timeout_ms)
{
	struct timespec until = deadline(timeout_ms);
	pthread_mutex_lock(&l->mu);
	if (!l->closing)
		l->closing = 1;
	int r = 0;
	while (!r && l->peer == FT_PEER_UP && !(l->closing == 2 && l->acked == l->queued))
		r = pthread_cond_timedwait(&l->cv, &l->mu, &until);
	int ok = l->closing == 2 && l->acked == l->queued;
	pthread_mutex_unlock(&l->mu);
	return ok ? 0 : r == ETIMEDOUT ? -ETIMEDOUT : -EPIPE;
}

uint64_t ft_primary_acked(struct ft_link *l)
{
	pthread_mutex_lock(&l->mu);
	uint64_t v = l->acked;
	pthread_mutex_unlock(&l->mu);
	return v;
}

int ft_backup_more(void *link)
{
	struct ft_link *l = link;
	pthread_mutex_lock(&l->mu);
	while (l->held == l->seen && l->peer == FT_PEER_UP)
		pthread_cond_wait(&l->cv, &l->mu);
	int ended = l->held == l->seen;
	l->seen = l->held;
	pthread_mutex_unlock(&l->mu);
	return ended;
}

int ft_backup_wait_bye(struct ft_link *l, int timeout_ms)
{
	struct timespec until = deadline(timeout_ms);
	int r = 0;
	pthread_mutex_lock(&l->mu);
	while (!r && l->peer == FT_PEER_UP)
		r = pthread_cond_timedwait(&l->cv, &l->mu, &until);
	int done = l->peer == FT_PEER_DONE;
	pthread_mutex_unlock(&l->mu);
	return done ? 0 : -ETIMEDOUT;
}

int ft_link_fresh(struct ft_link *l)
{
	pthread_mutex_lock(&l->mu);
	enum ft_peer_state peer = l->peer;
	pthread_mutex_unlock(&l->mu);
	if (peer == FT_PEER_DONE)	/* it held the whole trace and left in good order */
		return 1;
	return peer == FT_PEER_UP && now_ms() - __atomic_load_n(&l->heard_ms, __ATOMIC_RELAXED) <= (uint64_t)l->dead_ms;
}

void ft_link_destroy(struct ft_link *l)
{
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	while (l->head) {
		struct ft_piece *p = l->head;
		l->head = p->next;
		free(p);
	}
	if (l->t && l->t->wake_fd >= 0)
		close(l->t->wake_fd);
	transport_destroy(l->t);
	l->t = NULL;
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
}
