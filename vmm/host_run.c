#include "vmm/host_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/backend.h"
#include "vmm/file_io.h"
#include "vmm/log.h"

static struct host_run *self(struct hostio *h)
{
	return h->priv;
}

static uint64_t clock_ns_of(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static uint64_t r_clock_ns(struct hostio *io)
{
	return clock_ns_of(CLOCK_MONOTONIC) - self(io)->start_mono_ns;
}

static int64_t r_wallclock_ns(struct hostio *io)
{
	return self(io)->start_wall_ns + (int64_t)r_clock_ns(io);
}

void host_run_set_clock(struct host_run *h, uint64_t guest_ns)
{
	h->start_mono_ns = clock_ns_of(CLOCK_MONOTONIC) - guest_ns;
	h->start_wall_ns = (int64_t)clock_ns_of(CLOCK_REALTIME) - (int64_t)guest_ns;
}

static void r_timer_arm(struct hostio *io, unsigned timer, uint64_t deadline_ns)
{
	if (timer < HOSTIO_TIMERS)
		self(io)->deadline[timer] = deadline_ns;
}

void host_run_flush(struct host_run *h)
{
	size_t done = 0;
	while (done < h->out_len) {
		ssize_t n = write(h->out_fd, h->out_buf + done, h->out_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* a closed pipe must not stop the guest; the bytes are counted lost */
			h->out_errors += h->out_len - done;
			break;
		}
		done += n;
	}
	h->out_len = 0;
}

static void r_console_out(struct hostio *io, unsigned con, const uint8_t *buf, size_t len)
{
	struct host_run *h = self(io);
	for (size_t i = 0; i < len; i++) {
		h->out_buf[h->out_len++] = buf[i];
		if (buf[i] == '\n' || h->out_len == sizeof(h->out_buf))
			host_run_flush(h);
	}
}

static int disk_io(struct host_run *h, unsigned disk, uint64_t off, void *buf, size_t len, int write)
{
	if (disk >= h->ndisks)
		return -ENODEV;
	if (off > h->disk_size[disk] || len > h->disk_size[disk] - off)
		return -EIO;
	return write ? file_pwrite_full(h->disk_fd[disk], buf, len, off)
		     : file_pread_full(h->disk_fd[disk], buf, len, off);
}

static int r_disk_read(struct hostio *io, unsigned disk, uint64_t off, void *buf, size_t len)
{
	return disk_io(self(io), disk, off, buf, len, 0);
}

static int r_disk_write(struct hostio *io, unsigned disk, uint64_t off, const void *buf, size_t len)
{
	return disk_io(self(io), disk, off, (void *)buf, len, 1);
}

static int r_disk_flush(struct hostio *io, unsigned disk)
{
	struct host_run *h = self(io);
	if (disk >= h->ndisks)
		return -ENODEV;
	return fdatasync(h->disk_fd[disk]) < 0 ? -errno : 0;
}

static int r_net_send(struct hostio *io, unsigned nic, const uint8_t *frame, size_t len)
{
	struct host_run *h = self(io);
	if (nic >= h->nnics)
		return -ENODEV;
	return net_backend_send(h->nic[nic], frame, len);
}

static int deliver_timers(struct host_run *h)
{
	int n = 0;
	uint64_t now = r_clock_ns(&h->io);
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++) {
		if (h->deadline[t] > now)
			continue;
		h->deadline[t] = HOSTIO_TIMER_OFF;	/* the device re-arms in its handler */
		struct hostio_event ev = { HOSTIO_EV_TIMER, t, now, 0, NULL };
		hostio_deliver(&h->io, &ev);
		n++;
	}
	return n;
}

static int r_deliver_due(struct hostio *io, uint64_t position)
{
	struct host_run *h = self(io);
	int n = deliver_timers(h);
	struct evq_item *it;
	while ((it = evq_pop(&h->queue))) {
		hostio_deliver(io, &it->ev);
		evq_item_free(it);
		n++;
	}
	return n;
}

/* The earliest armed timer deadline, HOSTIO_TIMER_OFF if none. */
static uint64_t next_deadline(const struct host_run *h)
{
	uint64_t next = HOSTIO_TIMER_OFF;
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		if (h->deadline[t] < next)
			next = h->deadline[t];
	return next;
}

static int r_due(struct hostio *io)
{
	struct host_run *h = self(io);
	return next_deadline(h) <= r_clock_ns(io) || evq_nonempty(&h->queue);
}

static int r_idle_wait(struct hostio *io, uint64_t position)
{
	struct host_run *h = self(io);
	host_run_flush(h);
	uint64_t next = next_deadline(h);
	if (next == HOSTIO_TIMER_OFF && h->in_fd < 0 && h->nnics == 0)
		return -ENOENT;
	for (;;) {
		uint64_t now = r_clock_ns(io);
		if (next <= now)
			return 0;
		int64_t wait = next == HOSTIO_TIMER_OFF ? -1 : (int64_t)(next - now);
		int r = evq_wait(&h->queue, wait);
		if (r != 0)
			return r > 0 ? 0 : r;
	}
}

