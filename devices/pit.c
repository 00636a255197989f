/*
 * 8254 PIT. A channel keeps no running counter: it remembers when it started counting
 * and derives count and OUT from the clock, so reads cost one clock read and nothing
 * ticks while the guest is not looking. Channel 0 asks hostio for a timer at the exact
 * nanosecond its next interrupt is due (start + n periods, integer math), and when the
 * guest fell behind it raises one interrupt and skips to the next period in the future.
 */
#include "devices/pit.h"

#include <string.h>

#include "vmm/log.h"

#define NS_PER_S 1000000000ull
#define NO_TICK UINT64_MAX
#define REFRESH_NS 15085ull	/* DRAM refresh: channel 1 at 18 ticks */

struct clock_cache {
	struct hostio *io;
	int valid;
	uint64_t ns;
};

static uint64_t now_ns(struct clock_cache *cc)
{
	if (!cc->valid) {
		cc->ns = hostio_clock_ns(cc->io);
		cc->valid = 1;
	}
	return cc->ns;
}

/* floor(ns * F / 1e9) without overflow: split ns into whole seconds and the rest. */
static uint64_t ns_to_ticks(uint64_t ns)
{
	return (ns / NS_PER_S) * PIT_FREQ_HZ + (ns % NS_PER_S) * PIT_FREQ_HZ / NS_PER_S;
}

/* ceil(ticks * 1e9 / F): the first nanosecond at which ticks have elapsed. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
	uint64_t rem = ticks % PIT_FREQ_HZ;
	return (ticks / PIT_FREQ_HZ) * NS_PER_S + (rem * NS_PER_S + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ;
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
	if (!c->running)
		return c->base_ticks;
	return c->base_ticks + (now > c->start_ns ? ns_to_ticks(now - c->start_ns) : 0);
}

static uint32_t modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 65536;
}

static uint16_t channel_count(const struct pit_channel *c, uint64_t now)
{
	uint64_t e = elapsed(c, now), n = c->reload, count;
	if (!c->loaded)
		return 0;
	switch (c->mode) {
	case 2:
		count = n - e % n;
		break;
	case 3: {
		/* decrements by two, reloading at the start of each half period */
		uint64_t d = e % n, half = (n + 1) / 2;
		uint64_t x = d < half ? d : d - half;
		count = n > 2 * x ? (n - 2 * x) & ~1ull : 0;
		break;
	}
	default:	/* one-shot modes wrap past zero and keep counting */
		count = (n + modulus(c) - e % modulus(c)) % modulus(c);
		break;
	}
	count %= modulus(c);
	if (!c->bcd)
		return (uint16_t)count;
	return (uint16_t)((count / 1000) << 12 | (count / 100 % 10) << 8 | (count / 10 % 10) << 4 |
			  count % 10);
}

static int channel_out(const struct pit_channel *c, uint64_t now)
{
	uint64_t e = elapsed(c, now), n = c->reload;
	if (!c->loaded)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
		return e >= n;
	case 1:
		return !c->running || e >= n;
	case 2:
		return !c->gate || n < 2 || e % n != n - 1;
	case 3:
		return !c->gate || e % n < (n + 1) / 2;
	case 4:
		return e != n;
	default:
		return !c->running || e != n;
	}
}

/* Channel 0: ask for a timer at the next interrupt, or cancel it. */
static void pit_schedule(struct pit *t, uint64_t now)
{
	struct pit_channel *c = &t->ch[0];
	uint64_t e = elapsed(c, now), next = NO_TICK;

	if (c->loaded && c->running) {
		switch (c->mode) {
		case 0:
			next = e < c->reload ? c->reload : NO_TICK;
			break;
		case 2:
		case 3:
			next = (e / c->reload + 1) * c->reload;
			break;
		case 4:
			/* OUT goes back high (the edge the PIC sees) one tick after zero */
			next = e < c->reload + 1 ? c->reload + 1 : NO_TICK;
			break;
		default:	/* modes 1 and 5 need a gate edge; channel 0's gate is tied high */
			break;
		}
	}
	c->next_irq_tick = next;
	if (next == NO_TICK)
		hostio_timer_arm(t->io, HOSTIO_TIMER_PIT, HOSTIO_TIMER_OFF);
	else
		hostio_timer_arm(t->io, HOSTIO_TIMER_PIT, c->start_ns + ticks_to_ns(next - c->base_ticks));
}

static void pit_timer(void *opaque, const struct hostio_event *ev)
{
	struct pit *t = opaque;
	struct pit_channel *c = &t->ch[0];
	uint64_t now = ev->time_ns;

	if (c->next_irq_tick == NO_TICK || !c->running)
		return;		/* stale: the channel was reprogrammed */
	uint64_t e = elapsed(c, now);
	if (e < c->next_irq_tick) {
		hostio_timer_arm(t->io, HOSTIO_TIMER_PIT,
				 c->start_ns + ticks_to_ns(c->next_irq_tick - c->base_ticks));
		return;
	}
	if (c->mode == 2 || c->mode == 3)
		t->lost_ticks += (e - c->next_irq_tick) / c->reload;
	t->irqs++;
	irq_pulse(&t->irq, t->irq_line);
	pit_schedule(t, now);
}

