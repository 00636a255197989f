#!/usr/bin/env bash
# Bad peers on the FT link, each against a backup that holds an arbiter (so a wrong
# go-live would show) or a primary: garbage, a frame longer than any message, another
# protocol version, a stream cut inside the trace header, a header for an image that
# has changed since, a state to a backup that did not ask for one (no --protect), to one
# that did: pages outside the guest, a trace that boots after a state was begun, more
# guest memory than the backup takes (--max-mem); a trace over the backup's quota
# (--max-trace), and a "backup" that answers garbage. Asserts for each: one error line
# that says what was wrong, the expected exit status, no crash, nothing went live (the
# arbiter was never claimed).
# Statuses: 10 for a peer refused at the greeting (the backup drops it and waits for
# another until --accept-timeout), 7 for a stream that gives no usable trace, 12 for a
# changed image, 13 for a primary that halts.
# usage: ft_bad_peer.sh DETVM GUEST_ELF
set -u
detvm=$1 elf=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL ft_bad_peer: $*"
	[ -f "$tmp/err" ] && { echo "--- detvm's stderr"; tail -c 1500 "$tmp/err"; }
	exit 1
}
SECONDS=0

key=$tmp/ft.key
(umask 077 && head -c 32 /dev/urandom >"$key")
# how long a backup waits for a fake: under the KVM host VM's emulator python needs
# seconds to import the cipher before it connects
accept_s=$([ -n "${DETVM_IN_KVMHOST:-}" ] && echo 30 || echo 5)

# fake MODE PORT [TRACE]: plays a primary (connects) or, for garbage-ack, a backup
# (listens); one that holds the pair's key (a peer gone bad, not an outsider: those are
# ft_wire_trust's), except where the mode is about the hello itself.
fake() {
	FT_KEY=$key PYTHONPATH=$here /usr/bin/python3 - "$@" <<'EOF'
import os, socket, struct, sys, time
import ft_link
mode, port = sys.argv[1], int(sys.argv[2])
key = ft_link.load_key(os.environ["FT_KEY"])
if mode == "control":  # the live VM's control socket a --protect backup asks: it listens, never answers
    ls = socket.socket(socket.AF_UNIX); ls.bind(sys.argv[3]); ls.listen(1)
    s, _ = ls.accept(); s.recv(400); time.sleep(30)
    sys.exit(0)
if mode == "garbage-ack":
    l = ft_link.serve(port, key)
    l.send(b"\x42garbage from a backup")
    time.sleep(3)
    sys.exit(0)
if mode in ("nothello", "version"):
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", port)); break
        except OSError:
            time.sleep(0.05)
    s.sendall(bytes(range(64)) if mode == "nothello" else ft_link.greeting(version=99))
    time.sleep(1)
    sys.exit(0)
l = ft_link.connect(port, key)
if mode == "garbage":
    l.send(b"\x99" + bytes(range(200)))
elif mode == "huge":  # a frame length over any message, where the wire reads it
    l.s.sendall(struct.pack("<I", 0x7fffffff) + b"x" * 64)
elif mode == "badstate":  # a state transfer whose pages lie outside the guest's memory
    l.send(b"\x05B" + struct.pack("<Q", 64 << 20))
    l.send(b"\x05P" + struct.pack("<Q", 1 << 40) + bytes(4096))
elif mode == "bigstate":  # 8 GiB of guest: more than a backup takes unless told (--max-mem)
    l.send(b"\x05B" + struct.pack("<Q", 8 << 30))
elif mode == "halfstate":  # a state begun, then a trace that boots instead
    l.send(b"\x05B" + struct.pack("<Q", 64 << 20))
    data = open(sys.argv[3], "rb").read()
    for i in range(0, len(data), 4096):
        l.send(bytes([1]) + data[i:i + 4096])
else:  # cut / trace: the trace as pieces (cut: its first 40 bytes)
    data = open(sys.argv[3], "rb").read()
    if mode == "cut":
        data = data[:40]
    for i in range(0, len(data), 4096):
        l.send(bytes([1]) + data[i:i + 4096])
time.sleep(1)
l.s.close()
EOF
}

