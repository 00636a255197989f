#!/usr/bin/env bash
# The Linux test kernel under detvm.
#   linux_test.sh DETVM build               build (or find cached) kernel + initramfs
#   linux_test.sh DETVM boot bzImage|vmlinux boot with a disk and a NIC; check the console
#   linux_test.sh DETVM rr bzImage|vmlinux   record that boot, replay it, compare
#   linux_test.sh DETVM stock                Debian's stock kernel (the KVM host VM's own
#                                            vmlinuz, unpatched: it reads the TSC) with the
#                                            test initramfs: record, replay twice, compare;
#                                            needs detvm's KVM modules (tsc-exit)
# What is expected depends on the host, as `detvm doctor` measures it: where SYSCALL from
# guest ring 3 does not enter ring 0 (a host that emulates guest ring 0 badly, DESIGN.md),
# user space cannot run, so the boot must reach "Run /init as init process" and end with
# init's crash, a panic and the reset panic=-1 asks for; elsewhere init's own checks must
# pass (start, the disk, a frame, done) and it must reboot cleanly.
set -u
detvm=$1 mode=$2 image=${3:-bzImage}
here=$(cd "$(dirname "$0")" && pwd)
peer=$here/../guests/net_peer.py
paths=$("$here/build.sh") || { echo "FAIL: the kernel build failed"; exit 1; }
[ "$mode" = build ] && { echo "$paths"; exit 0; }
if [ "$mode" = stock ]; then
	entry=$(python3 "$here/../kvmhost/kvmhost.py" prepare) || { echo "FAIL: no cached stock kernel"; exit 1; }
	image=stock
fi
[ -r /dev/kvm ] && [ -w /dev/kvm ] ||
	{ echo "FAIL: /dev/kvm is not usable (run it through tests/kvmhost/kvm-test.sh)"; exit 1; }
bzimage=$(sed -n 1p <<<"$paths") vmlinux=$(sed -n 2p <<<"$paths") initrd=$(sed -n 3p <<<"$paths")
kernel=$bzimage
[ "$image" = vmlinux ] && kernel=$vmlinux
[ "$image" = stock ] && kernel=$entry/vmlinuz

tmp=$(mktemp -d)
peer_pid=
trap '[ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
check() {	# check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$1" "$2"; }

userspace=0
"$detvm" doctor | grep -q "^OK .*syscall-ring3" && userspace=1
python3 -c 'import sys; sys.stdout.buffer.write(b"detvm-linux-disk" * 65536)' >"$tmp/disk.img"
python3 "$peer" --sock "$tmp/peer.sock" --sink --timeout 600 >"$tmp/peer.log" 2>&1 &
peer_pid=$!
for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
args=(--stats --timeout 600 --disk "$tmp/disk.img" --net "unix:$tmp/peer.sock" --initrd "$initrd")

expect_console() {	# expect_console CONSOLE STDERR STATUS
	local out=$1.txt err=$2 rc=$3
	tr -d '\r' <"$1" >"$out"	# the serial console ends lines with CR LF
	check "banner" has "Linux version 6.1" "$out"
	check "detvm's command line reached Linux" \
		grep -q "^Command line: console=ttyS0 nolapic noapic lpj=1000000 panic=-1 .*virtio_mmio.device=4K@0xd0000000:10 virtio_mmio.device=4K@0xd0001000:11$" "$out"
	# the e820 map detvm built for 256 MiB
	check "e820 map" diff <(grep '^BIOS-e820' "$out") - <<-'EOF2'
	BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
	BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved
	BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable
	EOF2
	check "8259A PIC in use" has "APIC: Keep in PIC mode(8259)" "$out"
	check "8254 PIT drives the timer" grep -Eq "^pit: interrupts [1-9]" "$err"
	check "virtio-blk probed" has "virtio_blk virtio0: [vda] 2048 512-byte logical blocks" "$out"
	check "virtio-net window registered" has "virtio-mmio: Registering device virtio-mmio.1 at 0xd0001000-0xd0001fff, IRQ 11." "$out"
	check "virtio-net driver bound" grep -Eq "^virtio-net0: .*bad register accesses 0" "$err"
	check "Run /init reached" has "Run /init as init process" "$out"
	if [ "$userspace" = 1 ]; then
		check "init started" has "detvm-init: start" "$out"
		check "init read the disk" grep -q "detvm-init: vda block0 fnv1a=" "$out"
		check "init sent a frame" grep -q "detvm-init: eth0 sent" "$out"
		check "init passed" has "detvm-init: done" "$out"
		check "clean end (status 0)" test "$rc" -eq 0
	else
		# SYSCALL stays in ring 3 here: init's first system call crashes it
		check "init crashed as expected here" has "Kernel panic - not syncing: Attempted to kill init!" "$out"
		check "the panic reset the machine" has "guest requested a reset" "$err"
		check "status 0 (reset)" test "$rc" -eq 0
	fi
}

case $mode in
boot)
	"$detvm" run -v "${args[@]}" "$kernel" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	expect_console "$tmp/out" "$tmp/err" "$rc"
	;;
