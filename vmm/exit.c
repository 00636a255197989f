#include "vmm/exit.h"

#include <string.h>

#include "vmm/x86.h"

/* KVM's emulation_failure layout: flags in data[0], then insn_size and up to 15 bytes. */
#define EMULATION_FLAG_INSN_BYTES 1ULL

static enum exit_action handle_io(struct exit_ctx *ctx, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(ctx->pio, run->io.port, data, size);
		else
			bus_read(ctx->pio, run->io.port, data, size);
	}
	return ctx->poweroff_requested ? EXIT_ACT_POWEROFF : EXIT_ACT_CONTINUE;
}

static enum exit_action handle_mmio(struct exit_ctx *ctx, struct kvm_run *run)
{
	unsigned len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (run->mmio.is_write)
		bus_write(ctx->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(ctx->mmio, run->mmio.phys_addr, run->mmio.data, len);
	return ctx->poweroff_requested ? EXIT_ACT_POWEROFF : EXIT_ACT_CONTINUE;
}

#define MSR_IA32_TSC 0x10

static enum exit_action handle_msr(struct exit_ctx *ctx, struct kvm_run *run)
{
	if (ctx->tsc && run->msr.index == MSR_IA32_TSC) {
		if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
			run->msr.data = vtsc_read(ctx->tsc, ctx->io->seen_ns);
			run->msr.error = 0;
			return EXIT_ACT_CONTINUE;
		}
		/* the virtual TSC is not the guest's to set (Linux never writes it) */
		ctx->tsc_writes++;
	}
	/* only filtered MSRs come here: the CPU has none of them, so #GP */
	run->msr.error = 1;
	return EXIT_ACT_CONTINUE;
}

unsigned exit_insn_bytes(const struct kvm_run *run, const uint8_t **bytes)
{
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    run->emulation_failure.ndata < 2 ||
	    !(run->emulation_failure.flags & EMULATION_FLAG_INSN_BYTES))
		return 0;
	unsigned n = run->emulation_failure.insn_size;
	if (n > sizeof(run->emulation_failure.insn_bytes))
		n = sizeof(run->emulation_failure.insn_bytes);
	*bytes = run->emulation_failure.insn_bytes;
	return n;
}

static enum exit_action handle_internal(struct kvm_run *run)
{
	const uint8_t *insn;
	/* Some nested hosts cannot emulate INT3 in guest ring 0; the CPU would raise #BP. */
	if (exit_insn_bytes(run, &insn) >= 1 && insn[0] == X86_OP_INT3)
		return EXIT_ACT_INJECT_BP;
	return EXIT_ACT_INTERNAL;
}

enum exit_action exit_handle(struct exit_ctx *ctx, struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(ctx, run);
	case KVM_EXIT_MMIO:
		return handle_mmio(ctx, run);
	case KVM_EXIT_HLT:
		return EXIT_ACT_HALT;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return EXIT_ACT_IRQ_WINDOW;
	case KVM_EXIT_INTR:
		return EXIT_ACT_HOST;
	case KVM_EXIT_SHUTDOWN:
		return EXIT_ACT_SHUTDOWN;
	case KVM_EXIT_INTERNAL_ERROR:
		return handle_internal(run);
	case KVM_EXIT_FAIL_ENTRY:
		return EXIT_ACT_FAIL_ENTRY;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		return handle_msr(ctx, run);
	default:
		return EXIT_ACT_UNKNOWN;
	}
}

const char *exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown",	[KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io",		[KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug",	[KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio",	[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq-window",
		[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail-entry",
		[KVM_EXIT_INTR] = "intr",	[KVM_EXIT_SET_TPR] = "set-tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr-access", [KVM_EXIT_NMI] = "nmi",
		[KVM_EXIT_INTERNAL_ERROR] = "internal-error",
		[KVM_EXIT_X86_RDMSR] = "rdmsr",	[KVM_EXIT_X86_WRMSR] = "wrmsr",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unrecognised";
}
