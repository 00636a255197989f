/*
 * `detvm ft primary` and `detvm ft backup`: a guest recorded on the primary while its
 * backup replays the trace as it comes, in near lockstep. The primary streams its trace
 * over the FT link (ft/link.h) as `record` writes it; the backup writes what arrives into
 * its own trace and replays that in follow mode, checking every exit and checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft/arbiter.h"
#include "ft/link.h"
#include "ft/output.h"
#include "replay/record.h"
#include "logs/trace.h"
#include "tools/cli.h"
#include "tools/cli_ft.h"
#include "vmm/exitcode.h"
#include "vmm/file_io.h"
#include "vmm/log.h"

const char cli_ft_help[] =
	"usage: detvm ft primary --peer HOST:PORT --key FILE -o TRACE [--arbiter URL] [link options]\n"
	"                        [run options] IMAGE\n"
	"       detvm ft backup --listen HOST:PORT --key FILE --trace TRACE [--arbiter URL] [link options]\n"
	"                       [--disk PATH[,ro]]... [--net SPEC] [--max-mem SIZE] [--max-trace SIZE]\n"
	"                       [--serial S] [--console-seq PATH] [--stats] [--control SOCKET] [--protect SOCKET]\n"
	"\n"
	"Runs a guest on the primary while the backup replays it in near lockstep. The primary\n"
	"records as `detvm record` does (TRACE, and the disk snapshots TRACE.diskN beside it)\n"
	"and streams the trace to the backup as it is written; the backup writes what it gets\n"
	"into its own TRACE and replays it as it grows, checking every exit and checkpoint,\n"
	"and acknowledges every piece it holds. Start the backup first. Both sides need the\n"
	"image and initrd at the same paths, the disk (shared: only the live side writes it)\n"
	"and the snapshots: give the backup a TRACE in the directory of the primary's. The\n"
	"backup takes the shared disks and its network from its own command line, never from\n"
	"the wire: a primary whose trace names other disks, NICs without --net, or more memory\n"
	"than --max-mem is refused in one line, like a peer with no hello within 5 s, and the\n"
	"backup waits for the next.\n"
	"\n"
	"Link options (both sides):\n"
	"  --key FILE           required: the pair's shared secret, 16 to 4096 bytes that only\n"
	"                       their owner may read (make one with\n"
	"                       `(umask 077; head -c 32 /dev/urandom > FILE)` and copy it to\n"
	"                       both hosts). Each side proves it in the hello, and every message\n"
	"                       is then encrypted and authenticated (ChaCha20-Poly1305): a peer\n"
	"                       without it is refused, one altered or replayed ends the link\n"
	"  --transport tcp|rdma[:DEVICE]  the wire: TCP, or RDMA verbs (default tcp; rdma needs\n"
	"                       a device `detvm doctor` finds)\n"
	"  --beat-ms N          heartbeat period while nothing else is sent (default 10)\n"
	"  --dead-ms N          silence after which the peer counts as dead (default 100);\n"
	"                       both sides must give the same timings (the hello checks)\n"
	"  --arbiter URL        file:PATH (an fcntl lock on a shared filesystem),\n"
	"                       etcd://HOST:PORT/KEY (etcd v3) or etcds://HOST:PORT/KEY (over TLS):\n"
	"                       without one, nobody goes live alone. A side that won loses its\n"
	"                       authority with its etcd lease (5 s without a keep-alive): it\n"
	"                       releases nothing more and halts (exit 13)\n"
	"  --arbiter-cacert FILE  etcds: the CA that signed etcd's certificate (PEM)\n"
	"  --arbiter-cert FILE  etcds: this side's client certificate (PEM), with --arbiter-key FILE\n"
	"                       (with no CommonName where etcd has users: its JSON gateway refuses\n"
	"                       a certificate with one then)\n"
	"  --arbiter-key FILE   etcds: the client certificate's private key (PEM)\n"
	"  --arbiter-auth FILE  etcds: etcd's user and password, \"USER:PASSWORD\" in a file only\n"
	"                       its owner can read\n"
	"  --console-seq PATH   the console side channel: \"OFFSET LENGTH\" before each chunk of\n"
	"                       console output (tools/ft_console.py merges the two sides)\n"
	"Backup only:\n"
	"  --listen HOST:PORT   where to wait for the primary\n"
	"  --trace PATH         the backup's copy of the trace\n"
	"  --accept-timeout S   give up waiting for the primary after S seconds (default: wait)\n"
	"  -d, --disk PATH[,ro] the shared disk, as the primary names it (repeatable, in the\n"
	"                       primary's order): written once live\n"
	"  -s, --serial stdio|file:PATH   the console: replayed, then live (default stdio)\n"
	"  --net SPEC           the network backend to open on going live (needed when the\n"
	"                       primary's VM has a NIC)\n"
	"  --max-mem SIZE       the most guest memory to take from the primary (default 4G)\n"
	"  --max-trace SIZE     the most trace to store (default 64G): past it, stop (exit 7)\n"
	"  --control SOCKET     once live, take `protect` requests (a new backup) on this socket\n"
	"  --protect SOCKET     be the new backup of the live VM whose control socket this is\n"
	"                       (only such a backup takes a running state over the link)\n"
	"  --stats, -v, -q      as for replay\n"
	"\n"
	"The output rule: the guest's console bytes, frames and disk writes leave the primary\n"
	"only once the backup holds the log that produced them (disk reads see writes that\n"
	"wait); the guest waits only when 16 MiB of output does.\n"
	"\n"
	"Failover: when the primary dies the backup replays all it received, wins the arbiter,\n"
	"and goes live at exactly the end of the log: same devices, its clock and timers run on,\n"
	"the shared disk gets every block its replay wrote (idempotent), network and console\n"
	"live. A primary whose backup died goes on alone once it wins the arbiter. The loser,\n"
	"or a side that cannot reach the arbiter, halts (exit 13).\n"
	"\n"
	"Re-protection: a backup started with --control SOCKET that went live takes a new\n"
	"backup without stopping: `detvm ft backup --listen HOST:PORT --protect SOCKET ...` on\n"
	"the new backup's side asks it (SOCKET is the live VM's; run it where that is\n"
	"reachable). The VM sends its memory while it runs (pre-copy rounds with KVM's dirty\n"
	"log), pauses at one delivery point for the last pages, vCPU and devices, and goes on as\n"
	"the new backup's primary: the output rule again, then failover again.\n"
	"\n"
	"Exit status: as record (primary) and replay (backup), the live guest's once a backup\n"
	"went live; 2 bad options, or an RDMA wire with no RDMA device; 7 a backup that stopped\n"
	"at the end of the log (no arbiter, or a primary that broke the protocol: garbage, a\n"
	"state unasked or too large, a trace over --max-trace); 10 the peer could not be\n"
	"reached or was refused at the hello; 12 the last primary was refused for a trace header\n"
	"that disagrees with the backup's --disk, --net or --max-mem, and none came after it\n"
	"within --accept-timeout; 13 halted by the arbiter (lost, unreachable, or its lease gone;\n"
	"at the start too: a side that cannot use its arbiter runs nothing).\n";

int cli_ft_open_seq(const char *path, int *fd)
{
	*fd = -1;
	if (path && (*fd = file_create_private(path)) < 0) {
		log_error("cannot create the console side channel '%s': %s", path, file_strerror(*fd));
		return DETVM_EXIT_USAGE;
	}
	return 0;
}

int cli_ft_check_wire(const char *cmd, const char *wire)
{
	if (strncmp(wire, "rdma", 4))
		return 0;
	char name[64];
	if (!transport_rdma_available(name, sizeof(name)))
		return cli_usage_error(cmd, "--transport %s: no RDMA device with an IPv4 address here (see `detvm doctor`)", wire);
	return 0;
}

static int primary(int argc, char **argv)
{
	struct run_opts o;
	int r = cli_run_opts_parse("ft primary", cli_ft_help, argc, argv, &o);
	if (r)
		return r < 0 ? DETVM_EXIT_OK : r;
	if ((r = cli_ft_check_wire("ft primary", o.wire)))
		return r;
	char err[512];
	static struct cli_ft_side side;
	if (cli_ft_load_key(side.key, o.key_file))
		return DETVM_EXIT_USAGE;
	side.peer = o.peer;
	side.seq_fd = -1;
	if (o.arbiter && (r = cli_ft_arbiter_open(&side.arb, o.arbiter, "primary", &o.arb_creds, &side.gen)))
		return r;
	static struct ft_fence fence;
	if (side.arb) {	/* only a side that may go on alone, or live, must be fenced */
		if ((r = cli_ft_fence_open(&fence, &o.cfg, side.gen))) {
			arbiter_close(side.arb);
			return r;
		}
		side.fence = &fence;
	}
	if (cli_ft_open_seq(o.console_seq, &side.seq_fd)) {
		arbiter_close(side.arb);
		return DETVM_EXIT_USAGE;
	}
	struct transport *t;
	struct transport_terms terms = cli_ft_terms(side.key, o.beat_ms, o.dead_ms);
	r = transport_connect(&t, o.peer, o.wire, &terms, 30000, err, sizeof(err));
	if (r) {
		log_error("cannot reach the backup: %s", err);
		arbiter_close(side.arb);
		return DETVM_EXIT_HOST;
	}
	r = ft_primary_start(&side.link, t, o.beat_ms, o.dead_ms);
	if (r) {
		transport_destroy(t);
		log_error("cannot start the FT link: %s", strerror(-r));
		arbiter_close(side.arb);
		return DETVM_EXIT_HOST;
	}
	log_info("streaming the trace to the backup at %s over %s", o.peer, o.wire);
	const struct cli_stream stream = { cli_ft_side_sink, cli_ft_side_finish, cli_ft_side_wrap, cli_ft_side_recording, &side };
	int code = cli_record_session(&o, &stream);
	if (side.hold.halted)
		code = DETVM_EXIT_FT_HALTED;
	else if (side.hold.alone)
		log_info("ran on alone after the backup was lost");
	else if (side.link.peer == FT_PEER_DEAD)
		log_error("the backup at %s is gone: %s", o.peer, side.link.why);
	else if (!code)
		log_info("the backup holds the whole trace (%llu pieces); %llu outputs waited for it, %llu ms in all",
			 (unsigned long long)ft_primary_acked(&side.link), (unsigned long long)side.hold.outputs,
			 (unsigned long long)side.hold.waited_ms);
	ft_hold_destroy(&side.hold);
	ft_link_destroy(&side.link);
	ft_fence_close(&fence);
	arbiter_close(side.arb);
	if (side.seq_fd >= 0)
		close(side.seq_fd);
	return code;
}

int cli_ft(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("ft", "want `detvm ft primary ...` or `detvm ft backup ...` (see --help)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(cli_ft_help, stdout);
		return DETVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "primary"))
		return primary(argc - 1, argv + 1);
	if (!strcmp(argv[1], "backup"))
		return cli_ft_backup(argc - 1, argv + 1);
	return cli_usage_error("ft", "unknown role '%s': primary or backup", argv[1]);
}
