#!/usr/bin/env bash
# The TSC as a recorded input (prog=tsc reads it in ring 3 until 10 ticks pass, and in
# ring 0 before and after, and prints what it read).
#   rr_tsc.sh DETVM GUEST_ELF virtual   on a KVM with detvm's change (scripts/kvm-detvm:
#       the tsc-exit KVM host VM): doctor says `tsc-exit OK`; record says nothing about
#       the TSC, its header names the virtual TSC, every read is an exit carrying the value
#       served; two replays print the recorded console byte for byte with the same exits
#   rr_tsc.sh DETVM GUEST_ELF host      on stock KVM: doctor says `tsc-exit MISSING`;
#       record warns once that such a guest will not replay, the header says the host's
#       TSC, and the replay does diverge (the values differ): the limitation, stated
# usage: rr_tsc.sh DETVM GUEST_ELF virtual|host ; fails without a usable /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
mode=$3
rr_init "rr_tsc_$mode" "$1" "$2"
warning="does not let detvm see RDTSC"

"$detvm" doctor >"$tmp/doctor.txt" 2>&1
show=("$tmp/doctor.txt")
trace=$tmp/rec.trace
rr_record "$trace" rec --cmdline prog=tsc </dev/null
rc=$?
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"
grep -q "^RESULT tsc PASS " "$tmp/rec.out" || fail "the recorded guest did not pass"
grep -q "^INFO tsc ring0 [0-9]* \.\. [0-9]* ring3 reads=[1-9]" "$tmp/rec.out" || fail "no TSC values on the console"
"$detvm" dump "$trace" >"$tmp/dump.txt" 2>&1 || fail "dump failed"
reads=$(grep -c " exit msr rdmsr index=0x10 size=8 data=" "$tmp/dump.txt")

if [ "$mode" = virtual ]; then
	grep -q "^OK .*tsc-exit" "$tmp/doctor.txt" || fail "this KVM has no tsc-exit (run in the tsc-exit KVM host VM)"
	! grep -q "$warning" "$tmp/rec.err" || fail "record warned about the TSC on a KVM that lets detvm see it"
	grep -q "^tsc: virtual, 1000000 kHz" "$tmp/dump.txt" || fail "the trace header does not name the virtual TSC"
	# every ring-3 read, plus the two in ring 0 and the first in ring 3
	ring3=$(sed -n 's/^INFO tsc .* ring3 reads=\([0-9]*\) .*/\1/p' "$tmp/rec.out")
	[ "$reads" -ge $((ring3 + 3)) ] || fail "$reads TSC exits in the trace for $ring3 ring-3 reads"
	grep -q "^tsc: virtual, $reads reads served (last [1-9][0-9]*), 0 writes refused$" "$tmp/rec.err" ||
		fail "record --stats does not count the $reads reads it served"
	rec_exits=$(rr_exits "$tmp/rec.err")
	for i in 1 2; do
		rr_replay "$trace" "rp$i" --stats -v
		rc=$?
		rr_no_crash $rc "$tmp/rp$i.err" "replay $i"
		[ $rc -eq 0 ] || fail "replay $i exited $rc"
		cmp -s "$tmp/rec.out" "$tmp/rp$i.out" || fail "replay $i printed another console"
		[ "$(rr_exits "$tmp/rp$i.err")" = "$rec_exits" ] || fail "replay $i made another number of exits"
		grep -q "replay identical" "$tmp/rp$i.err" || fail "replay $i did not say it was identical"
	done
	pass "$reads TSC reads recorded as exits; 2 replays identical ($rec_exits exits)"
fi

[ "$mode" = host ] || { echo "usage: rr_tsc.sh DETVM GUEST_ELF virtual|host"; exit 2; }
grep -q "^MISSING .*tsc-exit" "$tmp/doctor.txt" || fail "doctor does not say tsc-exit MISSING"
[ "$(grep -c "$warning" "$tmp/rec.err")" -eq 1 ] || fail "record did not warn exactly once that the TSC is not logged"
grep -q "^tsc: the host's (not logged)" "$tmp/dump.txt" || fail "the trace header does not say the TSC is the host's"
[ "$reads" -eq 0 ] || fail "$reads TSC exits without the capability"
rr_replay "$trace" rp
rc=$?
rr_no_crash $rc "$tmp/rp.err" replay
[ $rc -eq 6 ] || fail "replay of a guest that read the host's TSC exited $rc, want 6 (diverged)"
pass "record warned once; the replay diverged as stated"
