#!/usr/bin/env bash
# make bench: every benchmark, figures printed side by side. Not part of make test.
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
# no /dev/kvm here (or DETVM_KVM_TESTS=vm): in the KVM host VM of tests/kvmhost
if [ -z "${DETVM_IN_KVMHOST:-}" ] && { [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ "${DETVM_KVM_TESTS:-}" = vm ]; }; then
	echo "bench: running in the KVM host VM (tests/kvmhost). Everything there runs under" \
		"QEMU's emulator: compare the ratios, not the times." >&2
	exec python3 "$here/../kvmhost/kvmhost.py" run -- "$0" "$@"
fi
echo "== detvm vs QEMU-KVM: start-up, exit round trip, memory"
/usr/bin/python3 "$here/vmm_bench.py" "$build"
echo
echo "== record and replay"
/usr/bin/python3 "$here/rr_bench.py" "$build"
echo
echo "== Linux boot"
/usr/bin/python3 "$here/linux_bench.py" "$build"
echo
echo "== chaos recording: the race guest's lost update, plain vs --chaos"
"$here/chaos_race.sh" "$build" 50 10
echo
echo "== the FT link's key: the same wire sealed (ChaCha20-Poly1305) and not"
"$build/bench/link_bench" tcp 3
echo
# Soft-RoCE exists only in the KVM host VM: there, lockstep over tcp and rdma side by side
# (ratios only; failover and re-protection figures under the emulator say little)
if [ -z "${DETVM_IN_KVMHOST:-}" ]; then
	echo "== fault tolerance: primary and backup on this host, over tcp"
	/usr/bin/python3 "$here/ft_bench.py" "$build"
	echo
	echo "== fault tolerance in the KVM host VM: lockstep over tcp and rdma (Soft-RoCE)"
	BENCH_RUNS=1 python3 "$here/../kvmhost/kvmhost.py" run -- "$here/../kvmhost/with-rxe.sh" /usr/bin/python3 \
		"$here/ft_bench.py" "$build" --transport tcp,rdma --only lockstep
	python3 "$here/../kvmhost/kvmhost.py" run -- "$here/../kvmhost/with-rxe.sh" "$build/bench/link_bench" rdma 3
else
	echo "== fault tolerance: lockstep over tcp and rdma (Soft-RoCE)"
	BENCH_RUNS=1 "$here/../kvmhost/with-rxe.sh" /usr/bin/python3 "$here/ft_bench.py" "$build" --transport tcp,rdma \
		--only lockstep
	"$here/../kvmhost/with-rxe.sh" "$build/bench/link_bench" rdma 3
fi
