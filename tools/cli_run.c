/* `detvm run`: boot a guest on the deterministic platform with live host input. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/cli_snapshot.h"
#include "vmm/chaos.h"
#include "vmm/exitcode.h"
#include "vmm/host_run.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/probe.h"

#define STR(x) #x
#define XSTR(x) STR(x)

static const char run_help[] =
	"usage: detvm run [options] IMAGE\n"
	"       detvm run --restore SNAPSHOT [options]\n"
	"\n"
	"Boots IMAGE -- an ELF kernel with a PVH entry note, or a Linux bzImage -- on one vCPU\n"
	"with detvm's userspace 8259A PIC, 8254 PIT, CMOS RTC, 16550A UART (COM1), i8042 and\n"
	"virtio-mmio devices. The console is COM1: output on stdout, input from stdin.\n"
	"\n"
	"options:\n"
	"  -m, --mem SIZE          guest RAM (default 256M; suffixes K, M, G)\n"
	"  -c, --cmdline STRING    kernel command line (detvm appends virtio_mmio.device=...)\n"
	"  -i, --initrd PATH       initial ramdisk\n"
	"  -d, --disk PATH[,ro]    raw disk image as virtio-blk (repeatable, up to 4)\n"
	"  -n, --net SPEC          virtio-net backend: tap:IFNAME or unix:PATH (repeatable)\n"
	"  -s, --serial SPEC       console output: stdio (default) or file:PATH\n"
	"  -t, --timeout SECONDS   stop the guest after this much wall time\n"
	"      --max-exits N       stop the guest after N guest-caused exits\n"
	"      --delivery POLICY   when host input reaches the guest: sync (only at guest\n"
	"                          exits) or step (default: also stop a guest that runs\n"
	"                          without exits for 10 ms while input is due, in the rings\n"
	"                          this host's KVM single-steps; see `detvm doctor`)\n"
	"      --restore SNAPSHOT  start from a snapshot (`detvm snapshot`) instead of booting:\n"
	"                          no IMAGE, --mem, --cmdline or --initrd; its disks are the\n"
	"                          snapshot's copies (they advance with the run) unless --disk\n"
	"                          names one for each\n"
	"      --show-tsc          show the guest the TSC where detvm serves it (RDTSC exits\n"
	"                          to its virtual TSC: `detvm doctor`, tsc-exit), and let\n"
	"                          Linux keep time by it: clock_gettime to the nanosecond\n"
	"                          instead of jiffies' 4 ms, one exit per read\n"
	"      --control PATH      listen on this unix socket for `detvm snapshot`\n"
	"      --chaos SEED        chaos delivery: hold each interrupt the guest could take\n"
	"                          for k guest exits, k drawn from 0..N by a PRNG seeded\n"
	"                          with SEED (0..2^64-1), so rare interleavings happen\n"
	"      --chaos-max N       the bound N on a delay, in exits (default " XSTR(CHAOS_DEFAULT_MAX) ", 1.." XSTR(CHAOS_MAX_MAX) ")\n"
	"      --chaos-pause-us U  also keep the vCPU off the CPU for 0..U microseconds at\n"
	"                          one exit in " XSTR(CHAOS_PAUSE_ODDS) ", as a host descheduling it would, so\n"
	"                          timer ticks land earlier in the guest's progress too\n"
	"                          (default " XSTR(CHAOS_DEFAULT_PAUSE_US) "; 0: delays only)\n"
	"      --stats             print exit and device counters to stderr at the end\n"
	"  -v, --verbose           more messages (repeat for debug)\n"
	"  -q, --quiet             errors only\n"
	"  -h, --help              this help\n"
	"\n"
	"exit status: 0 guest powered off or reset; 1 guest reported failure; 2 usage or bad\n"
	"image; 3 KVM error or emulation failure; 4 triple fault; 5 unhandled exit;\n"
	"8 timeout or exit limit; 9 guest halted forever; 10 host I/O error; 11 interrupted.\n";

volatile int cli_stop_flag;

static void on_signal(int sig)
{
	if (sig == SIGALRM || sig == SIGINT || sig == SIGTERM)
		cli_stop_flag = sig == SIGALRM ? 2 : 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "detvm %s: %s (try `detvm %s --help`)\n", cmd, msg, cmd);
	return DETVM_EXIT_USAGE;
}

int cli_parse_ms(const char *cmd, const char *option, const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*end || end == arg || v < 1 || v > 3600000)
		return cli_usage_error(cmd, "bad --%s '%s': want milliseconds >= 1", option, arg);
	*out = (int)v;
	return 0;
}

int cli_check_serial(const char *cmd, const char *arg)
{
	if (strcmp(arg, "stdio") && strncmp(arg, "file:", 5))
		return cli_usage_error(cmd, "bad --serial '%s': use stdio or file:PATH", arg);
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (~0ULL >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_install_signals(double timeout)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: KVM_RUN and waits must return EINTR so the loop sees the flag */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);	/* the vCPU kick: only interrupts KVM_RUN */
	signal(SIGPIPE, SIG_IGN);
	if (timeout > 0) {
		struct itimerval it = { .it_value = { (time_t)timeout,
						      (suseconds_t)((timeout - (time_t)timeout) * 1e6) } };
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1;
		if (setitimer(ITIMER_REAL, &it, NULL) < 0)
			return -errno;
	}
	return 0;
}

