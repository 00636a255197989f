#!/usr/bin/env bash
# What another local user can reach. Asserts: traces, disk copies, snapshots and tool
# outputs are created 0600 under a umask of 022, and nobody (uid 65534) cannot read them;
# a control socket created under a umask of 000 is 0600 and nobody cannot connect; with
# the socket opened up by chmod, nobody's connection is refused in one logged line and
# its snapshot request is not served; two idle clients (nothing sent, half a line) do not
# keep `detvm snapshot` from being served; a socket left by a killed detvm is replaced, a
# live one and a regular file at the path are refused (exit 2) and left as they were; a
# symbolic link planted at a trace's name or at a snapshot's old temp name (PATH.tmp) is
# not followed; `--gdb :0` listens on 127.0.0.1 only, `--gdb 0.0.0.0:0` on every address
# and says so in one line; a replay whose image became a FIFO exits 12 at once in one line.
# usage: local_surfaces.sh DETVM GUEST_ELF ; fails without /dev/kvm (ctest runs it
# through tests/kvmhost). The checks as another user need root (setpriv); elsewhere they
# are left out and the test says so.
set -u
# the checks as nobody need a path nobody can walk to: not under a private TMPDIR (the
# KVM host VM gives each job a 0700 one)
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init local_surfaces "$1" "$2"
chmod 755 "$tmp"	# others may enter: only each file's own mode keeps them out
umask 022
py=/usr/bin/python3	# nobody cannot reach a per-user python
other=0
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && other=1
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

mode_is() {	# PATH MODE WHAT
	local m
	m=$(stat -c %a "$1" 2>/dev/null)
	[ "$m" = "$2" ] || fail "$3 '$1' has mode '$m', want $2"
}
unreadable() {	# PATH WHAT
	[ $other -eq 1 ] || return 0
	as_nobody cat "$1" >/dev/null 2>&1 && fail "another user read the $2"
	return 0
}
# one error line (a host's warnings, such as an unvirtualized CPUID, may come before it)
one_error() {	# ERRFILE WHAT
	[ "$(grep -c '^detvm: error:' "$1")" -eq 1 ] && [ "$(grep -vc '^detvm: warning:' "$1")" -eq 1 ] ||
		fail "$2: want one error line on stderr"
}
wait_socket() {	# PATH PID
	local i
	for i in $(seq 300); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# ask.py SOCKET LINE: sends LINE, prints "connect: ERROR" or "reply: REPLY" (a file, so
# that nobody can run it too)
cat >"$tmp/ask.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror)
    sys.exit(0)
s.settimeout(30)
data = b""
try:    # a refused peer sees the connection closed, or reset, or a broken pipe
    s.sendall(sys.argv[2].encode() + b"\n")
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except OSError as e:
    data += str(e).encode()
print("reply:", data.decode(errors="replace").strip())
PY
snapshot() {	# SOCKET OUT TAG: detvm snapshot, bounded
	show=("$tmp/$3.snap.err")
	timeout -k 5 40 "$detvm" snapshot --control "$1" -o "$2" >"$tmp/$3.snap.out" 2>"$tmp/$3.snap.err"
}

# 1. a recording, its disk copy and a tool's output: 0600, not readable by others
truncate -s 1M "$tmp/disk.img"
rr_record "$tmp/t.trace" rec --disk "$tmp/disk.img" --cmdline "prog=hello" || fail "record exited $?"
mode_is "$tmp/t.trace" 600 "trace"
mode_is "$tmp/t.trace.disk0" 600 "disk copy"
unreadable "$tmp/t.trace" "trace"
unreadable "$tmp/t.trace.disk0" "disk copy"
"$detvm" export --chrome "$tmp/t.trace" -o "$tmp/t.json" 2>"$tmp/export.err" || fail "export exited $?"
mode_is "$tmp/t.json" 600 "export output"

# 2. a symbolic link planted at the trace's name is refused, its target untouched
echo precious >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/l.trace"
show=("$tmp/link.err")
"$detvm" record -o "$tmp/l.trace" --timeout 60 --cmdline "prog=hello" "$elf" >/dev/null 2>"$tmp/link.err"
rc=$?
rr_no_crash $rc "$tmp/link.err" "record to a symlink"
[ $rc -ne 0 ] || fail "record through a planted symlink exited 0"
[ "$(cat "$tmp/victim")" = precious ] || fail "record wrote through a planted symlink"
grep -q "symbolic link" "$tmp/link.err" || fail "no 'symbolic link' line"
one_error "$tmp/link.err" "record to a symlink"

# 3. the control socket of a VM started under umask 000
ctl=$tmp/vm.ctl
(umask 000 && exec "$detvm" run --timeout 300 --control "$ctl" --cmdline "prog=ticks n=30000" "$elf" \
	>"$tmp/vm.out" 2>"$tmp/vm.err" </dev/null) &
vm=$!
show=("$tmp/vm.err")
wait_socket "$ctl" $vm || fail "the VM did not create its control socket"
mode_is "$ctl" 600 "control socket"
if [ $other -eq 1 ]; then
	r=$(as_nobody "$py" "$tmp/ask.py" "$ctl" "snapshot $tmp/evil1.snap")
	case $r in "connect: Permission denied") ;; *) fail "another user reached the control socket: $r" ;; esac
	# the peer check behind the mode: open the socket up, nobody is still refused
	chmod 666 "$ctl"
	r=$(as_nobody "$py" "$tmp/ask.py" "$ctl" "snapshot $tmp/evil2.snap")
	case $r in "reply:" | *"reset by peer" | *"Broken pipe") ;; *) fail "another user's request got '$r', want the connection closed" ;; esac
	[ -e "$tmp/evil2.snap" ] && fail "another user's snapshot request was served"
	[ "$(grep -c 'refused a connection from uid 65534' "$tmp/vm.err")" -eq 1 ] ||
		fail "want one 'refused a connection from uid 65534' line"
	chmod 600 "$ctl"
