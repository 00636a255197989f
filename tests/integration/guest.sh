#!/usr/bin/env bash
# Runs one test-guest program under detvm and checks what a user would: the console ends
# in "RESULT <prog> PASS", detvm exits 0, and per program the side effects (disk left as
# it was, frames echoed to the peer, hostile virtqueue chains counted, not fatal; kspin:
# the spin in ring 0 ended by `step` delivery points).
# usage: guest.sh DETVM GUEST_ELF PROG ; exit 77 (skipped) without a usable /dev/kvm, and
# for kspin where `detvm doctor` says this host's KVM cannot single-step guest ring 0.
set -u
detvm=$1 elf=$2 prog=$3
here=$(cd "$(dirname "$0")" && pwd)
peer=$here/../guests/net_peer.py
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is not usable"; exit 77; }
# kspin ends only when the `step` fallback delivers ticks to a ring-0 spin, which needs KVM
# to single-step guest ring 0 (replay steps to the delivery points)
if [ "$prog" = kspin ] && ! "$detvm" doctor 2>/dev/null | grep -Eq '^OK +single-step-ring0( |$)'; then
	echo "SKIP: detvm doctor: this host's KVM does not single-step guest ring 0, so the step delivery fallback cannot preempt kspin's ring-0 spin"
	exit 77
fi
tmp=$(mktemp -d)
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL $prog: $*"
	echo "--- console"; cat "$tmp/out"
	echo "--- stderr"; cat "$tmp/err"
	[ -f "$tmp/peer.log" ] && { echo "--- peer"; cat "$tmp/peer.log"; }
	exit 1
}

# a disk with a recognisable pattern, so "contents restored" can be checked
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
before=$(sha256sum <"$tmp/disk.img")
args=(--disk "$tmp/disk.img" --stats --timeout 120 --cmdline "prog=$prog")
case $prog in
net | badqueue)
	mode=()
	[ "$prog" = badqueue ] && mode=(--sink --timeout 60)
	python3 "$peer" --sock "$tmp/peer.sock" "${mode[@]}" >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
	args+=(--net "unix:$tmp/peer.sock")
	;;
esac

"$detvm" run "${args[@]}" "$elf" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
[ "$rc" -eq 0 ] || fail "detvm exited $rc"
head -n 1 "$tmp/out" | grep -qx "detvm-guest: kernel up" || fail "no banner"
last=$(grep '^RESULT ' "$tmp/out" | tail -n 1)
[[ "$last" == "RESULT $prog PASS "* ]] || fail "last result line is '$last'"
[ "$(sha256sum <"$tmp/disk.img")" = "$before" ] || fail "the disk was left changed"
grep -q "^exits: [1-9]" "$tmp/err" || fail "--stats printed no exit count"

case $prog in
net)
	wait "$peer_pid" || fail "the peer did not get its frames echoed"
	peer_pid=
	grep -q "virtio-net0: bad chains 0, .*tx [1-9]" "$tmp/err" || fail "no frames sent"
	;;
badqueue)
	# the VMM survived and counted what the guest did wrong, on both devices
	grep -Eq "virtio-blk0: bad chains [1-9]" "$tmp/err" || fail "blk bad chains not counted"
	grep -Eq "virtio-net0: bad chains [1-9]" "$tmp/err" || fail "net bad chains not counted"
	;;
ticks)
	grep -Eq "^interrupts injected: (1[0-9]|[2-9][0-9]|[0-9]{3,})" "$tmp/err" || fail "too few interrupts"
	;;
spin)
	# ring 3 spins without exits: ticks land there only where the `step` fallback can
	# stop it, i.e. where KVM single-steps ring 3
	if "$detvm" doctor 2>/dev/null | grep -Eq '^OK +single-step-ring3( |$)'; then
		grep -Eq "^INFO spin ticks during loop=[1-9]" "$tmp/out" || fail "no tick landed during the spin"
	else
		grep -qx "INFO spin ticks during loop=0" "$tmp/out" || fail "a tick landed during the spin"
	fi
	;;
kspin)
	# step delivery (the default): ticks reach the ring-0 spin at step delivery points
	grep -q "step points [1-9]" "$tmp/err" || fail "no step delivery point in --stats"
	;;
esac
echo "PASS $prog: $last"
