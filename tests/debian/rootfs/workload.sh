#!/bin/sh
# The Debian guest's workload (tests/debian/debian_test.sh checks its lines): the static
# detvm-work reads the TSC, writes and syncs files on the ext4 root, and talks UDP to the
# test's peer; busybox ping checks the link too. It ends the machine with a reset.
#   workload.sh net-up    only configure the network (rcS; systemd runs it from the unit)
say() { echo "detvm-debian: $*" >/dev/console; }
net_up() {
	busybox ip link set lo up
	busybox ip link set eth0 up || { say "FAIL: no eth0"; return 1; }
	# link-local only: the peer is 169.254.0.1 (tests/debian/ip_peer.py)
	busybox ip addr add 169.254.0.2/16 dev eth0
}
if [ "${1:-}" = net-up ]; then
	net_up
	exit
fi
[ -d /run/systemd/system ] && { net_up || true; }
say "init $(cat /proc/1/comm), uptime $(cut -d' ' -f1 /proc/uptime) s"
ok=1
/usr/local/bin/detvm-work /var/lib/detvm-work 169.254.0.1 || ok=0
busybox ping -c 2 -W 5 169.254.0.1 >/tmp/ping 2>&1 || ok=0
say "$(grep -c 'bytes from 169.254.0.1' /tmp/ping) ping replies from 169.254.0.1"
# a Debian binary (dynamic, glibc) reading back what the workload wrote
say "sha256 $(cd /var/lib/detvm-work && sha256sum file0 | cut -c1-16)"
sync
if [ $ok = 1 ]; then say "PASS, uptime $(cut -d' ' -f1 /proc/uptime) s"; else say "FAIL"; fi
if [ -d /run/systemd/system ]; then exec systemctl --force reboot; fi
exec busybox reboot
