#!/usr/bin/env bash
# A recorder killed with SIGKILL leaves a trace that replays up to its last complete
# block. Records prog=ticks n=400 (~4 s of guest time), kills the recorder once the live
# trace's complete blocks hold 20 timer fires (blocks go out by age while the guest runs;
# a slow or emulated host takes longer to get there), then replays. Asserts: the recorder was still running when killed; replay exits 7 with
# "the trace is truncated: replay ran to its last complete block and stopped at exit N",
# one line on stderr, no crash; the replayed console is non-empty and a prefix of what
# the killed recorder printed (which may end mid-line: the recorder writes each guest
# console line as it comes, and the trace lags it by at most the open block); the
# trace's complete blocks hold >= 20 timer fires, so blocks were written during the run.
# Then a recorder whose trace cannot grow (file size limit): exit 10, one line naming the
# trace, and that trace replays to its last complete block (exit 7).
# usage: rr_sigkill.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_sigkill "$1" "$2"
trace=$tmp/killed.trace

show=("$tmp/rec.out" "$tmp/rec.err")
"$detvm" record -o "$trace" --timeout 60 --cmdline "prog=ticks n=400" "$elf" \
	>"$tmp/rec.out" 2>"$tmp/rec.err" </dev/null &
rec_pid=$!
live=0
for _ in $(seq 300); do
	sleep 0.2
	kill -0 $rec_pid 2>/dev/null || break
	live=$(rr_kind_count "$trace" timer)
	[ "$live" -ge 20 ] && break
done
[ "$live" -ge 20 ] || fail "the live trace held $live timer fires after 60 s, want 20: blocks are not written while the guest runs"
kill -0 $rec_pid 2>/dev/null || fail "the recorder ended before it was killed"
kill -KILL $rec_pid
{ wait $rec_pid; } 2>/dev/null
rc=$?
[ $rc -eq 137 ] || fail "the recorder ended with status $rc, not by SIGKILL"
grep -q "^RESULT" "$tmp/rec.out" && fail "the guest finished before the kill"
[ -s "$tmp/rec.out" ] || fail "the recorder printed nothing"
fires=$(rr_kind_count "$trace" timer)
[ "$fires" -ge "$live" ] || fail "the killed trace holds $fires timer fires, fewer than the $live seen while it ran"

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

# A recorder that cannot write its trace (here a 16 KiB file size limit, SIGXFSZ ignored
# so the write fails with EFBIG, as a full disk fails with ENOSPC) stops the guest with
# exit 10 and one line, and what it wrote replays to its last complete block.
full=$tmp/full.trace
show=("$tmp/full.err")
(trap '' XFSZ; ulimit -f 16; exec "$detvm" record -q -o "$full" --timeout 60 \
	--cmdline "prog=ticks n=3000 hz=1000" "$elf" >/dev/null 2>"$tmp/full.err" </dev/null)
rc=$?
rr_no_crash $rc "$tmp/full.err" "record into a file that cannot grow"
[ $rc -eq 10 ] || fail "record into a file that cannot grow exited $rc, want 10"
[ "$(grep -c . "$tmp/full.err")" -eq 1 ] || fail "record into a file that cannot grow: want one line on stderr"
grep -q "^detvm: error: cannot write the trace '$full': File too large; it holds the run up to its last complete block$" \
	"$tmp/full.err" || fail "record into a file that cannot grow: wrong message"
rr_replay "$full" fullrep
rc=$?
show=("$tmp/fullrep.err")
rr_no_crash $rc "$tmp/fullrep.err" "replay of the cut-off trace"
[ $rc -eq 7 ] || fail "replay of a trace its recorder could not finish exited $rc, want 7"
grep -q "the trace is truncated: replay ran to its last complete block" "$tmp/fullrep.err" ||
	fail "replay of the cut-off trace did not say it was truncated"
pass "killed with $live timer fires written, $fires in the trace; replay stopped at exit $at with $(wc -c <"$tmp/rep.out") of $(wc -c <"$tmp/rec.out") console bytes; a trace that could not grow past 16 KiB: record exit 10, replay to its last block"