fi
# idle clients: one sends nothing, one half a line; neither holds the socket
"$py" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected", flush=True); time.sleep(120)' \
	"$ctl" >"$tmp/idle1" &
idle1=$!
"$py" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"snap"); print("connected", flush=True); time.sleep(120)' \
	"$ctl" >"$tmp/idle2" &
idle2=$!
for i in $(seq 100); do
	grep -q connected "$tmp/idle1" && grep -q connected "$tmp/idle2" && break
	sleep 0.1
done
SECONDS_BEFORE=$SECONDS
# the old temp name, planted as a link: the snapshot must not go through it
echo precious >"$tmp/victim2"
ln -s "$tmp/victim2" "$tmp/s.snap.tmp"
snapshot "$ctl" "$tmp/s.snap" idle || fail "detvm snapshot behind two idle clients exited $?"
took=$((SECONDS - SECONDS_BEFORE))
kill $idle1 $idle2 2>/dev/null
[ $took -lt 30 ] || fail "the snapshot took ${took}s behind two idle clients"
[ "$(cat "$tmp/victim2")" = precious ] || fail "the snapshot wrote through a link at its old temp name"
[ -L "$tmp/s.snap.tmp" ] || fail "the link planted at the old temp name was moved"
mode_is "$tmp/s.snap" 600 "snapshot"
unreadable "$tmp/s.snap" "snapshot"
# a live socket and a regular file at the path: refused, one line, exit 2, left alone
echo keep >"$tmp/file.ctl"
for path in "$ctl" "$tmp/file.ctl"; do
	show=("$tmp/second.err")
	timeout -k 5 60 "$detvm" run --timeout 60 --control "$path" --cmdline "prog=hello" "$elf" \
		>"$tmp/second.out" 2>"$tmp/second.err" </dev/null
	rc=$?
	rr_no_crash $rc "$tmp/second.err" "second VM on $path"
	[ $rc -eq 2 ] || fail "a VM on the used path '$path' exited $rc, want 2"
	one_error "$tmp/second.err" "a VM on the used path '$path'"
