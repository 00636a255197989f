#!/usr/bin/env bash
# The virtual TSC in the guest's CPUID (--show-tsc, where RDTSC exits to detvm) against
# the default (hidden), on the Debian guest (tests/debian): its boot and a clock_gettime loop. For
# each way, two runs: the workload's loop of READS clock_gettime(CLOCK_MONOTONIC) calls
# (kernel command line detvm.clock=READS) and one with no loop (detvm.clock=0); the
# difference is the loop's. Prints per way: the clock source Linux chose, wall seconds to
# the end, the guest's uptime at init, exits (total, port I/O, RDTSC), and per clock read:
# wall microseconds, exits and distinct values returned.
# Needs detvm's KVM modules (tsc-exit); without them it runs itself in the KVM host VM
# that loads them (tests/kvmhost, kvmhost.py --kvm tsc-exit): compare ratios there.
# usage: vtsc_bench.sh [BUILD_DIR] [READS (20000)]
set -u
build=$(cd "${1:-build}" && pwd)
reads=${2:-20000}
here=$(cd "$(dirname "$0")" && pwd)
detvm=$build/detvm
[ -x "$detvm" ] || { echo "vtsc_bench: build first (no $detvm)" >&2; exit 2; }
paths=$("$here/../debian/build.sh") || { echo "vtsc_bench: the Debian guest's build failed" >&2; exit 1; }
if ! "$detvm" doctor 2>/dev/null | grep -q "^OK .*tsc-exit"; then
	[ -n "${DETVM_IN_KVMHOST:-}" ] && { echo "vtsc_bench: no tsc-exit in this KVM host VM" >&2; exit 1; }
	echo "vtsc_bench: in the KVM host VM with detvm's KVM modules (emulated: compare ratios)" >&2
	exec python3 "$here/../kvmhost/kvmhost.py" run --kvm tsc-exit --timeout 1800 -- "$0" "$build" "$reads"
fi
kernel=$(sed -n 1p <<<"$paths") initrd=$(sed -n 2p <<<"$paths") image=$(sed -n 3p <<<"$paths")
tmp=$(mktemp -d)
peer=
trap '[ -n "$peer" ] && kill "$peer" 2>/dev/null; rm -rf "$tmp"' EXIT

# one boot: WAY (shown|hidden) N -> "wall uptime exits io msr source distinct"
one() {
	local way=$1 n=$2 extra=() t0 t1
	[ "$way" = shown ] && extra=(--show-tsc)
	cp --sparse=always "$image" "$tmp/root.img"
	rm -f "$tmp/peer.sock"
	python3 "$here/../debian/ip_peer.py" --sock "$tmp/peer.sock" --timeout 900 2>/dev/null &
	peer=$!
	for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
	t0=$(date +%s.%N)
	"$detvm" run --stats --timeout 800 --disk "$tmp/root.img" --net "unix:$tmp/peer.sock" \
		--initrd "$initrd" --cmdline "detvm.clock=$n" "${extra[@]}" "$kernel" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	t1=$(date +%s.%N)
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	peer=
	tr -d '\r' <"$tmp/out" >"$tmp/out.txt"
	grep -q "^detvm-debian: PASS" "$tmp/out.txt" ||
		{ echo "vtsc_bench: the $way run (detvm.clock=$n) did not pass:" >&2; tail -n 5 "$tmp/out.txt" "$tmp/err" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f ", b - a }'
	sed -n 's/^detvm-debian: init [a-z]*, uptime \([0-9.]*\) s$/\1 /p' "$tmp/out.txt" | tr -d '\n'
	sed -n 's/^exits: \([0-9]*\) (io \([0-9]*\),.* msr \([0-9]*\),.*/\1 \2 \3 /p' "$tmp/err" | tr -d '\n'
	sed -n 's/.*detvm-work: clock_gettime [0-9]* reads, clocksource \([a-z_-]*\), \([0-9]*\) distinct.*/\1 \2/p' "$tmp/out.txt"
}

printf "%-8s %-15s %9s %10s %9s %8s %8s %10s %10s %9s\n" way clocksource "wall s" "init at s" exits io rdtsc \
	"us/read" "exits/read" "distinct"
for way in shown hidden; do
	one "$way" 0 >"$tmp/r0" && one "$way" "$reads" >"$tmp/r1" || exit 1
	read -r w0 up0 e0 io0 m0 _ _ <"$tmp/r0"
	read -r w1 _ e1 _ _ src d1 <"$tmp/r1"
	awk -v way="$way" -v src="$src" -v w0="$w0" -v up0="$up0" -v e0="$e0" -v io0="$io0" -v m0="$m0" \
		-v w1="$w1" -v e1="$e1" -v d1="$d1" -v n="$reads" 'BEGIN {
		printf "%-8s %-15s %9.1f %10.2f %9d %8d %8d %10.2f %10.2f %9d\n", way, src, w0, up0, e0, io0, m0,
			(w1 - w0) * 1e6 / n, (e1 - e0) / n, d1 }'
done
echo "(wall, init, exits: a boot with no loop; per read: the $reads-read loop's run minus it)"
