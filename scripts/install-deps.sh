#!/usr/bin/env bash
# Installs the Debian packages detvm needs; idempotent, quiet when nothing is missing.
set -euo pipefail

# build and unit tests; the Linux test kernel (rsync: its headers_install); the KVM host
# VM of tests/kvmhost (QEMU, busybox, cpio, kmod's depmod; its kernel comes from
# linux-image-amd64 by apt-get download); RDMA verbs on Soft-RoCE inside it; the FT
# arbiter (libcurl and json-c to etcd; etcd itself for the tests, openssl for its certificates); headless Chromium for the
# `detvm report` page test; Capstone for `detvm trace` and the read watchpoints of
# replay --gdb; gdb, its client; the Debian guest of tests/debian (mmdebstrap, e2fsprogs'
# mke2fs -d); man-db and groff-base to render and check the man page (install_man)
pkgs=(build-essential cmake pkg-config clang lld libclang-rt-14-dev
      liblz4-dev lz4 libprotobuf-c-dev protobuf-c-compiler libibverbs-dev libcmocka-dev
      linux-source-6.1 bc flex bison libelf-dev libssl-dev xz-utils cpio patch rsync
      qemu-system-x86 busybox-static kmod
      rdma-core ibverbs-providers ibverbs-utils
      python3-protobuf python3-lz4 python3-cryptography hyperfine iproute2 time
      chromium gdb
      libcurl4-openssl-dev libjson-c-dev etcd-server etcd-client libcapstone-dev
      mmdebstrap e2fsprogs man-db groff-base)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
