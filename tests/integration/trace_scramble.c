/*
 * trace_scramble: copy a detvm trace with one event made nonsense -- a well-formed trace
 * (CRCs right, protobuf valid) that lies in ways a bug or a hostile file could. Replay
 * must answer each with an exit status and one line, never a crash or a hang.
 *
 * usage: trace_scramble IN OUT SEED
 *
 * SEED picks the event and what happens to it: dropped, written twice, its position and
 * every later one moved on, or one field of its payload set to an extreme or random value
 * (vectors, ports, sizes, ids, times, lengths of data and digests, landmark targets); or
 * instead one field of the header's VM description (memory size, command line, CPUID
 * entries, disks and their snapshot names, NICs, delivery policy).
 * Prints one line saying what changed on stdout. Exit status: 0 done, 1 I/O or trace
 * error, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs/trace.h"
#include "trace_copy.h"

static uint64_t rng;

static uint64_t next(void)
{
	/* splitmix64: a fixed sequence per seed, so a failing seed can be replayed */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? next() % n : 0;
}

/* A value near where bugs live: 0, 1, the type's edges, or anything. */
static uint64_t extreme(uint64_t was)
{
	static const uint64_t edges[] = { 0, 1, 2, 255, 256, 65535, UINT32_MAX, (uint64_t)INT32_MAX + 1,
					  INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX };
	switch (below(4)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return was + 1 + below(3);
	case 2:
		return was - 1 - below(3);
	default:
		return next();
	}
}

static uint8_t junk[70000];

/* Random bytes, of a length that is sometimes empty, short, off by one, or huge. */
static ProtobufCBinaryData bytes(size_t was)
{
	static const size_t lens[] = { 0, 1, 7, 15, 16, 17, 31, 32, 33, 64, 1514, 1515, 65536, sizeof(junk) };
	size_t n = below(2) ? lens[below(sizeof(lens) / sizeof(lens[0]))] : (size_t)below(was + 2);
	for (size_t i = 0; i < n; i++)
		junk[i] = (uint8_t)next();
	return (ProtobufCBinaryData){ .len = n, .data = junk };
}

#define U32(f) (f = (uint32_t)extreme(f))
#define U64(f) (f = extreme(f))

static char what[128];

