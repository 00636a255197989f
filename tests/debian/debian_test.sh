#!/usr/bin/env bash
# A real Debian guest under detvm: Debian's stock kernel, an initramfs with its own virtio
# and ext4 modules, a Debian root filesystem (mmdebstrap minbase) on virtio-blk booted
# read-write with busybox init, a workload that reads the TSC, writes files and talks on
# a unix-socket NIC (tests/debian/ip_peer.py is 169.254.0.1).
#   debian_test.sh DETVM build     build (or find cached) kernel, initramfs and root image
#   debian_test.sh DETVM boot      run it to the workload's PASS line and a clean reset;
#                                  check the console, the peer and the disk (e2fsck)
#   debian_test.sh DETVM rr        record that boot, replay it twice: same console bytes,
#                                  exits and end, "replay identical"; prints the timings,
#                                  the trace size and `detvm dump --stats`
#   debian_test.sh DETVM ft        an FT pair (etcd arbiter, loopback): kill -9 of the
#                                  primary at a random console line (DEBIAN_FT_AT=N fixes
#                                  it); the backup goes live and finishes the workload,
#                                  the console an outside reader sees has no gap, the
#                                  shared disk is clean (e2fsck)
#   debian_test.sh DETVM systemd   boot with systemd as init instead (a measurement: the
#                                  time to the workload's PASS line; not in the suite)
# boot, rr and systemd need /dev/kvm with detvm's RDTSC exit (tsc-exit: the stock kernel
# and the workload read the TSC); they fail, never skip, without it.
set -u
detvm=$1 mode=$2
here=$(cd "$(dirname "$0")" && pwd)
paths=$("$here/build.sh") || { echo "FAIL: the Debian guest's build failed"; exit 1; }
[ "$mode" = build ] && { echo "$paths"; exit 0; }
case $mode in boot | rr | ft | systemd) ;; *)
	echo "usage: debian_test.sh DETVM build|boot|rr|ft|systemd" >&2
	exit 2 ;;
esac
[ -r /dev/kvm ] && [ -w /dev/kvm ] ||
	{ echo "FAIL: /dev/kvm is not usable (run it through tests/kvmhost/kvm-test.sh)"; exit 1; }
"$detvm" doctor | grep -q "^OK .*tsc-exit" ||
	{ echo "FAIL: this KVM has no tsc-exit (run in kvmhost.py --kvm tsc-exit; scripts/kvm-detvm)"; exit 1; }
kernel=$(sed -n 1p <<<"$paths") initrd=$(sed -n 2p <<<"$paths") image=$(sed -n 3p <<<"$paths")