int cli_parse_disk(const char *cmd, struct machine_config *cfg, char *arg)
{
	if (cfg->ndisks == MACHINE_MAX_DISKS)
		return cli_usage_error(cmd, "at most %d disks", MACHINE_MAX_DISKS);
	char *comma = strrchr(arg, ',');
	int ro = 0;
	if (comma && !strcmp(comma, ",ro")) {
		*comma = 0;
		ro = 1;
	} else if (comma && !strcmp(comma, ",rw")) {
		*comma = 0;
	}
	if (!*arg)
		return cli_usage_error(cmd, "--disk needs a path");
	cfg->disks[cfg->ndisks++] = (struct machine_disk){ arg, ro };
	return 0;
}

int cli_run_opts_parse(const char *cmd, const char *help, int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, 'm' },    { "cmdline", required_argument, NULL, 'c' },
		{ "initrd", required_argument, NULL, 'i' }, { "disk", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'n' },    { "serial", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' }, { "max-exits", required_argument, NULL, 'X' },
		{ "stats", no_argument, NULL, 'S' },	    { "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },	    { "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' }, { "checkpoint-every", required_argument, NULL, 'C' },
		{ "delivery", required_argument, NULL, 'D' },
		{ "restore", required_argument, NULL, 'R' }, { "control", required_argument, NULL, 'W' },
		{ "peer", required_argument, NULL, 'P' },   { "transport", required_argument, NULL, 'T' },
		{ "beat-ms", required_argument, NULL, 'B' }, { "dead-ms", required_argument, NULL, 'K' },
		{ "arbiter", required_argument, NULL, 'A' }, { "console-seq", required_argument, NULL, 'Q' },
		{ "chaos", required_argument, NULL, 'Z' },  { "chaos-max", required_argument, NULL, 'Y' },
		{ "chaos-pause-us", required_argument, NULL, 'U' }, { "show-tsc", no_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "arbiter-cacert", required_argument, NULL, CLI_OPT_ARB_CACERT },
		{ "arbiter-cert", required_argument, NULL, CLI_OPT_ARB_CERT },
		{ "arbiter-key", required_argument, NULL, CLI_OPT_ARB_KEY },
		{ "arbiter-auth", required_argument, NULL, CLI_OPT_ARB_AUTH },
		{ 0 },
	};
	memset(o, 0, sizeof(*o));
	o->cfg.mem_size = 256ULL << 20;
	o->serial = "stdio";
	o->step = 1;
	o->chaos_max = CHAOS_DEFAULT_MAX;
	o->chaos_pause_us = CHAOS_DEFAULT_PAUSE_US;
	int chaos_max_given = 0;
	optind = 1;
	opterr = 0;
	int c;
	char *end;
	int ft = !strcmp(cmd, "ft primary"), record = ft || !strcmp(cmd, "record");
	const char *booting = NULL;	/* an option that only a boot can take */
	o->wire = "tcp";
	int li = -1;
	while ((c = getopt_long(argc, argv, record ? ":m:c:i:d:n:s:t:vqho:" : ":m:c:i:d:n:s:t:vqh",
				longopts, &li)) != -1) {
		/* a long option of another command: its value, if any, is consumed already */
		if ((((c == 'o' || c == 'C') && !record) || ((c == 'P' || c == 'T' || c == 'B' || c == 'K' || c == 'A' || c == 'Q' || c == 'k' || c >= CLI_OPT_ARB_CACERT) && !ft) ||
		     ((c == 'Z' || c == 'Y' || c == 'U' || c == 'R' || c == 'W') && ft)) && li >= 0)	/* a backup replays; it cannot follow chaos live */
			return cli_usage_error(cmd, "unknown option '--%s'", longopts[li].name);
		li = -1;
		if (c == 'm' || c == 'c' || c == 'i' || c == 'H')
			booting = c == 'm' ? "--mem" : c == 'c' ? "--cmdline" : c == 'i' ? "--initrd" : "--show-tsc";
		switch (c) {
		case 'R': o->restore = optarg; break;
		case 'W': o->control = optarg; break;
		case 'Z':
			errno = 0;
			o->chaos_seed = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' || *optarg == '+' || *optarg == ' ')
				return cli_usage_error(cmd, "bad --chaos '%s': want a seed, a number 0..18446744073709551615",
						       optarg);
			o->chaos = 1;
			break;
		case 'Y': {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' || v < 1 || v > CHAOS_MAX_MAX)
				return cli_usage_error(cmd, "bad --chaos-max '%s': want a number of exits, 1..%d", optarg,
						       CHAOS_MAX_MAX);
			o->chaos_max = (uint32_t)v;
			chaos_max_given = 1;
			break;
		}
		case 'U': {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' || v > CHAOS_PAUSE_MAX_US)
				return cli_usage_error(cmd, "bad --chaos-pause-us '%s': want microseconds, 0..%d", optarg,
						       CHAOS_PAUSE_MAX_US);
			o->chaos_pause_us = (uint32_t)v;
			chaos_max_given = 1;
			break;
		}
		case 'P': o->peer = optarg; break;
		case 'k': o->key_file = optarg; break;
		case CLI_OPT_ARB_CACERT: case CLI_OPT_ARB_CERT: case CLI_OPT_ARB_KEY: case CLI_OPT_ARB_AUTH:
			cli_arbiter_cred(&o->arb_creds, c, optarg);
			break;
		case 'A': o->arbiter = optarg; break;
		case 'Q': o->console_seq = optarg; break;
		case 'T': o->wire = optarg; break;
		case 'B':
			if (cli_parse_ms(cmd, "beat-ms", optarg, &o->beat_ms))
				return DETVM_EXIT_USAGE;
			break;
		case 'K':
			if (cli_parse_ms(cmd, "dead-ms", optarg, &o->dead_ms))
				return DETVM_EXIT_USAGE;
			break;
		case 'o': o->output = optarg; break;
		case 'C':
			errno = 0;
			o->checkpoint_exits = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' || !o->checkpoint_exits)
				return cli_usage_error(cmd, "bad --checkpoint-every '%s': want a number of exits > 0",
						       optarg);
			break;
		case 'm':
			if (cli_parse_size(optarg, &o->cfg.mem_size) || machine_mem_size_problem(o->cfg.mem_size))
				return cli_usage_error(cmd, "bad --mem '%s': want 16M..64G in 4K units", optarg);
			break;
		case 'c': o->cfg.cmdline = optarg; break;
		case 'i': o->cfg.initrd_path = optarg; break;
		case 'd':
			if (cli_parse_disk(cmd, &o->cfg, optarg))
				return DETVM_EXIT_USAGE;
			break;
		case 'n':
			if (o->cfg.nnics == MACHINE_MAX_NICS)
				return cli_usage_error(cmd, "at most %d network devices", MACHINE_MAX_NICS);
			o->cfg.nics[o->cfg.nnics++] = optarg;
			break;
		case 's':
			if (cli_check_serial(cmd, optarg))
				return DETVM_EXIT_USAGE;
			o->serial = optarg;
			break;
		case 't':
			o->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(o->timeout > 0) || o->timeout > 1e7)
				return cli_usage_error(cmd, "bad --timeout '%s': want seconds > 0", optarg);
			break;
		case 'X':
			errno = 0;
			o->cfg.max_exits = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || *optarg == '-' || !o->cfg.max_exits)
				return cli_usage_error(cmd, "bad --max-exits '%s'", optarg);
			break;
		case 'D':
			if (strcmp(optarg, "sync") && strcmp(optarg, "step"))
				return cli_usage_error(cmd, "bad --delivery '%s': use sync or step", optarg);
			o->step = !strcmp(optarg, "step");
			break;
		case 'S': o->stats = 1; break;
		case 'H': o->cfg.tsc_shown = 1; break;
		case 'v': if (log_threshold < LOG_DEBUG) log_threshold++; break;
		case 'q': log_threshold = LOG_ERROR; break;
		case 'h':
			fputs(help, stdout);
			return -1;
		case ':':
			return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->restore && booting)
		return cli_usage_error(cmd, "--restore takes the machine from the snapshot: %s cannot change it", booting);
	if (o->restore && optind < argc)
		return cli_usage_error(cmd, "--restore takes the image from the snapshot: no IMAGE ('%s')", argv[optind]);
	if (!o->restore && optind != argc - 1)
		return cli_usage_error(cmd, optind >= argc ? "no IMAGE given" : "more than one IMAGE given");
	o->cfg.image_path = o->restore ? NULL : argv[optind];
	if (chaos_max_given && !o->chaos)
		return cli_usage_error(cmd, "--chaos-max and --chaos-pause-us need --chaos SEED");
	if (record && !o->output)
		return cli_usage_error(cmd, "no trace file given: use -o TRACE");
	if (ft && !o->peer)
		return cli_usage_error(cmd, "no backup given: use --peer HOST:PORT");
	if (ft && !o->key_file)
		return cli_usage_error(cmd, CLI_FT_NO_KEY);
	return 0;
}

