/*
 * `detvm doctor`: measures, with tiny probe VMs, what this host's KVM does for detvm and
 * says what each fact means for the user. Nothing is taken on trust from version numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/cpuid.h"
#include "vmm/exitcode.h"
#include "vmm/guest_mem.h"
#include "vmm/kvm.h"

#define PROBE_MEM (2ULL << 20)
#define PROBE_CODE 0x1000
#define PROBE_PORT 0xf0
#define LOOP_COUNT 20000u
#define NATIVE_NS_PER_ITER 20.0	/* native ring 0 is ~1 ns/iteration, emulated ~1000 */

struct probe {
	struct guest_mem mem;
	struct kvm_vm kvm;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void line(int ok, const char *fact, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void line(int ok, const char *fact, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("%-8s %-20s %s\n", ok ? "OK" : "MISSING", fact, msg);
}

/*
 * A 64-bit guest with paging on (identity-mapped first 2 MiB, user-accessible) running
 * code at PROBE_CODE in `ring`: the mode real guests run in, which is what the facts
 * are about (some nested hosts emulate other modes even in ring 3).
 */
static int probe_make(struct probe *p, const uint8_t *code, size_t len, int ring)
{
	char err[256];
	if (guest_mem_init(&p->mem, PROBE_MEM))
		return -ENOMEM;
	memcpy(p->mem.base + PROBE_CODE, code, len);
	uint64_t *pml4 = (uint64_t *)(p->mem.base + 0x2000), *pdpt = (uint64_t *)(p->mem.base + 0x3000),
		 *pd = (uint64_t *)(p->mem.base + 0x4000);
	pml4[0] = 0x3000 | 7;	/* present, writable, user */
	pdpt[0] = 0x4000 | 7;
	pd[0] = 0x87;		/* a 2 MiB page */
	if (kvm_vm_create(&p->kvm, &p->mem, 0, err, sizeof(err)) < 0) {
		guest_mem_destroy(&p->mem);
		return -ENODEV;
	}
	kvm_vcpu_set_cpuid_policy(&p->kvm);
	struct kvm_sregs s;
	kvm_vcpu_get_sregs(&p->kvm, &s);
	struct kvm_segment cs = { .limit = 0xffffffff, .selector = ring ? 0x2b : 0x08, .type = 0xb,
				  .present = 1, .dpl = ring, .l = 1, .s = 1, .g = 1 };
	struct kvm_segment ds = cs;
	ds.type = 0x3;
	ds.l = 0;
	ds.db = 1;
	ds.selector = ring ? 0x23 : 0x10;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.tr = (struct kvm_segment){ .limit = 0x67, .type = 11, .present = 1 };
	s.cr3 = 0x2000;
	s.cr4 = 0x20;		/* PAE */
	s.cr0 = 0x80050033;	/* PG, AM, WP, NE, ET, MP, PE */
	s.efer = 0x500;		/* LME, LMA */
	struct kvm_regs r = { .rip = PROBE_CODE, .rsp = 0x1f0000,
			      .rflags = 0x2 | (3u << 12) /* IOPL 3: OUT from ring 3 */ };
	if (ioctl(p->kvm.vcpu_fd, KVM_SET_SREGS, &s) < 0 || ioctl(p->kvm.vcpu_fd, KVM_SET_REGS, &r) < 0) {
		kvm_vm_destroy(&p->kvm);
		guest_mem_destroy(&p->mem);
		return -EINVAL;
	}
	return 0;
}

static void probe_free(struct probe *p)
{
	kvm_vm_destroy(&p->kvm);
	guest_mem_destroy(&p->mem);
}

/* mov eax,1; cpuid; mov eax,edx; mov dx,PORT; out dx,eax; hlt */
static const uint8_t cpuid_code[] = { 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x89, 0xd0, 0x66, 0xba,
				      PROBE_PORT, 0, 0xef, 0xf4 };
/* mov ecx,N; 1: dec ecx; jnz 1b; mov dx,PORT; out dx,eax; hlt (64-bit encodings) */
static const uint8_t loop_code[] = { 0xb9, LOOP_COUNT & 0xff, (LOOP_COUNT >> 8) & 0xff,
				     (LOOP_COUNT >> 16) & 0xff, 0, 0xff, 0xc9, 0x75, 0xfc, 0x66,
				     0xba, PROBE_PORT, 0, 0xef, 0xf4 };
static const uint8_t int3_code[] = { 0x90, 0xcc, 0xf4 };

static int check_kvm(void)
{
	struct utsname u;
	uname(&u);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		line(0, "kvm", "cannot open /dev/kvm: %s; detvm cannot run guests here", strerror(errno));
		return -1;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_USER_MEMORY, "user memory" }, { KVM_CAP_EXT_CPUID, "CPUID2" },
		{ KVM_CAP_VCPU_EVENTS, "vcpu events" }, { KVM_CAP_SET_GUEST_DEBUG, "guest debug" },
	};
	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			line(0, "kvm", "API %d on Linux %s lacks %s; detvm cannot run guests here", v,
			     u.release, caps[i].name);
			close(fd);
			return -1;
		}
	}
	line(v == KVM_API_VERSION, "kvm", "API %d on Linux %s with user memory, CPUID2, vcpu events, guest debug",
	     v, u.release);
	close(fd);
	return v == KVM_API_VERSION ? 0 : -1;
}

