#include "vmm/machine_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum {
	SEC_HEAD = TAG('H', 'E', 'A', 'D'),
	SEC_VCPU = TAG('V', 'C', 'P', 'U'),
	SEC_PIC = TAG('P', 'I', 'C', ' '),
	SEC_PIT = TAG('P', 'I', 'T', ' '),
	SEC_RTC = TAG('R', 'T', 'C', ' '),
	SEC_UART = TAG('U', 'A', 'R', 'T'),
	SEC_KBD = TAG('K', 'B', 'D', ' '),
	SEC_BLK = TAG('B', 'L', 'K', ' '),
	SEC_NET = TAG('N', 'E', 'T', ' '),
};

/* One device: how to save and load it, for the table below. */
struct dev_part {
	uint32_t tag;
	const char *name;
	void (*save)(const struct machine *m, unsigned i, struct state_out *o);
	void (*load)(struct machine *m, unsigned i, struct state_in *in);
	unsigned (*count)(const struct machine *m);
};

static unsigned one(const struct machine *m)
{
	(void)m;
	return 1;
}
static unsigned nblk(const struct machine *m)
{
	return m->nblk;
}
static unsigned nnet(const struct machine *m)
{
	return m->nnet;
}

#define DEV_WRAPPERS(name, field, idx)                                                          \
	static void save_##name(const struct machine *m, unsigned i, struct state_out *o)      \
	{                                                                                       \
		(void)i;                                                                        \
		name##_save(&m->field idx, o);                                                  \
	}                                                                                       \
	static void load_##name(struct machine *m, unsigned i, struct state_in *in)            \
	{                                                                                       \
		(void)i;                                                                        \
		name##_load(&m->field idx, in);                                                 \
	}
DEV_WRAPPERS(pic, pic, )
DEV_WRAPPERS(pit, pit, )
DEV_WRAPPERS(rtc, rtc, )
DEV_WRAPPERS(uart, com1, )
DEV_WRAPPERS(i8042, kbd, )
DEV_WRAPPERS(virtio_blk, blk, [i])
DEV_WRAPPERS(virtio_net, net, [i])

