#!/usr/bin/env bash
# What comes over the FT link, or from a snapshot, never names a host file for detvm to
# open. Asserts:
#  1. forged: a "primary" that reaches the backup first and streams a real trace whose
#     header names another disk (a victim file; all but its last block, then it hangs up,
#     as a primary that died would): the backup refuses it in one line, the victim is
#     untouched, nothing is claimed at the arbiter, and the real primary that connects
#     next is protected (both exit 0, replay identical);
#  2. idle: a connection to the backup's port that never says hello is dropped in one
#     line after the hello deadline, and the real primary is still protected;
#  3. restore: `run --restore` of a snapshot whose header was edited (SHA-256 redone) to
#     start from an FT link and name another absolute disk path is refused (7) in one
#     line, and that file is untouched;
#  4. intruders: one with no key, one with another key, and one that replays a capture of
#     a real primary's hello, proof and frames connect first, in turn: each is refused in
#     one line, and the real primary is then protected;
#  5. a bit flipped in the primary's stream after the hello (a proxy between the two):
#     the backup refuses the message in one line, the link ends as in a partition, one
#     side goes on (the arbiter decides), and the console a reader saw has no gap.
# The "primary" of 1 holds the key (a primary gone bad); the others do not.
# usage: ft_wire_trust.sh DETVM GUEST_ELF SNAPSHOT_FORGE
set -u
detvm=$1 elf=$2 forge=$3
# shellcheck source=ft_lib.sh
source "$(dirname "$0")/ft_lib.sh"
ft_init ft_wire_trust
here=$(cd "$(dirname "$0")" && pwd)
# the link as a peer speaks it (tests/integration/ft_link.py)
link_py() { FT_KEY=$(ft_key) FT_DEAD_MS=$dead_ms PYTHONPATH=$here /usr/bin/python3 "$@"; }
sum() { sha256sum <"$1" | cut -c1-64; }

# reap: waits for the pair (prc, brc); protected NAME D: it ran the guest to its end, and
# the backup replayed it identically
reap() {
	wait "$ppid"
	prc=$?
	wait "$bpid"
	brc=$?
	ppid= bpid=
}
protected() {
	[ $prc -eq 0 ] || fail "$1: the real primary exited $prc"
	[ $brc -eq 0 ] || fail "$1: the backup exited $brc after taking the real primary"
	grep -q "replay identical" "$2/b.err" || fail "$1: the backup did not replay the real primary identically"
}

# 1. a forged primary first
d=$tmp/forged
mkdir -p "$d"
make_disk "$d/victim.img"
"$detvm" record --disk "$d/victim.img" -o "$d/f.trace" --cmdline "prog=journal n=20" --timeout 120 "$elf" \
	>/dev/null 2>"$d/rec.err" </dev/null || fail "cannot record the trace to forge: $(tail -1 "$d/rec.err")"
make_disk "$d/victim.img"	# the recording wrote it: a known content again
make_disk "$d/disk.img"
victim=$(sum "$d/victim.img")
start_backup "$d" $((30000 + RANDOM % 20000)) "file:$d/arbiter" --disk "$d/disk.img"
link_py - "$pair_port" "$d/f.trace" <<'EOF' || fail "forged: the forged primary could not connect"
import os, struct, sys
import ft_link
port, data = int(sys.argv[1]), open(sys.argv[2], "rb").read()
hlen = struct.unpack_from("<I", data, 12)[0]
ends, pos = [], 16 + hlen + 4	# where each block ends: keep all but the last
while data[pos:pos + 4] == b"BLK1":
    pos += 28 + struct.unpack_from("<I", data, pos + 4)[0]
    ends.append(pos)
data = data[:ends[-2] if len(ends) > 1 else 16 + hlen + 4]
l = ft_link.connect(port, ft_link.load_key(os.environ["FT_KEY"]))
for i in range(0, len(data), 4096):
    l.send(b"\x01" + data[i:i + 4096])
l.s.settimeout(10)
try:	# until the backup hangs up (refused) or 10 s
    while l.s.recv(4096):
        pass
