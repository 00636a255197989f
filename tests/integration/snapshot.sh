#!/usr/bin/env bash
# Snapshots: `detvm snapshot` of a running VM over its --control socket, then
# `run --restore` and `record --restore` + replay from it. Asserts: a snapshot of the
# journal guest taken while it runs (halted between ticks) resumes where it was taken
# and ends with the same disk digest and the same disk bytes as the uninterrupted run; a
# snapshot taken mid-spin (ring 3, at a `step` point) resumes to the same result; a
# snapshot taken during a recording leaves that recording replayable; a recording from a
# snapshot replays identically, and refuses a changed snapshot (12); damaged, truncated,
# missing or foreign snapshots and wrong flags get one line and their exit codes.
# usage: snapshot.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init snapshot "$1" "$2"

# run_with_snapshot TAG SNAP LINE ARGS...: runs ARGS with --control, snapshots once the
# console has LINE, waits for the run; $tmp/TAG.out/.err, the snapshot's stdout in .snap
run_with_snapshot() {
	local tag=$1 snap=$2 line=$3
	shift 3
	show=("$tmp/$tag.out" "$tmp/$tag.err" "$tmp/$tag.snap")
	"$detvm" "$@" --control "$tmp/$tag.ctl" >"$tmp/$tag.out" 2>"$tmp/$tag.err" </dev/null &
	local pid=$! i
	for i in $(seq 600); do
		grep -q "$line" "$tmp/$tag.out" 2>/dev/null && break
		sleep 0.1
	done
	"$detvm" snapshot --control "$tmp/$tag.ctl" -o "$snap" >"$tmp/$tag.snap" 2>&1 ||
		fail "$tag: detvm snapshot exited $?"
	wait $pid
	local rc=$?
	rr_no_crash $rc "$tmp/$tag.err" "$tag"
	[ $rc -eq 0 ] || fail "$tag: the run exited $rc after the snapshot"
	[ -e "$tmp/$tag.ctl" ] && fail "$tag: the control socket was left behind"
	grep -q "^snapshot at exit [0-9]*: $snap" "$tmp/$tag.snap" || fail "$tag: no snapshot line"
}

result() { grep '^RESULT' "$1"; }

# 1. journal: halted between ticks when the snapshot comes; disk and console resume
truncate -s 1M "$tmp/disk.img"
# n: ticks enough that the snapshot, asked for at line 40, comes before the last (the
# `detvm snapshot` process took over a second to start in a loaded KVM host VM)
run_with_snapshot journal "$tmp/j.snap" "^journal 40 " run --timeout 120 --disk "$tmp/disk.img" \
	--cmdline "prog=journal n=400" "$elf"
[ -s "$tmp/j.snap.disk0" ] || fail "no disk copy beside the snapshot"
cp "$tmp/j.snap.disk0" "$tmp/j.disk.keep"
show=("$tmp/restored.out" "$tmp/restored.err")
"$detvm" run --timeout 120 --restore "$tmp/j.snap" >"$tmp/restored.out" 2>"$tmp/restored.err" </dev/null
rc=$?
rr_no_crash $rc "$tmp/restored.err" "restored run"
[ $rc -eq 0 ] || fail "run --restore exited $rc"
first=$(grep -m1 '^journal ' "$tmp/restored.out" | awk '{print $2}')
[ -n "$first" ] && [ "$first" -ge 40 ] || fail "the restored run started at journal line '$first', not after 40"
grep -q '^detvm-guest: kernel up' "$tmp/restored.out" && fail "the restored run booted again"
# everything the restored run printed is what the uninterrupted run printed from there
# (the snapshot may fall inside a line: a suffix of the original, byte for byte)
is_tail() { python3 -c 'import sys; a, b = (open(f, "rb").read() for f in sys.argv[1:]); sys.exit(0 if b and a.endswith(b) else 1)' "$1" "$2"; }
is_tail "$tmp/journal.out" "$tmp/restored.out" || fail "restored console is not the end of the original's"
[ "$(result "$tmp/restored.out")" = "$(result "$tmp/journal.out")" ] || fail "restored run's disk digest differs"
cmp -s "$tmp/disk.img" "$tmp/j.snap.disk0" || fail "restored run's disk differs from the original run's"

