#!/usr/bin/env bash
# Runs one test-guest program under detvm and checks what a user would: the console ends
# in "RESULT <prog> PASS", detvm exits 0, and per program the side effects (disk left as
# it was, frames echoed to the peer, hostile virtqueue chains counted, not fatal; kspin:
# the spin in ring 0 ended by `step` delivery points). Then runs it under QEMU-KVM
# (tests/guests/qemu-run.sh, -M microvm): the two consoles agree from the banner on,
# INFO lines (run-dependent by contract) left out.
# usage: guest.sh DETVM GUEST_ELF PROG ; fails without a usable /dev/kvm (ctest runs it
# through tests/kvmhost/kvm-test.sh).
set -u
detvm=$1 elf=$2 prog=$3
here=$(cd "$(dirname "$0")" && pwd)
peer=$here/../guests/net_peer.py
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "FAIL $prog: /dev/kvm is not usable (run it through tests/kvmhost/kvm-test.sh)"; exit 1; }
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
	# ring 3 spins without exits: ticks land there at `step` delivery points
	grep -Eq "^INFO spin ticks during loop=[1-9]" "$tmp/out" || fail "no tick landed during the spin"
	grep -q "step points [1-9]" "$tmp/err" || fail "no step delivery point in --stats"
	;;
kspin)
	# step delivery (the default): ticks reach the ring-0 spin at step delivery points
	grep -q "step points [1-9]" "$tmp/err" || fail "no step delivery point in --stats"
	;;
esac

filter() { tr -d '\r' <"$1" | sed -n '/^detvm-guest: kernel up$/,$p' | grep -v '^INFO '; }
GUEST_ELF=$elf "$here/../guests/qemu-run.sh" "$prog" >"$tmp/qemu" 2>"$tmp/qemu.err"
qrc=$?
[ "$qrc" -eq 0 ] || { cat "$tmp/qemu" "$tmp/qemu.err"; fail "under QEMU-KVM it exited $qrc"; }
diff -u --label "qemu $prog" --label "detvm $prog" <(filter "$tmp/qemu") <(filter "$tmp/out") ||
	fail "the console differs from QEMU-KVM's (INFO lines left out)"
grep -h '^INFO \(race\|spin\|kspin\)' "$tmp/qemu" | sed 's/^/     qemu:  /'
grep -h '^INFO \(race\|spin\|kspin\)' "$tmp/out" | sed 's/^/     detvm: /'
echo "PASS $prog: $last; the console equals QEMU-KVM's"
