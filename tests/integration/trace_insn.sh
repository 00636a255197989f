#!/usr/bin/env bash
# detvm trace: an exact replay that single-steps a window and writes every instruction.
#  - the hand-written trace guest, recorded and traced from its first exit on, equals
#    golden/trace_guest.txt (positions, CPL, mode, RIP, bytes, disassembly, memory operand
#    addresses); the replay inside ends with exit 0; so does a window, which is exactly
#    the golden's lines in it. (Its 32-bit prologue before exit 1 is left out: QEMU's
#    emulated SVM, the KVM host VM's, does not stop after a MOV to CR4 nor between the far
#    jump into long mode and the first exit, so positions there depend on the host.)
#  - jsonl parses with python3's json and says what the text says, line for line
#  - --regs: the first line has every register, then what changed (mov eax, imm; mov cr3)
#  - prog=ticks: a window around the first timer interrupt, and the replay still matches
#    to the end (exit 0, checkpoints compared: single-stepping leaks no trap flag into
#    interrupt frames). Where `detvm doctor` says hardware breakpoints work in ring 0, the
#    window starts at that exit with the handler's first instruction (isr_stubs + 16 *
#    0x20 in the guest's symbols), int=0x20; elsewhere (QEMU's SVM in the KVM host VM)
#    the handler runs unstepped to the next exit, where the window's first record is, and
#    no record claims int=0x20.
#  - damaged traces (truncated, a flipped byte): one line on stderr, exit 7
#  - bad --from/--to, --to not after --from, no -o, an unknown --format: one line, exit 2
# The tracing rate (instructions per second) is printed with the PASS line.
# usage: trace_insn.sh DETVM GUEST_ELF TRACE_GUEST_ELF GOLDEN ; fails without /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init trace_insn "$1" "$2"
tguest=$3 golden=$4
[ -r "$tguest" ] || fail "no trace guest at $tguest"
[ -r "$golden" ] || fail "no golden file at $golden"

# trace_run TAG ARGS...: detvm trace ARGS (stdin closed) into $tmp/TAG.err; its status
trace_run() {
	local tag=$1
	shift
	show=("$tmp/$tag.err")
	"$detvm" trace "$@" >"$tmp/$tag.con" 2>"$tmp/$tag.err" </dev/null
}

# --- the golden trace ------------------------------------------------------------------
"$detvm" record -o "$tmp/g.trace" --timeout 60 "$tguest" >"$tmp/grec.out" 2>"$tmp/grec.err" </dev/null
rc=$?
show=("$tmp/grec.err")
[ $rc -eq 0 ] || fail "recording the trace guest exited $rc"
trace_run g --stats --from 1 -o "$tmp/g.txt" "$tmp/g.trace"
rc=$?
rr_no_crash $rc "$tmp/g.err" "trace"
[ $rc -eq 0 ] || fail "trace exited $rc, want 0 (the replay inside must match to its end)"
show=("$tmp/g.txt" "$tmp/g.err")
diff -u "$golden" "$tmp/g.txt" >"$tmp/g.diff" || { show=("$tmp/g.diff"); fail "the trace differs from $golden"; }
rate=$(sed -n 's/.*(\([0-9]*\) instructions\/s).*/\1/p' "$tmp/g.err")
[ -n "$rate" ] || fail "--stats did not say the tracing rate"

# a window: [1+3, 3+0) is the golden's lines from position 1+3 up to exit 3
trace_run w -o "$tmp/w.txt" --from 1+3 --to 3 "$tmp/g.trace"
rc=$?
[ $rc -eq 0 ] || fail "trace --from 1+3 --to 3 exited $rc"
awk 'NR == 1 { print; next } { split($1, p, "+"); e = p[1] + 0; s = p[2] + 0 }
     (e == 1 && s >= 3) || e == 2' "$golden" >"$tmp/w.want"
[ "$(wc -l <"$tmp/w.want")" -gt 5 ] || fail "the golden file has too few lines in [1+3, 3)"
diff -u "$tmp/w.want" "$tmp/w.txt" >"$tmp/w.diff" || { show=("$tmp/w.diff"); fail "the window [1+3, 3) is not the golden's lines there"; }

# --- jsonl says what the text says ---------------------------------------------------
trace_run j --format jsonl --from 1 -o "$tmp/j.jsonl" "$tmp/g.trace"
rc=$?
[ $rc -eq 0 ] || fail "trace --format jsonl exited $rc"
python3 - "$tmp/j.jsonl" "$tmp/g.txt" >"$tmp/j.check" 2>&1 <<'PY' || { show=("$tmp/j.check"); fail "jsonl and text disagree"; }
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
text = [l.rstrip('\n') for l in open(sys.argv[2]) if not l.startswith('#')]
assert len(recs) == len(text), f"{len(recs)} jsonl records, {len(text)} text lines"
for r, t in zip(recs, text):
    f = t.split()
    assert f[0] == f"{r['exit']}+{r['step']}", (r, t)
    assert int(f[1]) == r['cpl'] and int(f[2]) == r['mode'], (r, t)
    assert int(f[3], 16) == int(r['rip'], 16), (r, t)
    nbytes = len(r['bytes']) // 2
    assert ''.join(f[4:4 + nbytes]) == r['bytes'], (r, t)
    rest = ' '.join(f[4 + nbytes:])
    mem = ' '.join('mem=' + m for m in r['mem'])
    assert rest == (r['insn'] + (' ' + mem if mem else '')), (rest, r)
print(len(recs), "records agree")
PY

