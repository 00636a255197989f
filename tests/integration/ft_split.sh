#!/usr/bin/env bash
# Split brain, against a real etcd, on a guest writing its disk and console every tick
# (prog=journal). Asserts:
#  - kill -9 of the backup: the primary wins the arbiter, goes on alone and completes
#    (exit 0, RESULT PASS, console and disk equal a plain run's);
#  - a stale primary (SIGSTOP past the timeout): the backup wins and goes live; once the
#    primary is let go it finds the generation taken and halts (exit 13) without
#    releasing one more console byte; the reader's console has no gap and equals a
#    plain run's;
#  - no arbiter given: the backup of a killed primary does not go live (exit 7);
#  - arbiter down (etcd stopped): the backup of a killed primary does not go live, it
#    halts (exit 13), and says the arbiter is unreachable;
#  - fencing: a primary that stops itself inside its release loop, just before a disk
#    write (a test hook), while its backup goes live and runs the guest to its end: let
#    go, it writes nothing more ("fenced off"), halts (13), and the shared disk equals a
#    plain run's (that write, of tick 30, would put back an older record over tick 94's).
# usage: ft_split.sh DETVM GUEST_ELF
set -u
detvm=$1 elf=$2
. "$(dirname "$0")/ft_lib.sh"
ft_init ft_split
n=100
etcd_start
plain_journal $n
port=$((30000 + RANDOM % 20000))

# finish: waits for both; sets prc and brc.
finish() {
	wait "$ppid" 2>/dev/null
	prc=$?
	ppid=
	wait "$bpid" 2>/dev/null
	brc=$?
	bpid=
}

# 1. the backup dies
d=$tmp/backup-killed
mkdir -p "$d"
make_disk "$d/disk.img"
start_pair "$d" $((port + 1)) "$etcd_url/split/a" --disk "$d/disk.img" --cmdline "prog=journal n=$n"
wait_lines "$d/p.con" journal 20 || fail "backup killed: no 20 journal lines within 60 s"
kill -9 "$bpid"
finish
[ $prc -eq 0 ] || fail "backup killed: the primary exited $prc"
grep -q "won generation 1 at the arbiter: going on alone" "$d/p.err" || fail "backup killed: the primary did not win the arbiter"
cmp -s "$d/p.con" "$tmp/plain.con" || fail "backup killed: the primary's console differs from a plain run's"
cmp -s "$d/disk.img" "$tmp/plain.img" || fail "backup killed: the disk differs from a plain run's"

# 2. a stale primary
d=$tmp/stale
mkdir -p "$d"
make_disk "$d/disk.img"
start_pair "$d" $((port + 2)) "$etcd_url/split/b" --disk "$d/disk.img" --cmdline "prog=journal n=$n"
wait_lines "$d/p.con" journal 20 || fail "stale primary: no 20 journal lines within 60 s"
kill -STOP "$ppid"
wait_lines "$d/b.err" "detvm: live at exit" 1 || fail "stale primary: the backup did not go live within 60 s"
# what it had released (the side channel is written as each chunk is released; the
# console file may still get a buffered line when the process ends)
frozen=$(stat -c %s "$d/p.seq")
kill -CONT "$ppid"
finish
[ $brc -eq 0 ] || fail "stale primary: the backup exited $brc"
[ $prc -eq 13 ] || fail "stale primary: the primary exited $prc, want 13 (halted)"
grep -q "lost the arbiter" "$d/p.err" || fail "stale primary: the primary did not say it lost the arbiter"
[ "$(stat -c %s "$d/p.seq")" -eq "$frozen" ] || fail "stale primary: the primary released console bytes after it came back"
python3 "$ft_console" -o "$d/seen.con" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$d/reader.err" ||
	fail "stale primary: the reader found a gap: $(cat "$d/reader.err")"
cmp -s "$d/seen.con" "$tmp/plain.con" || fail "stale primary: the console the reader saw differs from a plain run's"
cmp -s "$d/disk.img" "$tmp/plain.img" || fail "stale primary: the disk differs from a plain run's"

# 3. no arbiter
d=$tmp/none
mkdir -p "$d"
start_pair "$d" $((port + 3)) "" --cmdline "prog=talk n=$n"
wait_lines "$d/p.con" talk 10 || fail "no arbiter: no 10 talk lines within 60 s"
kill -9 "$ppid"
finish
[ $brc -eq 7 ] || fail "no arbiter: the backup exited $brc, want 7 (stopped at the end of the log)"
grep -q "no --arbiter: this backup does not go live" "$d/b.err" || fail "no arbiter: the backup did not say why it stayed down"

# 4. the arbiter is down
d=$tmp/down
mkdir -p "$d"
start_pair "$d" $((port + 4)) "$etcd_url/split/d" --cmdline "prog=talk n=$n"
wait_lines "$d/p.con" talk 10 || fail "arbiter down: no 10 talk lines within 60 s"
etcd_stop
kill -9 "$ppid"
finish
[ $brc -eq 13 ] || fail "arbiter down: the backup exited $brc, want 13 (halted)"
grep -q "the arbiter is unreachable" "$d/b.err" || fail "arbiter down: the backup did not say the arbiter is unreachable"
grep -q "live at exit" "$d/b.err" && fail "arbiter down: the backup went live"
# 5. a stale primary inside its release loop: the fence
etcd_start
d=$tmp/fence
mkdir -p "$d"
make_disk "$d/disk.img"
DETVM_TEST_STALL_AT_WRITE=30 start_pair "$d" $((port + 5)) "$etcd_url/split/e" --disk "$d/disk.img" \
	--cmdline "prog=journal n=$n"
for _ in $(seq 600); do [[ $(ps -o stat= -p "$ppid" 2>/dev/null) == T* ]] && break; sleep 0.1; done
[[ $(ps -o stat= -p "$ppid" 2>/dev/null) == T* ]] || fail "fence: the primary did not stop at its 30th disk write"
wait "$bpid"
brc=$?
bpid=
[ $brc -eq 0 ] || fail "fence: the backup exited $brc"
cmp -s "$d/disk.img" "$tmp/plain.img" || fail "fence: the disk differs from a plain run's before the primary resumed"
kill -CONT "$ppid"
wait "$ppid"
prc=$?
ppid=
cmp -s "$d/disk.img" "$tmp/plain.img" || fail "fence: the stale primary wrote the shared disk after its backup went live"
[ $prc -eq 13 ] || fail "fence: the stale primary exited $prc, want 13"
grep -q "fenced off, writing nothing more" "$d/p.err" || fail "fence: the stale primary did not say it was fenced off"
echo "  fence: $(grep -m1 "fenced off" "$d/p.err" | sed 's/^detvm: //')"
echo "PASS ft_split: backup killed -> primary alone; stale primary halts (13) after the backup went live, nothing released; no arbiter -> 7; arbiter down -> 13; a stale primary fenced off the shared disk (${SECONDS}s)"