static void set_gate(struct pit *t, unsigned ch, int gate, uint64_t now)
{
	struct pit_channel *c = &t->ch[ch];
	gate = !!gate;
	if (gate == c->gate)
		return;
	c->gate = (uint8_t)gate;
	if (!c->loaded)
		return;
	switch (c->mode) {
	case 0:
	case 4:		/* gate low pauses the count */
		if (!gate) {
			c->base_ticks = elapsed(c, now);
			c->running = 0;
		} else {
			c->start_ns = now;
			c->running = 1;
		}
		break;
	default:	/* 1, 2, 3, 5: a rising gate (re)starts from the reload value */
		if (gate) {
			c->base_ticks = 0;
			c->start_ns = now;
			c->running = 1;
		} else if (c->mode == 2 || c->mode == 3) {
			c->base_ticks = elapsed(c, now);
			c->running = 0;
		}
		break;
	}
	if (ch == 0)
		pit_schedule(t, now);
}

static void load_count(struct pit *t, unsigned ch, uint16_t value, struct clock_cache *cc)
{
	struct pit_channel *c = &t->ch[ch];
	uint32_t n = value;

	if (c->bcd) {
		unsigned d[4] = { value >> 12, (value >> 8) & 15, (value >> 4) & 15, value & 15 };
		if (d[0] > 9 || d[1] > 9 || d[2] > 9 || d[3] > 9)
			log_guest_error(&t->guest_errors, "pit: bad BCD count %#x", value);
		n = ((d[0] * 10 + d[1]) * 10 + d[2]) * 10 + d[3];
		if (n > 9999)
			n = 9999;
	}
	c->reload = n ? n : modulus(c);
	c->loaded = 1;
	c->null_count = 0;
	c->base_ticks = 0;
	c->start_ns = now_ns(cc);
	/* modes 1 and 5 wait for a gate edge; the others count while the gate is high */
	c->running = (c->mode == 1 || c->mode == 5) ? 0 : c->gate;
	if (ch == 0)
		pit_schedule(t, c->start_ns);
}

static void latch_count(struct pit_channel *c, struct clock_cache *cc)
{
	if (c->latched)
		return;		/* a second latch before the first is read is ignored */
	c->latch_value = channel_count(c, now_ns(cc));
	c->latched = 1;
	c->latch_hi_only = 0;
}

static void latch_status(struct pit_channel *c, struct clock_cache *cc)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(channel_out(c, now_ns(cc)) << 7 | c->null_count << 6 | c->rw << 4 |
			      c->mode << 1 | c->bcd);
	c->status_latched = 1;
}

static void control_write(struct pit *t, uint8_t val, struct clock_cache *cc)
{
	unsigned sel = val >> 6;

	if (sel == 3) {		/* read-back */
		for (unsigned i = 0; i < 3; i++) {
			if (!(val & (2u << i)))
				continue;
			if (!(val & 0x10))
				latch_status(&t->ch[i], cc);
			if (!(val & 0x20))
				latch_count(&t->ch[i], cc);
		}
		return;
	}
	struct pit_channel *c = &t->ch[sel];
	unsigned rw = (val >> 4) & 3;
	if (rw == 0) {
		latch_count(c, cc);
		return;
	}
	unsigned mode = (val >> 1) & 7;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode);
	c->rw = (uint8_t)rw;
	c->bcd = val & 1;
	c->loaded = 0;
	c->running = 0;
	c->null_count = 1;
	c->write_hi = 0;
	c->read_hi = 0;
	c->latched = 0;
	c->status_latched = 0;
	c->base_ticks = 0;
	if (sel == 0) {
		c->next_irq_tick = NO_TICK;
		hostio_timer_arm(t->io, HOSTIO_TIMER_PIT, HOSTIO_TIMER_OFF);
	}
}

static void data_write(struct pit *t, unsigned ch, uint8_t val, struct clock_cache *cc)
{
	struct pit_channel *c = &t->ch[ch];
	switch (c->rw) {
	case 1:
		load_count(t, ch, val, cc);
		break;
	case 2:
		load_count(t, ch, (uint16_t)(val << 8), cc);
		break;
	case 3:
		if (!c->write_hi) {
			c->write_lo = val;
			c->write_hi = 1;
			if (c->mode == 0) {
				/* the first byte stops a mode 0 count and drops OUT */
				c->loaded = 0;
				c->running = 0;
				if (ch == 0)
					pit_schedule(t, 0);
			}
		} else {
			c->write_hi = 0;
			load_count(t, ch, (uint16_t)(c->write_lo | val << 8), cc);
		}
		break;
	default:
		log_guest_error(&t->guest_errors, "pit: channel %u written before its control word", ch);
		break;
	}
}

