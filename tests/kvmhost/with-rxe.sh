#!/usr/bin/env bash
# Runs CMD with a Soft-RoCE device up: a veth pair in this network namespace, a
# link-local address on one end and an rxe device on it (`rdma link add`); exports
# DETVM_RXE_DEV and DETVM_RXE_ADDR to CMD, and removes both afterwards. Linux 6.1's rxe
# lives only in the initial network namespace: this runs where the KVM host VM loaded
# rdma_rxe (ctest: detvm_kvm_test ... IN_VM).
# usage: with-rxe.sh CMD ARG...
set -u
tag=$$
veth=rdv$tag
export DETVM_RXE_DEV=rxe$tag DETVM_RXE_ADDR=169.254.77.$((tag % 200 + 10))
cleanup() {
	rdma link delete "$DETVM_RXE_DEV" 2>/dev/null
	ip link delete "$veth" 2>/dev/null
}
trap cleanup EXIT
fail() { echo "FAIL with-rxe: $*"; exit 1; }
for t in ip rdma; do
	command -v $t >/dev/null || fail "$t is missing (scripts/install-deps.sh installs iproute2 and rdma-core)"
done
[ -d /sys/module/rdma_rxe ] || fail "the rdma_rxe module is not loaded (the KVM host VM loads it)"
ip link add "$veth" type veth peer name "${veth}p" || fail "cannot create a veth pair"
ip addr add "$DETVM_RXE_ADDR/24" dev "$veth" && ip link set "$veth" up && ip link set "${veth}p" up ||
	fail "cannot configure $veth"
err=$(rdma link add "$DETVM_RXE_DEV" type rxe netdev "$veth" 2>&1) || fail "rdma link add $DETVM_RXE_DEV on $veth: $err"
"$@"
