#!/usr/bin/env bash
# The FT output rule, end to end: a primary running prog=talk (a console line a timer
# tick) streams to a backup on loopback; once lines flow, the backup is frozen (SIGSTOP:
# alive, connected, silent, so it acknowledges nothing) for a second. Asserts: while it
# is frozen the primary releases no console byte, yet its trace keeps growing (only the
# output waits, not the guest); after SIGCONT every line comes out, both exit 0, the
# backup says replay identical and showed nothing the primary released (a reader would
# see it twice), the primary reports outputs that waited for the backup.
# usage: ft_output_rule.sh DETVM GUEST_ELF
set -u
detvm=$1 elf=$2
tmp=$(mktemp -d)
(umask 077 && head -c 32 /dev/urandom >"$tmp/ft.key")
bpid= ppid=
cleanup() {
	[ -n "$bpid" ] && { kill -CONT "$bpid"; kill "$bpid"; } 2>/dev/null
	[ -n "$ppid" ] && kill "$ppid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL ft_output_rule: $*"
	for f in "$tmp"/*.err "$tmp"/*.con; do [ -f "$f" ] && { echo "--- ${f##*/}"; tail -c 2000 "$f"; }; done
	exit 1
}
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
lines=300
port=$((7500 + $$ % 400))

"$detvm" ft backup --listen "127.0.0.1:$port" --key "$tmp/ft.key" --trace "$tmp/b.trace" --dead-ms 60000 --accept-timeout 60 -v \
	-s "file:$tmp/b.con" 2>"$tmp/b.err" </dev/null &
bpid=$!
"$detvm" ft primary --peer "127.0.0.1:$port" --key "$tmp/ft.key" --dead-ms 60000 -o "$tmp/p.trace" -s "file:$tmp/p.con" -v \
	--cmdline "prog=talk n=$lines" --timeout 300 "$elf" 2>"$tmp/p.err" </dev/null &
ppid=$!
for _ in $(seq 600); do
	[ "$(grep -c '^talk' "$tmp/p.con" 2>/dev/null)" -ge 3 ] && break
	sleep 0.1
done
[ "$(grep -c '^talk' "$tmp/p.con" 2>/dev/null)" -ge 3 ] || fail "no talk lines from the primary within 60 s"

kill -STOP "$bpid"
sleep 0.3		# acknowledgements already on the way may still release a little
c0=$(size "$tmp/p.con") t0=$(size "$tmp/p.trace")
sleep 1
c1=$(size "$tmp/p.con") t1=$(size "$tmp/p.trace")
kill -CONT "$bpid"
[ "$c1" -eq "$c0" ] || fail "the primary released $((c1 - c0)) console bytes while the backup could acknowledge nothing"
[ "$t1" -gt "$t0" ] || fail "the primary's trace did not grow while the backup was frozen: the guest waited, not only its output"
kill -0 "$ppid" 2>/dev/null || fail "the guest ended during the freeze: the test lost its point (raise n)"

wait "$ppid"
prc=$?
ppid=
wait "$bpid"
brc=$?
bpid=
[ $prc -eq 0 ] || fail "the primary exited $prc"
[ $brc -eq 0 ] || fail "the backup exited $brc"
[ "$(grep -c '^talk' "$tmp/p.con")" -eq $lines ] || fail "the primary released $(grep -c '^talk' "$tmp/p.con") talk lines, want $lines"
grep -q "replay identical" "$tmp/b.err" || fail "the backup did not say replay identical"
[ -s "$tmp/b.con" ] && fail "the backup showed console bytes the primary had released (a reader would see them twice)"
waited=$(sed -n 's/.*; \([0-9]*\) outputs waited for it, \([0-9]*\) ms in all/\1 \2/p' "$tmp/p.err")
[ -n "$waited" ] || fail "the primary did not report its held outputs"
set -- $waited
[ "$1" -ge $lines ] || fail "the primary held $1 outputs, want at least $lines"
echo "PASS ft_output_rule: frozen backup: 0 console bytes released in 1 s while the trace grew $((t1 - t0)) bytes; $1 outputs held, $2 ms waiting in all; consoles equal"
