#!/bin/busybox sh
# /init of the KVM host VM's initramfs (packed by kvmhost.sh; busybox-static and the
# modules listed in /mods/order). It loads KVM and the rest, mounts the machine's root
# over 9p, gives the chroot what a test needs (devices, /dev/fd, a tmpfs for sockets and
# scratch files) and hands over to the agent named on the command line.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "kvmhost-init: $*" >/dev/console; }

while read -r m; do
	insmod "/mods/$m.ko" 2>/dev/null || say "insmod $m failed"
done </mods/order

arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
agent=$(arg detvm_agent)
spool=$(arg detvm_spool)
kallsyms=$(arg detvm_kallsyms)

mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 hostroot /host || {
	say "cannot mount the machine's root over 9p"
	poweroff -f
}
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o size=70% tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
for d in dev proc sys; do mount --rbind /$d /host/$d; done
ip link set lo up

[ -c /dev/kvm ] || say "no /dev/kvm after loading kvm-amd"
# the kernel's symbols (booted nokaslr: the same every boot), to name where a hung VM sits
if [ -n "$kallsyms" ] && [ ! -s "/host$kallsyms" ]; then
	cat /proc/kallsyms >"/host$kallsyms.$$" && mv "/host$kallsyms.$$" "/host$kallsyms"
fi
say "ready $(cut -d' ' -f1 /proc/uptime)"
chroot /host /bin/bash "$agent" "$spool" </dev/null
say "agent exited with status $?"
poweroff -f