except OSError:
    pass
EOF
for _ in $(seq 200); do grep -q "refused the primary\|live at exit" "$d/b.err" && break; sleep 0.05; done
start_primary "$d" "file:$d/arbiter" --disk "$d/disk.img" --cmdline "prog=journal n=20"
reap
[ "$(sum "$d/victim.img")" = "$victim" ] || fail "forged: the file the forged header named was written"
protected forged "$d"
grep -q "live at exit\|won generation" "$d/b.err" && fail "forged: the backup went live from the forged trace"
[ -s "$d/arbiter" ] && fail "forged: the arbiter was claimed"
line=$(grep "refused the primary" "$d/b.err")
[ "$(grep -c "refused the primary" "$d/b.err")" -eq 1 ] && [[ $line == *"not this pair's disk"* ]] ||
	fail "forged: no one-line refusal naming the disk"
echo "  forged header: ${line#detvm: }"

# 2. an idle connection first
d=$tmp/idle
mkdir -p "$d"
start_backup "$d" $((30000 + RANDOM % 20000)) ""
python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); print("connected", flush=True); time.sleep(40)' \
	"$pair_port" >"$d/idle.out" &
idle=$!
# connected (so first in the backup's accept queue) before the primary starts
for _ in $(seq 200); do grep -q connected "$d/idle.out" && break; sleep 0.05; done
start_primary "$d" "" --cmdline "prog=talk n=20"
reap
protected idle "$d"
kill "$idle" 2>/dev/null
wait "$idle" 2>/dev/null
line=$(grep "no hello from the peer" "$d/b.err")
[ "$(grep -c "no hello from the peer" "$d/b.err")" -eq 1 ] && [[ $line == *dropped* ]] ||
	fail "idle: no one-line 'dropped' for the idle connection"
echo "  idle connection: ${line#detvm: }"

# 3. --restore of a snapshot whose header names another disk
d=$tmp/restore
mkdir -p "$d"
make_disk "$d/disk.img"
make_disk "$d/victim.img"
victim=$(sum "$d/victim.img")
"$detvm" run --disk "$d/disk.img" --control "$d/ctl" --cmdline "prog=journal n=60" --timeout 120 "$elf" \
	>"$d/run.out" 2>"$d/run.err" </dev/null &
rpid=$!
for _ in $(seq 1200); do
	grep -q "^journal 5 " "$d/run.out" 2>/dev/null && break
	kill -0 $rpid 2>/dev/null || fail "restore: the run ended before journal line 5: $(tail -n 3 "$d/run.err")"
	sleep 0.1
done
"$detvm" snapshot --control "$d/ctl" -o "$d/s.snap" >/dev/null 2>"$d/snap.err" ||
	fail "restore: no snapshot: $(cat "$d/snap.err"); the run said: $(tail -n 3 "$d/run.err"); console: $(tail -n 2 "$d/run.out")"
wait "$rpid" || fail "restore: the run exited $?"
"$forge" "$d/s.snap" "$d/forged.snap" "$d/victim.img" || fail "restore: snapshot_forge failed"
cp "$d/s.snap.disk0" "$d/forged.snap.disk0"
"$detvm" run --restore "$d/forged.snap" --timeout 60 >"$d/restored.out" 2>"$d/restored.err" </dev/null
rc=$?
[ "$(sum "$d/victim.img")" = "$victim" ] || fail "restore: the disk path in the forged snapshot was written"
[ $rc -eq 7 ] || fail "restore: run --restore exited $rc, want 7"
[ "$(wc -l <"$d/restored.err")" -eq 1 ] && grep -q "received over its link" "$d/restored.err" ||
	fail "restore: not one line saying why: $(cat "$d/restored.err")"
