#!/bin/bash
# SPDX-License-Identifier: MIT
# Run every test-guest program under detvm and under QEMU-KVM and compare the consoles,
# ignoring INFO lines (run-dependent values by contract): tests/integration/guest.sh for
# each program (ctest runs it as guest_PROG).
#
#   tests/guests/qemu-compare.sh DETVM [GUEST_ELF]
#
# Environment: GUEST_PROGS (default: all programs). Exit: 0 all equal and passing, 1 a
# difference or a failure (or QEMU, /dev/kvm or the detvm binary missing).
set -u
here=$(cd "$(dirname "$0")" && pwd)
detvm=${1:?usage: qemu-compare.sh DETVM [GUEST_ELF]}
elf=${2:-$here/../../build/guests/detvm-guest.elf}
bad=0
for prog in ${GUEST_PROGS:-hello ticks race blk net spin kspin badqueue talk}; do
	"$here/../integration/guest.sh" "$detvm" "$elf" "$prog" || bad=1
done
exit $bad
