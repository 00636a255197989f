#!/usr/bin/env bash
# The truest "host died" test here (not part of make test): the backup and the primary in
# two KVM host VMs (tests/kvmhost), joined only by a wire -- QEMU's socket network backend,
# a virtio-net NIC each, link-local 169.254.9.1 (backup, and etcd, the arbiter) and
# 169.254.9.2 (primary). Both see this machine's files over 9p: the shared disk, the
# traces, the consoles. The guest writes its disk and console every tick (prog=journal);
# once the primary printed some lines its whole VM is killed (SIGKILL of its QEMU: no
# FIN, no RST, the link just goes silent). Asserts: the backup goes live after --dead-ms
# of silence, wins the arbiter and the guest completes; the console an outside reader
# saw (tools/ft_console.py) has no gap and equals a plain run's; the shared disk equals a
# plain run's. Prints the longest silence in the console stream the reader saw around the
# kill (the backup replays what it holds, waits out --dead-ms, goes live).
# Everything in the VMs runs under QEMU's emulator: the times are that slow machine's.
# With KILL_AFTER_LINES 0 nothing is killed: the figure is then lockstep/plain, the pair's
# whole run (the primary's wall time in its VM) against a plain run in a KVM host VM of
# its own, one after the other, each VM on a core of its own.
# usage: ft_two_vms.sh DETVM GUEST_ELF [KILL_AFTER_LINES (default 30)]
#        (inside a VM: ft_two_vms.sh --side backup|primary DIR DETVM GUEST_ELF, or
#        ft_two_vms.sh --plain DIR DETVM GUEST_ELF)
set -u
here=$(cd "$(dirname "$0")" && pwd)
dead_ms=${FT_DEAD_MS:-5000}
n=300

if [ "${1:-}" = --side ]; then
	side=$2 d=$3 detvm=$4 elf=$5
	dev=$(ls /sys/class/net | grep -v -x 'lo' | head -1)
	[ -n "$dev" ] || { echo "ft_two_vms: no NIC in this VM" >&2; exit 1; }
	if [ "$side" = backup ]; then ip=169.254.9.1; else ip=169.254.9.2; fi
	ip addr add "$ip/24" dev "$dev" && ip link set "$dev" up || exit 1
	arbiter=etcd://169.254.9.1:2379/detvm/two
	if [ "$side" = backup ]; then
		etcd --name two --data-dir "$TMPDIR/etcd" --listen-client-urls http://169.254.9.1:2379 \
			--advertise-client-urls http://169.254.9.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
			--initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster two=http://127.0.0.1:2380 \
			>"$d/etcd.log" 2>&1 &
		for _ in $(seq 300); do
			timeout 1 bash -c '</dev/tcp/169.254.9.1/2379' 2>/dev/null && break
			sleep 0.2
		done
		"$detvm" ft backup --listen 169.254.9.1:7400 --key "$d/ft.key" --trace "$d/b.trace" --arbiter "$arbiter" \
			--disk "$d/disk.img" --dead-ms "$dead_ms" --console-seq "$d/b.seq" -s "file:$d/b.con" --accept-timeout 600 -v \
			2>"$d/b.err" </dev/null
		echo $? >"$d/b.rc"
	else
		for _ in $(seq 600); do	# the wire up, etcd there
			timeout 1 bash -c '</dev/tcp/169.254.9.1/2379' 2>/dev/null && break
			sleep 0.2
		done
		t0=$(date +%s.%N)
		"$detvm" ft primary --peer 169.254.9.1:7400 --key "$d/ft.key" -o "$d/p.trace" --arbiter "$arbiter" --dead-ms "$dead_ms" \
			--disk "$d/disk.img" --console-seq "$d/p.seq" -s "file:$d/p.con" --cmdline "prog=journal n=$n" \
			--timeout 1200 -v "$elf" 2>"$d/p.err" </dev/null
		echo $? >"$d/p.rc"
		echo "$t0 $(date +%s.%N)" >"$d/p.time"	# the lockstep run's wall time, in its VM
	fi
	exit 0
fi
if [ "${1:-}" = --plain ]; then	# inside a VM: the plain run's wall time there
	d=$2 detvm=$3 elf=$4
	cp "$d/disk.img" "$d/vmplain.img"
	t0=$(date +%s.%N)
	"$detvm" run --disk "$d/vmplain.img" --cmdline "prog=journal n=$n" -s "file:$d/vmplain.con" --timeout 1200 "$elf" \
		2>"$d/vmplain.err" </dev/null || exit 1
	echo "$t0 $(date +%s.%N)" >"$d/plain.time"
	exit 0