echo "  forged snapshot: $(cat "$d/restored.err")"
# 4. intruders without the key, then the real primary
d=$tmp/intruders
mkdir -p "$d"
# a capture of a real pair's session: the primary's bytes, through a recording proxy
start_backup "$d" $((30000 + RANDOM % 20000)) ""
real_port=$pair_port
pair_port=$((real_port + 1))
link_py "$here/ft_link.py" "$pair_port" "$real_port" capture "$d/capture" &
proxy=$!
sleep 0.3
start_primary "$d" "" --cmdline "prog=talk n=10"
reap
wait "$proxy"
protected capture "$d"
[ "$(stat -c %s "$d/capture")" -gt 20000 ] || fail "intruders: the capture holds too little"
rm -f "$d"/b.* "$d"/p.*
start_backup "$d" $((30000 + RANDOM % 20000)) ""
intruder() {	# MODE: connects first, plays MODE, until the backup hangs up
	link_py - "$pair_port" "$1" "$d/capture" <<'EOF'
import os, socket, sys
import ft_link
port, mode = int(sys.argv[1]), sys.argv[2]
try:
    if mode == "nokey":
        l = ft_link.connect(port, None)
    elif mode == "wrongkey":
        l = ft_link.connect(port, os.urandom(32))
    else:  # replay: the real primary's bytes, as captured
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(open(sys.argv[3], "rb").read())
        s.settimeout(10)
        while s.recv(4096):
            pass
except (OSError, ConnectionError):
    pass
EOF
}
n=0
for mode in nokey wrongkey replay; do
	intruder "$mode"
	n=$((n + 1))
	for _ in $(seq 100); do [ "$(grep -c "dropped, waiting" "$d/b.err")" -ge $n ] && break; sleep 0.05; done
done
start_primary "$d" "" --cmdline "prog=talk n=10"
reap
protected intruders "$d"
grep -q "live at exit\|won generation" "$d/b.err" && fail "intruders: the backup went live"
for why in "has no --key, this side has one" "does not hold this pair's key: refused"; do
	grep -q "$why.*dropped, waiting for the primary" "$d/b.err" || fail "intruders: no one-line refusal '$why'"
done
[ "$(grep -c "does not hold this pair's key" "$d/b.err")" -eq 2 ] ||
	fail "intruders: the wrong key and the replayed capture were not both refused for the key"
echo "  intruders: $(grep -c "dropped, waiting" "$d/b.err") refused ($(grep "dropped" "$d/b.err" | sed 's/^detvm: //; s/127.0.0.1:[0-9]*: //' | tr '\n' ';'))"

# 5. a bit flipped in the primary's stream, after the hello
d=$tmp/flipped
mkdir -p "$d"
start_backup "$d" $((30000 + RANDOM % 20000)) "file:$d/arbiter"
real_port=$pair_port
pair_port=$((real_port + 1))
link_py "$here/ft_link.py" "$pair_port" "$real_port" flip 5000 &
proxy=$!
sleep 0.3
start_primary "$d" "file:$d/arbiter" --cmdline "prog=talk n=60"
reap
wait "$proxy"
line=$(grep "does not authenticate" "$d/b.err" | head -1)
[ -n "$line" ] || fail "flipped: the backup did not refuse the altered message"
[ "$(grep -c "does not authenticate" "$d/b.err")" -eq 1 ] || fail "flipped: more than one line for the altered message"
live=0
grep -q "going on alone" "$d/p.err" && live=$((live + 1))
grep -q "^detvm: live at exit" "$d/b.err" && live=$((live + 1))
[ $live -eq 1 ] || fail "flipped: $live sides went on, want exactly one"
python3 "$ft_console" -o "$d/seen.con" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$d/reader.err" ||
	fail "flipped: the reader found a gap: $(cat "$d/reader.err")"
[ "$(grep -c '^talk' "$d/seen.con")" -eq 60 ] || fail "flipped: the reader saw $(grep -c '^talk' "$d/seen.con") talk lines, want 60"
echo "  flipped bit: ${line#detvm: } (primary exit $prc, backup exit $brc)"

echo "PASS ft_wire_trust: a forged header refused (its disk untouched), an idle connection dropped, intruders without the key (none, another, a replayed capture) refused, an altered message refused, the real primary protected after each; a forged snapshot's disk path never opened (${SECONDS}s)"
