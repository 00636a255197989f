#!/usr/bin/env bash
# make bench: every benchmark, figures printed side by side. Not part of make test.
set -euo pipefail
build=${1:-build}
here=$(dirname "$0")
echo "== detvm vs QEMU-KVM: start-up, exit round trip, memory"
/usr/bin/python3 "$here/vmm_bench.py" "$build"
echo
echo "== record and replay"
/usr/bin/python3 "$here/rr_bench.py" "$build"
echo
echo "== Linux boot"
/usr/bin/python3 "$here/linux_bench.py" "$build"
