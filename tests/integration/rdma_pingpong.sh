#!/usr/bin/env bash
# RDMA verbs for real on Soft-RoCE: with an rxe device on a veth end (with-rxe.sh),
# ibv_devices lists it, `detvm doctor` counts it, and rdma-core's ibv_rc_pingpong runs
# 1000 RC round trips between two queue pairs on it (Linux 6.1's rxe connects two QPs of
# one device). Runs inside the KVM host VM (tests/kvmhost), which loads rdma_rxe.
# usage: with-rxe.sh rdma_pingpong.sh DETVM
set -u
detvm=$1
dev=${DETVM_RXE_DEV:?run it through tests/kvmhost/with-rxe.sh} addr=${DETVM_RXE_ADDR:?}
tmp=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL rdma_pingpong: $*"
	for f in "$tmp"/*; do [ -f "$f" ] && { echo "--- ${f##*/}"; head -c 3000 "$f"; }; done
	exit 1
}
command -v ibv_rc_pingpong >/dev/null || fail "ibv_rc_pingpong is missing (scripts/install-deps.sh installs ibverbs-utils)"
ibv_devices >"$tmp/devices" 2>&1
grep -qw "$dev" "$tmp/devices" || fail "ibv_devices does not list $dev"
"$detvm" doctor >"$tmp/doctor" 2>&1
grep -Eq "^OK +rdma +[1-9]" "$tmp/doctor" || fail "detvm doctor does not count the RDMA device"

# the GID of the IPv4 address (RoCE v2) is index 1 once the address is up
ibv_rc_pingpong -d "$dev" -g 1 -n 1000 >"$tmp/server" 2>&1 &
server=$!
ok=
for _ in $(seq 50); do
	sleep 0.2
	if ibv_rc_pingpong -d "$dev" -g 1 -n 1000 "$addr" >"$tmp/client" 2>&1; then
		ok=1
		break
	fi
	kill -0 "$server" 2>/dev/null || break
done
[ -n "$ok" ] || fail "ibv_rc_pingpong client failed"
wait "$server" || fail "ibv_rc_pingpong server failed"
server=
for side in server client; do
	grep -Eq "^1000 iters in [0-9.]+ seconds" "$tmp/$side" || fail "the $side did not report 1000 iterations"
done
echo "PASS rdma_pingpong: $(grep iters "$tmp/client")"
