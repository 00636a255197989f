/*
 * The host-input seam. Every nondeterministic input a device takes from the host --
 * time, console bytes, network frames, disk data and completions -- goes through this
 * table. Run, record and replay are three implementations; devices never know which one
 * is installed and never call time(), read() or random themselves.
 *
 * Two directions:
 *  - synchronous calls (ops): clock reads, disk I/O, output. Called on the vCPU thread
 *    from inside a device handler.
 *  - asynchronous events (timer expiry, console input, received frames): produced by
 *    the host side, queued, and handed to the subscribed device with hostio_deliver()
 *    only at a delivery point on the vCPU thread.
 */
#ifndef DETVM_VMM_HOSTIO_H
#define DETVM_VMM_HOSTIO_H

#include <stddef.h>
#include <stdint.h>

enum hostio_event_kind {
	HOSTIO_EV_TIMER = 0,	/* source: timer id; time_ns: the clock when it fired */
	HOSTIO_EV_CONSOLE_IN,	/* source: console index; data: bytes typed */
	HOSTIO_EV_NET_RX,	/* source: nic index; data: one Ethernet frame */
	HOSTIO_EV_DISK_DONE,	/* source: disk index; data: backend-defined completion */
	HOSTIO_EV_KINDS
};

/* Timer ids (the source of HOSTIO_EV_TIMER). */
enum hostio_timer {
	HOSTIO_TIMER_PIT = 0,
	HOSTIO_TIMER_RTC,
	HOSTIO_TIMERS
};

#define HOSTIO_MAX_SOURCES 8
#define HOSTIO_TIMER_OFF UINT64_MAX

struct hostio_event {
	uint32_t kind;
	uint32_t source;
	uint64_t time_ns;	/* guest clock (ns since VM start) when the host produced it */
	uint32_t len;
	const uint8_t *data;
};

struct hostio;

struct hostio_ops {
	const char *name;	/* "run", "record", "replay", "test" */
	/* Monotonic guest clock in ns since the VM started (PIT counters, RTC ticking). */
	uint64_t (*clock_ns)(struct hostio *h);
	/* Wall-clock time in ns since the UNIX epoch (the RTC's calendar). */
	int64_t (*wallclock_ns)(struct hostio *h);
	/* Ask for one HOSTIO_EV_TIMER from `timer` once clock_ns() >= deadline_ns;
	 * re-arming replaces the deadline; HOSTIO_TIMER_OFF disarms. */
	void (*timer_arm)(struct hostio *h, unsigned timer, uint64_t deadline_ns);
	/* Guest output; not an input, so never recorded as one. */
	void (*console_out)(struct hostio *h, unsigned console, const uint8_t *buf, size_t len);
	/* Block devices: 0 or -errno; a short read or write is an error. */
	int (*disk_read)(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len);
	int (*disk_write)(struct hostio *h, unsigned disk, uint64_t off, const void *buf, size_t len);
	int (*disk_flush)(struct hostio *h, unsigned disk);
	/* Network transmit: 0 or -errno (a dropped frame is not an error to the guest). */
	int (*net_send)(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len);

	/* Run-loop side, never called by devices (tests may leave them NULL). */
	/* At a delivery point (guest-caused exit number `position`): hand every event that
	 * is due to its device. Returns how many were delivered, or -errno. */
	int (*deliver_due)(struct hostio *h, uint64_t position);
	/* The guest halted with interrupts enabled: block until an event is due.
	 * 0 when something is due, -EINTR on a signal, -ENOENT if nothing can ever come. */
	int (*idle_wait)(struct hostio *h, uint64_t position);
	/* Whether deliver_due() would hand anything over now. Live hosts only (the `step`
	 * fallback asks before it makes a delivery point); NULL elsewhere. */
	int (*due)(struct hostio *h);
};

typedef void (*hostio_event_fn)(void *opaque, const struct hostio_event *ev);

struct hostio_subscriber {
	hostio_event_fn fn;
	void *opaque;
};

struct hostio {
	const struct hostio_ops *ops;
	void *priv;		/* the implementation's state */
	struct hostio_subscriber subs[HOSTIO_EV_KINDS][HOSTIO_MAX_SOURCES];
	uint64_t undelivered;	/* events nobody subscribed to */
	/* What the devices last asked of each timer, so a snapshot can re-arm them. */
	uint64_t armed[HOSTIO_TIMERS];
	/* The guest clock as the devices last saw it (a clock read, a timer's expiry): replay
	 * sees the same, so what is computed from it (the virtual TSC) needs no event. */
	uint64_t seen_ns;
};

void hostio_init(struct hostio *h, const struct hostio_ops *ops, void *priv);
/* A device asks for the events of one kind and source; -EINVAL, -EBUSY if taken. */
int hostio_subscribe(struct hostio *h, enum hostio_event_kind kind, unsigned source,
		     hostio_event_fn fn, void *opaque);
/* Drops every subscription (a wrapper is put between the host and its subscribers). */
void hostio_unsubscribe_all(struct hostio *h);
/* Hand one event to its subscriber; vCPU thread, delivery points only. -ENOENT if none. */
int hostio_deliver(struct hostio *h, const struct hostio_event *ev);

static inline uint64_t hostio_clock_ns(struct hostio *h)
{
	uint64_t v = h->ops->clock_ns(h);
	if (v > h->seen_ns)
		h->seen_ns = v;
	return v;
}

static inline int64_t hostio_wallclock_ns(struct hostio *h)
{
	return h->ops->wallclock_ns(h);
}

static inline void hostio_timer_arm(struct hostio *h, unsigned timer, uint64_t deadline_ns)
{
	if (timer < HOSTIO_TIMERS)
		h->armed[timer] = deadline_ns;
	h->ops->timer_arm(h, timer, deadline_ns);
}

static inline void hostio_console_out(struct hostio *h, unsigned con, const uint8_t *buf, size_t len)
{
	h->ops->console_out(h, con, buf, len);
}

static inline int hostio_disk_read(struct hostio *h, unsigned disk, uint64_t off, void *buf, size_t len)
{
	return h->ops->disk_read(h, disk, off, buf, len);
}

static inline int hostio_disk_write(struct hostio *h, unsigned disk, uint64_t off, const void *buf,
				    size_t len)
{
	return h->ops->disk_write(h, disk, off, buf, len);
}

static inline int hostio_disk_flush(struct hostio *h, unsigned disk)
{
	return h->ops->disk_flush(h, disk);
}

static inline int hostio_net_send(struct hostio *h, unsigned nic, const uint8_t *frame, size_t len)
{
	return h->ops->net_send(h, nic, frame, len);
}

#endif