# --- --regs ---------------------------------------------------------------------------
trace_run r --regs -o "$tmp/r.txt" --to 0+4 "$tmp/g.trace"
rc=$?
[ $rc -eq 0 ] || fail "trace --regs exited $rc"
show=("$tmp/r.txt")
first=$(sed -n 2p "$tmp/r.txt")
for reg in rax rbx rcx rdx rsi rdi rsp rbp r8 r15 rflags cs ss cr0 cr3 cr4 efer; do
	[[ "$first" == *" $reg=0x"* ]] || fail "the first --regs line does not list $reg"
done
# 0+1 is mov eax, 0x103000: the next line shows rax changed, and only that; then cr3
grep -q '^0+2 .*mov cr3, eax | rax=0x103000$' "$tmp/r.txt" || fail "0+2 does not show rax=0x103000 alone"
grep -q '^0+3 .*mov eax, cr4 | cr3=0x103000$' "$tmp/r.txt" || fail "0+3 does not show cr3=0x103000 alone"

# --- an injected interrupt: prog=ticks -------------------------------------------------
rr_record "$tmp/t.trace" trec --cmdline "prog=ticks n=2" </dev/null
rc=$?
[ $rc -eq 0 ] || fail "recording prog=ticks exited $rc"
irq_exit=$("$detvm" dump "$tmp/t.trace" | awk '$3 == "irq" && / vector=0x20 / { sub("@", "", $2); print $2; exit }')
[ -n "$irq_exit" ] || fail "the ticks recording has no timer interrupt"
stubs=$(nm "$elf" | awk '$3 == "isr_stubs" { print $1 }')
[ -n "$stubs" ] || fail "no isr_stubs in the guest's symbols"
handler=$(printf '%016x' $((0x$stubs + 16 * 0x20)))
trace_run t -o "$tmp/t.txt" --from "$irq_exit" --to $((irq_exit + 2)) "$tmp/t.trace"
rc=$?
[ $rc -eq 0 ] || fail "trace of prog=ticks exited $rc, want 0 (the replay inside must still match)"
show=("$tmp/t.txt" "$tmp/t.err")
line=$(sed -n 2p "$tmp/t.txt")
if "$detvm" doctor 2>&1 | grep -q '^OK  *hw-breakpoint-ring0 '; then
	[[ "$line" == "$irq_exit+0 "*" $handler "*" int=0x20"* ]] ||
		fail "the window at exit $irq_exit starts with '$line', want the handler at $handler with int=0x20"
else
	[[ "$line" == "$((irq_exit + 1))+0 "* ]] ||
		fail "the window at exit $irq_exit starts with '$line', want exit $((irq_exit + 1))'s first instruction (no hardware breakpoint stops at the handler here)"
	! grep -q ' int=0x' "$tmp/t.txt" || fail "a record says int= on a host that cannot stop at the handler"
fi

# --- damaged traces: one line, exit 7 -------------------------------------------------
read -r -a lay <<<"$(rr_layout "$tmp/g.trace")"
# bad7 NAME: traces $tmp/bad.trace, wants exit 7 and one stderr line
bad7() {
	trace_run bad -o "$tmp/bad.txt" "$tmp/bad.trace"
	local rc=$?
	rr_no_crash $rc "$tmp/bad.err" "$1"
	[ $rc -eq 7 ] || fail "$1: exit $rc, want 7"
	[ "$(wc -l <"$tmp/bad.err")" -eq 1 ] || fail "$1: $(wc -l <"$tmp/bad.err") lines on stderr, want 1"
}
head -c $(((lay[0] + lay[1]) / 2)) "$tmp/g.trace" >"$tmp/bad.trace"
bad7 "a trace cut in its block"
head -c $((lay[0] / 2)) "$tmp/g.trace" >"$tmp/bad.trace"
bad7 "a trace cut in its header"
cp "$tmp/g.trace" "$tmp/bad.trace"
off=$(((lay[0] + lay[1]) / 2))
b=$(od -An -tx1 -j "$off" -N 1 "$tmp/bad.trace" | tr -d ' ')
printf '%b' "\\x$(printf %02x $((0x$b ^ 0xff)))" | dd of="$tmp/bad.trace" bs=1 seek="$off" conv=notrunc status=none
bad7 "a trace with a flipped byte"

# --- bad options: one line, exit 2 ------------------------------------------------------
bad2() {
	local what=$1
	shift
	trace_run opt "$@"
	local rc=$?
	rr_no_crash $rc "$tmp/opt.err" "$what"
	[ $rc -eq 2 ] || fail "$what: exit $rc, want 2"
	[ "$(wc -l <"$tmp/opt.err")" -eq 1 ] || fail "$what: $(wc -l <"$tmp/opt.err") lines on stderr, want 1"
}
bad2 "--from x" --from x -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "--from 3+" --from 3+ -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "--to -1" --to -1 -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "--to 99999999999999999999" --to 99999999999999999999 -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "--to before --from" --from 3+2 --to 3+1 -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "--to equal to --from" --from 2 --to 2+0 -o "$tmp/o.txt" "$tmp/g.trace"
bad2 "no -o" "$tmp/g.trace"
bad2 "--format xml" --format xml -o "$tmp/o.txt" "$tmp/g.trace"
"$detvm" trace --help | grep -q "EXIT+N" || fail "trace --help does not explain positions"

pass "$(($(wc -l <"$tmp/g.txt") - 1)) instructions equal the golden file; window, jsonl, --regs, an injected interrupt, bad traces and options; $rate instructions/s traced"
