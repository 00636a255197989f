#!/usr/bin/env bash
# A partition between primary and backup: each in its own network namespace, joined by
# a veth pair (link-local addresses); mid-run the veth goes down, so both sides hear
# nothing and each asks the arbiter (file: on the shared filesystem: etcd on this
# loopback is out of the namespaces' reach). For every trial asserts: exactly one side
# runs the guest to its end (exit 0) and the other halts (exit 13); never two; both
# outcomes happen (odd trials stop the primary for twice the timeout as the link goes
# down, so the backup reaches the arbiter first; both sides must use the same timeout); the console an outside reader sees has no gap and equals a plain run's.
# Runs as root (ip netns). usage: ft_partition.sh DETVM GUEST_ELF [TRIALS (default 20)]
set -u
detvm=$1 elf=$2 trials=${3:-20}
tmp=$(mktemp -d)
tag=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
nsp=ftp$tag nsb=ftb$tag
bpid= ppid=
cleanup() {
	kill -9 $bpid $ppid 2>/dev/null
	ip netns delete "$nsp" 2>/dev/null
	ip netns delete "$nsb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL ft_partition: $*"
	for f in "$d"/*.err; do [ -f "$f" ] && { echo "--- ${f##*/}"; tail -c 1500 "$f"; }; done
	exit 1
}
# a false alarm under the emulator still leaves exactly one live side: a short timeout
FT_DEAD_MS=${FT_DEAD_MS:-1500}
. "$(dirname "$0")/ft_lib.sh"
SECONDS=0
n=200
d=$tmp
"$detvm" run --cmdline "prog=talk n=$n" -s "file:$tmp/plain.con" --timeout 300 "$elf" 2>/dev/null </dev/null ||
	fail "the plain run failed"
ip netns add "$nsp" && ip netns add "$nsb" || fail "cannot create network namespaces $nsp, $nsb"
ip link add "v$tag" netns "$nsp" type veth peer name "w$tag" netns "$nsb" || fail "cannot create a veth pair"
ip -n "$nsp" addr add 169.254.89.2/24 dev "v$tag" && ip -n "$nsb" addr add 169.254.89.1/24 dev "w$tag" ||
	fail "cannot address the veth pair"
primary_won=0 backup_won=0
for t in $(seq "$trials"); do
	d=$tmp/t$t
	mkdir -p "$d"
	ip -n "$nsp" link set "v$tag" up && ip -n "$nsb" link set "w$tag" up || fail "cannot bring the veth up"
	port=$((30000 + RANDOM % 20000))
	arb=(--arbiter "file:$d/arbiter")
	ip netns exec "$nsb" "$detvm" ft backup --listen "169.254.89.1:$port" --key "$(ft_key)" --trace "$d/b.trace" "${arb[@]}" \
		--dead-ms "$dead_ms" --console-seq "$d/b.seq" -s "file:$d/b.con" --accept-timeout 60 -v 2>"$d/b.err" </dev/null &
	bpid=$!
	ip netns exec "$nsp" "$detvm" ft primary --peer "169.254.89.1:$port" --key "$(ft_key)" -o "$d/p.trace" "${arb[@]}" \
		--dead-ms "$dead_ms" --console-seq "$d/p.seq" -s "file:$d/p.con" --cmdline "prog=talk n=$n" \
		--timeout 300 -v "$elf" 2>"$d/p.err" </dev/null &
	ppid=$!
	wait_lines "$d/p.con" talk $((5 + RANDOM % 30)) || fail "trial $t: the primary printed too few lines within 60 s"
	# odd trials: the primary stands still through the timeout, so the backup reaches the
	# arbiter first; even trials leave the race to itself
	[ $((t % 2)) -eq 1 ] && kill -STOP "$ppid"
	ip -n "$nsp" link set "v$tag" down
	if [ $((t % 2)) -eq 1 ]; then
		sleep "$(awk "BEGIN { print $dead_ms * 2 / 1000 }")"
		kill -CONT "$ppid"
	fi
	wait "$ppid" 2>/dev/null
	prc=$?
	wait "$bpid" 2>/dev/null
	brc=$?
	ppid= bpid=
	case "$prc/$brc" in
	0/13)
		primary_won=$((primary_won + 1))
		cmp -s "$d/p.con" "$tmp/plain.con" || fail "trial $t: the primary went on alone but its console differs from a plain run's"
		;;
	13/0)
		backup_won=$((backup_won + 1))
		python3 "$ft_console" -o "$d/seen.con" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$d/reader.err" ||
			fail "trial $t: the reader found a gap: $(cat "$d/reader.err")"
		cmp -s "$d/seen.con" "$tmp/plain.con" || fail "trial $t: the console the reader saw differs from a plain run's"
		;;
	0/0)
		grep -q "replay identical" "$d/b.err" && fail "trial $t: the guest ended before the partition (raise n)"
		fail "trial $t: both sides ran on: two live VMs" ;;
	*) fail "trial $t: primary exited $prc, backup $brc: want one 0 and one 13" ;;
	esac
	rm -rf "$d"
done
[ "$trials" -lt 2 ] || [ $backup_won -gt 0 ] || fail "the backup never won: the go-live side of a partition went untested"
echo "PASS ft_partition: $trials partitions, exactly one live VM each (primary went on alone $primary_won times, backup went live $backup_won times; ${SECONDS}s)"
