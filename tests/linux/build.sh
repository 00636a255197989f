#!/usr/bin/env bash
# Builds the detvm test kernel and initramfs from Debian's linux-source-6.1.
#
#   tests/linux/build.sh [--out DIR]
#
# Prints three paths on stdout, one per line: bzImage, vmlinux (the PVH ELF),
# initramfs (uncompressed newc cpio).  Progress goes to stderr.
#
# Results are cached in ${DETVM_CACHE:-$HOME/.cache/detvm}/linux-<key>/, where
# <key> hashes everything the outputs depend on (see cache_key below).  A build
# runs in a temporary directory under the cache root and is renamed into place
# only when complete, so an interrupted build never leaves a partial cache.
# With --out DIR the outputs are also copied to DIR and those paths printed.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
fragment=$here/detvm.config
init_src=$here/init.c
# Source patches, applied in name order (each says why in its header).
patches=("$here"/*.patch)
tarball=/usr/src/linux-source-6.1.tar.xz
cache_root=${DETVM_CACHE:-$HOME/.cache/detvm}
outputs=(bzImage vmlinux initramfs.cpio)

# Fixed build identity: the banner ("Linux version ... #1 ...") is console
# output, so it must not depend on when or where the kernel was built.
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 1970"
export KBUILD_BUILD_USER=detvm KBUILD_BUILD_HOST=detvm KBUILD_BUILD_VERSION=1
unset O KBUILD_OUTPUT CROSS_COMPILE KCONFIG_CONFIG

trap 'die "command failed at line $LINENO: $BASH_COMMAND"' ERR

die() {
	echo "tests/linux/build.sh: error: $*" >&2
	exit 1
}

log() {
	echo "tests/linux/build.sh: [$((SECONDS))s] $*" >&2
}

usage() {
	echo "usage: tests/linux/build.sh [--out DIR]" >&2
	exit 2
}

out_dir=""
while [ $# -gt 0 ]; do
	case $1 in
	--out)
		[ $# -ge 2 ] || usage
		out_dir=$2
		shift 2
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done

pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
		die "Debian package $1 is not installed (run scripts/install-deps.sh)"
}

check_tools() {
	local t
	for t in make gcc ld flex bison bc lz4 xz tar patch sha256sum dpkg-query; do
		command -v "$t" >/dev/null || die "'$t' not found (run scripts/install-deps.sh)"
	done
	[ -r "$tarball" ] || die "$tarball missing (package linux-source-6.1)"
	[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"
	[ -e /usr/include/libelf.h ] || die "libelf headers missing (package libelf-dev)"
}

# Everything the outputs depend on, hashed: format version, package versions,
# compiler, and the contents of the fragment, init.c and this script.
cache_key() {
	{
		echo "detvm-linux 1"
		echo "linux-source-6.1 $(pkg_version linux-source-6.1)"
		echo "busybox-static $(pkg_version busybox-static)"
		gcc --version | sed -n 1p
		sha256sum <"$fragment"
		sha256sum <"$init_src"
		cat "${patches[@]}" | sha256sum
		sha256sum <"$self"
	} | sha256sum | cut -c 1-16
}

kmake() {
	make -C "$src" ARCH=x86_64 -j"$(nproc)" "$@" >>"$build_log" 2>&1 || {
		tail -n 40 "$build_log" >&2
		die "make $* failed; full log: $fail_log"
	}
}

# Every line of the fragment must hold in the final .config.
check_config() {
	local line sym bad=0

	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			sym=${line%%=*}
			if ! grep -qxF -- "$line" "$src/.config"; then
				echo "  wanted $line, got: $(grep -E "^(# )?${sym}[= ]" "$src/.config" || echo unset)" >&2
				bad=1
			fi
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			if grep -q "^$sym=" "$src/.config"; then
				echo "  wanted $line, got: $(grep "^$sym=" "$src/.config")" >&2
				bad=1
			fi
			;;
		esac
	done <"$fragment"
	[ "$bad" -eq 0 ] || die "kernel config does not match $fragment (dependencies missing?)"
}

build_kernel() {
	log "extracting $tarball"
	tar -xf "$tarball" -C "$tmp"
	mv "$tmp/linux-source-6.1" "$src"
	for p in "${patches[@]}"; do
		log "applying $(basename "$p")"
		patch -d "$src" -p1 --quiet <"$p" >>"$build_log" 2>&1 || die "patch $(basename "$p") does not apply"
	done

	log "configuring (tinyconfig + $(basename "$fragment"))"
	kmake tinyconfig
	(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config "$fragment") \
		>>"$build_log" 2>&1 || die "merge_config.sh failed; log: $fail_log"
	kmake olddefconfig
	check_config

	log "building bzImage and vmlinux with -j$(nproc)"
	kmake bzImage
	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point a loader jumps to.
	readelf -nW "$src/vmlinux" | grep -E "Xen .*(0x00000012|PHYS32_ENTRY)" >/dev/null ||
		die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); is CONFIG_PVH set?"
}

build_init() {
	log "building init (nolibc)"
	kmake headers_install INSTALL_HDR_PATH="$tmp/hdr"
	gcc -Os -Wall -Wextra -Wno-unused-parameter -Werror \
		-static -nostdlib -nostdinc -fno-stack-protector \
		-fno-asynchronous-unwind-tables -fno-ident \
		-isystem "$tmp/hdr/include" -isystem "$(gcc -print-file-name=include)" \
		-include "$src/tools/include/nolibc/nolibc.h" \
		-o "$stage/init" "$init_src" -lgcc >>"$build_log" 2>&1 ||
		die "compiling $init_src failed; log: $fail_log"
	if readelf -lW "$stage/init" | grep INTERP >/dev/null; then
		die "init is not a static executable"
	fi
}

# Uncompressed newc cpio made by the tree's usr/gen_init_cpio: fixed mtimes
# (0), fixed owners, entries in a fixed order, so equal inputs give equal bytes.
build_initramfs() {
	local list=$tmp/initramfs.list applet

	log "building initramfs"
	cp /bin/busybox "$stage/busybox"
	touch -d @0 "$stage/init" "$stage/busybox"
	{
		echo "dir /dev 0755 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "dir /proc 0755 0 0"
		echo "dir /sys 0755 0 0"
		echo "dir /tmp 1777 0 0"
		echo "dir /root 0700 0 0"
		echo "dir /bin 0755 0 0"
		echo "file /init $stage/init 0755 0 0"
		echo "file /bin/busybox $stage/busybox 0755 0 0"
		/bin/busybox --list | LC_ALL=C sort -u | while read -r applet; do
			case $applet in
			busybox | */* | "") ;;
			*) echo "slink /bin/$applet busybox 0777 0 0" ;;
			esac
		done
	} >"$list"
	"$src/usr/gen_init_cpio" -t 0 "$list" >"$tmp/out/initramfs.cpio" 2>>"$build_log" ||
		die "gen_init_cpio failed; log: $fail_log"
}

