#!/usr/bin/env bash
# A forged trace must cost what its bytes are worth: a block of empty PageImage records
# (2 bytes each in the file, ~100 in memory once protobuf-c unpacks them) is refused with
# exit 7 and one line naming the trace and the block's offset, within bounded memory.
# Cases: one event of 60 MB (over the 16 MiB a recorder writes; ~3 GB unpacked) and four
# events just under 16 MiB each (~0.8 GB unpacked each), read by `detvm dump` and
# `detvm stats`. Needs no KVM.
# usage: trace_bounds.sh DETVM TRACE_BOMB [SANITIZE]
set -u
detvm=$1 bomb=$2 sanitize=${3:-OFF}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=()
# Resident memory a refusal may take: the 64 MiB block inflated, the compressed bytes and
# one event's unpacking budget (2x its 16 MiB plus 1 MiB); measured 70-91 MiB, 89-112 MiB
# under SANITIZE=1. The address-space limit stops an unbounded reader early (it then
# fails the message check instead of taking gigabytes); ASan cannot run under one.
max_rss_kib=$((256 * 1024))

run() {	# run NAME PATTERN -- ARGS...: wants exit 7, one stderr line matching PATTERN
	local name=$1 pattern=$2 rc rss
	shift 3
	(
		[ "$sanitize" = ON ] || ulimit -v $((1536 * 1024))
		exec /usr/bin/time -f %M -o "$tmp/rss" timeout -k 5 60 "$detvm" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	rss=$(tail -n 1 "$tmp/rss" 2>/dev/null)
	if [ $rc -ne 7 ]; then
		failures+=("$name: exit $rc, want 7; stderr: $(head -c 300 "$tmp/err")")
	elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		failures+=("$name: $(wc -l <"$tmp/err") lines on stderr, want 1: $(head -c 300 "$tmp/err")")
	elif ! grep -q -- "$pattern" "$tmp/err"; then
		failures+=("$name: stderr does not say '$pattern': $(cat "$tmp/err")")
	elif ! grep -q -- "$tmp/bomb.trace: block 0 at offset [0-9]" "$tmp/err"; then
		failures+=("$name: stderr does not name the trace and the offset: $(cat "$tmp/err")")
	elif ! [[ "$rss" =~ ^[0-9]+$ ]] || [ "$rss" -gt $max_rss_kib ]; then
		failures+=("$name: max RSS ${rss:-?} KiB, want at most $max_rss_kib")
	fi
	echo "$name: exit $rc, max RSS ${rss:-?} KiB: $(head -c 200 "$tmp/err")"
}

# one 60 MB event: ~30 M empty pages, ~3 GB once unpacked
"$bomb" "$tmp/bomb.trace" 1 30000000 || { echo "FAIL: trace_bomb"; exit 1; }
run "one 60 MB event, dump" "more than a recorder writes" -- dump "$tmp/bomb.trace"
run "one 60 MB event, stats" "more than a recorder writes" -- stats "$tmp/bomb.trace"
# four events of 16,000,005 bytes, each under the recorder's limit, ~0.8 GB unpacked each
"$bomb" "$tmp/bomb.trace" 4 8000000 || { echo "FAIL: trace_bomb"; exit 1; }
run "four 16 MB events, dump" "unpacks to more than" -- dump "$tmp/bomb.trace"
run "four 16 MB events, stats" "unpacks to more than" -- stats "$tmp/bomb.trace"

if [ ${#failures[@]} -ne 0 ]; then
	printf 'FAIL: %s\n' "${failures[@]}"
	exit 1
fi
echo "PASS: 4 forged traces refused with exit 7 in one line, in bounded memory"
