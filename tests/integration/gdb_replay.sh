#!/bin/bash
# detvm replay --gdb with Debian's gdb in batch mode against the race, kspin and blk guests:
# a breakpoint on a guest function (by its ELF symbol), stepping, a memory read,
# reverse-stepi back over a write (the old value again), reverse-continue to a watchpoint
# on the race guest's shared counter, the same on kspin's tick count, back to the start over
# blk's disk writes (then forwards again: the sectors read as they were), and continuing to
# the end: gdb sees the process exit, and the replay still matches its trace (exit 0); a
# stop at a port exit (a Ctrl-C put there), then reverse-stepi back to the IN itself.
# usage: gdb_replay.sh DETVM GUEST_ELF
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rr_lib.sh"
rr_init gdb_replay "$1" "$2"
command -v gdb >/dev/null || fail "gdb is not installed (scripts/install-deps.sh installs it)"

# gdb_session TRACE TAG GDB-COMMANDS...: replay TRACE under gdb; $tmp/TAG.gdb gets gdb's
# output, $tmp/TAG.err detvm's; returns detvm's status
gdb_session() {
	local trace=$1 tag=$2 port='' pid rc
	shift 2
	show=("$tmp/$tag.gdb" "$tmp/$tag.err")
	# port 0: detvm takes a free one and says which, so no port is ever guessed
	"$detvm" replay -v --gdb 127.0.0.1:0 --gdb-wait -s "file:$tmp/$tag.out" "$trace" 2>"$tmp/$tag.err" </dev/null &
	pid=$!
	for _ in $(seq 200); do
		port=$(sed -n 's/.*gdb: listening on port \([0-9]*\).*/\1/p' "$tmp/$tag.err")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] || { kill "$pid" 2>/dev/null; fail "$tag: detvm did not listen for gdb"; }
	local args=(-ex "target remote 127.0.0.1:$port") c
	for c in "$@"; do args+=(-ex "$c"); done
	timeout 240 gdb -batch -nx "${args[@]}" "$elf" >"$tmp/$tag.gdb" 2>&1 &
	local gdb_pid=$!
	# Ctrl-C: gdb turns SIGINT into the 0x03 byte while the target runs
	# (to gdb itself: `timeout` would pass the signal on twice, which gdb takes as a
	# target that does not answer)
	# counted from the last command before `continue` (gdb's start, its symbols and the
	# attach take seconds where the host is an emulator: the KVM host VM)
	if [ -n "${interrupt_after:-}" ]; then
		for _ in $(seq 1200); do
			grep -q "^Breakpoint 1 at" "$tmp/$tag.gdb" && break
			kill -0 "$gdb_pid" 2>/dev/null || break
			sleep 0.05
		done
		sleep "$interrupt_after"
		kill -INT "$(pgrep -P "$gdb_pid")"
	fi
	wait "$gdb_pid"
	wait "$pid"
	rc=$?
	rr_no_crash "$rc" "$tmp/$tag.err" "$tag"
	return "$rc"
}

# the value gdb printed as "Old value = N" / "New value = N" the Kth time (1-based)
watch_value() {
	awk -v what="$2" -v k="$3" '$0 ~ "^" what " value = " { if (++n == k) { print $4; exit } }' "$1"
}

# bad flags: one line, status 2, before anything runs
for bad in "--gdb-wait" "--gdb 127.0.0.1:65536" "--gdb nonsense" "--gdb :0 --checkpoint-mem 0"; do
	# shellcheck disable=SC2086
	"$detvm" replay $bad /nonexistent.trace >"$tmp/bad.out" 2>"$tmp/bad.err"
	rc=$?
	[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] || fail "replay $bad: status $rc, not 2 with one line"
done