const struct hostio_ops host_run_ops = {
	.name = "run",
	.clock_ns = r_clock_ns,
	.wallclock_ns = r_wallclock_ns,
	.timer_arm = r_timer_arm,
	.console_out = r_console_out,
	.disk_read = r_disk_read,
	.disk_write = r_disk_write,
	.disk_flush = r_disk_flush,
	.net_send = r_net_send,
	.deliver_due = r_deliver_due,
	.idle_wait = r_idle_wait,
	.due = r_due,
};

int host_run_init(struct host_run *h, int out_fd, int in_fd)
{
	memset(h, 0, sizeof(*h));
	hostio_init(&h->io, &host_run_ops, h);
	h->out_fd = out_fd;
	h->in_fd = in_fd;
	h->stop_fd = -1;
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		h->deadline[t] = HOSTIO_TIMER_OFF;
	int r = evq_init(&h->queue, 0);
	if (r)
		return r;
	h->start_mono_ns = clock_ns_of(CLOCK_MONOTONIC);
	h->start_wall_ns = (int64_t)clock_ns_of(CLOCK_REALTIME);
	return 0;
}

int host_run_add_disk(struct host_run *h, const char *path, int read_only, char *err, size_t errlen)
{
	if (h->ndisks == HOST_MAX_DISKS) {
		snprintf(err, errlen, "too many disks (at most %d)", HOST_MAX_DISKS);
		return -E2BIG;
	}
	int fd = file_open_regular(path, read_only ? O_RDONLY : O_RDWR);
	struct stat st;
	if (fd < 0 && fd != FILE_ERR_NOT_REGULAR) {
		snprintf(err, errlen, "cannot open disk '%s': %s", path, strerror(-fd));
		return fd;
	}
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 512) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "disk '%s' must be a regular file of at least 512 bytes", path);
		return -EINVAL;
	}
	h->disk_fd[h->ndisks] = fd;
	/* the guest sees whole sectors; a ragged tail is not addressable */
	h->disk_size[h->ndisks] = (uint64_t)st.st_size & ~511ULL;
	return (int)h->ndisks++;
}

/* Backend reader thread: a received frame becomes an event for the vCPU thread. */
static void on_frame(void *opaque, const uint8_t *frame, size_t len)
{
	struct host_nic *n = opaque;
	struct host_run *h = n->host;
	if (evq_post(&h->queue, HOSTIO_EV_NET_RX, n->index, r_clock_ns(&h->io), frame, (uint32_t)len))
		__atomic_add_fetch(&h->net_rx_dropped, 1, __ATOMIC_RELAXED);
}

int host_run_add_nic(struct host_run *h, const char *spec, char *err, size_t errlen)
{
	if (h->nnics == HOST_MAX_NICS) {
		snprintf(err, errlen, "too many network devices (at most %d)", HOST_MAX_NICS);
		return -E2BIG;
	}
	struct host_nic *n = &h->nic_ctx[h->nnics];
	n->host = h;
	n->index = h->nnics;
	int r = net_backend_open(&h->nic[h->nnics], spec, on_frame, n, err, errlen);
	if (r)
		return r;
	return (int)h->nnics++;
}

static void *input_thread(void *arg)
{
	struct host_run *h = arg;
	struct pollfd p[2] = { { .fd = h->in_fd, .events = POLLIN }, { .fd = h->stop_fd, .events = POLLIN } };
	uint8_t buf[256];
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		ssize_t n = read(h->in_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;	/* EOF: the guest simply gets no more input */
		/* the time is what the guest clock read when the bytes arrived; while the
		 * guest has not taken what came before, the bytes wait here and the rest in
		 * the pipe or terminal, whose writer is held back: typed input is never lost */
		if (evq_post_wait(&h->queue, HOSTIO_EV_CONSOLE_IN, 0, r_clock_ns(&h->io), buf,
				  (uint32_t)n, h->stop_fd) == -ECANCELED)
			break;
	}
	return NULL;
}

int host_run_start(struct host_run *h)
{
	if (h->in_fd < 0)
		return 0;
	h->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (h->stop_fd < 0)
		return -errno;
	int r = pthread_create(&h->in_thread, NULL, input_thread, h);
	if (r)
		return -r;
	h->in_thread_running = 1;
	return 0;
}

void host_run_destroy(struct host_run *h)
{
	host_run_flush(h);
	if (h->in_thread_running) {
		uint64_t one = 1;
		if (write(h->stop_fd, &one, sizeof(one)) < 0)
			log_warn("cannot stop the console reader: %s", strerror(errno));
		pthread_join(h->in_thread, NULL);
		h->in_thread_running = 0;
	}
	if (h->stop_fd >= 0)
		close(h->stop_fd);
	for (unsigned i = 0; i < h->nnics; i++)
		net_backend_close(h->nic[i]);
	for (unsigned i = 0; i < h->ndisks; i++)
		close(h->disk_fd[i]);
	evq_destroy(&h->queue);
	h->nnics = h->ndisks = 0;
}
