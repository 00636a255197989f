#!/usr/bin/env bash
# Damaged traces: replay must end with exit 7 and one line on stderr, never a crash or
# a sanitizer report. Cases: an empty file; wrong magic; a newer format version; a
# flipped byte inside a block (CRC mismatch); a damaged footer (CRC mismatch); bytes
# after the footer; and truncation inside the file header, at every block boundary
# (including the one where the footer starts), in the middle of blocks and inside the
# footer. A cut after at least one complete block replays what it holds: its console
# is a prefix of the recorded console, and the message says "the trace is truncated".
# The trace is a recording of prog=race, whose blocks (closed every 100 ms) number > 2.
# usage: rr_bad_traces.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it through tests/kvmhost).
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_bad_traces "$1" "$2"
trace=$tmp/race.trace

rr_record "$trace" rec --cmdline prog=race </dev/null
rc=$?
[ $rc -eq 0 ] || fail "record exited $rc"
read -r -a lay <<<"$(rr_layout "$trace")"
# lay: header end (= block 0 start), the end of each block, the file size
nblocks=$((${#lay[@]} - 2))
size=${lay[-1]}
footer=${lay[-2]}
[ "$nblocks" -ge 3 ] || fail "the recording has $nblocks blocks, want at least 3 (layout: ${lay[*]})"

failures=()
cases=0
# bad NAME [PATTERN]: replays $tmp/bad.trace; wants exit 7, one stderr line (matching
# PATTERN if given), no crash. Failures are collected so one run reports them all.
bad() {
	local name=$1 pattern=${2:-}
	cases=$((cases + 1))
	rr_replay "$tmp/bad.trace" bad
	local rc=$? why=
	rr_no_crash $rc "$tmp/bad.err" "$name"
	if [ $rc -ne 7 ]; then
		why="exit $rc, want 7"
	elif [ "$(wc -l <"$tmp/bad.err")" -ne 1 ]; then
		why="$(wc -l <"$tmp/bad.err") lines on stderr, want 1"
	elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/bad.err"; then
		why="stderr does not say '$pattern'"
	elif ! rr_is_prefix "$tmp/bad.out" "$tmp/rec.out"; then
		why="its console is not a prefix of the recorded one"
	fi
	if [ -n "$why" ]; then
		failures+=("$name: $why; stderr: $(head -c 300 "$tmp/bad.err")")
		return 1
	fi
	return 0
}

poke() {	# poke OFFSET HEXBYTE: overwrite one byte of $tmp/bad.trace
	printf '%b' "\\x$2" | dd of="$tmp/bad.trace" bs=1 seek="$1" conv=notrunc status=none
}

flip() {	# flip OFFSET: invert one byte of $tmp/bad.trace
	local b
	b=$(od -An -tx1 -j "$1" -N 1 "$tmp/bad.trace" | tr -d ' ')
	poke "$1" "$(printf %02x $((0x$b ^ 0xff)))"
}

: >"$tmp/bad.trace"
bad "empty file" "empty"
printf 'NOTATRACE-at-all-%.0s' $(seq 100) >"$tmp/bad.trace"
bad "wrong magic" "not a detvm trace"
cp "$trace" "$tmp/bad.trace"
poke 8 02
bad "format version 2" "version 2 is newer"
# a byte in the middle of the file: mid-way through the middle block's compressed data
k=$((nblocks / 2))
mid=$(((lay[k] + 28 + lay[k + 1]) / 2))
cp "$trace" "$tmp/bad.trace"
flip $mid
bad "flipped byte at $mid" "CRC32C mismatch"
cp "$trace" "$tmp/bad.trace"
flip $((footer + 12))
bad "flipped byte in the footer" "CRC32C mismatch"
cp "$trace" "$tmp/bad.trace"
printf 'trailing' >>"$tmp/bad.trace"
bad "bytes after the footer"

# cut CUT: the first CUT bytes of the trace
cut() {
	head -c "$1" "$trace" >"$tmp/bad.trace"
	local what=$2
	bad "cut at $1 ($what)" "$3" || return
	# after a complete block, replay ran: it printed at least the boot banner
	if [ "$1" -ge "${lay[1]}" ] && ! [ -s "$tmp/bad.out" ]; then
		failures+=("cut at $1 ($what): replayed no console after a complete block")
	fi
}
cut 5 "inside the fixed header" "truncated"
cut $((lay[0] / 2)) "inside the header" "truncated"
cut $((lay[0] - 1)) "one byte short of the header" "truncated"
for ((i = 0; i <= nblocks; i++)); do
	cut "${lay[i]}" "after $i complete blocks" "the trace is truncated"
done
for i in 1 $((nblocks / 2)) $((nblocks - 1)); do	# blocks 0, a middle one, the last
	cut $(((lay[i - 1] + lay[i]) / 2)) "middle of block $((i - 1))" "the trace is truncated"
done
cut $((lay[1] + 10)) "inside block 1's header" "the trace is truncated"
cut $((footer + 6)) "inside the footer's fixed part" "the trace is truncated"
cut $((size - 1)) "one byte short of the footer's end" "the trace is truncated"

[ ${#failures[@]} -eq 0 ] || {
	printf '  %s\n' "${failures[@]}"
	show=()
	fail "${#failures[@]} of $cases damaged traces were not refused properly (layout: ${lay[*]})"
}
pass "$cases damaged traces refused with exit 7 (layout: ${lay[*]})"