/* Changes one field of ev's payload; the sub-message is copied into *sub first. */
static void scramble_payload(Detvm__Event *ev, void *sub)
{
	int f = (int)below(8);
	snprintf(what, sizeof(what), "payload %d field choice %d", ev->payload_case, f);
	switch (ev->payload_case) {
	case DETVM__EVENT__PAYLOAD_EXIT: {
		Detvm__ExitRecord *x = memcpy(sub, ev->exit, sizeof(*x));
		ev->exit = x;
		switch (f) {
		case 0: x->kind = (Detvm__ExitKind)below(12); break;
		case 1: U64(x->addr); break;
		case 2: U32(x->size); break;
		case 3: x->is_write = !x->is_write; break;
		case 4: x->data = bytes(x->data.len); break;
		case 5: U32(x->count); break;
		case 6: x->landmark = bytes(x->landmark.len); break;
		default: U64(x->elapsed_ns); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_CLOCK: {
		Detvm__ClockRead *c = memcpy(sub, ev->clock, sizeof(*c));
		ev->clock = c;
		if (f < 2)
			c->source = (Detvm__ClockSource)below(8);
		else
			U64(c->value_ns);
		break;
	}
	case DETVM__EVENT__PAYLOAD_WALLCLOCK: {
		Detvm__WallclockRead *c = memcpy(sub, ev->wallclock, sizeof(*c));
		ev->wallclock = c;
		c->value_ns = (int64_t)extreme((uint64_t)c->value_ns);
		break;
	}
	case DETVM__EVENT__PAYLOAD_INTERRUPT: {
		Detvm__Interrupt *i = memcpy(sub, ev->interrupt, sizeof(*i));
		ev->interrupt = i;
		if (f < 4)
			U32(i->vector);
		else
			U32(i->irq);
		break;
	}
	case DETVM__EVENT__PAYLOAD_TIMER: {
		Detvm__TimerFire *t = memcpy(sub, ev->timer, sizeof(*t));
		ev->timer = t;
		if (f < 4)
			U32(t->timer);
		else
			U64(t->time_ns);
		break;
	}
	case DETVM__EVENT__PAYLOAD_CONSOLE: {
		Detvm__ConsoleInput *c = memcpy(sub, ev->console, sizeof(*c));
		ev->console = c;
		if (f < 4)
			U32(c->console);
		else
			c->data = bytes(c->data.len);
		break;
	}
	case DETVM__EVENT__PAYLOAD_NET_RX: {
		Detvm__NetRx *n = memcpy(sub, ev->net_rx, sizeof(*n));
		ev->net_rx = n;
		if (f < 4)
			U32(n->nic);
		else
			n->frame = bytes(n->frame.len);
		break;
	}
	case DETVM__EVENT__PAYLOAD_DISK: {
		Detvm__DiskCompletion *d = memcpy(sub, ev->disk, sizeof(*d));
		ev->disk = d;
		switch (f % 4) {
		case 0: U32(d->disk); break;
		case 1: U64(d->request); break;
		case 2: d->status = (int32_t)extreme((uint64_t)(int64_t)d->status); break;
		default: d->data = bytes(d->data.len); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_PIO_READ: {
		Detvm__PioRead *p = memcpy(sub, ev->pio_read, sizeof(*p));
		ev->pio_read = p;
		switch (f % 3) {
		case 0: U32(p->port); break;
		case 1: U32(p->size); break;
		default: U64(p->value); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_MMIO_READ: {
		Detvm__MmioRead *p = memcpy(sub, ev->mmio_read, sizeof(*p));
		ev->mmio_read = p;
		switch (f % 3) {
		case 0: U64(p->addr); break;
		case 1: U32(p->size); break;
		default: U64(p->value); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_CHECKPOINT: {
		Detvm__Checkpoint *c = memcpy(sub, ev->checkpoint, sizeof(*c));
		ev->checkpoint = c;
		switch (f % 3) {
		case 0: c->regs_digest = bytes(c->regs_digest.len); break;
		case 1: c->mem_digest = bytes(c->mem_digest.len); break;
		default: U64(c->guest_time_ns); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_LANDMARK: {
		Detvm__Landmark *l = memcpy(sub, ev->landmark, sizeof(*l));
		ev->landmark = l;
		switch (f % 6) {
		case 0: U64(l->last_exit); break;
		case 1: U64(l->rip); break;
		case 2: l->regs_digest = bytes(l->regs_digest.len); break;
		case 3: l->mem_digest = bytes(l->mem_digest.len); break;
		case 4: U64(l->steps); break;
		default: U64(l->elapsed_ns); break;
		}
		break;
	}
	case DETVM__EVENT__PAYLOAD_END: {
		Detvm__End *e = memcpy(sub, ev->end, sizeof(*e));
		ev->end = e;
		if (f < 4)
			e->reason = (Detvm__EndReason)below(8);
		else
			e->exit_code = (int32_t)extreme((uint64_t)(int64_t)e->exit_code);
		break;
	}
	default:
		U64(ev->rip);
		break;
	}
}

#define MAX_CPUID 4096

static char text[4096];

/* A string that is empty, long, a path out of the trace's folder, or bytes. */
static char *string(void)
{
	static const char *const picks[] = { "", "../x", "/etc/passwd", "tap:", "unix:", "x,ro", "%s%n" };
	if (below(2))
		return (char *)picks[below(sizeof(picks) / sizeof(picks[0]))];
	size_t n = below(2) ? sizeof(text) - 1 : below(40);
	for (size_t i = 0; i < n; i++)
		text[i] = (char)(1 + below(255));
	text[n] = 0;
	return text;
}

/* Changes one field of the header's VM description (copied into the caller's storage). */
static void scramble_header(Detvm__TraceHeader *h, Detvm__VmConfig *c, Detvm__CpuidEntry *e,
			    Detvm__CpuidEntry **ep, Detvm__DiskConfig *d, Detvm__DiskConfig **dp,
			    Detvm__NicConfig *n, Detvm__NicConfig **np)
{
	int f = (int)below(12);
	snprintf(what, sizeof(what), "header field choice %d", f);
	if (f == 0) {
		h->delivery = (Detvm__DeliveryPolicy)below(5);
		return;
	}
	if (f == 1) {
		U64(h->checkpoint_interval);
		return;
	}
	if (!h->config)
		return;
	*c = *h->config;
	h->config = c;
	switch (f) {
	case 2: U64(c->mem_bytes); break;
	case 3: c->cmdline = string(); break;
	case 4: U32(c->vcpus); break;
	case 5: c->n_cpuid = below(c->n_cpuid + 1); break;
	case 6:
	case 7:
		if (!c->n_cpuid || c->n_cpuid > MAX_CPUID)
			break;
		size_t i = below(c->n_cpuid);
		memcpy(ep, c->cpuid, c->n_cpuid * sizeof(*ep));
		*e = *c->cpuid[i];
		if (f == 6)
			U32(e->function);
		else
			U32(e->eax);
		ep[i] = e;
		c->cpuid = ep;
		break;
	case 8: c->n_disks = below(c->n_disks + 1); break;	/* fewer, never more than stored */
	case 9:
		if (!c->n_disks)
			break;
		*d = *c->disks[0];
		d->overlay_path = string();
		*dp = d;
		c->disks = dp;
		c->n_disks = 1;
		break;
	case 10:
		if (!c->n_nics)
			break;
		*n = *c->nics[0];
		n->backend = string();
		*np = n;
		c->nics = np;
		c->n_nics = 1;
		break;
	default: c->n_nics = below(c->n_nics + 1); break;
	}
}

static int count_events(const char *path, uint64_t *n)
{
	struct trace_reader *rd;
	struct trace_event te;
	char err[512];
	int r;
	if (trace_reader_open(&rd, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace_scramble: %s\n", err);
		return -1;
	}
	for (*n = 0; (r = trace_reader_next(rd, &te)) == 1;)
		(*n)++;
	trace_reader_close(rd);
	return r < 0 || !*n ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct trace_reader *rd;
	struct trace_writer *w;
	struct trace_event te;
	char err[512], *end;
	uint64_t total, shift = 0;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: trace_scramble IN OUT SEED\n");
		return 2;
	}
	errno = 0;
	rng = strtoull(argv[3], &end, 10);
	if (errno || *end)
		return 2;
	if (count_events(argv[1], &total))
		return 1;
	uint64_t victim = below(total);
	int how = (int)below(11);	/* 0 drop, 1 twice, 2 shift positions, 3 header, else a field */

	if (trace_reader_open(&rd, argv[1], err, sizeof(err)) < 0)
		return 1;
	Detvm__TraceHeader hdr = *trace_reader_header(rd);
	Detvm__VmConfig cfg;
	static Detvm__CpuidEntry entry, *entries[MAX_CPUID];
	Detvm__DiskConfig disk, *disks[1];
	Detvm__NicConfig nic, *nics[1];
	if (how == 3) {
		scramble_header(&hdr, &cfg, &entry, entries, &disk, disks, &nic, nics);
		victim = total;		/* no event changes */
	}
	r = trace_writer_open(&w, argv[2], &hdr, NULL);
	if (r) {
		trace_reader_close(rd);
		return 1;
	}
	union {
		Detvm__ExitRecord a;
		Detvm__ClockRead b;
		Detvm__WallclockRead c;
		Detvm__Interrupt d;
		Detvm__TimerFire e;
		Detvm__ConsoleInput f;
		Detvm__NetRx g;
		Detvm__DiskCompletion h;
		Detvm__PioRead i;
		Detvm__MmioRead j;
		Detvm__Checkpoint k;
		Detvm__Landmark l;
		Detvm__End m;
	} sub;
	int werr = 0;
	for (uint64_t seq = 0; !werr && (r = trace_reader_next(rd, &te)) == 1; seq++) {
		Detvm__Event ev = *te.ev;
		if (seq == victim) {
			switch (how) {
			case 0:
				snprintf(what, sizeof(what), "dropped");
				continue;
			case 1:
				snprintf(what, sizeof(what), "written twice");
				werr = trace_writer_append(w, te.position, &ev);
				break;
			case 2:
				shift = below(2) ? 1 + below(3) : extreme(0) >> 1;
				snprintf(what, sizeof(what), "it and every later position + %" PRIu64, shift);
				break;
			default:
				scramble_payload(&ev, &sub);
			}
		}
		if (!werr)
			werr = trace_writer_append(w, te.position + shift, &ev);
	}
	if (werr || r < 0) {
		fprintf(stderr, "trace_scramble: %s\n", werr ? (werr <= -1000 ? trace_strerror(werr) : strerror(-werr)) : trace_reader_error(rd));
		trace_writer_discard(w);
		trace_reader_close(rd);
		return 1;
	}
	Detvm__TraceFooter f;
	trace_copy_footer(&f, trace_reader_footer(rd));
	r = trace_writer_close(w, &f);
	trace_reader_close(rd);
	if (r)
		return 1;
	if (how == 3)
		printf("%s\n", what);
	else
		printf("event %" PRIu64 " of %" PRIu64 ": %s\n", victim, total, what);
	return 0;
}