# 2. spin: the snapshot lands on a `step` delivery point in ring 3
run_with_snapshot spin "$tmp/s.snap" "^spin start\|INFO cmdline" run --timeout 120 --cmdline "prog=spin n=29" "$elf"
"$detvm" run --timeout 120 --restore "$tmp/s.snap" >"$tmp/s.out" 2>"$tmp/s.err" </dev/null || fail "spin restore exited $?"
grep -q 'kernel up' "$tmp/s.out" && fail "the restored spin booted again"
[ "$(grep '^spin iterations' "$tmp/s.out")" = "$(grep '^spin iterations' "$tmp/spin.out")" ] ||
	fail "restored spin result differs"

# 3. a snapshot during a recording leaves the recording exact
truncate -s 1M "$tmp/disk2.img"
run_with_snapshot recsnap "$tmp/r.snap" "^journal 20 " record -o "$tmp/r.trace" --timeout 120 \
	--disk "$tmp/disk2.img" --cmdline "prog=journal n=200" "$elf"
rr_replay "$tmp/r.trace" r_replay
rc=$?
[ $rc -eq 0 ] || fail "the recording a snapshot was taken from replays with exit $rc"
cmp -s "$tmp/recsnap.out" "$tmp/r_replay.out" || fail "its replay's console differs"

# 4. record from the snapshot, replay it; a changed snapshot is refused
cp "$tmp/j.disk.keep" "$tmp/j.snap.disk0"
show=("$tmp/fromsnap.out" "$tmp/fromsnap.err")
"$detvm" record --timeout 120 --restore "$tmp/j.snap" -o "$tmp/f.trace" >"$tmp/fromsnap.out" 2>"$tmp/fromsnap.err" </dev/null ||
	fail "record --restore exited $?"
cmp -s "$tmp/restored.out" "$tmp/fromsnap.out" || fail "record --restore's console differs from run --restore's"
rr_replay "$tmp/f.trace" f_replay
rc=$?
[ $rc -eq 0 ] || fail "replay of a recording from a snapshot exited $rc"
cmp -s "$tmp/fromsnap.out" "$tmp/f_replay.out" || fail "replay from the snapshot printed something else"
"$detvm" dump "$tmp/f.trace" | grep -q "start state: .*j.snap" || fail "dump does not show the trace's start state"
cp "$tmp/j.snap" "$tmp/j.snap.orig"
printf 'x' >>"$tmp/j.snap"
rr_replay "$tmp/f.trace" changed
rc=$?
[ $rc -eq 12 ] || fail "replay with a changed snapshot exited $rc, want 12"
grep -q "snapshot .* has changed" "$tmp/changed.err" || fail "no 'has changed' line"

# 5. bad input: one line each, the right code
expect() {	# CODE WHAT ARGS...
	local code=$1 what=$2
	shift 2
	"$detvm" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err" </dev/null
	local rc=$?
	show=("$tmp/bad.err")
	rr_no_crash $rc "$tmp/bad.err" "$what"
	[ $rc -eq "$code" ] || fail "$what: exit $rc, want $code"
	[ "$(wc -l <"$tmp/bad.err")" -eq 1 ] || fail "$what: want one line on stderr"
}
head -c 20000 "$tmp/j.snap.orig" >"$tmp/t.snap"
cp "$tmp/j.snap.orig" "$tmp/c.snap"
printf '\xff' | dd of="$tmp/c.snap" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 7 "truncated snapshot" run --restore "$tmp/t.snap"
expect 7 "damaged snapshot" run --restore "$tmp/c.snap"
expect 7 "not a snapshot" run --restore "$elf"
expect 2 "missing snapshot" run --restore "$tmp/none.snap"
expect 2 "--mem with --restore" run --restore "$tmp/j.snap.orig" --mem 64M
expect 2 "IMAGE with --restore" run --restore "$tmp/j.snap.orig" "$elf"
expect 2 "snapshot without -o" snapshot --control "$tmp/x.ctl"
expect 10 "snapshot of no VM" snapshot --control "$tmp/x.ctl" -o "$tmp/x.snap"
expect 2 "--restore on ft primary" ft primary --peer 127.0.0.1:1 --restore "$tmp/j.snap.orig" -o "$tmp/x" "$elf"
pass "journal resumed at line $first with the same disk; spin, record, replay from snapshots; bad input refused"
