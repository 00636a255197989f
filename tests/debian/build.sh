#!/usr/bin/env bash
# Builds the Debian guest: Debian's stock kernel (the one the KVM host VM boots), an
# initramfs with that kernel's own virtio and ext4 modules, and an ext4 root filesystem
# made from Debian packages with mmdebstrap and the host's apt sources.
#
#   tests/debian/build.sh
#
# Prints three paths on stdout, one per line: vmlinuz, initramfs (uncompressed newc cpio:
# the guest decompresses nothing, which counts under an emulator), rootfs.img (a sparse
# ext4 image; copy it before a guest writes to it). Progress goes to stderr.
#
# Cached in ${DETVM_CACHE:-~/.cache/detvm}/debian-<key>/, <key> hashing this script, the
# files it packs, the package list, the kernel package's version and the compiler; built
# in a temporary directory and renamed into place when complete.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${DETVM_CACHE:-$HOME/.cache/detvm}
# The root filesystem: minbase (apt, dpkg, coreutils, dash...), busybox for init, ip and
# ping, and systemd only to measure it as init (`detvm.init=/lib/systemd/systemd`).
packages=busybox-static,systemd
# Modules the initramfs loads, dependencies first (modprobe --show-depends orders them);
# crc32c_generic because ext4 asks the crypto API for crc32c at mount time.
modules=(virtio_mmio virtio_blk virtio_net crc32c_generic ext4)
# what is packed or compiled: part of the cache key
inputs=(build.sh initramfs-init.sh rootfs/inittab rootfs/rcS rootfs/workload.sh
	rootfs/detvm-work.service workload.c mmio/detvm_mmio.c mmio/Kbuild)

die() { echo "tests/debian/build.sh: error: $*" >&2; exit 1; }
log() { echo "tests/debian/build.sh: [${SECONDS}s] $*" >&2; }
trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

for t in apt-get apt-cache dpkg-deb mmdebstrap mke2fs e2fsck modprobe depmod cpio gcc make strip; do
	command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh installs what is needed)"
done
[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"

# The kernel the KVM host VM boots: its cache entry names package, version and release.
entry=$(python3 "$here/../kvmhost/kvmhost.py" prepare) || die "no cached stock kernel (tests/kvmhost/kvmhost.py prepare)"
read -r kpkg kver krel _ <"$entry/version"
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
[ -n "$suite" ] || die "/etc/os-release names no VERSION_CODENAME"

key=$({
	echo "detvm-debian 1 $suite $packages ${modules[*]}"
	echo "$kpkg $kver"
	gcc --version | sed -n 1p
	for f in "${inputs[@]}"; do sha256sum <"$here/$f"; done
} | sha256sum | cut -c 1-16)
dest=$cache_root/debian-$key
if [ -f "$dest/rootfs.img" ]; then
	printf '%s\n' "$dest/vmlinuz" "$dest/initramfs.cpio" "$dest/rootfs.img"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "mmdebstrap needs root here (its unshare mode needs user namespaces)"
mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/debian-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/out
mkdir -p "$out"

log "fetching $kpkg $kver and its headers (apt-get download)"
headers=linux-headers-$krel
hdeps=$(apt-cache depends "$headers=$kver" | sed -n 's/^ *Depends: \(linux-headers-[a-z0-9.+-]*\|linux-kbuild-[0-9.]*\).*/\1/p')
(cd "$work" && apt-get download -q "$kpkg=$kver" "$headers=$kver" $(for d in $hdeps; do echo "$d=$kver"; done) \
	>/dev/null 2>"$work/apt.err") || die "apt-get download failed: $(tail -n 1 "$work/apt.err")"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$work/k"
done
cp "$work/k/boot/vmlinuz-$krel" "$out/vmlinuz"
cmp -s "$out/vmlinuz" "$entry/vmlinuz" || die "$kpkg $kver's vmlinuz differs from the KVM host VM's"

# detvm_mmio.ko: built out of tree against the same version's headers (see its header
# comment for why it exists), as DKMS would.
log "building detvm_mmio.ko for $krel"
hdir=$work/k/usr/src/$headers
common=$(sed -n 's|^include /usr/src/\(linux-headers-[^/]*\)/Makefile$|\1|p' "$hdir/Makefile")
[ -n "$common" ] && [ -d "$work/k/usr/src/$common" ] || die "$headers does not name its common headers as expected"
sed -i "s|^include /usr/src/$common/Makefile$|include $work/k/usr/src/$common/Makefile|" "$hdir/Makefile"
cp -r "$here/mmio" "$work/mmio"
make -C "$hdir" M="$work/mmio" modules >"$work/make.log" 2>&1 ||
	{ tail -n 30 "$work/make.log" >&2; die "building detvm_mmio.ko failed"; }

log "initramfs: ${modules[*]} and their dependencies from $kpkg"
depmod -b "$work/k" "$krel"
ird=$work/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,mods}
order=()
for m in "${modules[@]}"; do
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		name=$(basename "$path" | sed 's/\.ko.*//; s/-/_/g')
		[[ " ${order[*]} " = *" $name "* ]] && continue
		# ext4's soft dependency on crc32c names the SSE4.2 one too, which detvm's CPUID
		# policy may not offer; crc32c_generic always serves
		[ "$name" = crc32c_intel ] && continue
		case $path in
		*.xz) xz -dc "$path" >"$ird/mods/$name.ko" ;;
		*.zst) zstd -qdc "$path" >"$ird/mods/$name.ko" ;;
		*) cp "$path" "$ird/mods/$name.ko" ;;
		esac
		order+=("$name")
	done < <(modprobe -d "$work/k" -S "$krel" --show-depends "$m")
	[[ " ${order[*]} " = *" $m "* ]] || die "module $m is not in $kpkg"