tmp=$(mktemp -d)
peer_pid=
# ft_lib.sh: etcd on loopback and start_pair (it runs "$elf" with the arguments given)
. "$here/../integration/ft_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)	# (ft_lib.sh sets its own)
elf=$kernel bpid= ppid= b2pid=
trap '[ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; ft_cleanup' EXIT
fail() {
	echo "FAIL debian $mode: $*"
	local f
	for f in "$tmp"/ft/*.err "$tmp"/ft/progress; do [ -f "$f" ] && { echo "--- ${f#"$tmp"/}"; tail -n 15 "$f"; }; done
	exit 1
}
fails=0
check() {	# check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$1" "$2"; }
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.1f\", $2 - $1 }"; }

# the guest writes to its disk: each run gets a fresh sparse copy of the cached image
cp --sparse=always "$image" "$tmp/root.img"
start_peer() {
	python3 "$here/ip_peer.py" --sock "$tmp/peer.sock" --timeout 900 2>"$tmp/peer.log" &
	peer_pid=$!
	for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
}
stop_peer() {
	kill "$peer_pid" 2>/dev/null
	wait "$peer_pid" 2>/dev/null
	peer_pid=
}
args=(--stats --timeout 800 --disk "$tmp/root.img" --net "unix:$tmp/peer.sock" --initrd "$initrd")

expect_console() {	# expect_console CONSOLE STDERR STATUS [INIT]
	local out=$1.txt err=$2 rc=$3 init=${4:-init}
	tr -d '\r' <"$1" >"$out"	# the serial console ends lines with CR LF
	check "Debian's kernel" grep -q "Linux version 6.1.0-[0-9]*-amd64 .*Debian" "$out"
	check "detvm_mmio registered the windows" has "detvm_mmio: virtio-mmio.1 at [mem 0xd0001000-0xd0001fff], IRQ 11" "$out"
	check "virtio-blk probed (512 MiB)" has "virtio_blk virtio0: [vda] 1048576 512-byte logical blocks" "$out"
	check "Debian's modules loaded" has "detvm-initramfs: modules loaded: virtio_ring virtio virtio_mmio" "$out"
	check "root mounted read-write from virtio-blk" has "detvm-initramfs: root /dev/vda mounted read-write" "$out"
	check "ext4 mounted" grep -q "EXT4-fs (vda): mounted filesystem.* with ordered data mode" "$out"
	check "init is $init" grep -q "^detvm-debian: init $init, uptime" "$out"
	check "the TSC read from ring 3 moved forward" grep -q "detvm-work: tsc 2000 reads, .* 0 not increasing$" "$out"
	check "files written and synced on ext4" has "detvm-work: wrote, synced and read back 4 files" "$out"
	check "clock_gettime never went back" grep -q "detvm-work: clock_gettime [0-9]* reads, .* 0 going back$" "$out"
	check "UDP echoed by the peer" has "detvm-work: udp 8/8 datagrams echoed by 169.254.0.1" "$out"
	check "ping answered" has "detvm-debian: 2 ping replies from 169.254.0.1" "$out"
	check "workload passed" grep -q "^detvm-debian: PASS, uptime" "$out"
	check "clean end: the guest reset (status 0)" test "$rc" -eq 0
	check "the guest's reset ended detvm" has "guest requested a reset" "$err"
}
expect_peer() {
	check "peer answered ARP, ping and UDP ($(cat "$tmp/peer.log"))" \
		grep -Eq "[1-9][0-9]* arp, [2-9][0-9]* icmp echo, ([89]|[1-9][0-9]+) udp echo" "$tmp/peer.log"
	e2fsck -fn "$tmp/root.img" >"$tmp/fsck" 2>&1
	check "the disk is clean after the run (e2fsck -fn)" test $? -eq 0
}

case $mode in
boot | systemd)
	cmdline=() init=init
	# systemd gets 400 s: a measurement, it must leave the VM time to report
	[ "$mode" = systemd ] && cmdline=(--cmdline "detvm.init=/lib/systemd/systemd") init=systemd args[2]=400
	start_peer
	t0=$(now)
	"$detvm" run -v "${args[@]}" "${cmdline[@]}" "$kernel" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	t1=$(now)
	stop_peer
	expect_console "$tmp/out" "$tmp/err" "$rc" "$init"
	expect_peer
	echo "console: $(grep -c '' "$tmp/out.txt") lines"
	echo "time: $mode to the end $(secs "$t0" "$t1") s; $(grep '^exits:' "$tmp/err")"
	grep "^detvm-debian: \(init\|PASS\)" "$tmp/out.txt"
	;;
rr)
	start_peer
	t0=$(now)
	"$detvm" record -v -o "$tmp/debian.trace" "${args[@]}" "$kernel" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	t1=$(now)
	stop_peer
	expect_console "$tmp/out" "$tmp/err" "$rc"
	expect_peer
	"$detvm" dump "$tmp/debian.trace" >"$tmp/dump" 2>&1
	check "the trace has the virtual TSC" grep -q "^tsc: virtual" "$tmp/dump"
	reads=$(grep -c " exit msr rdmsr index=0x10 size=8 data=" "$tmp/dump")
	check "the TSC reads are exits in the trace ($reads)" test "$reads" -gt 2000
	check "received frames are in the trace" grep -q " net_rx " "$tmp/dump"
	echo "time: record $(secs "$t0" "$t1") s, trace $(stat -c %s "$tmp/debian.trace") bytes; $(grep '^exits:' "$tmp/err")"
	for i in 1 2; do
		t0=$(now)
		"$detvm" replay -v --stats "$tmp/debian.trace" >"$tmp/rout$i" 2>"$tmp/rerr$i" </dev/null
		rrc=$?
		t1=$(now)
		echo "time: replay $i $(secs "$t0" "$t1") s"
		check "replay $i ends as the recording did ($rrc)" test "$rrc" -eq "$rc"
		check "replay $i: same console bytes" cmp "$tmp/out" "$tmp/rout$i"
		check "replay $i: same exits" test "$(grep '^exits:' "$tmp/err" | cut -d' ' -f2)" = \
			"$(grep '^exits:' "$tmp/rerr$i" | cut -d' ' -f2)"
		check "replay $i identical (every exit and checkpoint)" has "replay identical" "$tmp/rerr$i"
	done
	"$detvm" dump --stats "$tmp/debian.trace"
	[ "$fails" -eq 0 ] || { echo "--- replay 1"; tail -n 20 "$tmp/rerr1"; echo "--- replay 2"; tail -n 20 "$tmp/rerr2"; }
	;;
ft)
	# a console line of the boot, from the kernel's first messages to line
	# DEBIAN_FT_LAST (default 250: the workload's end; a boot prints 255, the workload's
	# from about 240); the primary must not have ended
	at=${DEBIAN_FT_AT:-$((30 + RANDOM % (${DEBIAN_FT_LAST:-250} - 30)))}
	etcd_start
	start_peer
	d=$tmp/ft
	mkdir -p "$d"
	# the disk is shared: moved there so both sides name it at one path
	mv "$tmp/root.img" "$d/root.img"
	t0=$(now)
	start_pair "$d" $((30000 + RANDOM % 20000)) "$etcd_url/detvm-test/debian" --timeout 800 \
		--disk "$d/root.img" --net "unix:$tmp/peer.sock" --initrd "$initrd"
	# progress every 10 s (seconds, console lines, the backup's last word): where the
	# time goes when a run is slow
	s0=$SECONDS next=10
	for _ in $(seq 12000); do
		[ "$(lines "$d/p.con" "")" -ge "$at" ] && break
		kill -0 "$ppid" 2>/dev/null || break
		if [ $((SECONDS - s0)) -ge $next ]; then
			echo "$((SECONDS - s0)) s: $(lines "$d/p.con" "") lines; backup: $(tail -n 1 "$d/b.err")" >>"$d/progress"
			next=$((next + 10))
		fi
		sleep 0.05
	done
	kill -0 "$ppid" 2>/dev/null || fail "the primary ended before console line $at"
	t1=$(now)
	kill -9 "$ppid"
	wait "$ppid" 2>/dev/null
	ppid=
	wait "$bpid" 2>/dev/null
	brc=$?
	bpid=
	t2=$(now)
	stop_peer
	tr '\n' ' ' <"$d/progress" 2>/dev/null | sed 's/; backup: [^;]*over tcp//g; s/^/ft progress: /'; echo
	echo "ft: killed the primary at console line $at ($(tail -n 1 "$d/p.con" | tr -d '\r' | cut -c1-60)) after $(secs "$t0" "$t1") s; the backup ended after $(secs "$t1" "$t2") s more"
	# the backup replays as it receives: a divergence there leaves the primary alone
	grep -q "diverged" "$d/b.err" && fail "the backup's replay $(grep -o 'diverged.*' "$d/b.err" | head -n 1)"
	check "the backup won the arbiter" has "won generation 1 at the arbiter" "$d/b.err"
	check "the backup went live" grep -q "^detvm: live at exit" "$d/b.err"
	python3 "$ft_console" -o "$tmp/seen" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$tmp/reader.err"
	check "no gap in the console an outside reader saw ($(cat "$tmp/reader.err"))" test $? -eq 0
	expect_console "$tmp/seen" "$d/b.err" "$brc"
	mv "$d/root.img" "$tmp/root.img"
	expect_peer
	grep -o "switch took [0-9.]* ms" "$d/b.err"
	grep "issued again" "$d/b.err"
	[ "$fails" -eq 0 ] || { echo "--- primary"; tail -n 15 "$d/p.err"; echo "--- backup"; tail -n 30 "$d/b.err"; }
	;;
esac
if [ "$fails" -ne 0 ]; then
	echo "--- console (tail)"; tail -n 40 "$tmp/out"
	echo "--- detvm"; tail -n 40 "$tmp/err"
	echo "--- peer"; cat "$tmp/peer.log"
	exit 1
fi
echo "PASS debian $mode"
