#include "vmm/hostio.h"

#include <errno.h>
#include <string.h>

void hostio_init(struct hostio *h, const struct hostio_ops *ops, void *priv)
{
	memset(h, 0, sizeof(*h));
	h->ops = ops;
	h->priv = priv;
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		h->armed[t] = HOSTIO_TIMER_OFF;
}

int hostio_subscribe(struct hostio *h, enum hostio_event_kind kind, unsigned source,
		     hostio_event_fn fn, void *opaque)
{
	if ((unsigned)kind >= HOSTIO_EV_KINDS || source >= HOSTIO_MAX_SOURCES || !fn)
		return -EINVAL;
	if (h->subs[kind][source].fn)
		return -EBUSY;
	h->subs[kind][source].fn = fn;
	h->subs[kind][source].opaque = opaque;
	return 0;
}

void hostio_unsubscribe_all(struct hostio *h)
{
	memset(h->subs, 0, sizeof(h->subs));
}

int hostio_deliver(struct hostio *h, const struct hostio_event *ev)
{
	if (ev->kind >= HOSTIO_EV_KINDS || ev->source >= HOSTIO_MAX_SOURCES ||
	    !h->subs[ev->kind][ev->source].fn) {
		h->undelivered++;
		return -ENOENT;
	}
	if (ev->kind == HOSTIO_EV_TIMER && ev->time_ns > h->seen_ns)
		h->seen_ns = ev->time_ns;
	h->subs[ev->kind][ev->source].fn(h->subs[ev->kind][ev->source].opaque, ev);
	return 0;
}