done
strip --strip-debug -o "$ird/mods/detvm_mmio.ko" "$work/mmio/detvm_mmio.ko"
printf '%s\n' "${order[@]}" >"$ird/mods/order"
cp /bin/busybox "$ird/bin/busybox"
install -m 755 "$here/initramfs-init.sh" "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) >"$out/initramfs.cpio"

log "root filesystem: mmdebstrap --variant=minbase $suite with $packages (the host's apt sources)"
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -s "$f" ] && grep -q '^[^#]*deb' "$f" && grep -qw "$suite" "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || die "no apt source for $suite in /etc/apt/sources.list{,.d}"
root=$work/root
# docs, man pages and translations are dropped: they only make the image larger
mmdebstrap --quiet --variant=minbase --include="$packages" \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	"$suite" "$root" "${sources[@]}" >"$work/mmdebstrap.log" 2>&1 ||
	{ tail -n 20 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }

# busybox init (systemd is there to be measured; detvm.init= picks it)
ln -sf /bin/busybox "$root/sbin/init"
install -d "$root/etc/detvm" "$root/usr/local/bin"
install -m 644 "$here/rootfs/inittab" "$root/etc/inittab"
install -m 755 "$here/rootfs/rcS" "$here/rootfs/workload.sh" "$root/etc/detvm/"
install -m 644 "$here/rootfs/detvm-work.service" "$root/etc/systemd/system/"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
install -d "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../detvm-work.service "$root/etc/systemd/system/multi-user.target.wants/"
echo detvm-debian >"$root/etc/hostname"
gcc -static -O2 -Wall -Wextra -o "$root/usr/local/bin/detvm-work" "$here/workload.c"
strip "$root/usr/local/bin/detvm-work"

log "rootfs.img: sparse 512 MiB ext4 (mke2fs -d)"
# fixed UUID and hash seed: the same tree gives the same metadata
mke2fs -q -t ext4 -L detvm-root -U 6465746d-7664-6562-6961-6e0000000001 \
	-E root_owner=0:0,hash_seed=6465746d-7664-6562-6961-6e0000000002 \
	-d "$root" "$out/rootfs.img" 512M >&2
e2fsck -fn "$out/rootfs.img" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; die "the new image is not clean"; }
echo "$kpkg $kver $krel; $suite minbase + $packages; modules: ${order[*]} detvm_mmio" >"$out/version"

rm -rf "$dest"
mv "$out" "$dest"
log "built into $dest ($(du -sh --apparent-size "$dest/rootfs.img" | cut -f1) image, $(du -sh "$dest/rootfs.img" | cut -f1) used)"
printf '%s\n' "$dest/vmlinuz" "$dest/initramfs.cpio" "$dest/rootfs.img"
