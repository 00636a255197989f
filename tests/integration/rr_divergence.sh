#!/usr/bin/env bash
# Replay notices when the trace and the execution disagree. trace_mutate copies a
# recording of prog=ticks with one event changed and prints that event's position P.
# Asserts:
#  - control: a copy with a zero change replays identically (exit 0), so trace_mutate's
#    copy is faithful and what follows is down to the change alone;
#  - a flipped bit in the data of a recorded guest write (the 1st and 100th exit with
#    data, the 5th byte written to COM1): exit 6 and one line "diverged at exit P (rip
#    0x...): expected ..., got ..." with exactly P;
#  - the PIT start clock read +1 ms: exit 6, diverged at a position >= P;
#  - a timer fire +1 s: exit 6 at >= P (and +1 ms: 0 or 6, see below);
#  - a copy whose header says its digests were computed another way (digest version 0
#    or 99): exit 7 before the guest runs;
#  - a recording stopped by --max-exits whose end claims status 0 (a guest power-off):
#    exit 6 "... got the guest running on"; one claiming 300: exit 7;
#  - a changed/missing disk snapshot (TRACE.disk0) or image file: exit 12, "has changed
#    since it was recorded" / "the trace needs";
#  - a sparse disk gives a sparse snapshot with the same bytes, and replays.
# usage: rr_divergence.sh DETVM GUEST_ELF TRACE_MUTATE ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_divergence "$1" "$2"
mutate=$3
trace=$tmp/ticks.trace

rr_record "$trace" rec --cmdline prog=ticks </dev/null
rc=$?
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"

# mutated KIND N [DELTA]: writes $tmp/m.trace, sets $pos to what trace_mutate printed
mutated() {
	show=("$tmp/mutate.err")
	pos=$("$mutate" "$trace" "$tmp/m.trace" "$@" 2>"$tmp/mutate.err") || fail "trace_mutate $* failed"
	[[ "$pos" =~ ^[0-9]+$ ]] || fail "trace_mutate $* printed '$pos', not a position"
}

# replay_mutated WHAT: replays $tmp/m.trace, sets $rc and $at (the diverged-at position)
replay_mutated() {
	rr_replay "$tmp/m.trace" m
	rc=$?
	show+=("$tmp/mutate.err")
	rr_no_crash $rc "$tmp/m.err" "$1"
	at=$(sed -n 's/^detvm: error: diverged at exit \([0-9][0-9]*\)[ :].*/\1/p' "$tmp/m.err")
}

notes=
mutated timer 1 0
replay_mutated "unchanged copy"
[ $rc -eq 0 ] || fail "an unchanged copy made by trace_mutate replays with exit $rc"
cmp -s "$tmp/rec.out" "$tmp/m.out" || fail "an unchanged copy replays a different console"

for change in "exit-data 1" "exit-data 100" "console-out 5"; do
	# shellcheck disable=SC2086 # "KIND N": two words
	mutated $change
	replay_mutated "$change"
	[ $rc -eq 6 ] || fail "$change (exit $pos): replay exited $rc, want 6 (diverged)"
	[ "$(wc -l <"$tmp/m.err")" -eq 1 ] || fail "$change: want one line on stderr"
	grep -Eq "^detvm: error: diverged at exit $pos \(rip 0x[0-9a-f]+\): expected .*, got .+" "$tmp/m.err" ||
		fail "$change: want 'diverged at exit $pos (rip 0x...): expected ..., got ...'"
	rr_is_prefix "$tmp/m.out" "$tmp/rec.out" || fail "$change: the console before the divergence differs"
	notes+=" [$change: $pos]"
done

# The only clock read of ticks is the PIT's start time when the guest programs it: 1 ms
# later, the first recorded timer fire finds the period not yet over and raises no
# interrupt where the recording injected one.
mutated clock 1
replay_mutated "clock 1 +1ms"
[ $rc -eq 6 ] || fail "the PIT start clock +1 ms (exit $pos): replay exited $rc, want 6"
{ [ -n "$at" ] && [ "$at" -ge "$pos" ]; } || fail "clock +1 ms at exit $pos: diverged at '${at}', want >= $pos"
notes+=" [clock 1 +1ms: $pos -> $at]"

# A PIT fire 1 ms late (of a 10 ms period) provably cannot change behaviour: the PIT
# raises IRQ 0 when the elapsed count has reached the next period (still true), computes
# its next deadline in whole periods from its start (the same, unless the fire was
# already 9 ms late), and replay takes the following fires from the trace anyway. So
# the assertion for +1 ms is only "0 or 6, no crash", and the one that must diverge
# moves the fire by 1 s (100 periods): the PIT then waits for a tick 100 periods on and
# the next recorded fire raises no interrupt.
mutated timer 3
replay_mutated "timer 3 +1ms"
[ $rc -eq 0 ] || [ $rc -eq 6 ] || fail "timer fire +1 ms: replay exited $rc, want 0 or 6"
notes+=" [timer 3 +1ms: exit $rc]"
mutated timer 3 1000000000
replay_mutated "timer 3 +1s"
[ $rc -eq 6 ] || fail "timer fire +1 s (exit $pos): replay exited $rc, want 6"
{ [ -n "$at" ] && [ "$at" -ge "$pos" ]; } || fail "timer fire +1 s at exit $pos: diverged at '${at}', want >= $pos"
notes+=" [timer 3 +1s: $pos -> $at]"

# A trace whose digests were computed another way (another detvm) is refused up front,
# not reported as a divergence at its first checkpoint.
for v in 0 99; do
	mutated digest-version $v
	replay_mutated "digest version $v"
	[ $rc -eq 7 ] || fail "a trace with digest version $v: replay exited $rc, want 7"
	grep -q "state digests are version $v, this detvm computes version" "$tmp/m.err" ||
		fail "digest version $v: wrong message"
	[ -s "$tmp/m.out" ] && fail "digest version $v: replay ran the guest anyway"