rr)
	"$detvm" record -v --checkpoint-every 1000 -o "$tmp/linux.trace" "${args[@]}" "$kernel" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	expect_console "$tmp/out" "$tmp/err" "$rc"
	kill "$peer_pid" 2>/dev/null
	peer_pid=
	"$detvm" replay -v --stats "$tmp/linux.trace" >"$tmp/rout" 2>"$tmp/rerr" </dev/null
	rrc=$?
	check "replay ends as the recording did" test "$rrc" -eq "$rc"
	check "same console bytes" cmp "$tmp/out" "$tmp/rout"
	check "same exits" test "$(grep '^exits:' "$tmp/err" | cut -d' ' -f2)" = "$(grep '^exits:' "$tmp/rerr" | cut -d' ' -f2)"
	check "replay identical (every exit and checkpoint)" has "replay identical" "$tmp/rerr"
	points() { sed -n 's/^exits: .*step points \([0-9]*\)).*/\1/p' "$1"; }
	check "same step delivery points ($(points "$tmp/err") recorded)" test "$(points "$tmp/err")" = "$(points "$tmp/rerr")"
	;;
stock)
	"$detvm" doctor | grep -q "^OK .*tsc-exit" || { echo "FAIL: this KVM has no tsc-exit (scripts/kvm-detvm)"; exit 1; }
	"$detvm" record --stats --checkpoint-every 1000 -o "$tmp/linux.trace" --initrd "$initrd" "$kernel" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	tr -d '\r' <"$tmp/out" >"$tmp/out.txt"
	check "recorded to a clean end (status 0)" test "$rc" -eq 0
	check "Debian's kernel" grep -q "Linux version 6.1.0-[0-9]*-amd64 .*Debian" "$tmp/out.txt"
	check "init passed" has "detvm-init: done" "$tmp/out.txt"
	"$detvm" dump "$tmp/linux.trace" >"$tmp/dump" 2>&1
	check "the trace has the virtual TSC" grep -q "^tsc: virtual" "$tmp/dump"
	reads=$(grep -c " exit msr rdmsr index=0x10 size=8 data=" "$tmp/dump")
	check "the kernel's TSC reads are exits in the trace ($reads)" test "$reads" -gt 100
	for i in 1 2; do
		"$detvm" replay -v --stats "$tmp/linux.trace" >"$tmp/rout$i" 2>"$tmp/rerr$i" </dev/null
		rrc=$?
		check "replay $i ends as the recording did" test "$rrc" -eq "$rc"
		check "replay $i: same console bytes" cmp "$tmp/out" "$tmp/rout$i"
		check "replay $i identical (every exit and checkpoint)" has "replay identical" "$tmp/rerr$i"
	done
	[ "$fails" -eq 0 ] || cat "$tmp/rerr1" "$tmp/rerr2"
	;;
*)
	echo "usage: linux_test.sh DETVM build|boot IMAGE|rr IMAGE|stock" >&2
	exit 2
	;;
esac
if [ "$fails" -ne 0 ]; then
	echo "--- console (tail)"; tail -n 20 "$tmp/out"
	echo "--- detvm"; cat "$tmp/err"
	[ -f "$tmp/rerr" ] && { echo "--- replay"; cat "$tmp/rerr"; }
	exit 1
fi
echo "PASS linux $mode $image"
