#include "replay/events.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static Detvm__ExitKind exit_kind(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return DETVM__EXIT_KIND__EXIT_PIO;
	case KVM_EXIT_MMIO: return DETVM__EXIT_KIND__EXIT_MMIO;
	case KVM_EXIT_HLT: return DETVM__EXIT_KIND__EXIT_HLT;
	case KVM_EXIT_IRQ_WINDOW_OPEN: return DETVM__EXIT_KIND__EXIT_IRQ_WINDOW;
	case KVM_EXIT_SHUTDOWN: return DETVM__EXIT_KIND__EXIT_SHUTDOWN;
	case KVM_EXIT_DEBUG: return DETVM__EXIT_KIND__EXIT_DEBUG;
	case KVM_EXIT_INTERNAL_ERROR: return DETVM__EXIT_KIND__EXIT_INTERNAL_ERROR;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR: return DETVM__EXIT_KIND__EXIT_MSR;
	default: return DETVM__EXIT_KIND__EXIT_UNKNOWN;
	}
}

void event_from_exit(struct event_buf *b, const struct kvm_run *run, const uint8_t *mem)
{
	detvm__event__init(&b->ev);
	detvm__exit_record__init(&b->u.exit);
	Detvm__ExitRecord *x = &b->u.exit;
	x->kind = exit_kind(run->exit_reason);
	if (run->exit_reason == KVM_EXIT_IO) {
		x->addr = run->io.port;
		x->size = run->io.size;
		x->count = run->io.count;
		x->is_write = run->io.direction == KVM_EXIT_IO_OUT;
		if (x->is_write) {
			size_t n = (size_t)run->io.size * run->io.count;
			if (n > sizeof(b->data))
				n = sizeof(b->data);
			memcpy(b->data, (const uint8_t *)run + run->io.data_offset, n);
			x->data.data = b->data;
			x->data.len = n;
		}
	} else if (run->exit_reason == KVM_EXIT_X86_RDMSR || run->exit_reason == KVM_EXIT_X86_WRMSR) {
		x->addr = run->msr.index;
		x->size = 8;
		x->is_write = run->exit_reason == KVM_EXIT_X86_WRMSR;
		/* a read detvm served (the virtual TSC) carries its value: replay computes it
		 * again, and a difference is a divergence found where it starts */
		if (x->is_write || !run->msr.error) {
			memcpy(b->data, &run->msr.data, 8);
			x->data.data = b->data;
			x->data.len = 8;
		}
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		x->addr = run->mmio.phys_addr;
		x->size = run->mmio.len;
		x->is_write = run->mmio.is_write;
		if (x->is_write) {
			size_t n = run->mmio.len < 8 ? run->mmio.len : 8;
			memcpy(b->data, run->mmio.data, n);
			x->data.data = b->data;
			x->data.len = n;
		}
	}
	if (observer_window_has_landmark(run)) {
		observer_regs_landmark(&run->s.regs.regs, b->landmark);
		x->landmark.data = b->landmark;
		x->landmark.len = OBSERVER_DIGEST_BYTES;
		if (mem) {
			memcpy(b->landmark + OBSERVER_DIGEST_BYTES, mem, OBSERVER_DIGEST_BYTES);
			x->landmark.len += OBSERVER_DIGEST_BYTES;
		}
	}
	b->ev.rip = run->s.regs.regs.rip;
	b->ev.payload_case = DETVM__EVENT__PAYLOAD_EXIT;
	b->ev.exit = x;
}

int event_exit_equal(const Detvm__ExitRecord *a, const Detvm__ExitRecord *b)
{
	return a->kind == b->kind && a->addr == b->addr && a->size == b->size &&
	       a->is_write == b->is_write && (a->count > 1 ? a->count : 1) == (b->count > 1 ? b->count : 1) &&
	       a->data.len == b->data.len && (!a->data.len || !memcmp(a->data.data, b->data.data, a->data.len)) &&
	       a->landmark.len == b->landmark.len &&
	       (!a->landmark.len || !memcmp(a->landmark.data, b->landmark.data, a->landmark.len));
}

static void hex(const uint8_t *p, size_t n, char *out, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 3 < len; i++)
		o += snprintf(out + o, len - o, "%02x", p[i]);
	if (len)
		out[o < len ? o : len - 1] = 0;
}