static const struct dev_part parts[] = {
	{ SEC_PIC, "the PIC", save_pic, load_pic, one },
	{ SEC_PIT, "the PIT", save_pit, load_pit, one },
	{ SEC_RTC, "the RTC", save_rtc, load_rtc, one },
	{ SEC_UART, "the UART", save_uart, load_uart, one },
	{ SEC_KBD, "the i8042", save_i8042, load_i8042, one },
	{ SEC_BLK, "a virtio disk", save_virtio_blk, load_virtio_blk, nblk },
	{ SEC_NET, "a virtio NIC", save_virtio_net, load_virtio_net, nnet },
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

int machine_state_save(struct machine *m, uint64_t clock_ns, struct state_out *o, char *err, size_t errlen)
{
	struct vcpu_state st;
	int r = m->nstate_msrs ? 0 : machine_list_msrs(m);
	if (!r)
		r = vcpu_complete_exit(&m->kvm);
	if (!r)
		r = vcpu_state_get(&m->kvm, m->state_msrs, m->nstate_msrs, &st);
	if (r) {
		snprintf(err, errlen, "cannot read the vCPU's state: %s", strerror(-r));
		return r;
	}
	size_t at = state_section_begin(o, SEC_HEAD);
	state_put_u32(o, MACHINE_STATE_VERSION);
	state_put_u64(o, clock_ns);
	state_put_u64(o, m->stats.exits);
	state_put(o, m->io->armed, sizeof(m->io->armed));
	state_put_u32(o, m->nblk);
	state_put_u32(o, m->nnet);
	state_put_u32(o, (uint32_t)m->halted);
	/* what the virtual TSC is computed from */
	state_put_u64(o, m->io->seen_ns);
	state_put_u64(o, m->tsc.last);
	state_put_u64(o, m->tsc.reads);
	state_section_end(o, at);

	at = state_section_begin(o, SEC_VCPU);
	state_put(o, &st, sizeof(st));
	state_section_end(o, at);
	for (unsigned p = 0; p < NPARTS; p++)
		for (unsigned i = 0; i < parts[p].count(m); i++) {
			at = state_section_begin(o, parts[p].tag);
			parts[p].save(m, i, o);
			state_section_end(o, at);
		}
	if (o->err)
		snprintf(err, errlen, "out of memory saving the machine's state");
	return o->err;
}

static int refused(struct state_in *in, const char *part, char *err, size_t errlen)
{
	snprintf(err, errlen, "the saved state of %s is damaged or from another detvm (%s)", part,
		 in->bad ? in->bad : "its length");
	return -EINVAL;
}

int machine_state_load(struct machine *m, struct state_in *in, struct machine_saved *saved, char *err,
		       size_t errlen)
{
	struct state_in sec;
	if (state_section_open(in, SEC_HEAD, &sec))
		return refused(in, "the machine", err, errlen);
	uint32_t version = state_get_u32(&sec);
	if (!sec.err && version != MACHINE_STATE_VERSION) {
		snprintf(err, errlen, "machine state version %u; this detvm reads version %u", version,
			 MACHINE_STATE_VERSION);
		return -EINVAL;
	}
	saved->clock_ns = state_get_u64(&sec);
	saved->exits = state_get_u64(&sec);
	state_get(&sec, saved->armed, sizeof(saved->armed));
	uint32_t disks = state_get_u32(&sec), nics = state_get_u32(&sec), halted = state_get_u32(&sec);
	uint64_t seen_ns = state_get_u64(&sec);
	struct vtsc tsc = { .last = state_get_u64(&sec) };
	tsc.reads = state_get_u64(&sec);
	state_check(&sec, halted <= 1 && sec.pos == sec.len, "its header");
	if (sec.err)
		return refused(&sec, "the machine", err, errlen);
	if (disks != m->nblk || nics != m->nnet) {
		snprintf(err, errlen, "the state is of a machine with %u disks and %u NICs, this one has %u and %u",
			 disks, nics, m->nblk, m->nnet);
		return -EINVAL;
	}
	struct vcpu_state st;
	if (state_section_open(in, SEC_VCPU, &sec))
		return refused(in, "the vCPU", err, errlen);
	state_get(&sec, &st, sizeof(st));
	state_check(&sec, sec.pos == sec.len && st.nmsrs <= VCPU_STATE_MAX_MSRS, "its registers");
	if (sec.err)
		return refused(&sec, "the vCPU", err, errlen);
	for (unsigned p = 0; p < NPARTS; p++)
		for (unsigned i = 0; i < parts[p].count(m); i++) {
			if (state_section_open(in, parts[p].tag, &sec))
				return refused(in, parts[p].name, err, errlen);
			parts[p].load(m, i, &sec);
			state_check(&sec, sec.pos == sec.len, "its length");
			if (sec.err)
				return refused(&sec, parts[p].name, err, errlen);
		}
	const char *what;
	int r = vcpu_state_set(&m->kvm, &st, &what);
	if (r) {
		snprintf(err, errlen, "KVM refused the saved vCPU's %s: %s", what, strerror(-r));
		return r;
	}
	/* what the run loop reads of kvm_run (the interrupt flag, the synced registers)
	 * must be the loaded state's, not the boot state's */
	r = vcpu_complete_exit(&m->kvm);
	if (r) {
		snprintf(err, errlen, "cannot refresh the loaded vCPU: %s", strerror(-r));
		return r;
	}
	m->exception_queued = 0;
	m->halted = (int)halted;
	m->io->seen_ns = seen_ns;
	m->tsc = tsc;
	m->stats.exits = saved->exits;	/* positions go on: a trace from here counts on */
	return 0;
}

void machine_state_rearm(struct machine *m, const struct machine_saved *saved)
{
	for (unsigned t = 0; t < HOSTIO_TIMERS; t++)
		hostio_timer_arm(m->io, t, saved->armed[t]);
}

void machine_mem_clear(struct machine *m)
{
	/* anonymous private memory reads as zero again after MADV_DONTNEED, at no cost */
	madvise(m->mem.base, m->mem.size, MADV_DONTNEED);
	/* the next digest hashes every resident page again (digest.c's prime) */
	m->digest.primed = 0;
}
