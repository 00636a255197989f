#!/usr/bin/env bash
# A recorder killed with SIGKILL leaves a trace that replays up to its last complete
# block. Records prog=ticks n=400 (~4 s of guest time), kills the recorder after ~1 s,
# then replays. Asserts: the recorder was still running when killed; replay exits 7 with
# "the trace is truncated: replay ran to its last complete block and stopped at exit N",
# one line on stderr, no crash; the replayed console is non-empty and a prefix of what
# the killed recorder printed (which may end mid-line: the recorder writes each guest
# console line as it comes, and the trace lags it by at most the open block); the
# trace's complete blocks hold >= 20 timer fires, so blocks were written during the run.
# usage: rr_sigkill.sh DETVM GUEST_ELF ; exit 77 (skipped) without /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_sigkill "$1" "$2"
trace=$tmp/killed.trace

show=("$tmp/rec.out" "$tmp/rec.err")
"$detvm" record -o "$trace" --timeout 60 --cmdline "prog=ticks n=400" "$elf" \
	>"$tmp/rec.out" 2>"$tmp/rec.err" </dev/null &
rec_pid=$!
sleep 1
kill -0 $rec_pid 2>/dev/null || fail "the recorder ended before it was killed"
kill -KILL $rec_pid
{ wait $rec_pid; } 2>/dev/null
rc=$?
[ $rc -eq 137 ] || fail "the recorder ended with status $rc, not by SIGKILL"
[ -s "$tmp/rec.out" ] || fail "the recorder printed nothing in 1 s"
grep -q "^RESULT" "$tmp/rec.out" && fail "the guest finished before the kill"
# blocks went out while the guest ran (by age, every 100 ms), not only at the start:
# 1 s at 100 Hz is ~100 PIT fires; allow for a slow host
fires=$(rr_kind_count "$trace" timer)
[ "$fires" -ge 20 ] || fail "the killed trace holds $fires timer fires, want >= 20 after 1 s"

rr_replay "$trace" rep -v
rc=$?
rr_no_crash $rc "$tmp/rep.err" replay
[ $rc -eq 7 ] || fail "replay of the killed recording exited $rc, want 7"
grep -Eq "^detvm: error: the trace is truncated: replay ran to its last complete block and stopped at exit [1-9][0-9]*" "$tmp/rep.err" ||
	fail "replay did not say 'the trace is truncated: ... stopped at exit N'"
[ "$(grep -c . "$tmp/rep.err")" -eq 1 ] || fail "want one line on stderr"
[ -s "$tmp/rep.out" ] || fail "replay of the killed recording printed no console"
rr_is_prefix "$tmp/rep.out" "$tmp/rec.out" || {
	show+=("$tmp/rep.out")
	fail "the replayed console is not a prefix of what the recorder printed"
}
at=$(sed -n 's/.*stopped at exit \([0-9]*\).*/\1/p' "$tmp/rep.err")
pass "killed after 1 s, $fires timer fires in the trace; replay stopped at exit $at with $(wc -c <"$tmp/rep.out") of $(wc -c <"$tmp/rec.out") console bytes"