fi

[ $# -ge 2 ] || { echo "usage: ft_two_vms.sh DETVM GUEST_ELF [KILL_AFTER_LINES]" >&2; exit 2; }
detvm=$(realpath "$1") elf=$(realpath "$2") at=${3:-30} self=$(realpath "$0")
kvmhost=$here/../kvmhost/kvmhost.py
ft_console=$here/../../tools/ft_console.py
# on this machine's disk (not /dev/shm): the VMs see it over 9p
tmp=$(mktemp -d /var/tmp/ft_two_vms.XXXXXX)
port=$((30000 + RANDOM % 20000))
cleanup() {
	for pool in "$tmp/poolb" "$tmp/poolp"; do
		DETVM_KVMHOST_POOL=$pool python3 "$kvmhost" stop 2>/dev/null
	done
	kill $bjob $pjob 2>/dev/null
	rm -rf "$tmp"
}
bjob= pjob=
trap cleanup EXIT
fail() {
	echo "FAIL ft_two_vms: $*"
	for f in "$tmp"/*.err "$tmp"/*.log; do [ -f "$f" ] && { echo "--- ${f##*/}"; tail -c 1500 "$f"; }; done
	exit 1
}
SECONDS=0
(umask 077 && head -c 32 /dev/urandom >"$tmp/ft.key")	# the pair's --key, read by both VMs
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
cp "$tmp/disk.img" "$tmp/plain.img"
"$detvm" run --disk "$tmp/plain.img" --cmdline "prog=journal n=$n" -s "file:$tmp/plain.con" --timeout 300 "$elf" \
	2>"$tmp/plain.err" </dev/null || fail "the plain run failed"

# the backup's VM listens on the wire, the primary's connects to it
nic() { echo "-netdev socket,id=w0,$1=127.0.0.1:$port -device virtio-net-pci,netdev=w0,mac=52:54:00:a9:09:0$2"; }
DETVM_KVMHOST_MEM=1536 DETVM_KVMHOST_POOL=$tmp/poolb DETVM_KVMHOST_QEMU_ARGS=$(nic listen 1) \
	python3 "$kvmhost" exec -- "$self" --side backup "$tmp" "$detvm" "$elf" >"$tmp/vmb.log" 2>&1 &
bjob=$!
for _ in $(seq 1800); do
	grep -q "waiting for the primary" "$tmp/b.err" 2>/dev/null && break
	kill -0 $bjob 2>/dev/null || fail "the backup's VM ended early: $(tail -3 "$tmp/vmb.log")"
	sleep 0.2
done
grep -q "waiting for the primary" "$tmp/b.err" 2>/dev/null || fail "the backup did not listen"
DETVM_KVMHOST_MEM=1536 DETVM_KVMHOST_POOL=$tmp/poolp DETVM_KVMHOST_QEMU_ARGS=$(nic connect 2) \
	python3 "$kvmhost" exec -- "$self" --side primary "$tmp" "$detvm" "$elf" >"$tmp/vmp.log" 2>&1 &
pjob=$!
if [ "$at" = 0 ]; then
	echo "ft_two_vms: both VMs up after ${SECONDS}s; the pair runs the guest to its end"
	wait $pjob
	wait $bjob
	bjob= pjob=
	[ "$(cat "$tmp/p.rc" 2>/dev/null)" = 0 ] || fail "the primary exited $(cat "$tmp/p.rc" 2>/dev/null)"
	cmp -s "$tmp/p.con" "$tmp/plain.con" || fail "the primary's console differs from a plain run's"
	cmp -s "$tmp/disk.img" "$tmp/plain.img" || fail "the shared disk differs from a plain run's"
	DETVM_KVMHOST_MEM=1536 python3 "$kvmhost" run -- "$self" --plain "$tmp" "$detvm" "$elf" >"$tmp/vmplain.log" 2>&1 ||
		fail "the plain run in a KVM host VM failed: $(tail -3 "$tmp/vmplain.log")"
	wall() { awk '{ printf "%.2f", $2 - $1 }' "$1"; }
	lock=$(wall "$tmp/p.time") plain=$(wall "$tmp/plain.time")
	echo "PASS ft_two_vms lockstep: console and disk equal a plain run's (${SECONDS}s)"
	echo "journal n=$n: plain $plain s in one KVM host VM; lockstep $lock s, primary and backup in two" \
		"(over QEMU's socket network, --key, --dead-ms $dead_ms): lockstep/plain $(awk -v a="$lock" -v b="$plain" \
		'BEGIN { printf "%.2f", a / b }')"
	exit 0
