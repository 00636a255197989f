#!/usr/bin/env bash
# Record one test-guest program, then replay the trace twice. Asserts: record exits 0
# with a passing guest; both replays exit 0, print byte-for-byte the recorded console,
# count the same exits as the recording (--stats) and say "replay identical" (-v); the
# replays leave TRACE.disk0 as it was. net: the trace holds the peer's frames (net_rx
# events) and replay runs with no peer process and no socket. kspin and spin (a guest
# spinning without exits in ring 0, and in ring 3): the recording makes step delivery
# points (spin: ticks land inside its loop), the trace says `delivery: step` and holds
# landmark events, and each replay makes the recording's step delivery points and
# reaches as many landmarks (plus the late interrupt windows that the trace marks with a
# landmark, which replay steps to as well).
# usage: rr_prog.sh DETVM GUEST_ELF PROG ; fails without a usable /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
prog=$3
rr_init "rr_$prog" "$1" "$2"
spins=0
case $prog in kspin | spin) spins=1 ;; esac

python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
args=(--disk "$tmp/disk.img" --cmdline "prog=$prog")
case $prog in
net) rr_start_peer ;;
badqueue) rr_start_peer --sink --timeout 60 ;;
esac
[ -n "$peer_pid" ] && args+=(--net "unix:$tmp/peer.sock")

trace=$tmp/rec.trace
rr_record "$trace" rec "${args[@]}" </dev/null
rc=$?
rr_no_crash $rc "$tmp/rec.err" record
[ $rc -eq 0 ] || fail "record exited $rc"
grep -q "^RESULT $prog PASS " "$tmp/rec.out" || fail "the recorded guest did not pass"
rec_exits=$(rr_exits "$tmp/rec.err")
[ -n "$rec_exits" ] || fail "record --stats printed no exit count"
[ -f "$trace.disk0" ] || fail "record left no disk snapshot $trace.disk0"

# The peer is live during record only: it must be gone, with its socket, before replay.
if [ -n "$peer_pid" ]; then
	if [ "$prog" = net ]; then
		wait "$peer_pid" || { show+=("$tmp/peer.log"); fail "the peer did not get its frames echoed"; }
		peer_pid=
	fi
	rr_stop_peer
	[ ! -e "$tmp/peer.sock" ] || fail "the peer socket is still there"
	! pgrep -f "net_peer.py --sock $tmp/" >/dev/null || fail "a net_peer.py of this test still runs"
fi
if [ "$prog" = net ]; then
	n=$(rr_kind_count "$trace" net_rx)
	[ "$n" -eq 16 ] || fail "the trace holds $n net_rx events, want the peer's 16 frames"
fi

if [ $spins = 1 ]; then
	rec_points=$(step_points "$tmp/rec.err")
	[ "${rec_points:-0}" -ge 1 ] || fail "record --stats counted '${rec_points}' step points, want >= 1"
	[ "$prog" = kspin ] || grep -Eq "^INFO spin ticks during loop=[1-9]" "$tmp/rec.out" ||
		fail "no tick reached the ring-3 spin while it was recorded"
	n=$(rr_kind_count "$trace" landmark)
	[ "$n" -ge 1 ] || fail "the trace holds no landmark event (record counted $rec_points step points)"
	"$detvm" dump "$trace" >"$tmp/dump.txt" 2>&1 || { show=("$tmp/dump.txt"); fail "detvm dump of the trace failed"; }
	grep -q "delivery: step" "$tmp/dump.txt" || { show=("$tmp/dump.txt"); fail "detvm dump does not say 'delivery: step'"; }
	windows=$(window_landmarks "$trace")
fi

snap_before=$(sha256sum <"$trace.disk0")
for i in 1 2; do
	rr_replay "$trace" "rep$i" -v --stats
	rc=$?
	rr_no_crash $rc "$tmp/rep$i.err" "replay $i"
	[ $rc -eq 0 ] || fail "replay $i exited $rc"
	cmp "$tmp/rec.out" "$tmp/rep$i.out" ||
		{ show+=("$tmp/rec.out"); fail "replay $i console differs from the recording"; }
	grep -q "replay identical" "$tmp/rep$i.err" || fail "replay $i -v did not say 'replay identical'"
	rep_exits=$(rr_exits "$tmp/rep$i.err")
	[ "$rep_exits" = "$rec_exits" ] || fail "replay $i counted ${rep_exits:-no} exits, record $rec_exits"
	if [ $spins = 1 ]; then
		got=$(step_points "$tmp/rep$i.err")
		[ "$got" = "$rec_points" ] ||
			fail "replay $i made ${got:-no} step points, the recording $rec_points"
		got=$(landmarks_reached "$tmp/rep$i.err")
		[ "$got" = $((rec_points + windows)) ] ||
			fail "replay $i reached ${got:-no} landmarks, want the recording's $rec_points step points + $windows window landmarks"
	fi
	[ "$(sha256sum <"$trace.disk0")" = "$snap_before" ] || fail "replay $i modified $trace.disk0"
done
extra=
[ $spins = 1 ] && extra=", $rec_points step points (+ $windows window landmarks) reached as landmarks"
pass "$rec_exits exits, console $(wc -c <"$tmp/rec.out") bytes, identical twice$extra"
