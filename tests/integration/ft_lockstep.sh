#!/usr/bin/env bash
# detvm ft in lockstep, end to end: a backup process and a primary process, over tcp
# between two network namespaces joined by a veth pair (link-local addresses), or over
# rdma on one Soft-RoCE device (with-rxe.sh; Linux 6.1's rxe lives only in the initial
# namespace). For the guest programs blk (disk), race (console, timer-dependent) and net
# (frames with a live peer on the primary), asserts: both exit 0; the backup replays
# the stream as it comes and says "replay identical" (every exit and checkpoint matched);
# its console shows none of what the primary released (a reader would see it twice;
# only a failover's re-issued window repeats), and its copy of the trace equals the
# primary's and replays to the primary's console byte for byte; the primary says the backup holds the whole trace; and for blk the disk the
# primary wrote equals the disk of a plain run of the same program.
# Runs inside the KVM host VM (ctest: IN_VM), as root. Everything there runs under an
# emulator, beside other tests: a side may not be scheduled for longer than the default
# 100 ms of silence that means a dead peer, so both get --dead-ms 5000 here.
# usage: ft_lockstep.sh DETVM GUEST_ELF tcp|rdma
set -u
detvm=$1 elf=$2 wire=$3
here=$(cd "$(dirname "$0")" && pwd)
peer_py=$here/../guests/net_peer.py
tmp=$(mktemp -d)
key=$tmp/ft.key
(umask 077 && head -c 32 /dev/urandom >"$key")
# not the pid alone: on a CI container pids are small and repeat, and a namespace left by
# a run that was killed (no EXIT trap) would block the next one with the same name
tag=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
nsp=ftp$tag nsb=ftb$tag
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip netns delete "$nsp" 2>/dev/null
	ip netns delete "$nsb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL ft_lockstep $wire: $*"
	for f in "$tmp"/*.err "$tmp"/*.out "$tmp"/peer.log; do
		[ -f "$f" ] && { echo "--- ${f##*/}"; head -c 3000 "$f"; }
	done
	exit 1
}
SECONDS=0

case $wire in
tcp)
	ip netns add "$nsp" && ip netns add "$nsb" || fail "cannot create network namespaces $nsp, $nsb"
	ip link add "v$tag" netns "$nsp" type veth peer name "w$tag" netns "$nsb" || fail "cannot create a veth pair"
	ip -n "$nsp" addr add 169.254.88.2/24 dev "v$tag" && ip -n "$nsp" link set "v$tag" up &&
		ip -n "$nsb" addr add 169.254.88.1/24 dev "w$tag" && ip -n "$nsb" link set "w$tag" up ||
		fail "cannot configure the veth pair"
	on_primary=(ip netns exec "$nsp")
	on_backup=(ip netns exec "$nsb")
	addr=169.254.88.1
	;;
rdma)
	addr=${DETVM_RXE_ADDR:?run it through tests/kvmhost/with-rxe.sh}
	on_primary=()
	on_backup=()
	;;
*)
	echo "usage: ft_lockstep.sh DETVM GUEST_ELF tcp|rdma" >&2
	exit 2
	;;
esac

port=7400
summary=
for prog in blk race net; do
	port=$((port + 1))
	d=$tmp/$prog
	mkdir -p "$d"
	python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$d/disk.img"
	cp "$d/disk.img" "$d/plain.img"
	net=()
	[ "$prog" = net ] && net=(--net "unix:$d/peer.sock")
	"${on_backup[@]}" "$detvm" ft backup --listen "$addr:$port" --key "$key" --transport "$wire" --dead-ms 5000 --trace "$d/b.trace" \
		--disk "$d/disk.img" "${net[@]}" --accept-timeout 60 -v >"$tmp/$prog-backup.out" 2>"$tmp/$prog-backup.err" </dev/null &
	bpid=$!
	pids+=("$bpid")
	if [ "$prog" = net ]; then
		rm -f "$d/peer.sock"
		# beside the primary: detvm binds an abstract socket, which lives in its namespace
		"${on_primary[@]}" python3 "$peer_py" --sock "$d/peer.sock" >"$tmp/peer.log" 2>&1 &
		pids+=("$!")
		for _ in $(seq 100); do [ -S "$d/peer.sock" ] && break; sleep 0.05; done
	fi
	"${on_primary[@]}" "$detvm" ft primary --peer "$addr:$port" --key "$key" --transport "$wire" --dead-ms 5000 -o "$d/p.trace" \
		--disk "$d/disk.img" "${net[@]}" --cmdline "prog=$prog" --timeout 300 -v "$elf" \
		>"$tmp/$prog-primary.out" 2>"$tmp/$prog-primary.err" </dev/null
	prc=$?
	wait "$bpid"
	brc=$?
	[ $prc -eq 0 ] || fail "$prog: the primary exited $prc"
	[ $brc -eq 0 ] || fail "$prog: the backup exited $brc"
	grep -q "^RESULT $prog PASS" "$tmp/$prog-primary.out" || fail "$prog: the guest did not pass"
	grep -q "replay identical" "$tmp/$prog-backup.err" || fail "$prog: the backup did not say 'replay identical'"
	grep -q "the backup holds the whole trace" "$tmp/$prog-primary.err" || fail "$prog: the primary did not see every piece acknowledged"
	[ -s "$tmp/$prog-backup.out" ] && fail "$prog: the backup showed console bytes the primary had released"
	cmp -s "$d/p.trace" "$d/b.trace" || fail "$prog: the backup's copy of the trace differs from the primary's"
	"$detvm" replay "$d/b.trace" >"$tmp/$prog-replay.out" 2>"$tmp/$prog-replay.err" </dev/null ||
		fail "$prog: the backup's trace does not replay"
	cmp -s "$tmp/$prog-primary.out" "$tmp/$prog-replay.out" || fail "$prog: the backup's trace replays to another console"
	if [ "$prog" = blk ]; then
		"$detvm" run --disk "$d/plain.img" --cmdline "prog=$prog" --timeout 300 "$elf" >"$tmp/plain.out" 2>"$tmp/plain.err" </dev/null ||
			fail "blk: the plain run failed"
		cmp -s "$d/disk.img" "$d/plain.img" || fail "blk: the primary's disk differs from a plain run's"
	fi
	summary+=" $prog: $(grep -o 'replay identical: [0-9]* exits' "$tmp/$prog-backup.err" | cut -d' ' -f3) exits,"
done
echo "PASS ft_lockstep $wire (${SECONDS}s):$summary backups identical, consoles and traces equal"
