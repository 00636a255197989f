#!/usr/bin/env bash
# Console input is recorded and replayed without stdin. No test-guest program reads the
# UART (tests/guests has no RBR read), but detvm's UART still takes every stdin byte as
# an input event, so: record prog=ticks n=40 (~0.4 s) while bytes arrive on stdin at three
# moments, then replay with stdin closed, and again with other bytes on stdin.
# Asserts: record exits 0; the trace holds console events whose bytes, concatenated,
# are exactly the bytes typed; both replays exit 0, say "replay identical" and print
# the recorded console byte for byte.
# usage: rr_console_input.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_console_input "$1" "$2"
trace=$tmp/con.trace

typed='typed before boot
abcdef
ghi
'
{
	printf 'typed before boot\n'
	sleep 0.05
	printf 'abc'
	sleep 0.03
	printf 'def\nghi\n'
} | rr_record "$trace" rec --cmdline "prog=ticks n=40"
rc=$?
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"
grep -q "^RESULT ticks PASS " "$tmp/rec.out" || fail "the recorded guest did not pass"

n=$(rr_kind_count "$trace" console)
[ "$n" -ge 1 ] || fail "the trace holds no console events"
# every console event's data, in trace order (dump --json writes bytes as hex)
"$detvm" dump --json "$trace" >"$tmp/dump.json" 2>"$tmp/dump.err" || fail "detvm dump failed"
got=$(python3 -c '
import json, sys
out = b""
for line in open(sys.argv[1]):
	o = json.loads(line)
	if o.get("type") == "event" and o.get("kind") == "console":
		out += bytes.fromhex(o["data"])
sys.stdout.write(out.decode("latin-1") + "|")' "$tmp/dump.json")
[ "$got" = "$typed|" ] || fail "the console events carry '${got%|}', typed was '$typed'"

rr_replay "$trace" rep1 -v
rc=$?
rr_no_crash $rc "$tmp/rep1.err" "replay"
[ $rc -eq 0 ] || fail "replay with stdin closed exited $rc"
grep -q "replay identical" "$tmp/rep1.err" || fail "replay -v did not say 'replay identical'"
cmp "$tmp/rec.out" "$tmp/rep1.out" || fail "replayed console differs from the recording"

# stdin is not an input of replay: other bytes there change nothing
show=("$tmp/rep2.out" "$tmp/rep2.err")
printf 'something else entirely\n' | "$detvm" replay -v "$trace" >"$tmp/rep2.out" 2>"$tmp/rep2.err"
rc=$?
rr_no_crash $rc "$tmp/rep2.err" "replay with other stdin"
[ $rc -eq 0 ] || fail "replay with other bytes on stdin exited $rc"
grep -q "replay identical" "$tmp/rep2.err" || fail "replay with other stdin was not identical"
cmp "$tmp/rec.out" "$tmp/rep2.out" || fail "replay with other stdin: console differs"
pass "$n console events ($(printf %s "$typed" | wc -c) bytes) replayed without stdin"