# ---- race: two ring-3 tasks, a shared counter, a system call between load and store ----
# The first breakpoint is in ring 0. Where ring-0 hardware breakpoints work (`detvm
# doctor`), the stub stops on an interrupt gate's handler by one and steps on: the INT
# 0x80 system call's syscall_dispatch is reached. Elsewhere (QEMU's SVM in the KVM host
# VM) a handler runs unstepped up to its first exit (gdb_gate.c: a stepped gate would leak
# the trap flag into the guest's frame), so the breakpoint is on the timer's sched_tick,
# which its handler calls after the EOI's port write.
kfn=sched_tick
"$detvm" doctor 2>&1 | grep -q '^OK  *hw-breakpoint-ring0 ' && kfn=syscall_dispatch
rr_record "$tmp/race.trace" race_rec --cmdline "prog=race n=300" || fail "recording race failed"
gdb_session "$tmp/race.trace" race \
	"break $kfn" 'continue' \
	'stepi' 'stepi' 'info registers rip' 'reverse-stepi' 'info registers rip' \
	'delete' 'break race_worker' 'continue' 'stepi' 'info registers rip cs' \
	'delete' 'watch *(long *)&ticks' 'continue' 'reverse-stepi' 'print *(long *)&ticks' \
	'delete' 'watch *(long *)&race_counter' 'continue' 'continue' 'reverse-continue' \
	'print *(long *)&race_counter' 'x/i $pc' 'x/gx &race_k' \
	'delete' 'continue'
rc=$?
g=$tmp/race.gdb
[ "$rc" -eq 0 ] || fail "race: replay under gdb ended with status $rc, not 0"
grep -q "replay identical" "$tmp/race.err" || fail "race: the replay under gdb did not match its trace"
grep -Eq "^Breakpoint 1, 0x[0-9a-f]+ in $kfn" "$g" ||
	fail "race: the breakpoint on $kfn was not hit"
# where the first stepi stopped, where the second did, and where reverse-stepi went back to
one=$(sed -n "s/^\\(0x[0-9a-f]*\\) in $kfn ()\$/\\1/p" "$g" | head -n 1)
two=$(sed -n "s/^rip  *\\(0x[0-9a-f]*\\) .*<$kfn+[0-9]*>\$/\\1/p" "$g" | sed -n 1p)
back=$(sed -n "s/^rip  *\\(0x[0-9a-f]*\\) .*<$kfn+[0-9]*>\$/\\1/p" "$g" | sed -n 2p)
[ -n "$one" ] && [ -n "$two" ] && [ $((two)) -gt $((one)) ] || fail "race: two stepi in $kfn did not go forwards"
[ "$((back))" = "$((one))" ] || fail "race: reverse-stepi went to ${back:-nowhere}, not back to $one"
old=$(watch_value "$g" Old 1) new=$(watch_value "$g" New 1)
[ -n "$old" ] && [ "$new" = $((old + 1)) ] || fail "race: the watchpoint on ticks did not stop on an increment"
grep -Eq "^\\\$1 = $old$" "$g" || fail "race: reverse-stepi over the write to ticks did not show the old value $old"
# ring 3, stepped through the guest's own #DB handler (gdb_user_step.h)
grep -Eq "^Breakpoint 2, 0x[0-9a-f]+ in race_worker" "$g" || fail "race: the breakpoint on race_worker (ring 3) was not hit"
cs=$(sed -n 's/^cs  *\(0x[0-9a-f]*\) .*/\1/p' "$g")
[ -n "$cs" ] && [ $((cs & 3)) -eq 3 ] && grep -Eq "^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <race_worker\+[1-9][0-9]*>$" "$g" ||
	fail "race: stepi in ring 3 did not go on in race_worker"
# forwards: the counter goes c -> c+1 -> c+2; backwards from there: c+2 -> c+1, stopped on
# the racing task's store
c1=$(watch_value "$g" New 2) c2=$(watch_value "$g" New 3) back_old=$(watch_value "$g" Old 4) back=$(watch_value "$g" New 4)
[ -n "$c1" ] && [ "$c2" = $((c1 + 1)) ] || fail "race: continuing to the watchpoint on race_counter did not see it grow"
[ "$back_old" = "$c2" ] && [ "$back" = "$c1" ] ||
	fail "race: reverse-continue did not land on the write of race_counter $c1 -> $c2"
grep -Eq "^\\\$2 = $c1$" "$g" || fail "race: race_counter is not $c1 where reverse-continue stopped"
grep -Eq "^=> 0x[0-9a-f]+ <race_worker\+[0-9]+>:[[:space:]]+mov +%[a-z0-9]+,0x[0-9a-f]+\(%rip\) +# 0x[0-9a-f]+ <race_counter>" "$g" ||
	fail "race: reverse-continue did not stop on the store to race_counter"
grep -Eq "<race_k>:[[:space:]]+0x0*12c$" "$g" || fail "race: reading race_k (300) through the page tables failed"
grep -q "exited normally" "$g" || fail "race: gdb did not see the guest end"