static void check_cpuid(void)
{
	struct probe p;
	if (probe_make(&p, cpuid_code, sizeof(cpuid_code), 0)) {
		line(0, "cpuid-virtualized", "could not build a probe VM");
		return;
	}
	int r = kvm_vcpu_run(&p.kvm);
	struct kvm_run *run = p.kvm.run;
	if (r || run->exit_reason != KVM_EXIT_IO) {
		line(0, "cpuid-virtualized", "probe VM did not reach its port write (exit %u)", run->exit_reason);
	} else {
		uint32_t edx;
		memcpy(&edx, (uint8_t *)run + run->io.data_offset, 4);
		if (edx & CPUID_1_EDX_TSC)
			line(0, "cpuid-virtualized",
			     "the guest sees the host's CPUID, not detvm's policy: tell guests on their command "
			     "line not to use TSC, RDRAND, XSAVE (Linux: clearcpuid=, noxsave)");
		else
			line(1, "cpuid-virtualized", "the guest sees detvm's CPUID policy (no TSC, RDRAND, XSAVE)");
	}
	probe_free(&p);
}

/* ns per loop iteration in `ring`, or a negative value when the probe could not run. */
static double loop_speed(int ring)
{
	struct probe p;
	if (probe_make(&p, loop_code, sizeof(loop_code), ring))
		return -1;
	double t0 = now_s();
	int r = kvm_vcpu_run(&p.kvm);
	double dt = now_s() - t0;
	int ok = !r && p.kvm.run->exit_reason == KVM_EXIT_IO;
	probe_free(&p);
	return ok ? dt * 1e9 / LOOP_COUNT : -1;
}

static void check_speed(void)
{
	double r0 = loop_speed(0), r3 = loop_speed(3);
	if (r0 < 0)
		line(0, "ring0-native", "the ring-0 probe did not run");
	else if (r0 < NATIVE_NS_PER_ITER)
		line(1, "ring0-native", "guest ring 0 runs natively (%.1f ns per loop iteration)", r0);
	else
		line(0, "ring0-native",
		     "guest ring 0 is emulated (%.0f ns per loop iteration, ring 3: %.1f ns): keep guest "
		     "kernels' work small; Linux boots slowly", r0, r3);
	if (r3 < 0)
		line(0, "ring3-native", "the ring-3 probe did not run");
	else
		line(r3 < NATIVE_NS_PER_ITER, "ring3-native", "guest ring 3 runs at %.1f ns per loop iteration", r3);
}

