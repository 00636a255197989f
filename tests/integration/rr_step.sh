#!/usr/bin/env bash
# The `step` delivery fallback, end to end, with prog=kspin: the guest kernel spins in
# ring 0 with interrupts enabled and makes no exit until n timer ticks have passed.
# Asserts:
#  a. `--delivery sync` cannot preempt that spin: the run times out (exit 8) and the
#     console has no "kspin waited" line;
#  b. under the default (step) delivery 4 plain runs pass, each with step points in
#     --stats, and give more than one distinct "INFO kspin iterations=" value (where the
#     ticks land is host timing);
#  c. one recording (step points K >= 1, K landmark events in the trace, the header says
#     `delivery: step`), then 2 replays: each exits 0 with the recording's console byte for
#     byte (so the same iteration count), says "replay identical", makes K step points
#     and reaches K + W landmarks (W: late interrupt windows in ring 0 that the trace
#     marks with a landmark; replay steps to those too and counts them);
#     a copy of the trace made by trace_mutate with a zero change replays the same way;
#  d. a landmark whose regs_digest has one bit flipped is caught: replay exits 6 with one
#     line on stderr saying "diverged" where it loads that step delivery point, no
#     sanitizer report, the console before it a prefix of the recording's, within
#     $mutated_limit seconds; the same for a landmark whose carried vCPU registers, and
#     one whose first carried page, have a bit flipped (the loaded state no longer
#     matches the recorded digests);
#  e. the first timer fire at a step point (position P) moved 1000 s later: replay exits 6
#     at once with "diverged at exit N (rip ...): expected interrupt vector 0x20, got no
#     interrupt ..." (or, where the recording waited for an interrupt window next,
#     "expected irq-window ..., got no interrupt pending ..."), N >= P;
#  f. that timer fire and every later event moved 1000 positions on (the trace skips
#     exits): the guest spins on without an exit and replay exits 6 with "diverged after
#     exit N: the guest ran S s without an exit; the recording went on to ... within
#     0.100 s" (after 22 s), not never;
#  g. (information only) the replays' wall times are printed in the pass line.
# usage: rr_step.sh DETVM GUEST_ELF TRACE_MUTATE ; fails without /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_step "$1" "$2"
mutate=$3
runs=4
replays=2
# A replay that diverges should stop about as fast as a matching one (~1 s here), or after
# its no-exit watchdog (2 s + 200 x the recording's time to its next exit: longer where
# the recording ran slowly, under an emulator and sanitizers); this bound only turns a
# hang into a failure inside ctest's TIMEOUT.
mutated_limit=180