# read watchpoints: decoded instruction by instruction; backwards, the stop is on the read
gdb_session "$tmp/race.trace" race_rwatch \
	'rwatch *(long *)&race_k' 'continue' 'continue' 'reverse-continue' 'x/i $pc' 'delete' 'continue'
rc=$?
g=$tmp/race_rwatch.gdb
[ "$rc" -eq 0 ] && grep -q "replay identical" "$tmp/race_rwatch.err" ||
	fail "rwatch: replay under gdb ended with status $rc or did not match its trace"
[ "$(grep -c "^Value = 300$" "$g")" -eq 3 ] || fail "rwatch: not three stops reading race_k (300)"
# (the read it finds depends on the recorded schedule: it may be race_worker's first
# instruction, which gdb names without +0)
grep -Eq "^=> 0x[0-9a-f]+ <race_worker(\+[0-9]+)?>:.*# 0x[0-9a-f]+ <race_k>$" "$g" ||
	fail "rwatch: reverse-continue did not stop on an instruction reading race_k"
grep -q "exited normally" "$g" || fail "rwatch: gdb did not see the guest end"
grep -q "^RESULT race PASS" "$tmp/race.out" || fail "race: the console does not show the guest passing"
[ "$(grep -c "^RESULT race PASS" "$tmp/race.out")" -eq 1 ] || fail "race: console output repeated by re-execution"

# ---- a stop at a port exit, then backwards: the port instruction itself ----------------
# Ctrl-C is noticed at exits as well as between steps, and KVM reports a port read with
# RIP still on its IN (the instruction finishes at the next entry). The stub finishes it
# before it stops there, so reverse-stepi goes back to the IN, not to the same RIP. Where
# Ctrl-C lands is timing: DETVM_GDB_INTERRUPT_AT_EXIT puts it at exit N (a UART status read).
n=$("$detvm" dump "$tmp/race.trace" | sed -n 's/^[0-9]* @\([0-9]*\) exit pio in port=0x3fd .*/\1/p' | sed -n 5p)
[ -n "$n" ] || fail "port stop: no UART status read in the race trace"
DETVM_GDB_INTERRUPT_AT_EXIT=$n gdb_session "$tmp/race.trace" port_stop \
	'continue' 'info registers rip' 'reverse-stepi' 'info registers rip' 'x/i $pc' 'delete' 'continue'
rc=$?
g=$tmp/port_stop.gdb
[ "$rc" -eq 0 ] && grep -q "replay identical" "$tmp/port_stop.err" ||
	fail "port stop: replay under gdb ended with status $rc or did not match its trace"
grep -q "^Program received signal SIGINT" "$g" || fail "port stop: no stop at exit $n"
stop=$(sed -n 's/^rip  *\(0x[0-9a-f]*\) .*/\1/p' "$g" | sed -n 1p)
back=$(sed -n 's/^rip  *\(0x[0-9a-f]*\) .*/\1/p' "$g" | sed -n 2p)
[ -n "$stop" ] && [ -n "$back" ] && [ "$stop" != "$back" ] ||
	fail "port stop: reverse-stepi from the stop at exit $n did not move (rip ${stop:-?} -> ${back:-?})"
grep -Eq "^=> $back <[a-z_]+\+[0-9]+>:[[:space:]]+in +\(%dx\),%al$" "$g" &&
	[ $((stop)) -eq $((back + 1)) ] ||
	fail "port stop: reverse-stepi from just after the IN at exit $n (rip $stop) did not go back to that IN"
grep -q "exited normally" "$g" || fail "port stop: gdb did not see the guest end"

# ---- kspin: a ring-0 spin with no exits, preempted by `step` delivery points ---------
rr_record "$tmp/kspin.trace" kspin_rec --cmdline "prog=kspin n=3" || fail "recording kspin failed"
# Replay loads the state of each `step` delivery point instead of running the spin up to
# it, so only some ticks' handlers run here; the others arrive with those states.
gdb_session "$tmp/kspin.trace" kspin \
	'break sched_tick' 'continue' 'print *(long *)&ticks' \
	'stepi' 'stepi' 'stepi' 'reverse-stepi' 'reverse-stepi' 'reverse-stepi' 'info registers rip' \
	'delete' 'watch *(long *)&ticks' 'continue' 'reverse-continue' 'print *(long *)&ticks' \
	'delete' 'continue'
