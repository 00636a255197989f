#!/bin/bash
# SPDX-License-Identifier: MIT
# Run every test-guest program under QEMU/KVM and under detvm and compare the
# consoles, ignoring INFO lines (run-dependent values by contract).
#
#   tests/guests/qemu-compare.sh DETVM [GUEST_ELF]
#
# Environment: GUEST_PROGS (default: all programs), GUEST_TIMEOUT (seconds per
# run, default 300).  Exit: 0 all equal and passing, 1 a difference or a
# failure, or QEMU, /dev/kvm or the detvm binary missing (ctest runs it through
# tests/kvmhost/kvm-test.sh, which provides /dev/kvm).
set -u
here=$(cd "$(dirname "$0")" && pwd)
detvm=${1:?usage: qemu-compare.sh DETVM [GUEST_ELF]}
elf=${2:-$here/../../build/guests/detvm-guest.elf}
progs=${GUEST_PROGS:-hello ticks race blk net spin kspin badqueue talk}
limit=${GUEST_TIMEOUT:-300}

missing() { echo "FAIL: $*"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || missing "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || missing "/dev/kvm not accessible"
[ -x "$detvm" ] || missing "detvm binary $detvm not built yet"
[ -f "$elf" ] || { echo "qemu-compare: guest image $elf missing (build the detvm_guest target)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/detvm-compare.XXXXXX")
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The comparable part of a console: from the kernel's first line on, without
# CRs and INFO lines (detvm or QEMU may print their own lines before it).
filter() {
	tr -d '\r' <"$1" | sed -n '/^detvm-guest: kernel up$/,$p' | grep -v '^INFO '
}

run_detvm() {
	local prog=$1 out=$2 net=()
	rm -f "$tmp/disk.img" "$tmp/peer.sock"
	truncate -s 1M "$tmp/disk.img"
	case $prog in
	net | badqueue)
		local mode=()
		[ "$prog" = badqueue ] && mode=(--sink --timeout 60)
		python3 "$here/net_peer.py" --sock "$tmp/peer.sock" "${mode[@]}" 2>"$out.peer" &
		peer_pid=$!
		for _ in $(seq 100); do [ -S "$tmp/peer.sock" ] && break; sleep 0.05; done
		net=(--net "unix:$tmp/peer.sock")
		;;
	esac
	timeout "$limit" "$detvm" run --disk "$tmp/disk.img" "${net[@]}" \
		--cmdline "prog=$prog" --mem 256M "$elf" >"$out" 2>"$out.err"
	local rc=$?
	if [ -n "$peer_pid" ]; then
		if [ "$prog" = net ]; then
			wait "$peer_pid" || rc=101
		else
			kill "$peer_pid" 2>/dev/null
			wait "$peer_pid" 2>/dev/null
		fi
		peer_pid=
	fi
	return $rc
}

bad=0
for prog in $progs; do
	GUEST_ELF=$elf GUEST_TIMEOUT=$limit "$here/qemu-run.sh" "$prog" >"$tmp/$prog.qemu" 2>"$tmp/$prog.qemu.err"
	qrc=$?
	run_detvm "$prog" "$tmp/$prog.detvm"
	drc=$?
	filter "$tmp/$prog.qemu" >"$tmp/$prog.qemu.f"
	filter "$tmp/$prog.detvm" >"$tmp/$prog.detvm.f"
	result=$(tail -n 1 "$tmp/$prog.detvm.f")
	if [ $qrc != 0 ]; then
		echo "FAIL $prog: under QEMU (exit $qrc)"; cat "$tmp/$prog.qemu" "$tmp/$prog.qemu.err"; bad=1
	elif [ $drc != 0 ]; then
		echo "FAIL $prog: under detvm (exit $drc)"
		cat "$tmp/$prog.detvm" "$tmp/$prog.detvm.err" "$tmp/$prog.detvm.peer" 2>/dev/null
		bad=1
	elif ! diff -u --label "qemu $prog" --label "detvm $prog" "$tmp/$prog.qemu.f" "$tmp/$prog.detvm.f"; then
		echo "FAIL $prog: consoles differ (INFO lines excluded)"; bad=1
	else
		echo "ok   $prog: $result"
	fi
	grep -h '^INFO \(race\|spin\|kspin\)' "$tmp/$prog.qemu" | sed 's/^/     qemu:  /'
	grep -h '^INFO \(race\|spin\|kspin\)' "$tmp/$prog.detvm" | sed 's/^/     detvm: /'
done
exit $bad