fi
echo "ft_two_vms: both VMs up after ${SECONDS}s; waiting for $at journal lines from the primary"

# the outside reader: timestamps of each side's console lines, on this machine
python3 - "$tmp" "$at" <<'EOF' >"$tmp/reader.out" &
import os, sys, time
d, at = sys.argv[1], int(sys.argv[2])
off, lines, qemu = {"p": 0, "b": 0}, {"p": [], "b": []}, None
killed, errpos = None, 0
end = time.monotonic() + 1800
while time.monotonic() < end:
    for s in ("p", "b"):
        try:
            with open(f"{d}/{s}.con", "rb") as f:
                f.seek(off[s])
                data = f.read()
        except OSError:
            continue
        cut = data.rfind(b"\n") + 1
        now = time.perf_counter()
        lines[s] += [now] * data[:cut].count(b"\n")
        off[s] += cut
    # the backup's log lines after the kill, timed: where the silence goes
    try:
        with open(f"{d}/b.err", "rb") as f:
            f.seek(errpos)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        if killed is not None:
            for l in data[:cut].decode(errors="replace").splitlines():
                print("backup +%.0f ms: %s" % ((time.perf_counter() - killed) * 1e3, l), flush=True)
        errpos += cut
    except OSError:
        pass
    if killed is None and len(lines["p"]) >= at:
        pid = int(open(f"{d}/poolp/vm0/qemu.pid").read())
        os.kill(pid, 9)     # the primary's whole host
        killed = time.perf_counter()
        shown = max(len(lines["p"]), len(lines["b"]))
        print("killed", shown, flush=True)
    # the stream the reader saw: each line when the first console showed it; the longest
    # silence around the kill (the backup replays what it holds, waits out --dead-ms, goes live)
    if killed is not None and len(lines["b"]) >= shown + 20:
        p, b = lines["p"], lines["b"]
        seen = [min(p[i] if i < len(p) else b[i], b[i]) for i in range(shown + 20)]
        last = max(t for t in seen if t <= killed)
        i = max(range(shown - 2, shown + 19), key=lambda i: seen[i + 1] - seen[i])
        print("silence %.1f last_to_kill %.1f kill_to_after %.1f" % ((seen[i + 1] - seen[i]) * 1e3,
                                                                   (killed - last) * 1e3,
                                                                   (seen[i + 1] - killed) * 1e3), flush=True)
        break
    time.sleep(0.001)
EOF
reader=$!
wait $reader
grep -q '^silence' "$tmp/reader.out" || fail "the reader saw no kill and no new line: $(cat "$tmp/reader.out")"
wait $pjob
echo "ft_two_vms: the primary's VM killed after $(awk '/^killed/{print $2}' "$tmp/reader.out") lines; its client said: $(grep '^kvmhost:' "$tmp/vmp.log" | head -1)"
wait $bjob
[ "$(cat "$tmp/b.rc" 2>/dev/null)" = 0 ] || fail "the backup exited $(cat "$tmp/b.rc" 2>/dev/null)"
grep -q "won generation 1 at the arbiter" "$tmp/b.err" || fail "the backup did not win the arbiter"
grep -q "^detvm: live at exit" "$tmp/b.err" || fail "the backup did not go live"
python3 "$ft_console" -o "$tmp/seen.con" "$tmp/p.con" "$tmp/p.seq" "$tmp/b.con" "$tmp/b.seq" 2>"$tmp/reader.err" ||
	fail "the outside reader found a gap: $(cat "$tmp/reader.err")"
cmp -s "$tmp/seen.con" "$tmp/plain.con" || fail "the console the reader saw differs from a plain run's"
cmp -s "$tmp/disk.img" "$tmp/plain.img" || fail "the shared disk differs from a plain run's"
read -r _ silence _ l2k _ k2a < <(grep '^silence' "$tmp/reader.out")
grep '^backup +' "$tmp/reader.out"
echo "PASS ft_two_vms: the primary's whole VM killed; the backup's VM went live, console and disk equal a plain run's (${SECONDS}s)"
echo "the longest silence the reader saw: ${silence} ms, --dead-ms $dead_ms of it (last line -> kill ${l2k} ms," \
	"kill -> the line after the silence ${k2a} ms; $(grep -o 'switch took [0-9.]* ms' "$tmp/b.err"))"