static uint8_t data_read(struct pit *t, unsigned ch, struct clock_cache *cc)
{
	struct pit_channel *c = &t->ch[ch];

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->latched) {
		uint16_t v = c->latch_value;
		if (c->rw == 3 && !c->latch_hi_only) {
			c->latch_hi_only = 1;
			return v & 0xff;
		}
		c->latched = 0;
		c->latch_hi_only = 0;
		return c->rw == 1 ? v & 0xff : v >> 8;
	}
	switch (c->rw) {
	case 1:
		return channel_count(c, now_ns(cc)) & 0xff;
	case 2:
		return channel_count(c, now_ns(cc)) >> 8;
	case 3:
		if (c->read_hi) {
			c->read_hi = 0;
			return (uint8_t)c->live_hi;
		} else {
			/* one clock read for both bytes: the high byte is taken now too */
			uint16_t v = channel_count(c, now_ns(cc));
			c->live_hi = v >> 8;
			c->read_hi = 1;
			return v & 0xff;
		}
	default:
		log_guest_error(&t->guest_errors, "pit: channel %u read before its control word", ch);
		return 0;
	}
}

static void pit_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct pit *t = opaque;
	struct clock_cache cc = { t->io, 0, 0 };
	for (unsigned i = 0; i < size; i++) {
		unsigned port = (unsigned)((offset + i) & 3);
		if (port == 3) {
			/* the control register is write-only */
			log_guest_error(&t->guest_errors, "pit: read of the control port");
			data[i] = 0xff;
		} else {
			data[i] = data_read(t, port, &cc);
		}
	}
}

static void pit_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct pit *t = opaque;
	struct clock_cache cc = { t->io, 0, 0 };
	for (unsigned i = 0; i < size; i++) {
		unsigned port = (unsigned)((offset + i) & 3);
		if (port == 3)
			control_write(t, data[i], &cc);
		else
			data_write(t, port, data[i], &cc);
	}
}

static void port61_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct pit *t = opaque;
	uint64_t now = hostio_clock_ns(t->io);
	uint8_t v = t->port61 & 0x0f;
	v |= (uint8_t)(((now / REFRESH_NS) & 1) << 4);
	v |= (uint8_t)(channel_out(&t->ch[2], now) << 5);
	for (unsigned i = 0; i < size; i++)
		data[i] = v;
}

static void port61_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct pit *t = opaque;
	uint8_t v = data[size - 1] & 0x0f;
	uint8_t old = t->port61;
	t->port61 = v;
	if ((old ^ v) & 1)
		set_gate(t, 2, v & 1, hostio_clock_ns(t->io));
}

static const struct io_handler pit_ops = { pit_read, pit_write };
static const struct io_handler port61_ops = { port61_read, port61_write };

void pit_init(struct pit *t, struct hostio *io, const struct irq_sink *irq, unsigned irq_line)
{
	memset(t, 0, sizeof(*t));
	t->io = io;
	if (irq)
		t->irq = *irq;
	t->irq_line = irq_line;
	for (unsigned i = 0; i < 3; i++) {
		t->ch[i].rw = 3;
		t->ch[i].mode = 3;
		t->ch[i].reload = 65536;
		t->ch[i].gate = i != 2;	/* channel 2's gate is port 0x61 bit 0 */
		t->ch[i].next_irq_tick = NO_TICK;
	}
}

int pit_attach(struct pit *t, struct bus *pio)
{
	int r = bus_register(pio, 0x40, 4, &pit_ops, t, "pit");
	if (r)
		return r;
	r = bus_register(pio, 0x61, 1, &port61_ops, t, "port61");
	if (r)
		goto err_pit;
	/* last: hostio has no way to take a subscription back */
	r = hostio_subscribe(t->io, HOSTIO_EV_TIMER, HOSTIO_TIMER_PIT, pit_timer, t);
	if (r)
		goto err_port61;
	return 0;

err_port61:
	bus_unregister(pio, 0x61);
err_pit:
	bus_unregister(pio, 0x40);
	return r;
}

void pit_save(const struct pit *t, struct state_out *o)
{
	state_put(o, t->ch, sizeof(t->ch));
	state_put(o, &t->port61, sizeof(t->port61));
	state_put_u64(o, t->irqs);
	state_put_u64(o, t->lost_ticks);
	state_put_u64(o, t->guest_errors);
}

void pit_load(struct pit *t, struct state_in *in)
{
	struct pit_channel ch[3];
	uint8_t port61;
	state_get(in, ch, sizeof(ch));
	state_get(in, &port61, sizeof(port61));
	uint64_t irqs = state_get_u64(in), lost = state_get_u64(in), errors = state_get_u64(in);
	for (unsigned i = 0; i < 3; i++)
		state_check(in, ch[i].mode <= 5 && ch[i].rw <= 3 && ch[i].reload <= 65536, "the PIT's channels");
	if (in->err)
		return;
	memcpy(t->ch, ch, sizeof(ch));
	t->port61 = port61;
	t->irqs = irqs;
	t->lost_ticks = lost;
	t->guest_errors = errors;
}