# backup_vs MODE WANT_STATUS PATTERN [TRACE]: the backup also gets the array bargs; with
# --protect in it, a fake control socket listens at $tmp/ctl
backup_vs() {
	local mode=$1 want=$2 pattern=$3 port=$((30000 + RANDOM % 20000))
	rm -f "$tmp/arbiter" "$tmp/ctl"
	if [[ " ${bargs[*]} " == *" --protect "* ]]; then
		fake control 0 "$tmp/ctl" &
		for _ in $(seq 100); do [ -S "$tmp/ctl" ] && break; sleep 0.05; done
	fi
	"$detvm" ft backup --listen "127.0.0.1:$port" --key "$key" --trace "$tmp/b.trace" --arbiter "file:$tmp/arbiter" \
		--accept-timeout "$accept_s" -s "file:$tmp/b.con" "${bargs[@]}" 2>"$tmp/err" </dev/null &
	local b=$!
	fake "$mode" "$port" "${4:-}" &
	wait $b
	local rc=$?
	kill $(jobs -p) 2>/dev/null
	wait
	[ $rc -eq "$want" ] || fail "$mode: the backup exited $rc, want $want"
	grep -q "$pattern" "$tmp/err" || fail "$mode: the backup did not say '$pattern'"
	grep -q "live at exit\|won generation" "$tmp/err" && fail "$mode: the backup went live"
	[ -s "$tmp/arbiter" ] && fail "$mode: the arbiter was claimed"
	echo "  $mode: exit $rc, $(grep -m1 "$pattern" "$tmp/err")"
}

cp "$elf" "$tmp/guest.elf"
"$detvm" record -o "$tmp/t.trace" --cmdline "prog=hello" --timeout 120 "$tmp/guest.elf" >/dev/null 2>&1 </dev/null ||
	fail "cannot record a trace to send"
bargs=()
backup_vs nothello 10 "is not a detvm FT peer"
backup_vs garbage 7 "the primary sent garbage"
backup_vs huge 7 "the primary is gone"
backup_vs version 10 "speaks FT link version 99"
backup_vs cut 7 "the primary is gone" "$tmp/t.trace"
backup_vs badstate 7 "this backup was not started to re-protect a live VM (--protect): refused"
bargs=(--protect "$tmp/ctl")
backup_vs badstate 7 "a state the backup cannot take"
backup_vs halfstate 7 "a trace that does not start from it" "$tmp/t.trace"
backup_vs bigstate 7 "more guest memory than this backup takes"
bargs=(--max-trace 1K)
backup_vs trace 7 "passed this backup's quota of 1024 bytes" "$tmp/t.trace"
bargs=()
printf 'x' >>"$tmp/guest.elf"	# the image the header names has changed
backup_vs trace 12 "changed" "$tmp/t.trace"

# a primary whose "backup" answers garbage: it halts, and without an arbiter never goes on alone.
# The silence a peer is dead after is long enough for python under an emulator to answer
# (the default, 100 ms, ended the link first there, saying so instead).
port=$((30000 + RANDOM % 20000))
FT_DEAD_MS=5000 fake garbage-ack "$port" &
sleep 0.3
"$detvm" ft primary --peer "127.0.0.1:$port" --key "$key" --dead-ms 5000 -o "$tmp/p.trace" --cmdline "prog=talk n=300" \
	--timeout 120 \
	-s "file:$tmp/p.con" "$elf" 2>"$tmp/err" </dev/null
rc=$?
wait
[ $rc -eq 13 ] || fail "garbage backup: the primary exited $rc, want 13"
grep -q "the backup sent garbage" "$tmp/err" || fail "garbage backup: the primary did not say what was wrong"
[ "$(grep -c '^talk' "$tmp/p.con")" -lt 300 ] || fail "garbage backup: the primary ran the guest to its end alone"
echo "  garbage from the backup: exit $rc"
echo "PASS ft_bad_peer: garbage, an oversized frame, another version, a cut stream, a changed image, states unasked, malformed and too large, a trace over quota, a garbage backup: one line each, nothing went live (${SECONDS}s)"