# Temp dirs are named .tmp-linux-<key>.<pid>.XXXXXX; drop those whose builder
# is gone (killed with SIGKILL, machine crash).
remove_stale_tmp() {
	local d pid

	for d in "$cache_root"/.tmp-linux-*; do
		[ -d "$d" ] || continue
		pid=${d%.*}
		pid=${pid##*.}
		case $pid in
		'' | *[!0-9]*) continue ;;
		esac
		kill -0 "$pid" 2>/dev/null && continue
		log "removing stale $d"
		rm -rf "$d"
	done
}

build() {
	mkdir -p "$cache_root"
	remove_stale_tmp
	tmp=$(mktemp -d "$cache_root/.tmp-linux-$key.$$.XXXXXX")
	fail_log=$cache_root/linux-$key.failed.log
	# On failure keep the log next to the cache; always drop the temp dir.
	# shellcheck disable=SC2154 # st is set inside the trap itself
	trap 'st=$?; [ "$st" -eq 0 ] || cp -f "$build_log" "$fail_log" 2>/dev/null || true; rm -rf "$tmp"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	src=$tmp/linux
	stage=$tmp/stage
	build_log=$tmp/out/build.log
	mkdir -p "$stage" "$tmp/out"

	build_kernel
	build_init
	build_initramfs

	cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$src/System.map" "$tmp/out/"
	cp "$src/.config" "$tmp/out/config"
	cp "$stage/init" "$tmp/out/init"
	cp "$fragment" "$init_src" "$tmp/out/"
	# Atomic publish; if a concurrent build won the race, keep its result.
	if ! mv -T "$tmp/out" "$dest" 2>/dev/null; then
		[ -d "$dest" ] || die "cannot move build into $dest"
		log "another build finished first; using it"
	fi
	rm -f "$fail_log"
	log "built in ${SECONDS}s"
}

check_tools
[ -r "$fragment" ] || die "$fragment missing"
[ -r "$init_src" ] || die "$init_src missing"
key=$(cache_key)
dest=$cache_root/linux-$key

if [ -d "$dest" ]; then
	log "cached: $dest"
else
	build
fi

dir=$dest
if [ -n "$out_dir" ]; then
	mkdir -p "$out_dir"
	cp "$dest/bzImage" "$dest/vmlinux" "$dest/initramfs.cpio" "$dest/config" "$out_dir/"
	dir=$(cd "$out_dir" && pwd)
fi
for f in "${outputs[@]}"; do
	echo "$dir/$f"
done
