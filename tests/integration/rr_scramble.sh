#!/usr/bin/env bash
# Replay of well-formed traces that lie. trace_scramble copies a recording with one event
# made nonsense (dropped, doubled, positions moved on, or one field set to an edge or
# random value: vectors, ports, sizes, timer/disk/NIC ids, times, data and digest
# lengths, landmark targets, the end's status). Recordings: ticks with typed console
# input, kspin (step delivery points), ticks stopped by --max-exits (an end the guest
# does not make), blk and net (frames from a live peer).
# Asserts, for every copy: replay ends with a status detvm documents (0-12; mostly 6,
# diverged), within 60 s, with at most one line on stderr and no sanitizer report; and
# at least one copy per recording is caught (exit 6 or 7), so the copies do lie.
# SEEDS (default 20) copies per recording; seeds are fixed, so a failure repeats.
# usage: rr_scramble.sh DETVM GUEST_ELF TRACE_SCRAMBLE ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_scramble "$1" "$2"
scramble=$3
seeds=${SEEDS:-20}

recorded() {	# recorded TAG RC
	rr_no_crash "$2" "$tmp/$1.err" "record of $1"
	[ "$2" -eq 0 ] || fail "record of $1 exited $2"
}
printf 'typed\nabc\n' | rr_record "$tmp/ticks.trace" ticks --cmdline "prog=ticks n=20"
recorded ticks $?
rr_record "$tmp/kspin.trace" kspin --cmdline "prog=kspin n=3" </dev/null
recorded kspin $?
rr_record "$tmp/limit.trace" limit --max-exits 150 --cmdline "prog=ticks n=20" </dev/null
rc=$?
rr_no_crash $rc "$tmp/limit.err" "record of limit"
[ $rc -eq 8 ] || fail "record stopped by --max-exits exited $rc, want 8"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
rr_record "$tmp/blk.trace" blk --disk "$tmp/disk.img" --cmdline prog=blk </dev/null
recorded blk $?
rr_start_peer --frames 8
rr_record "$tmp/net.trace" net --net "unix:$tmp/peer.sock" --cmdline "prog=net n=8" </dev/null
recorded net $?
rr_stop_peer

notes=
for t in ticks kspin limit blk net; do
	caught=0
	for seed in $(seq 1 "$seeds"); do
		what=$("$scramble" "$tmp/$t.trace" "$tmp/s.trace" "$seed") || fail "trace_scramble $t $seed failed"
		[ -f "$tmp/$t.trace.disk0" ] && cp "$tmp/$t.trace.disk0" "$tmp/s.trace.disk0"
		timeout 60 "$detvm" replay "$tmp/s.trace" >"$tmp/s.out" 2>"$tmp/s.err" </dev/null
		rc=$?
		show=("$tmp/s.err")
		[ $rc -eq 124 ] && fail "$t seed $seed ($what): replay still running after 60 s"
		rr_no_crash $rc "$tmp/s.err" "$t seed $seed ($what)"
		[ $rc -le 12 ] || fail "$t seed $seed ($what): replay exited $rc, not a documented status"
		[ "$(wc -l <"$tmp/s.err")" -le 1 ] || fail "$t seed $seed ($what): more than one line on stderr"
		{ [ $rc -eq 6 ] || [ $rc -eq 7 ]; } && caught=$((caught + 1))
	done
	[ $caught -ge 1 ] || fail "$t: none of $seeds scrambled copies was caught"
	notes+=" $t $caught/$seeds"
done
pass "scrambled copies caught (exit 6/7):$notes; none crashed, hung or exited off the table"