/* Where the host does not apply CPUID (honoured == 0), pin this thread to one core.
 * Returns the CPU pinned to (or 0 when nothing was needed), or -errno. */
static int cli_pin_for_cpuid(int honoured)
{
	if (honoured != 0)
		return 0;
	/* the guest reads the host's CPUID, which includes the APIC ID of the core it runs on:
	 * one fixed core (the first this process may use) keeps that the same every run */
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : cpu;
	}
	return -ENOENT;
}

int cli_open_serial(const char *spec)
{
	if (strncmp(spec, "file:", 5))
		return STDOUT_FILENO;
	int fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		log_error("cannot open serial file '%s': %s", spec + 5, strerror(errno));
	return fd;
}

static struct termios saved_tio;
static int tio_saved;

/* Raw input so keys reach the guest as typed; ISIG stays so Ctrl-C still stops detvm. */
void cli_console_raw(void)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio))
		return;
	t = saved_tio;
	t.c_lflag &= ~(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_iflag &= ~(ICRNL | IXON);
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		tio_saved = 1;
}

void cli_console_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = 0;
}

/*
 * Host threads (console reader, network readers) must never take SIGINT, SIGTERM or
 * SIGALRM: those have to interrupt KVM_RUN on the vCPU thread. Threads inherit the mask
 * that is in force when they are created.
 */