rc=$?
g=$tmp/kspin.gdb
[ "$rc" -eq 0 ] || fail "kspin: replay under gdb ended with status $rc, not 0"
grep -q "replay identical" "$tmp/kspin.err" || fail "kspin: the replay under gdb did not match its trace"
grep -Eq "^Breakpoint 1, 0x[0-9a-f]+ in sched_tick" "$g" || fail "kspin: the breakpoint on sched_tick was not hit"
grep -Eq "^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <sched_tick>$" "$g" ||
	fail "kspin: three stepi and three reverse-stepi did not come back to sched_tick"
t=$(sed -n 's/^\$1 = //p' "$g")
[ -n "$t" ] || fail "kspin: ticks could not be read"
# forwards over this handler's increment, then backwards over it again
[ "$(watch_value "$g" Old 1)" = "$t" ] && [ "$(watch_value "$g" New 1)" = $((t + 1)) ] ||
	fail "kspin: continuing to the watchpoint on ticks did not see it go from $t to $((t + 1))"
[ "$(watch_value "$g" Old 2)" = $((t + 1)) ] && [ "$(watch_value "$g" New 2)" = "$t" ] ||
	fail "kspin: reverse-continue to the watchpoint on ticks did not go back from $((t + 1)) to $t"
grep -Eq "^\\\$2 = $t$" "$g" || fail "kspin: ticks is not $t where reverse-continue stopped"
grep -q "exited normally" "$g" || fail "kspin: gdb did not see the guest end"
grep -Eq "gdb: went back .* in [0-9.]+ ms" "$tmp/race.err" "$tmp/kspin.err" || true
# ---- blk: backwards over disk writes (the replay's private disk copy is put back) -----
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
rr_record "$tmp/blk.trace" blk_rec --disk "$tmp/disk.img" --cmdline "prog=blk" || fail "recording blk failed"
# blk's first request reads sector 0's original into `saved`, the second writes a
# pattern over it, the third reads that back into `readback` (all by the device's DMA, at
# exits: write watchpoints see them on every host). Stopped there, back to the start, then
# forwards to the first read again: `saved` must hold the original both times (the
# replay's private disk copy put back)
gdb_session "$tmp/blk.trace" blk \
	'watch *(long *)&readback' 'continue' 'x/8xb &saved' 'delete' 'reverse-continue' \
	'watch *(long *)&saved' 'continue' 'x/8xb &saved' 'delete' 'continue'
rc=$?
g=$tmp/blk.gdb
[ "$rc" -eq 0 ] || fail "blk: replay under gdb ended with status $rc, not 0"
grep -q "replay identical" "$tmp/blk.err" || fail "blk: the replay under gdb did not match its trace"
grep -q "No more reverse-execution history" "$g" || fail "blk: reverse-continue did not go back to the start"
[ "$(grep -c "^0x[0-9a-f]* <saved>:[[:space:]]*0x00[[:space:]]*0x01[[:space:]]*0x02[[:space:]]*0x03" "$g")" -eq 2 ] ||
	fail "blk: after going back over the write, sector 0 did not read as it was (00 01 02 03...) again"
grep -q "exited normally" "$g" || fail "blk: gdb did not see the guest end"

# ---- Ctrl-C while the replay runs, then backwards from where it stopped ---------------
rr_record "$tmp/long.trace" long_rec --cmdline "prog=race n=20000" || fail "recording a long race failed"
# a breakpoint inside an instruction never hits but keeps the replay single-stepping, so it
# is still running when gdb interrupts it, however fast the host
interrupt_after=1.5 gdb_session "$tmp/long.trace" long \
	'break *(race_worker + 1)' 'continue' 'info registers rip' 'reverse-stepi' 'info registers rip' \
	'delete' 'continue'
rc=$?
g=$tmp/long.gdb
[ "$rc" -eq 0 ] || fail "Ctrl-C: replay under gdb ended with status $rc, not 0"
grep -q "replay identical" "$tmp/long.err" || fail "Ctrl-C: the replay under gdb did not match its trace"
grep -q "^Program received signal SIGINT" "$g" || fail "Ctrl-C: gdb's interrupt did not stop the replay"
[ "$(grep -Ec "^rip +0x" "$g")" -eq 2 ] && [ "$(grep -E "^rip +0x" "$g" | sort -u | wc -l)" -eq 2 ] ||
	fail "Ctrl-C: reverse-stepi from the interrupted replay did not move"
grep -q "exited normally" "$g" || fail "Ctrl-C: gdb did not see the guest end"

pass "breakpoints, stepping, memory, reverse-stepi, reverse-continue to watchpoints; replays still identical"
