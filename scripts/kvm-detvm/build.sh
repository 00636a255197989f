#!/usr/bin/env bash
# Builds Debian's kvm, kvm-amd and kvm-intel modules with detvm's change (tsc-exit.patch:
# RDTSC and RDTSCP exit to user space when a VM asks) out of tree, against the kernel's
# own headers package and the linux-source package of the same version, the way DKMS
# builds a module: nothing else of the kernel is rebuilt or changed.
#
#   scripts/kvm-detvm/build.sh [--kver KVER] [--out DIR] [--install]
#
#   --kver KVER  the kernel to build for (default: the running one, uname -r), e.g.
#                6.1.0-57-amd64; its linux-headers-KVER package and linux-source-6.1 of
#                the same version must be in apt's index (linux-source-6.1 installed)
#   --out DIR    where kvm.ko, kvm-amd.ko, kvm-intel.ko and `version` go (default:
#                ./kvm-detvm-KVER)
#   --install    also put them in /lib/modules/KVER/updates/kvm-detvm and run depmod:
#                `modprobe -r kvm_amd kvm_intel kvm && modprobe kvm_amd` (or kvm_intel)
#                then loads them; `detvm doctor` says `tsc-exit OK`
#
# Exit status: 0 built; 1 a step failed (its output says which); 2 bad usage or a
# missing package.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
patch_file=$here/tsc-exit.patch
tarball=/usr/src/linux-source-6.1.tar.xz
kver=$(uname -r)
out=""
install=0

die() {
	echo "kvm-detvm: error: $*" >&2
	exit "${2:-1}"
}
log() { echo "kvm-detvm: [$SECONDS s] $*" >&2; }
usage() {
	sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "$1"
}

while [ $# -gt 0 ]; do
	case $1 in
	--kver) [ $# -ge 2 ] || usage 2; kver=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage 2; out=$2; shift 2 ;;
	--install) install=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "kvm-detvm: unknown argument '$1'" >&2; usage 2 ;;
	esac
done
case $kver in
*[!A-Za-z0-9._+-]* | "") die "'$kver' is not a kernel version" 2 ;;
esac
out=${out:-$PWD/kvm-detvm-$kver}
for t in apt-get apt-cache dpkg-deb dpkg-query make gcc patch tar xz modinfo strip; do
	command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh installs what is needed)" 2
done
[ -r "$tarball" ] || die "$tarball is missing: install Debian's linux-source-6.1" 2

pkg_version() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}
headers=linux-headers-$kver
hver=$(pkg_version "$headers")
[ -n "$hver" ] || die "apt knows no package $headers (run apt-get update; is $kver a Debian kernel?)" 2
sver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ "$sver" = "$hver" ] ||
	die "linux-source-6.1 is version ${sver:-(none)} but $headers is $hver: the module must be built from the same source (apt-get install linux-source-6.1=$hver)" 2

work=$(mktemp -d "${TMPDIR:-/tmp}/kvm-detvm.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

# The headers package and the two it depends on (the common headers and kbuild's tools),
# all of the same version, unpacked side by side so their relative links hold.
deps=$(apt-cache depends "$headers" | sed -n 's/^ *Depends: \(linux-[a-z0-9.+-]*\).*/\1/p')
log "fetching $headers $hver and $(echo $deps)"
(cd "$work" && apt-get download -q "$headers=$hver" $(for d in $deps; do echo "$d=$hver"; done) \
	>/dev/null 2>"$work/apt.err") || die "apt-get download failed: $(tail -n 1 "$work/apt.err")"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$work/root"
done
hdir=$work/root/usr/src/$headers
common=$(sed -n 's|^include /usr/src/\(linux-headers-[^/]*\)/Makefile$|\1|p' "$hdir/Makefile")
[ -n "$common" ] && [ -d "$work/root/usr/src/$common" ] || die "$headers does not name its common headers as expected"
cdir=$work/root/usr/src/$common
sed -i "s|^include /usr/src/$common/Makefile$|include $cdir/Makefile|" "$hdir/Makefile"

log "unpacking KVM's sources from $tarball"
src=linux-source-6.1
tar -xJf "$tarball" -C "$work" "$src/arch/x86/kvm" "$src/virt/kvm" "$src/arch/x86/include/asm/kvm_host.h" \
	"$src/include/uapi/linux/kvm.h" "$src/Documentation/virt/kvm/api.rst"
patch -d "$work/$src" -p1 --quiet --forward <"$patch_file" || die "tsc-exit.patch does not apply to linux-source-6.1 $sver"

# KVM's own headers and sources take the place of the packaged ones: one tree, patched.
cp "$work/$src/arch/x86/include/asm/kvm_host.h" "$cdir/arch/x86/include/asm/kvm_host.h"
cp "$work/$src/include/uapi/linux/kvm.h" "$cdir/include/uapi/linux/kvm.h"
rm -rf "$cdir/arch/x86/kvm" "$cdir/virt"
cp -r "$work/$src/arch/x86/kvm" "$cdir/arch/x86/kvm"
mkdir -p "$cdir/virt"
cp -r "$work/$src/virt/kvm" "$cdir/virt/kvm"

log "building kvm.ko, kvm-amd.ko, kvm-intel.ko for $kver"
make -C "$hdir" M="$cdir/arch/x86/kvm" -j "$(nproc)" modules >"$work/make.log" 2>&1 ||
	{ tail -n 30 "$work/make.log" >&2; die "the module build failed"; }
mkdir -p "$out"
for m in kvm kvm-amd kvm-intel; do
	ko=$cdir/arch/x86/kvm/$m.ko
	magic=$(modinfo -F vermagic "$ko")
	case $magic in
	"$kver "*) ;;
	*) die "$m.ko was built for '$magic', not $kver" ;;
	esac
	# as `make modules_install INSTALL_MOD_STRIP=1` would: Debian ships them so
	strip --strip-debug -o "$out/$m.ko" "$ko"
done
echo "$kver $hver tsc-exit.patch $(sha256sum "$patch_file" | cut -c1-16)" >"$out/version"
log "built into $out"
if [ "$install" = 1 ]; then
	dest=/lib/modules/$kver/updates/kvm-detvm
	mkdir -p "$dest"
	cp "$out"/kvm*.ko "$dest/"
	depmod "$kver"
	log "installed in $dest (modprobe -r kvm_amd kvm_intel kvm; modprobe kvm_amd or kvm_intel)"
fi