done
grep -q "not a socket" "$tmp/second.err" || fail "no 'not a socket' line"
[ "$(cat "$tmp/file.ctl")" = keep ] || fail "the file at the control path was changed"
snapshot "$ctl" "$tmp/s2.snap" after || fail "the first VM's socket stopped working ($?)"
kill $vm
wait $vm

# 4. a socket left by a killed detvm is replaced
st=$tmp/stale.ctl
"$detvm" run --timeout 300 --control "$st" --cmdline "prog=ticks n=30000" "$elf" >/dev/null 2>"$tmp/st1.err" </dev/null &
vm=$!
wait_socket "$st" $vm || fail "the first VM did not create its control socket"
kill -9 $vm
wait $vm 2>/dev/null
[ -S "$st" ] || fail "no stale socket left behind"
"$detvm" run --timeout 300 --control "$st" --cmdline "prog=ticks n=30000" "$elf" >/dev/null 2>"$tmp/st2.err" </dev/null &
vm=$!
show=("$tmp/st2.err")
for i in $(seq 100); do
	kill -0 $vm 2>/dev/null || fail "a VM on a stale socket's path exited $(wait $vm; echo $?)"
	snapshot "$st" "$tmp/st.snap" stale >/dev/null 2>&1 && break
	sleep 0.2
done
[ -s "$tmp/st.snap" ] || fail "the VM on a stale socket's path took no snapshot"
kill $vm
wait $vm

# 5. the gdb stub: loopback unless asked, and then it says so
# gdb_listen HOST:PORT TAG: replay with the stub there; its stderr in $tmp/TAG.err, the
# address it listens on (ss's Local Address:Port) printed
gdb_listen() {
	local g i port=
	"$detvm" replay --gdb "$1" --gdb-wait "$tmp/t.trace" >/dev/null 2>"$tmp/$2.err" </dev/null &
	g=$!
	show=("$tmp/$2.err")
	for i in $(seq 300); do
		port=$(sed -n 's/.*gdb: listening on port \([0-9]*\).*/\1/p' "$tmp/$2.err")
		[ -n "$port" ] || ! kill -0 $g 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$port" ] && ss -ltnH "sport = :$port" | awk '{print $4}'
	kill -9 $g
	wait $g 2>/dev/null
	[ -n "$port" ] || fail "replay --gdb $1 did not listen"
}
at=$(gdb_listen :0 gdb1)
port=${at##*:}
[ "$at" = "127.0.0.1:$port" ] || fail "--gdb :0 listens on '$at', not 127.0.0.1 only"
grep -q "open to the network" "$tmp/gdb1.err" && fail "--gdb :0 says it is open to the network"
at=$(gdb_listen 0.0.0.0:0 gdb2)
port=${at##*:}
[ "$at" = "0.0.0.0:$port" ] || fail "--gdb 0.0.0.0:0 listens on '$at', not every address"
[ "$(grep -c "open to the network" "$tmp/gdb2.err")" -eq 1 ] || fail "--gdb 0.0.0.0:0: want one 'open to the network' line"

# 6. an image that became a FIFO: replay refuses it at once, never waits on it
cp "$elf" "$tmp/img.elf"
"$detvm" record -o "$tmp/f.trace" --timeout 60 --cmdline "prog=hello" "$tmp/img.elf" >/dev/null 2>"$tmp/f.err" ||
	fail "record of a copied image exited $?"
rm "$tmp/img.elf"
mkfifo "$tmp/img.elf"
show=("$tmp/fifo.err")
timeout -k 5 30 "$detvm" replay "$tmp/f.trace" >/dev/null 2>"$tmp/fifo.err" </dev/null
rc=$?
rr_no_crash $rc "$tmp/fifo.err" "replay with a FIFO image"
[ $rc -eq 12 ] || fail "replay with a FIFO as its image exited $rc, want 12"
grep -q "not a regular file" "$tmp/fifo.err" || fail "no 'not a regular file' line"
one_error "$tmp/fifo.err" "replay with a FIFO image"

[ $other -eq 1 ] && who="nobody refused everywhere" || who="checks as another user left out (not root)"
pass "files and socket 0600, $who, idle clients dropped, stale socket replaced, links not followed, gdb on loopback, FIFO image refused"
