#!/bin/bash
# SPDX-License-Identifier: MIT
# Run one test-guest program under QEMU/KVM and print its console.
#
#   tests/guests/qemu-run.sh PROG [extra qemu args...]
#
# Environment:
#   GUEST_ELF      image (default: brought up to date with make in
#                  build/guests/ if the CMake build exists, else in
#                  /tmp/detvm-guests-qemu-run)
#   GUEST_ARGS     extra guest command-line words, e.g. "n=8"
#   GUEST_DISK     disk image for virtio-blk (default: a fresh 1 MiB zero file)
#   GUEST_TIMEOUT  seconds before QEMU is killed (default 120)
#
# Machine: -M microvm (PIC, PIT, RTC, ISA serial, virtio-mmio) with the
# in-kernel irqchip; it boots in well under a second here, where -M pc spends
# seconds in SeaBIOS under the ring-0 emulator and cannot host virtio-mmio.
# Exit status: 0 if the guest powered off with 0 and printed RESULT ... PASS
# (and, for net, the peer saw all echoes); 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
prog=${1:?usage: qemu-run.sh PROG [extra qemu args]}
shift

elf=${GUEST_ELF:-}
if [ -z "$elf" ]; then
	out=/tmp/detvm-guests-qemu-run
	[ -d "$here/../../build/guests" ] && out=$(cd "$here/../../build/guests" && pwd)
	make -s -C "$here" O="$out" >&2 || exit 1
	elf=$out/detvm-guest.elf
fi
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-run: qemu-system-x86_64 not found" >&2; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/detvm-qemu.XXXXXX")
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

disk=${GUEST_DISK:-}
if [ -z "$disk" ]; then
	disk=$tmp/disk.img
	truncate -s 1M "$disk"
fi

frames=16
for w in ${GUEST_ARGS:-}; do
	case $w in n=*) frames=${w#n=} ;; esac
done

net=()
case $prog in
net | badqueue)
	mode=()
	[ "$prog" = badqueue ] && mode=(--sink --timeout 60)
	python3 "$here/net_peer.py" --sock "$tmp/peer.sock" --frames "$frames" "${mode[@]}" &
	peer_pid=$!
	for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
	net=(-netdev "dgram,id=n0,local.type=unix,local.path=$tmp/qemu.sock,remote.type=unix,remote.path=$tmp/peer.sock"
	     -device virtio-net-device,netdev=n0)
	;;
esac

timeout "${GUEST_TIMEOUT:-120}" qemu-system-x86_64 -accel kvm \
	-M microvm,pic=on,pit=on,rtc=on,isa-serial=on,acpi=off \
	-global virtio-mmio.force-legacy=false \
	-m 256M -nodefaults -no-user-config -nographic -display none -no-reboot \
	-serial stdio -monitor none \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive "if=none,id=d0,format=raw,file=$disk" -device virtio-blk-device,drive=d0 \
	"${net[@]}" \
	-kernel "$elf" -append "prog=$prog ${GUEST_ARGS:-}" \
	"$@" 2> >(grep -v "host doesn't support requested feature" >&2) | tee "$tmp/console"
rc=${PIPESTATUS[0]}

ok=1
# isa-debug-exit: QEMU exits with (value << 1) | 1, so 1 means the guest wrote 0.
[ "$rc" = 1 ] || { echo "qemu-run: QEMU exit status $rc (guest did not power off with 0)" >&2; ok=0; }
tail -n 1 "$tmp/console" | tr -d '\r' | grep -q "^RESULT $prog PASS" || ok=0
if [ "$prog" = net ] && [ -n "$peer_pid" ]; then
	wait "$peer_pid" || ok=0
	peer_pid=
fi
[ $ok = 1 ]