iterations() {
	sed -n 's/^INFO kspin iterations=\([0-9][0-9]*\)$/\1/p' "$1"
}
now() {
	date +%s.%N
}
secs() { # secs START END: "1.23"
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

# ---- a. sync delivery alone never ends a ring-0 spin --------------------------------
show=("$tmp/sync.out" "$tmp/sync.err")
t0=$(now)
timeout 60 "$detvm" run --delivery sync --timeout 3 --stats --cmdline 'prog=kspin n=2' "$elf" \
	>"$tmp/sync.out" 2>"$tmp/sync.err" </dev/null
rc=$?
t_sync=$(secs "$t0" "$(now)")
rr_no_crash $rc "$tmp/sync.err" "sync run"
[ $rc -ne 124 ] || fail "--delivery sync --timeout 3: detvm still ran after 60 s"
[ $rc -eq 8 ] || fail "--delivery sync: run exited $rc, want 8 (timeout)"
! grep -q "kspin waited" "$tmp/sync.out" || fail "--delivery sync: a tick reached the ring-0 spin"
grep -q "step points 0)" "$tmp/sync.err" || fail "--delivery sync: --stats counted step points"

# ---- b. step delivery ends it, at points that depend on host timing ----------------
t0=$(now)
for i in $(seq $runs); do
	show=("$tmp/run$i.out" "$tmp/run$i.err")
	"$detvm" run --stats --timeout 120 --cmdline prog=kspin "$elf" >"$tmp/run$i.out" 2>"$tmp/run$i.err" </dev/null
	rc=$?
	rr_no_crash $rc "$tmp/run$i.err" "run $i"
	[ $rc -eq 0 ] || fail "run $i exited $rc"
	grep -q "^RESULT kspin PASS " "$tmp/run$i.out" || fail "run $i: the guest did not pass"
	grep -qx "kspin waited 5 ticks in ring 0" "$tmp/run$i.out" || fail "run $i: no 'kspin waited 5 ticks' line"
	p=$(step_points "$tmp/run$i.err")
	[ "${p:-0}" -ge 1 ] || fail "run $i: --stats counted '${p}' step points, want >= 1"
	c=$(iterations "$tmp/run$i.out")
	[ -n "$c" ] || fail "run $i printed no kspin iteration count"
	echo "$c" >>"$tmp/live"
done
t_runs=$(secs "$t0" "$(now)")
distinct=$(sort -u "$tmp/live" | wc -l)
live=$(sort -n "$tmp/live" | uniq -c | awk '{ printf "%s%sx%s", s, $2, $1; s = " " }')
[ "$distinct" -gt 1 ] ||
	fail "$runs plain runs all gave iterations=$(head -n 1 "$tmp/live"): where the ticks land did not vary"

# ---- c. record, replay twice ---------------------------------------------------------
trace=$tmp/kspin.trace
t0=$(now)
rr_record "$trace" rec --cmdline prog=kspin </dev/null
rc=$?
t_rec=$(secs "$t0" "$(now)")
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"
grep -q "^RESULT kspin PASS " "$tmp/rec.out" || fail "the recorded guest did not pass"
want=$(iterations "$tmp/rec.out")
[ -n "$want" ] || fail "the recording printed no kspin iteration count"
points=$(step_points "$tmp/rec.err")
[ "${points:-0}" -ge 1 ] || fail "record --stats counted '${points}' step points, want >= 1"
n=$(rr_kind_count "$trace" landmark)
[ "$n" -eq "$points" ] || fail "the trace holds $n landmark events, record counted $points step points"
"$detvm" dump "$trace" >"$tmp/dump.txt" 2>&1 || { show=("$tmp/dump.txt"); fail "detvm dump failed"; }
grep -q "delivery: step" "$tmp/dump.txt" || { show=("$tmp/dump.txt"); fail "detvm dump does not say 'delivery: step'"; }
[ "$(grep -c ' landmark ' "$tmp/dump.txt")" -eq "$points" ] ||
	{ show=("$tmp/dump.txt"); fail "detvm dump does not print $points 'landmark' lines"; }
windows=$(window_landmarks "$trace")

# check_replay TAG WHAT: the replay into $tmp/TAG.* matched the recording
check_replay() {
	rr_no_crash $rc "$tmp/$1.err" "$2"
	[ $rc -eq 0 ] || fail "$2 exited $rc"
	cmp -s "$tmp/rec.out" "$tmp/$1.out" ||
		{ show+=("$tmp/rec.out"); fail "$2: console differs from the recording (iterations $(iterations "$tmp/$1.out"), recorded $want)"; }
	grep -q "replay identical" "$tmp/$1.err" || fail "$2 -v did not say 'replay identical'"
	local got
	got=$(step_points "$tmp/$1.err")
	[ "$got" = "$points" ] || fail "$2 made ${got:-no} step points, the recording $points"
	got=$(landmarks_reached "$tmp/$1.err")
	[ "$got" = $((points + windows)) ] ||
		fail "$2 reached ${got:-no} landmarks, want the recording's $points step points + $windows window landmarks"
}

t_reps=
for i in $(seq $replays); do
	t0=$(now)
	rr_replay "$trace" "rep$i" -v --stats
	rc=$?
	t_reps+="${t_reps:+ }$(secs "$t0" "$(now)")s"
	check_replay "rep$i" "replay $i"
done

# control: trace_mutate's copy (a zero change elsewhere) keeps the landmarks as they were
show=("$tmp/mutate.err")
"$mutate" "$trace" "$tmp/copy.trace" timer 1 0 >/dev/null 2>"$tmp/mutate.err" || fail "trace_mutate timer 1 0 failed"
rr_replay "$tmp/copy.trace" copy -v --stats
rc=$?
check_replay copy "replay of an unchanged copy"

summary="sync: exit 8 in ${t_sync}s; $runs plain runs in ${t_runs}s: iterations $live ($distinct distinct);"
summary+=" record ${t_rec}s: iterations $want, $points step points + $windows window landmarks;"
summary+=" $replays replays identical, wall ${t_reps}"
echo "rr_step: a-c passed: $summary"

# ---- d. a corrupted landmark is caught ---------------------------------------------------
# the last landmark: the ones before it must still be reached (and the ticks delivered)
show=("$tmp/mutate.err")
pos=$("$mutate" "$trace" "$tmp/m.trace" landmark "$points" 2>"$tmp/mutate.err") ||
	fail "trace_mutate landmark $points failed"
[[ "$pos" =~ ^[0-9]+$ ]] || fail "trace_mutate landmark $points printed '$pos', not a position"
show=("$tmp/m.out" "$tmp/m.err" "$tmp/mutate.err")
t0=$(now)
timeout $mutated_limit "$detvm" replay "$tmp/m.trace" >"$tmp/m.out" 2>"$tmp/m.err" </dev/null
rc=$?
t_mut=$(secs "$t0" "$(now)")
[ $rc -ne 124 ] ||
	fail "the replay of a trace with landmark $points (position $pos) corrupted did not end in $mutated_limit s (killed): it neither reached the next exit nor gave up stepping to the recorded point"
rr_no_crash $rc "$tmp/m.err" "corrupted landmark"
[ $rc -eq 6 ] || fail "corrupted landmark $points (position $pos): replay exited $rc, want 6 (diverged)"
[ "$(wc -l <"$tmp/m.err")" -eq 1 ] || fail "corrupted landmark: want one line on stderr"
grep -q "diverged" "$tmp/m.err" || fail "corrupted landmark: stderr does not say 'diverged'"
grep -Eq "step delivery point" "$tmp/m.err" || fail "corrupted landmark: stderr does not name the step delivery point"
at=$(sed -n 's/^detvm: error: diverged \(at\|after\) exit \([0-9][0-9]*\)[ :].*/\2/p' "$tmp/m.err")
{ [ -n "$at" ] && [ "$at" -ge $((pos - 1)) ]; } ||
	fail "corrupted landmark at position $pos: diverged at exit '${at}', want >= $((pos - 1)) (its last exit)"
rr_is_prefix "$tmp/m.out" "$tmp/rec.out" || fail "corrupted landmark: the console before the divergence differs"

# the state a step point carries is checked against its digests when replay loads it
for part in regs page; do
	show=("$tmp/mutate.err")
	ppos=$("$mutate" "$trace" "$tmp/m$part.trace" "landmark-$part" 1 2>"$tmp/mutate.err") ||
		fail "trace_mutate landmark-$part 1 failed"
	show=("$tmp/m$part.out" "$tmp/m$part.err" "$tmp/mutate.err")
	timeout $mutated_limit "$detvm" replay "$tmp/m$part.trace" >"$tmp/m$part.out" 2>"$tmp/m$part.err" </dev/null
	rc=$?
	rr_no_crash $rc "$tmp/m$part.err" "landmark-$part"
	[ $rc -eq 6 ] || fail "a step point whose carried $part has a bit flipped: replay exited $rc, want 6"
	grep -Eq "^detvm: error: diverged at exit $ppos .*step delivery point" "$tmp/m$part.err" ||
		fail "landmark-$part at position $ppos: want one line 'diverged at exit $ppos ... step delivery point ...'"
	rr_is_prefix "$tmp/m$part.out" "$tmp/rec.out" || fail "landmark-$part: the console before the divergence differs"
done

# ---- e. a tick that never comes is caught ----------------------------------------------
# The first timer fire taken at a step point, moved 1000 s later: that fire still finds
# its period over, but the PIT's next deadline moves 1000 s on, so at a later step point
# no tick is pending where the recording injected one. The guest would spin on in ring 0
# without an exit; replay must say so there instead of waiting for a tick forever.
read -r nth pos < <("$detvm" dump "$trace" | awk '
	$3 == "landmark" { lm = $2 }
	$3 == "timer" { n++; if ($2 == lm) { print n, substr($2, 2); exit } }')
[ -n "$nth" ] || fail "no timer fire at a step point in the trace"
# diverging_copy TAG WHAT MUTATION...: trace_mutate's copy of $trace into $tmp/TAG.trace
# replays to exit 6 within $mutated_limit s, no crash; sets $elapsed
diverging_copy() {
	local tag=$1 what=$2 t0
	shift 2
	show=("$tmp/mutate.err")
	"$mutate" "$trace" "$tmp/$tag.trace" "$@" >/dev/null 2>"$tmp/mutate.err" || fail "trace_mutate $* failed"
	show=("$tmp/$tag.out" "$tmp/$tag.err" "$tmp/mutate.err")
	t0=$(now)
	timeout $mutated_limit "$detvm" replay "$tmp/$tag.trace" >"$tmp/$tag.out" 2>"$tmp/$tag.err" </dev/null
	rc=$?
	elapsed=$(secs "$t0" "$(now)")
	[ $rc -ne 124 ] || fail "$what: replay still running after $mutated_limit s"
	rr_no_crash $rc "$tmp/$tag.err" "$what"
	[ $rc -eq 6 ] || fail "$what: replay exited $rc, want 6"
}

diverging_copy t "a tick moved away from step point $pos" timer "$nth" 1000000000000
t_tick=$elapsed
tick_at=$(sed -n -e 's/^detvm: error: diverged at exit \([0-9][0-9]*\) (rip 0x[0-9a-f]*): expected interrupt vector 0x20, got no interrupt.*/\1/p' \
	-e 's/^detvm: error: diverged at exit \([0-9][0-9]*\) (rip 0x[0-9a-f]*): expected irq-window .*, got no interrupt pending.*/\1/p' "$tmp/t.err")
[ -n "$tick_at" ] ||
	fail "a tick moved away from step point $pos: want 'diverged at exit N (rip ...): expected interrupt vector 0x20, got no interrupt ...'"
[ "$tick_at" -ge "$pos" ] || fail "a tick moved away from step point $pos: diverged before it, at exit $tick_at"

# ---- f. a guest that spins on where the recording made exits is caught ------------------
# The same timer fire and every event after it moved 1000 positions on: at the step point
# replay delivers nothing, the guest spins in ring 0 without an exit, and the trace's
# next exit (unmarked: it came within 100 ms) never comes. Replay must give up after
# 2 s + 200 x 100 ms and say so, not spin forever.
diverging_copy s "exits skipped after step point $pos" timer-shift "$nth" 1000
t_spin=$elapsed
grep -Eq "^detvm: error: diverged after exit [0-9]+: the guest ran [0-9.]+ s without an exit; the recording went on to .* within 0.100 s$" "$tmp/s.err" ||
	fail "exits skipped: want 'diverged after exit N: the guest ran S s without an exit; the recording went on to ... within 0.100 s'"

pass "$summary; corrupted landmark $points (position $pos): diverged at exit $at in ${t_mut}s; tick $nth (position $pos) moved 1000 s: diverged at exit $tick_at in ${t_tick}s; exits skipped: diverged in ${t_spin}s"