static void describe_exit(const Detvm__ExitRecord *x, char *out, size_t len)
{
	char data[40] = "";
	hex(x->data.data, x->data.len < 16 ? x->data.len : 16, data, sizeof(data));
	switch (x->kind) {
	case DETVM__EXIT_KIND__EXIT_PIO:
		snprintf(out, len, "pio %s 0x%" PRIx64 " size %u%s%s%s", x->is_write ? "out" : "in", x->addr,
			 x->size, x->count > 1 ? " rep" : "", x->is_write ? " data " : "", data);
		break;
	case DETVM__EXIT_KIND__EXIT_MMIO:
		snprintf(out, len, "mmio %s 0x%" PRIx64 " size %u%s%s", x->is_write ? "write" : "read",
			 x->addr, x->size, x->is_write ? " data " : "", data);
		break;
	case DETVM__EXIT_KIND__EXIT_MSR:
		snprintf(out, len, "%s 0x%" PRIx64 "%s%s", x->is_write ? "wrmsr" : "rdmsr", x->addr,
			 x->data.len ? " data " : "", data);
		break;
	case DETVM__EXIT_KIND__EXIT_HLT: snprintf(out, len, "hlt"); break;
	case DETVM__EXIT_KIND__EXIT_IRQ_WINDOW:
		snprintf(out, len, "irq-window%s", x->landmark.len ? " in ring 0" : "");
		break;
	case DETVM__EXIT_KIND__EXIT_SHUTDOWN: snprintf(out, len, "shutdown"); break;
	case DETVM__EXIT_KIND__EXIT_INTERNAL_ERROR: snprintf(out, len, "internal-error (int3)"); break;
	default: snprintf(out, len, "exit kind %d", x->kind); break;
	}
	if (x->landmark.len) {
		/* the state there, so two windows (or a lying trace) that differ only in it show how */
		char state[40];
		size_t used = strlen(out);
		hex(x->landmark.data, x->landmark.len < 8 ? x->landmark.len : 8, state, sizeof(state));
		snprintf(out + used, len > used ? len - used : 0, " state %s%s (%zu bytes)", state,
			 x->landmark.len > 8 ? "..." : "", x->landmark.len);
	}
}

void event_describe(const Detvm__Event *ev, char *out, size_t len)
{
	char h[40];
	switch (ev->payload_case) {
	case DETVM__EVENT__PAYLOAD_EXIT:
		describe_exit(ev->exit, out, len);
		break;
	case DETVM__EVENT__PAYLOAD_CLOCK:
		snprintf(out, len, "clock read %" PRIu64 " ns", ev->clock->value_ns);
		break;
	case DETVM__EVENT__PAYLOAD_WALLCLOCK:
		snprintf(out, len, "wallclock read %" PRId64 " ns", ev->wallclock->value_ns);
		break;
	case DETVM__EVENT__PAYLOAD_INTERRUPT:
		snprintf(out, len, "interrupt vector 0x%x", ev->interrupt->vector);
		break;
	case DETVM__EVENT__PAYLOAD_TIMER:
		snprintf(out, len, "timer %u at %" PRIu64 " ns", ev->timer->timer, ev->timer->time_ns);
		break;
	case DETVM__EVENT__PAYLOAD_CONSOLE:
		snprintf(out, len, "console input of %zu bytes", ev->console->data.len);
		break;
	case DETVM__EVENT__PAYLOAD_NET_RX:
		snprintf(out, len, "frame of %zu bytes for nic %u", ev->net_rx->frame.len, ev->net_rx->nic);
		break;
	case DETVM__EVENT__PAYLOAD_DISK:
		snprintf(out, len, "disk %u status %d", ev->disk->disk, ev->disk->status);
		break;
	case DETVM__EVENT__PAYLOAD_CHECKPOINT:
		hex(ev->checkpoint->mem_digest.data, ev->checkpoint->mem_digest.len < 8 ? ev->checkpoint->mem_digest.len : 8,
		    h, sizeof(h));
		snprintf(out, len, "checkpoint (memory digest %s...)", h);
		break;
	case DETVM__EVENT__PAYLOAD_LANDMARK:
		snprintf(out, len, "a step delivery point after exit %" PRIu64 " at rip 0x%" PRIx64,
			 ev->landmark->last_exit, ev->landmark->rip);
		break;
	case DETVM__EVENT__PAYLOAD_END:
		snprintf(out, len, "end of the recording (exit status %d)", ev->end->exit_code);
		break;
	default:
		snprintf(out, len, "event kind %d", ev->payload_case);
		break;
	}
}
