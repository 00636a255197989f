# shellcheck shell=bash
# Helpers for the record/replay tests (rr_*.sh); sourced, not run.
#
#   rr_init NAME DETVM GUEST_ELF   fail without /dev/kvm; $tmp, $detvm, $elf, $peer
#   fail MSG                       print MSG and the files of $show, exit 1
#   rr_record TRACE TAG ARGS...    record into TRACE: console $tmp/TAG.out, stderr .err
#   rr_replay TRACE TAG ARGS...    replay TRACE (stdin closed) into $tmp/TAG.out/.err
#   rr_exits ERRFILE               the N of "exits: N" (--stats)
#   rr_kind_count TRACE KIND       events of KIND in TRACE (detvm dump --stats)
#   rr_no_crash RC ERRFILE WHAT    fail on a signal death or a sanitizer report
#   rr_replay_refused TRACE TAG STATUS PATTERN WHAT   replay TRACE; fail unless it exits
#                                  STATUS (no crash) with PATTERN (grep) on stderr
#   rr_is_prefix A B               A's bytes are a prefix of B's
#   rr_start_peer [net_peer args]  net_peer.py on $tmp/peer.sock; rr_stop_peer
#   step_points ERR, landmarks_reached ERR   the `step` counters of --stats
#   window_landmarks TRACE         exits in TRACE that carry a landmark
#   rr_layout TRACE                "HEADER_END BLOCK_END... SIZE", a walk of the framing of
#                                  logs/FORMAT.md: the header ends where block 0 starts, the
#                                  last block ends where the footer starts
# Every rr_* that runs detvm returns detvm's exit status.
set -u

rr_init() {
	test_name=$1 detvm=$2 elf=$3
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	peer=$here/../guests/net_peer.py
	# RR_NO_KVM=1: a test's offline half, which reads what its KVM half recorded
	[ -n "${RR_NO_KVM:-}" ] || { [ -r /dev/kvm ] && [ -w /dev/kvm ]; } ||
		{ echo "FAIL $test_name: /dev/kvm is not usable (run it through tests/kvmhost/kvm-test.sh)"; exit 1; }
	[ -x "$detvm" ] || { echo "FAIL $test_name: no detvm at $detvm"; exit 1; }
	[ -r "$elf" ] || { echo "FAIL $test_name: no guest image at $elf"; exit 1; }
	tmp=$(mktemp -d)
	peer_pid=
	show=()
	trap rr_cleanup EXIT
	SECONDS=0
}

rr_cleanup() {
	rr_stop_peer
	rm -rf "$tmp"
}

fail() {
	echo "FAIL $test_name: $*"
	local f
	for f in "${show[@]}"; do
		[ -f "$f" ] || continue
		echo "--- ${f#"$tmp"/}"
		head -c 4000 "$f"
	done
	exit 1
}

pass() {
	echo "PASS $test_name (${SECONDS}s): $*"
	exit 0
}

rr_record() {
	local trace=$1 tag=$2
	shift 2
	show=("$tmp/$tag.out" "$tmp/$tag.err")
	"$detvm" record -o "$trace" --stats --timeout 120 "$@" "$elf" >"$tmp/$tag.out" 2>"$tmp/$tag.err"
}

rr_replay() {
	local trace=$1 tag=$2
	shift 2
	show=("$tmp/$tag.out" "$tmp/$tag.err")
	"$detvm" replay "$@" "$trace" >"$tmp/$tag.out" 2>"$tmp/$tag.err" </dev/null
}

rr_exits() {
	sed -n 's/^exits: \([0-9][0-9]*\) .*/\1/p' "$1" | tail -n 1
}

rr_kind_count() {
	"$detvm" dump --stats "$1" 2>/dev/null | awk -v k="$2" '$1 == k { n = $2 } END { print n + 0 }'
}

rr_no_crash() {
	local rc=$1 err=$2 what=$3
	[ "$rc" -lt 128 ] || fail "$what: detvm died with status $rc (signal $((rc - 128)))"
	! grep -Eq "AddressSanitizer|LeakSanitizer|runtime error:" "$err" ||
		fail "$what: sanitizer report: $(grep -Em1 'AddressSanitizer|LeakSanitizer|runtime error:' "$err")"
}

rr_replay_refused() {
	local trace=$1 tag=$2 want=$3 pattern=$4 what=$5 rc
	rr_replay "$trace" "$tag"
	rc=$?
	rr_no_crash $rc "$tmp/$tag.err" "$what"
	[ $rc -eq "$want" ] || fail "$what: replay exited $rc, want $want"
	grep -q -- "$pattern" "$tmp/$tag.err" || fail "$what: wrong message"
}

rr_is_prefix() {
	local n
	n=$(stat -c %s "$1")
	cmp -s -n "$n" "$1" "$2" && [ "$n" -le "$(stat -c %s "$2")" ]
}

rr_start_peer() {
	rm -f "$tmp/peer.sock"
	python3 "$peer" --sock "$tmp/peer.sock" "$@" >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/peer.sock" ] && return 0
		sleep 0.05
	done
	fail "net_peer.py did not bind $tmp/peer.sock"
}

# Stops the peer (if still running) and returns its exit status; removes the socket.
rr_stop_peer() {
	local rc=0
	if [ -n "$peer_pid" ]; then
		kill -0 "$peer_pid" 2>/dev/null && kill "$peer_pid" 2>/dev/null
		wait "$peer_pid"
		rc=$?
		peer_pid=
	fi
	rm -f "$tmp/peer.sock"
	return $rc
}

rr_layout() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
hlen = struct.unpack_from('<I', d, 12)[0]
off = 16 + hlen + 4
out = [off]
while d[off:off + 4] == b'BLK1':
	clen = struct.unpack_from('<I', d, off + 4)[0]
	off += 28 + clen
	out.append(off)
out.append(len(d))
print(' '.join(map(str, out)))
PY
}

# the K of "step points K" and the L of "landmarks reached: L" (--stats)
step_points() {
	sed -n 's/^exits: .*step points \([0-9][0-9]*\)).*/\1/p' "$1" | tail -n 1
}
landmarks_reached() {
	sed -n 's/.*landmarks reached: \([0-9][0-9]*\) .*/\1/p' "$1" | tail -n 1
}
# exits in TRACE that carry a landmark: interrupt windows KVM reported late in an emulated
# ring 0, which replay also steps to and counts in "landmarks reached"
window_landmarks() {
	"$detvm" dump "$1" 2>/dev/null | awk '$3 == "exit" && / landmark=/ { n++ } END { print n + 0 }'
}