done
notes+=" [digest version 0/99: refused]"

# The end of a recording stopped from outside (--max-exits: exit 8) made to claim a status
# only the guest gives (0: it powered off there) or one detvm never gives (300).
rr_record "$tmp/limit.trace" limitrec --max-exits 150 --cmdline prog=ticks </dev/null
rc=$?
[ $rc -eq 8 ] || fail "record with --max-exits 150 exited $rc, want 8"
show=("$tmp/mutate.err")
"$mutate" "$tmp/limit.trace" "$tmp/m.trace" end-status 1 0 >/dev/null 2>"$tmp/mutate.err" || fail "trace_mutate end-status failed"
replay_mutated "end status 0"
[ $rc -eq 6 ] || fail "an end claiming status 0 where the guest ran on: replay exited $rc, want 6"
grep -q "^detvm: error: diverged at exit 150 (rip 0x[0-9a-f]*): expected end of the recording (exit status 0), got the guest running on$" \
	"$tmp/m.err" || fail "end status 0: wrong message"
"$mutate" "$tmp/limit.trace" "$tmp/m.trace" end-status 1 300 >/dev/null 2>"$tmp/mutate.err" || fail "trace_mutate end-status failed"
replay_mutated "end status 300"
[ $rc -eq 7 ] || fail "an end with status 300: replay exited $rc, want 7"
grep -q "it ends with exit status 300, which no recording ends with" "$tmp/m.err" || fail "end status 300: wrong message"
notes+=" [end status 0: diverged; 300: corrupt]"

# Files the trace names. blk: a disk snapshot beside the trace.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
rr_record "$tmp/blk.trace" blkrec --disk "$tmp/disk.img" --cmdline prog=blk </dev/null
rc=$?
[ $rc -eq 0 ] || fail "record of prog=blk exited $rc"
cp "$tmp/blk.trace.disk0" "$tmp/disk0.orig"
printf '\x5a' | dd of="$tmp/blk.trace.disk0" bs=1 seek=4097 conv=notrunc status=none
cmp -s "$tmp/blk.trace.disk0" "$tmp/disk0.orig" && fail "the snapshot byte was already 0x5a"
rr_replay "$tmp/blk.trace" snap
rc=$?
rr_no_crash $rc "$tmp/snap.err" "changed snapshot"
[ $rc -eq 12 ] || fail "replay with a changed disk snapshot exited $rc, want 12"
grep -q "has changed since it was recorded" "$tmp/snap.err" || fail "changed snapshot: wrong message"
[ -s "$tmp/snap.out" ] && fail "changed snapshot: replay ran the guest anyway"
rm "$tmp/blk.trace.disk0"
rr_replay "$tmp/blk.trace" nosnap
rc=$?
[ $rc -eq 12 ] || fail "replay with the disk snapshot missing exited $rc, want 12"
grep -q "the trace needs disk snapshot" "$tmp/nosnap.err" || fail "missing snapshot: wrong message"
mv "$tmp/disk0.orig" "$tmp/blk.trace.disk0"
rr_replay "$tmp/blk.trace" snapok
rc=$?
[ $rc -eq 0 ] || fail "with the snapshot restored, replay exited $rc"

# A sparse disk gives a sparse snapshot (where the filesystem keeps the source sparse):
# 64 MiB with 8 KiB written at its start and 5 bytes in the middle.
truncate -s 64M "$tmp/sparse.img"
dd if=/dev/urandom of="$tmp/sparse.img" bs=4096 count=2 conv=notrunc status=none
printf 'hello' | dd of="$tmp/sparse.img" bs=1 seek=$((32 << 20)) conv=notrunc status=none
rr_record "$tmp/sparse.trace" sparserec --disk "$tmp/sparse.img" --cmdline prog=blk </dev/null
rc=$?
[ $rc -eq 0 ] || fail "record with a sparse disk exited $rc"
cmp -s "$tmp/sparse.img" "$tmp/sparse.trace.disk0" || fail "the snapshot of a sparse disk differs from it"
if [ "$(stat -c %b "$tmp/sparse.img")" -lt 1024 ]; then
	blocks=$(stat -c %b "$tmp/sparse.trace.disk0")
	[ "$blocks" -lt 1024 ] || fail "the snapshot of a sparse 64 MiB disk uses $blocks blocks"
	notes+=" [sparse disk: snapshot $blocks blocks]"
fi
rr_replay "$tmp/sparse.trace" sparse
rc=$?
[ $rc -eq 0 ] || fail "replay from a sparse snapshot exited $rc"
cmp -s "$tmp/sparserec.out" "$tmp/sparse.out" || fail "replay from a sparse snapshot: console differs"

# The image: recorded from a private copy, then one byte appended.
cp "$elf" "$tmp/guest.elf"
elf=$tmp/guest.elf
rr_record "$tmp/img.trace" imgrec --cmdline prog=hello </dev/null
rc=$?
[ $rc -eq 0 ] || fail "record from a copy of the image exited $rc"
rr_replay "$tmp/img.trace" imgok
rc=$?
[ $rc -eq 0 ] || fail "replay with the image unchanged exited $rc"
printf '\0' >>"$tmp/guest.elf"
rr_replay_refused "$tmp/img.trace" img 12 "image '$tmp/guest.elf' has changed since it was recorded" "changed image"
rm "$tmp/guest.elf"
rr_replay "$tmp/img.trace" noimg
rc=$?
[ $rc -eq 12 ] || fail "replay with the image missing exited $rc, want 12"
pass "diverged at:$notes; changed/missing snapshot and image refused (12)"