static void check_int3(void)
{
	struct probe p;
	if (probe_make(&p, int3_code, sizeof(int3_code), 0)) {
		line(0, "int3-ring0", "could not build a probe VM");
		return;
	}
	int r = kvm_vcpu_run(&p.kvm);
	uint32_t reason = p.kvm.run->exit_reason;
	probe_free(&p);
	if (!r && reason == KVM_EXIT_INTERNAL_ERROR)
		line(0, "int3-ring0", "KVM cannot emulate INT3 in guest ring 0; detvm injects the #BP itself");
	else
		line(1, "int3-ring0", "INT3 in guest ring 0 works (exit %u)", reason);
}

static int step_count(int ring)
{
	struct probe p;
	if (probe_make(&p, loop_code, sizeof(loop_code), ring))
		return -1;
	struct kvm_guest_debug d = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	int steps = 0;
	if (ioctl(p.kvm.vcpu_fd, KVM_SET_GUEST_DEBUG, &d) == 0)
		while (steps < 50 && !kvm_vcpu_run(&p.kvm) && p.kvm.run->exit_reason == KVM_EXIT_DEBUG)
			steps++;
	probe_free(&p);
	return steps;
}

static void check_debug(void)
{
	for (int ring = 0; ring <= 3; ring += 3) {
		char fact[32];
		snprintf(fact, sizeof(fact), "single-step-ring%d", ring);
		int n = step_count(ring);
		if (n >= 50)
			line(1, fact, "KVM single-steps guest ring %d: the `step` delivery fallback works there", ring);
		else
			line(0, fact, "KVM does not single-step guest ring %d (%d steps): the `step` fallback "
				      "cannot deliver there; a guest spinning without exits keeps interrupts "
				      "pending until its next exit", ring, n < 0 ? 0 : n);
	}
}

static void check_pmu(void)
{
	struct perf_event_attr a = { .type = PERF_TYPE_HARDWARE, .size = sizeof(a),
				     .config = PERF_COUNT_HW_BRANCH_INSTRUCTIONS, .disabled = 1,
				     .exclude_kernel = 1, .exclude_hv = 1 };
	int fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0) {
		line(0, "branch-counter", "no hardware branch counter (perf: %s): `precise` delivery is "
					  "unavailable; detvm uses `sync`", strerror(errno));
		return;
	}
	close(fd);
	line(1, "branch-counter", "a hardware branch counter is available: `precise` delivery can work");
}

static void check_rdma(void)
{
	int n = 0;
	struct ibv_device **l = ibv_get_device_list(&n);
	if (l)
		ibv_free_device_list(l);
	if (n > 0)
		line(1, "rdma", "%d RDMA device(s): lockstep can use RDMA", n);
	else
		line(0, "rdma", "no RDMA devices: lockstep falls back to TCP");
}

static void check_tap(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		line(0, "tap", "cannot open /dev/net/tun (%s): use --net unix:PATH", strerror(errno));
		return;
	}
	close(fd);
	line(1, "tap", "/dev/net/tun is usable: --net tap:IFNAME works (as root or with CAP_NET_ADMIN)");
}

static const char doctor_help[] =
	"usage: detvm doctor\n"
	"\n"
	"Runs small probe VMs and prints one line per fact about this host's KVM: OK or MISSING\n"
	"and what it means for detvm. Exit status 0 when detvm can run guests here, 1 when not.\n";

int cli_doctor(int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(doctor_help, stdout);
			return DETVM_EXIT_OK;
		}
		return cli_usage_error("doctor", "unexpected argument '%s'", argv[1]);
	}
	if (check_kvm())
		return 1;
	check_cpuid();
	check_speed();
	check_int3();
	check_debug();
	check_pmu();
	check_rdma();
	check_tap();
	fflush(stdout);
	return DETVM_EXIT_OK;
}
