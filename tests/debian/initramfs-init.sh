#!/bin/busybox sh
# /init of the Debian guest's initramfs (packed by tests/debian/build.sh): loads the
# virtio and ext4 modules of Debian's own kernel package (in /mods/order, dependencies
# first), mounts the root filesystem from virtio-blk read-write and switch_roots into it.
#
# Kernel command line: virtio_mmio.device=SIZE@BASE:IRQ (detvm puts one per device; Debian
# builds virtio_mmio without the code that reads them, so detvm_mmio.ko registers them),
# detvm.init=PATH (the root's init, default /sbin/init: busybox init).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "detvm-initramfs: $*" >/dev/console; }
fail() {
	say "FAIL: $*"
	reboot -f	# a reset ends detvm; the console says why
}

devices=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^virtio_mmio\.device=//p' | paste -sd, -)
init=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^detvm\.init=//p')
while read -r m; do
	insmod "/mods/$m.ko" || fail "insmod $m"
	# the windows are registered once virtio_mmio's driver is there to bind them
	if [ "$m" = virtio_mmio ]; then
		[ -n "$devices" ] || fail "no virtio_mmio.device= on the command line"
		insmod /mods/detvm_mmio.ko device="$devices" || fail "insmod detvm_mmio device=$devices"
	fi
done </mods/order
say "modules loaded: $(paste -sd' ' /mods/order) detvm_mmio"

# virtio_blk probes as it loads, but the disk node may come a moment later
n=0
while [ ! -b /dev/vda ]; do
	n=$((n + 1))
	[ $n -le 100 ] || fail "no /dev/vda (is --disk given?)"
	sleep 0.1
done
mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount /dev/vda as ext4"
init=${init:-/sbin/init}
[ -x "/newroot$init" ] || fail "no $init in the root filesystem"
say "root /dev/vda mounted read-write; switch_root to $init"
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot "$init"
