/* Exit dispatch on a hand-made struct kvm_run: no /dev/kvm involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/exit.h"

/* kvm_run followed by the PIO data area, as KVM lays it out in the mmapped page */
static union {
	struct kvm_run run;
	uint8_t page[4096];
} page;

struct port {
	uint8_t data[64];
	unsigned writes, reads, size;
	struct exit_ctx *ctx;
	int poweroff_on_write;
};

static void p_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct port *p = opaque;
	p->reads++;
	p->size = size;
	memset(data, 0x40 + p->reads, size);
}

static void p_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct port *p = opaque;
	memcpy(p->data + p->writes * size, data, size);
	p->writes++;
	p->size = size;
	if (p->poweroff_on_write)
		p->ctx->poweroff_requested = 1;
}

static const struct io_handler port_ops = { p_read, p_write };

static struct bus pio, mmio;
static struct exit_ctx ctx;
static struct port dev;

static int setup(void **state)
{
	memset(&page, 0, sizeof(page));
	memset(&dev, 0, sizeof(dev));
	memset(&ctx, 0, sizeof(ctx));
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	bus_register(&pio, 0x3f8, 8, &port_ops, &dev, "com1");
	bus_register(&mmio, 0xd0000000, 0x1000, &port_ops, &dev, "virtio");
	ctx.pio = &pio;
	ctx.mmio = &mmio;
	dev.ctx = &ctx;
	return 0;
}

static void test_pio_out_string(void **state)
{
	struct kvm_run *run = &page.run;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = 0x3f8;
	run->io.size = 1;
	run->io.count = 3;	/* rep outsb */
	run->io.data_offset = 1024;
	memcpy(page.page + 1024, "abc", 3);
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(dev.writes, 3);
	assert_memory_equal(dev.data, "abc", 3);
}

static void test_pio_in_fills_data(void **state)
{
	struct kvm_run *run = &page.run;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.port = 0x3fd;
	run->io.size = 2;
	run->io.count = 1;
	run->io.data_offset = 1024;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(page.page[1024], 0x41);
	assert_int_equal(page.page[1025], 0x41);
	/* a port nobody claims reads as all ones */
	run->io.port = 0x2f8;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(page.page[1024], 0xff);
	assert_int_equal(pio.unclaimed_reads, 1);
}

static void test_mmio(void **state)
{
	struct kvm_run *run = &page.run;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xd0000050;
	run->mmio.len = 4;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, "\x01\x02\x03\x04", 4);
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_memory_equal(dev.data, "\x01\x02\x03\x04", 4);
	run->mmio.is_write = 0;
	run->mmio.len = 200;	/* a lying length is clamped to the data field */
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(dev.size, 8);
}

static void test_poweroff_from_device(void **state)
{
	struct kvm_run *run = &page.run;
	dev.poweroff_on_write = 1;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = 0x3f8;
	run->io.size = 1;
	run->io.count = 1;
	run->io.data_offset = 1024;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_POWEROFF);
}

static void test_simple_reasons(void **state)
{
	struct kvm_run *run = &page.run;
	static const struct {
		uint32_t reason;
		enum exit_action act;
	} cases[] = {
		{ KVM_EXIT_HLT, EXIT_ACT_HALT },	     { KVM_EXIT_IRQ_WINDOW_OPEN, EXIT_ACT_IRQ_WINDOW },
		{ KVM_EXIT_INTR, EXIT_ACT_HOST },	     { KVM_EXIT_SHUTDOWN, EXIT_ACT_SHUTDOWN },
		{ KVM_EXIT_FAIL_ENTRY, EXIT_ACT_FAIL_ENTRY }, { KVM_EXIT_HYPERCALL, EXIT_ACT_UNKNOWN },
		{ 9999, EXIT_ACT_UNKNOWN },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run->exit_reason = cases[i].reason;
		assert_int_equal(exit_handle(&ctx, run), cases[i].act);
	}
	assert_false(exit_action_is_guest(EXIT_ACT_HOST));
	assert_true(exit_action_is_guest(EXIT_ACT_HALT));
	assert_string_equal(exit_reason_name(KVM_EXIT_HLT), "hlt");
	assert_string_equal(exit_reason_name(12345), "unrecognised");
}

