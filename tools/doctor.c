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

#include "ft/etcd_libs.h"
#include "tools/capstone_lib.h"
#include "tools/cli.h"
#include "vmm/cpuid.h"
#include "vmm/exitcode.h"
#include "vmm/guest_mem.h"
#include "vmm/kvm.h"
#include "vmm/probe.h"

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
	int r = probe_cpuid_honoured();
	if (r < 0)
		line(0, "cpuid-virtualized", "the CPUID probe VM did not run (%s)", strerror(-r));
	else if (!r)
		line(0, "cpuid-virtualized",
		     "the guest sees the host's CPUID, not detvm's policy: tell guests on their command "
		     "line not to use TSC, RDRAND, XSAVE (Linux: clearcpuid=, noxsave)");
	else
		line(1, "cpuid-virtualized", "the guest sees detvm's CPUID policy (no TSC, RDRAND, XSAVE)");
}

static void check_tsc_exit(void)
{
	int r0 = probe_tsc_exit(0), r3 = probe_tsc_exit(3);
	if (r0 == -ENODEV)
		line(0, "tsc-exit", "KVM never lets detvm see RDTSC: a guest that reads the TSC (every "
		     "distribution's kernel does) will not replay; scripts/kvm-detvm builds KVM modules that do");
	else if (r0 == 1 && r3 == 1)
		line(1, "tsc-exit", "RDTSC exits to detvm in rings 0 and 3, as RDTSCP does where the guest has it "
		     "(KVM_CAP_X86_TSC_EXIT_DETVM): guests read its virtual TSC, which replays");
	else
		line(0, "tsc-exit", "KVM has KVM_CAP_X86_TSC_EXIT_DETVM but RDTSC did not come back with "
		     "detvm's value (ring 0: %s, ring 3: %s)", r0 == 1 ? "yes" : "no", r3 == 1 ? "yes" : "no");
}

/* ns per loop iteration in `ring`, or a negative value when the probe could not run. */
static double loop_speed(int ring)
{
	struct probe p;
	if (probe_make(&p, probe_loop_code, sizeof(probe_loop_code), ring))
		return -1;
	double t0 = now_s();
	int r = kvm_vcpu_run(&p.kvm);
	double dt = now_s() - t0;
	int ok = !r && p.kvm.run->exit_reason == KVM_EXIT_IO;
	probe_free(&p);
	return ok ? dt * 1e9 / PROBE_LOOP_COUNT : -1;
}

static void check_speed(void)
{
	double r0 = loop_speed(0), r3 = loop_speed(3);
	if (r0 < 0)
		line(0, "ring0-native", "the ring-0 probe did not run");
	else if (r0 < PROBE_NATIVE_NS_PER_ITER)
		line(1, "ring0-native", "guest ring 0 runs natively (%.1f ns per loop iteration)", r0);
	else if (r3 >= PROBE_NATIVE_NS_PER_ITER && r0 < 10 * r3)
		line(0, "ring0-native",
		     "guest code runs at %.0f ns per loop iteration in ring 0 and %.0f ns in ring 3: this "
		     "host's KVM itself runs in an emulator, so only ratios of times mean anything here", r0, r3);
	else
		line(0, "ring0-native",
		     "guest ring 0 is emulated (%.0f ns per loop iteration, ring 3: %.1f ns): keep guest "
		     "kernels' work small; Linux boots slowly", r0, r3);
	if (r3 < 0)
		line(0, "ring3-native", "the ring-3 probe did not run");
	else
		line(r3 < PROBE_NATIVE_NS_PER_ITER, "ring3-native", "guest ring 3 runs at %.1f ns per loop iteration", r3);
}

static void check_syscall(void)
{
	int r = probe_syscall_enters_ring0();
	if (r < 0)
		line(0, "syscall-ring3", "the SYSCALL probe VM did not run (%s)", strerror(-r));
	else if (r)
		line(1, "syscall-ring3", "SYSCALL from guest ring 3 enters ring 0: Linux user space runs");
	else
		line(0, "syscall-ring3", "SYSCALL from guest ring 3 stays in ring 3 here: a Linux guest "
					 "boots to /init, but its user space cannot make system calls");
}

static void check_int3(void)
{
	struct probe p;
	if (probe_make(&p, probe_int3_code, sizeof(probe_int3_code), 0)) {
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

/* KVM's debug facilities per ring, which the `step` delivery fallback rests on. */
static const struct debug_fact {
	const char *name;
	int (*probe)(int ring, int max);
	const char *yes, *yes_then;		/* "<yes> <ring>: <yes_then>" */
	const char *no, *unit, *no_then;	/* "<no> <ring> (<n> <unit>): <no_then>" */
} debug_facts[] = {
	{ "single-step", probe_single_steps, "KVM single-steps guest ring",
	  "replay can step to an interrupt window this host reported late", "KVM does not single-step guest ring",
	  "steps", "replay cannot step to an interrupt window this host reports late there" },
	{ "sw-breakpoint", probe_sw_breakpoint_hits, "an INT3 written into guest memory exits to detvm in ring",
	  "gdb's breakpoints run at full speed", "an INT3 written into guest memory does not exit to detvm in ring",
	  "hits", "gdb's breakpoints single-step there" },
	{ "hw-breakpoint", probe_breakpoint_hits, "hardware breakpoints work in guest ring",
	  "replay runs to a late window's RIP instead of single-stepping all the way",
	  "hardware breakpoints do not work in guest ring", "hits",
	  "replay runs to a late window on a HLT it writes there (single-stepping under gdb or detvm trace)" },
};

static void check_debug(void)
{
	for (unsigned f = 0; f < sizeof(debug_facts) / sizeof(debug_facts[0]); f++) {
		const struct debug_fact *d = &debug_facts[f];
		for (int ring = 0; ring <= 3; ring += 3) {
			char fact[32];
			snprintf(fact, sizeof(fact), "%s-ring%d", d->name, ring);
			int n = d->probe(ring, PROBE_STEPS);
			if (n >= PROBE_STEPS)
				line(1, fact, "%s %d: %s", d->yes, ring, d->yes_then);
			else
				line(0, fact, "%s %d (%d %s): %s", d->no, ring, n < 0 ? 0 : n, d->unit, d->no_then);
		}
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

static void check_libs(void)
{
	char err[300];
	if (capstone_lib_load(err, sizeof(err)))
		line(0, "capstone", "%s: no `detvm trace`, no gdb rwatch/awatch", err);
	else
		line(1, "capstone", "the instruction decoder: `detvm trace` and gdb's rwatch/awatch work");
	if (etcd_libs_load(err, sizeof(err)))
		line(0, "etcd-client", "%s: FT arbiters are file: only", err);
	else
		line(1, "etcd-client", "libcurl and json-c: an FT pair can use an etcd arbiter");
}

static const char doctor_help[] =
	"usage: detvm doctor\n"
	"\n"
	"Runs small probe VMs and prints one line per fact about this host's KVM: OK or MISSING\n"
	"and what it means for detvm, then whether the libraries only some commands open are\n"
	"here (Capstone for `detvm trace`, libcurl and json-c for an etcd arbiter). Exit status\n"
	"0 when detvm can run guests here, 1 when not.\n";

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
	check_tsc_exit();
	check_speed();
	check_syscall();
	check_int3();
	check_debug();
	check_pmu();
	check_rdma();
	check_tap();
	check_libs();
	fflush(stdout);
	return DETVM_EXIT_OK;
}
