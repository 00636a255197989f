#!/usr/bin/env bash
# Why record/replay exists: prog=race prints a counter that depends on where timer
# interrupts land, so plain runs of the same image and command line disagree; replays
# of one recording do not. Asserts: plain `detvm run`s give more than one distinct
# counter within 30 runs (most runs lose no update: it takes a tick inside the racy
# window; the test stops at the second value); one recording, then 10 replays, each exit
# 0 with the recording's counter.
# usage: rr_race_contrast.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_race_contrast "$1" "$2"
runs=10
max_plain=30

counter() {
	sed -n 's/^INFO race counter=\([0-9][0-9]*\)$/\1/p' "$1"
}

for i in $(seq $max_plain); do
	[ -f "$tmp/live" ] && [ "$(sort -u "$tmp/live" | wc -l)" -gt 1 ] && break
	show=("$tmp/run$i.out" "$tmp/run$i.err")
	"$detvm" run --timeout 120 --cmdline prog=race "$elf" >"$tmp/run$i.out" 2>"$tmp/run$i.err" </dev/null
	rc=$?
	rr_no_crash $rc "$tmp/run$i.err" "run $i"
	[ $rc -eq 0 ] || fail "run $i exited $rc"
	c=$(counter "$tmp/run$i.out")
	[ -n "$c" ] || fail "run $i printed no race counter"
	echo "$c" >>"$tmp/live"
done
distinct=$(sort -u "$tmp/live" | wc -l)
live=$(sort -n "$tmp/live" | uniq -c | awk '{ printf "%s%sx%s", s, $2, $1; s = " " }')
[ "$distinct" -gt 1 ] || fail "$max_plain plain runs all gave counter $(head -n 1 "$tmp/live"): the race did not vary"

rr_record "$tmp/race.trace" rec --cmdline prog=race </dev/null
rc=$?
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"
want=$(counter "$tmp/rec.out")
[ -n "$want" ] || fail "the recording printed no race counter"
for i in $(seq $runs); do
	rr_replay "$tmp/race.trace" "rep$i"
	rc=$?
	rr_no_crash $rc "$tmp/rep$i.err" "replay $i"
	[ $rc -eq 0 ] || fail "replay $i exited $rc"
	got=$(counter "$tmp/rep$i.out")
	[ "$got" = "$want" ] || fail "replay $i printed counter '${got}', the recording $want"
	cmp -s "$tmp/rec.out" "$tmp/rep$i.out" || fail "replay $i console differs from the recording"
done
pass "plain runs: $live ($distinct distinct); recording and $runs replays: $want"