static void emulation_failure(struct kvm_run *run, const uint8_t *insn, unsigned n, int with_bytes)
{
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.ndata = with_bytes ? 3 : 1;
	run->emulation_failure.flags = with_bytes ? 1 : 0;
	run->emulation_failure.insn_size = n;
	memcpy(run->emulation_failure.insn_bytes, insn, n);
}

static void test_int3_becomes_breakpoint(void **state)
{
	struct kvm_run *run = &page.run;
	emulation_failure(run, (const uint8_t *)"\xcc\xf4", 2, 1);
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_INJECT_BP);
	/* any other instruction the host cannot emulate is fatal */
	emulation_failure(run, (const uint8_t *)"\x0f\xae\x27", 3, 1);	/* xsave */
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_INTERNAL);
	/* without instruction bytes there is nothing to go on */
	emulation_failure(run, (const uint8_t *)"\xcc", 1, 0);
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_INTERNAL);
	const uint8_t *b;
	assert_int_equal(exit_insn_bytes(run, &b), 0);
	run->internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_INTERNAL);
}

static void test_filtered_msr_raises_gp(void **state)
{
	struct kvm_run *run = &page.run;
	run->exit_reason = KVM_EXIT_X86_RDMSR;
	run->msr.index = 0x10;	/* the TSC: filtered, the guest gets #GP */
	run->msr.error = 0;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.error, 1);
	run->exit_reason = KVM_EXIT_X86_WRMSR;
	run->msr.error = 0;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.error, 1);
	assert_string_equal(exit_reason_name(KVM_EXIT_X86_WRMSR), "wrmsr");
}

/* With KVM_CAP_X86_TSC_EXIT_DETVM, reads of the TSC (RDTSC exits as RDMSR 0x10) are
 * served from the virtual TSC and the guest clock the devices saw; other MSRs still #GP. */
static void test_tsc_served_when_ours(void **state)
{
	struct kvm_run *run = &page.run;
	struct vtsc tsc = { 0 };
	struct hostio io = { 0 };
	ctx.tsc = &tsc;
	ctx.io = &io;
	io.seen_ns = 5000000;
	run->exit_reason = KVM_EXIT_X86_RDMSR;
	run->msr.index = 0x10;
	run->msr.error = 0;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.error, 0);
	assert_int_equal(run->msr.data, 5000000 * VTSC_KHZ / 1000000);
	/* the clock stood still: the next read still moves on */
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.data, 5000000 * VTSC_KHZ / 1000000 + VTSC_STEP);
	io.seen_ns = 9000000;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.data, 9000000 * VTSC_KHZ / 1000000);
	assert_int_equal(tsc.reads, 3);
	/* writing the TSC is refused and counted; other filtered MSRs are not served */
	run->exit_reason = KVM_EXIT_X86_WRMSR;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.error, 1);
	assert_int_equal(ctx.tsc_writes, 1);
	run->exit_reason = KVM_EXIT_X86_RDMSR;
	run->msr.index = 0xe7;	/* MPERF */
	run->msr.error = 0;
	assert_int_equal(exit_handle(&ctx, run), EXIT_ACT_CONTINUE);
	assert_int_equal(run->msr.error, 1);
	assert_int_equal(tsc.reads, 3);
}

/* The virtual TSC never goes back, even when the guest clock it follows is behind it. */
static void test_vtsc_monotonic(void **state)
{
	struct vtsc t = { 0 };
	uint64_t prev = 0, seen = 0;
	for (unsigned i = 0; i < 1000; i++) {
		seen += (i % 7 == 0) ? 50000 : 0;	/* the clock moves now and then */
		uint64_t v = vtsc_read(&t, seen);
		assert_true(v >= prev + VTSC_STEP);
		assert_true(v >= seen * VTSC_KHZ / 1000000);
		prev = v;
	}
	/* a clock far ahead is followed at once */
	assert_int_equal(vtsc_read(&t, 1ULL << 40), (1ULL << 40) * VTSC_KHZ / 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pio_out_string, setup),
		cmocka_unit_test_setup(test_pio_in_fills_data, setup),
		cmocka_unit_test_setup(test_mmio, setup),
		cmocka_unit_test_setup(test_poweroff_from_device, setup),
		cmocka_unit_test_setup(test_simple_reasons, setup),
		cmocka_unit_test_setup(test_int3_becomes_breakpoint, setup),
		cmocka_unit_test_setup(test_filtered_msr_raises_gp, setup),
		cmocka_unit_test_setup(test_tsc_served_when_ours, setup),
		cmocka_unit_test(test_vtsc_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