void cli_block_stop_signals(int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGALRM);
	sigaddset(&s, SIGRTMIN);
	pthread_sigmask(how, &s, NULL);
}

int cli_host_devices(struct host_run *h, const struct machine_config *cfg, uint64_t *disk_sizes)
{
	char err[512];
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		int r = host_run_add_disk(h, cfg->disks[i].path, cfg->disks[i].read_only, err, sizeof(err));
		if (r < 0) {
			log_error("%s", err);
			return DETVM_EXIT_USAGE;
		}
		disk_sizes[i] = h->disk_size[r];
	}
	for (unsigned i = 0; i < cfg->nnics; i++) {
		if (host_run_add_nic(h, cfg->nics[i], err, sizeof(err)) < 0) {
			log_error("%s", err);
			return DETVM_EXIT_USAGE;
		}
	}
	return 0;
}

int cli_prepare_host(struct machine_config *cfg, int step)
{
	/* a step point needs nothing of the host: replay loads the state it carries */
	if (step)
		cfg->step_rings = 1u << 0 | 1u << 3;
	int honoured = probe_cpuid_honoured();
	cfg->host_cpuid_ignored = honoured == 0;
	if (honoured == 0)
		log_debug("running the vCPU on host CPU %d: this host's CPUID shows the guest the core's APIC ID",
			 cli_pin_for_cpuid(honoured));
	return honoured;
}

void cli_prepare_replay(struct machine_config *cfg)
{
	cli_prepare_host(cfg, 0);	/* cmdline_final: only the pinning matters here */
	unsigned steps = probe_step_rings(), bps = probe_breakpoint_rings();
	cfg->step_breakpoints = steps && (bps & steps) == steps;
	log_debug("landmarks are reached by %s", cfg->step_breakpoints ? "breakpoint" : "single-stepping");
}

void cli_warn_cpuid(int honoured)
{
	/* CPUID is part of the determinism contract: say so when the host ignores it */
	if (honoured == 0)
		log_warn("this host's KVM does not apply CPUID policies: the guest sees the host's "
			 "TSC, RDRAND and XSAVE bits (detvm tells Linux so on its command line; other "
			 "guests must avoid them: see `detvm doctor`)");
}

int cli_start_kick(timer_t *t)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, t) < 0)
		return -errno;
	struct itimerspec its = { { 0, CLI_KICK_NS }, { 0, CLI_KICK_NS } };
	if (timer_settime(*t, 0, &its, NULL) < 0) {
		int e = -errno;
		timer_delete(*t);
		return e;
	}
	return 0;
}

int cli_run_machine(struct machine *m, struct host_run *h, double timeout, int kick)
{
	m->stop = &cli_stop_flag;
	if (cli_install_signals(timeout) || host_run_start(h)) {
		log_error("cannot start the host side: %s", strerror(errno));
		return DETVM_EXIT_HOST;
	}
	timer_t t;
	int kick_on = 0;
	if (kick || m->step_rings) {
		int r = cli_start_kick(&t);
		if (r) {
			log_error("cannot start the vCPU kick timer: %s", strerror(-r));
			return DETVM_EXIT_HOST;
		}
		kick_on = 1;
	}
	cli_block_stop_signals(SIG_UNBLOCK);
	cli_console_raw();
	int code = machine_run(m);
	cli_console_restore();
	if (kick_on)
		timer_delete(t);
	host_run_flush(h);
	return code;
}

void cli_chaos_start(struct machine *m, const struct run_opts *o, struct chaos *c)
{
	if (!o->chaos)
		return;
	chaos_init(c, o->chaos_seed, o->chaos_max, o->chaos_pause_us);
	m->gate = &c->gate;
	log_info("chaos delivery: seed %" PRIu64 ", delays of 0..%" PRIu32 " exits, pauses of 0..%" PRIu32 " us",
		 c->seed, c->max, c->max_pause_us);
}

void cli_chaos_stats(const struct run_opts *o, const struct chaos *c)
{
	if (o->chaos && o->stats)
		fprintf(stderr, "chaos: seed %" PRIu64 ", max delay %" PRIu32 " exits, max pause %" PRIu32
				" us; %" PRIu64 " interrupts delayed by %" PRIu64 " exits in all, %" PRIu64
				" pauses of %" PRIu64 " us in all\n",
			c->seed, c->max, c->max_pause_us, c->delays, c->held_exits, c->pauses, c->paused_us);
}

int cli_run(int argc, char **argv)
{
	struct run_opts o;
	int r = cli_run_opts_parse("run", run_help, argc, argv, &o);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	cli_block_stop_signals(SIG_BLOCK);

	int out_fd = cli_open_serial(o.serial);
	if (out_fd < 0)
		return DETVM_EXIT_USAGE;
	struct host_run host;
	char err[512] = "";
	int code = DETVM_EXIT_HOST;
	static struct machine m;
	static struct snapshot snap;
	static struct replay_setup setup;
	static struct cli_control control;
	if (o.restore && (code = cli_restore_open(&o, &snap, &setup)))
		goto out_close;
	code = DETVM_EXIT_HOST;
	if (host_run_init(&host, out_fd, STDIN_FILENO)) {
		log_error("cannot set up host input: %s", strerror(errno));
		goto out_close;
	}
	uint64_t disk_sizes[MACHINE_MAX_DISKS];
	code = cli_host_devices(&host, &o.cfg, disk_sizes);
	if (code)
		goto out_host;
	int honoured = cli_prepare_host(&o.cfg, o.step);
	code = machine_create(&m, &o.cfg, &host.io, disk_sizes, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		goto out_host;
	}
	cli_warn_cpuid(honoured);
	static struct chaos chaos;
	cli_chaos_start(&m, &o, &chaos);
	if ((!o.restore || !(code = cli_restore_apply(&snap, &m, &host))) &&
	    (!o.control || !(code = cli_control_start(&control, o.control, &m, &o.cfg, &host)))) {
		code = cli_run_machine(&m, &host, o.timeout, 0);
		cli_control_stop(&control);
	}
	if (o.stats)
		machine_print_stats(&m, stderr);
	cli_chaos_stats(&o, &chaos);
	machine_destroy(&m);
out_host:
	host_run_destroy(&host);
out_close:
	snapshot_close(&snap);
	if (out_fd != STDOUT_FILENO)
		close(out_fd);
	return code;
}
