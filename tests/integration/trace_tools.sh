#!/usr/bin/env bash
# The offline trace tools on real recordings of the test guest (ticks, blk, net):
#  - console: the transcript (--json, exact bytes) equals the console the recording
#    printed; each line's position is an exit that wrote to COM1's data port;
#  - stats: counts and bytes per kind, record and file bytes equal `dump --stats --json`;
#    the seconds add up to the kind totals; the guest time is the latest clock value
#    (clock reads, timers, checkpoints) in `dump`; gaps are
#    between consecutive exits, longest first; ticks: the longest is a HLT waiting for a
#    10 ms tick;
#  - diff: a trace against itself and against a faithful copy: 0; against a copy with
#    one changed event (trace_mutate): 1 at exactly that position, both sides shown;
#    against another program: 1 and the header's cmdline named;
#  - export --chrome: python3's json reads it; exit, irq, disk, net, console, checkpoint,
#    clock events on their tracks, as many exit instants as exits, HLT slices;
#  - report: the pages of ticks, blk, net and of a replay of a mutated trace that diverged
#    go to PAGES for report_chromium.sh, which opens them in headless Chromium;
#  - every tool against a truncated and a corrupt trace: exit 7, one line on stderr,
#    nothing on stdout, no output file; usage errors exit 2; --help exits 0.
# Two halves: `record` (needs KVM: the recordings and a replay of a mutated trace, into
# the folder REC) and `check` (all the rest, offline, on what REC holds): in the KVM host
# VM only the first runs under the emulator.
# usage: trace_tools.sh DETVM GUEST_ELF TRACE_MUTATE PAGES REC record|check
set -u
mode=${6:-}
[ "$mode" = record ] || [ "$mode" = check ] || { echo "usage: trace_tools.sh DETVM GUEST_ELF TRACE_MUTATE PAGES REC record|check" >&2; exit 2; }
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
[ "$mode" = check ] && export RR_NO_KVM=1
rr_init "trace_tools ($mode)" "$1" "$2"
mutate=$3 pages=$4 rec=$5
py() { python3 -c "$@"; }

# ---- recordings (KVM) --------------------------------------------------------------------
if [ "$mode" = record ]; then
	python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$tmp/disk.img"
	rr_record "$tmp/ticks.trace" ticks --cmdline prog=ticks </dev/null || fail "record ticks exited $?"
	rr_record "$tmp/blk.trace" blk --disk "$tmp/disk.img" --cmdline prog=blk </dev/null || fail "record blk exited $?"
	rr_start_peer
	rr_record "$tmp/net.trace" net --net "unix:$tmp/peer.sock" --cmdline prog=net </dev/null || fail "record net exited $?"
	rr_stop_peer
	for p in ticks blk net; do
		grep -q "^RESULT $p PASS " "$tmp/$p.out" || { show=("$tmp/$p.out"); fail "the recorded $p guest did not pass"; }
	done
	# a replay that diverges, for the report's page of it
	"$mutate" "$tmp/ticks.trace" "$tmp/mc.trace" console-out 5 >"$tmp/mc.pos" 2>/dev/null || fail "trace_mutate failed"
	rr_replay "$tmp/mc.trace" mrep
	rc=$?
	[ $rc -eq 6 ] || fail "replay of the mutated trace exited $rc, want 6"
	rm -rf "$rec"
	mkdir -p "$rec"
	cp "$tmp"/{ticks,blk,net,mc}.trace "$tmp"/{ticks,blk,net}.out "$tmp/mrep.err" "$tmp/mc.pos" "$rec/" ||
		fail "cannot keep the recordings in $rec"
	pass "recorded ticks, blk, net and a diverging replay into $rec"
fi
cp "$rec"/* "$tmp/" || fail "no recordings in $rec (trace_tools_record makes them)"

# ---- console -------------------------------------------------------------------------------
for p in ticks blk net; do
	show=("$tmp/$p.con.json" "$tmp/$p.out")
	"$detvm" console --json "$tmp/$p.trace" >"$tmp/$p.con.json" || fail "console --json $p exited $?"
	py '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
text = "".join(l["text"] + ("\n" if l["newline"] else "") for l in lines)
sys.exit(0 if text.encode("latin-1") == open(sys.argv[2], "rb").read() else 1)' \
		"$tmp/$p.con.json" "$tmp/$p.out" || fail "the $p transcript is not the recorded console"
	"$detvm" console "$tmp/$p.trace" >"$tmp/$p.con" || fail "console $p exited $?"
	[ "$(wc -l <"$tmp/$p.con")" -eq "$(wc -l <"$tmp/$p.out")" ] || fail "console $p: not one line per console line"
	"$detvm" dump "$tmp/$p.trace" >"$tmp/$p.dump" || fail "dump $p exited $?"
	# the exit at each line's position wrote to COM1's data port
	while read -r pos _; do
		grep -q "^[0-9]* @$pos exit pio out port=0x3f8 " "$tmp/$p.dump" ||
			fail "console $p: position $pos is not a write to COM1"
	done <"$tmp/$p.con"
done
# the guest clock follows the host: a loaded host makes the time more than a second
grep -Eq '^ +[0-9]+  [0-9]+\.[0-9]{6} s  RESULT ticks PASS ' "$tmp/ticks.con" || { show=("$tmp/ticks.con"); fail "console text lacks 'POSITION  TIME  RESULT ...'"; }

# ---- stats ---------------------------------------------------------------------------------
for p in ticks blk net; do
	show=("$tmp/$p.stats" "$tmp/$p.dstats")
	"$detvm" stats --json "$tmp/$p.trace" >"$tmp/$p.stats" || fail "stats $p exited $?"
	"$detvm" dump --stats --json "$tmp/$p.trace" >"$tmp/$p.dstats" || fail "dump --stats $p exited $?"
	py '
import json, sys, re
s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
assert s["kinds"] == d["kinds"], ("kinds", s["kinds"], d["kinds"])
for k in ("record_bytes", "file_bytes", "total_events"):
    assert s[k] == d[k], (k, s[k], d[k])
assert s["exits"] == d["kinds"]["exit"]["events"], (s["exits"], d["kinds"]["exit"])
sums = {}
for row in s["seconds"]:
    for k, n in row["events"].items():
        sums[k] = sums.get(k, 0) + n
assert sums == {k: v["events"] for k, v in s["kinds"].items()}, sums
assert abs(s["compression_ratio"] - s["record_bytes"] / s["file_bytes"]) < 0.01
# guest time: the latest of the guest clock values the trace holds
dump = open(sys.argv[3]).read()
cp = [int(m) for m in re.findall(r" checkpoint .* t=(\d+)ns", dump)]
clock = [int(m) for m in re.findall(r" (?:clock source=\S+ value|timer id=\d+ t)=(\d+)ns", dump)]
assert cp and clock and s["guest_ns"] == max(cp + clock) >= cp[-1], (s["guest_ns"], cp, clock)
gaps = s["longest_gaps"]
# consecutive exits: the next position, or the one after where a step point (a position
# with no exit) came between them, as it does on a loaded host
assert gaps and all(g["to_position"] - g["from_position"] in (1, 2) for g in gaps), gaps
assert [g["gap_ns"] for g in gaps] == sorted((g["gap_ns"] for g in gaps), reverse=True)
if sys.argv[4] == "ticks":
    # HLTs waiting for the next 10 ms tick (later on a loaded host, never sooner); under
    # an emulator a stretch of guest code without exits can be longer still
    hlt = [g["gap_ns"] for g in gaps if g["from_exit"] == "hlt"]
    assert hlt and 9000000 <= max(hlt) <= 1000000000, gaps
' "$tmp/$p.stats" "$tmp/$p.dstats" "$tmp/$p.dump" "$p" 2>"$tmp/py.err" || { show+=("$tmp/py.err"); fail "stats $p disagrees with dump --stats"; }
done
"$detvm" stats "$tmp/ticks.trace" >"$tmp/ticks.stext" || fail "stats (text) exited $?"
if ! grep -q "^longest gaps between exits" "$tmp/ticks.stext" || ! grep -q "^compression ratio" "$tmp/ticks.stext"; then
	show=("$tmp/ticks.stext")
	fail "stats text lacks its sections"
fi

# ---- diff ----------------------------------------------------------------------------------
t=$tmp/ticks.trace
"$detvm" diff "$t" "$t" >"$tmp/d.out" || { show=("$tmp/d.out"); fail "diff of a trace with itself exited $?"; }
n=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["total_events"])' "$tmp/ticks.stats")
grep -q "^the traces are the same: $n events$" "$tmp/d.out" || { show=("$tmp/d.out"); fail "diff with itself: no 'the same: $n events'"; }
"$mutate" "$t" "$tmp/copy.trace" timer 1 0 >/dev/null 2>&1 || fail "trace_mutate copy failed"
"$detvm" diff "$t" "$tmp/copy.trace" >"$tmp/d.out" || { show=("$tmp/d.out"); fail "diff with a faithful copy exited $?"; }
for change in "console-out 5" "exit-data 100" "timer 3"; do
	# shellcheck disable=SC2086 # "KIND N": two words
	pos=$("$mutate" "$t" "$tmp/m.trace" $change 2>/dev/null) || fail "trace_mutate $change failed"
	show=("$tmp/d.out")
	"$detvm" diff "$t" "$tmp/m.trace" >"$tmp/d.out"
	rc=$?
	[ $rc -eq 1 ] || fail "diff with '$change' (position $pos) exited $rc, want 1"
	grep -q "^first difference at position $pos " "$tmp/d.out" || fail "diff with '$change': not at position $pos"
	[ "$(grep -c "^  [AB]: [0-9]* @$pos " "$tmp/d.out")" -eq 2 ] || fail "diff with '$change': both sides not shown at @$pos"
	"$detvm" diff --json "$t" "$tmp/m.trace" >"$tmp/d.json"
	[ $? -eq 1 ] || fail "diff --json with '$change' did not exit 1"
	py 'import json,sys; d=json.load(open(sys.argv[1])); f=d["first_difference"]
sys.exit(0 if not d["equal"] and f["position"] == int(sys.argv[2]) and f["a"] != f["b"] else 1)' "$tmp/d.json" "$pos" ||
		{ show=("$tmp/d.json"); fail "diff --json with '$change': wrong first_difference"; }
done
m_console_pos=$(cat "$tmp/mc.pos")
"$detvm" diff "$t" "$tmp/blk.trace" >"$tmp/d.out"
[ $? -eq 1 ] || fail "diff ticks blk did not exit 1"
if ! grep -q "^header cmdline differs:" "$tmp/d.out" || ! grep -q "^header disks differs:" "$tmp/d.out"; then
	show=("$tmp/d.out")
	fail "diff ticks blk does not name the cmdline and disks"
fi

# ---- export --chrome -----------------------------------------------------------------------
for p in ticks blk net; do
	show=("$tmp/$p.chrome.err")
	"$detvm" export --chrome "$tmp/$p.trace" -o "$tmp/$p.json" 2>"$tmp/$p.chrome.err" || fail "export $p exited $?"
	py '
import json, sys, collections
d = json.load(open(sys.argv[1]))["traceEvents"]
tracks = {e["tid"]: e["args"]["name"] for e in d if e["ph"] == "M" and e["name"] == "thread_name"}
got = collections.Counter((tracks[e["tid"]], e["cat"]) for e in d if e["ph"] in "iX")
exits = json.load(open(sys.argv[2]))["exits"]
assert got[("exits", "exit")] == exits, (got, exits)
want = [("interrupts", "irq"), ("console", "console"), ("checkpoints", "checkpoint"),
        ("clock and timers", "clock")]
want += {"ticks": [("exits", "hlt"), ("clock and timers", "timer")], "blk": [("disk I/O", "disk")],
         "net": [("network I/O", "net_rx"), ("network I/O", "net")]}[sys.argv[3]]
missing = [w for w in want if not got[w]]
assert not missing, (missing, got)
assert all(isinstance(e["ts"], (int, float)) for e in d if e["ph"] != "M")
lines = [e["name"] for e in d if e.get("cat") == "console"]
assert "\n".join(lines) + "\n" == open(sys.argv[4], encoding="latin-1").read(), lines
' "$tmp/$p.json" "$tmp/$p.stats" "$p" "$tmp/$p.out" 2>"$tmp/py.err" || { show+=("$tmp/py.err"); fail "export $p: wrong Chrome trace"; }
done

# ---- report: the pages and what they must show, for report_chromium.sh (host side: no KVM
# needed there, and Chromium under the KVM host VM's emulator takes minutes a page)
rm -rf "$pages"
mkdir -p "$pages"
for p in ticks blk net; do
	"$detvm" report "$tmp/$p.trace" -o "$pages/$p.html" || fail "report $p exited $?"
	cp "$tmp/$p.out" "$pages/$p.out"
done
"$detvm" report "$tmp/mc.trace" -o "$pages/div.html" --replay-log "$tmp/mrep.err" || fail "report --replay-log exited $?"
echo "$m_console_pos" >"$pages/div.pos"

# ---- bad traces, usage ---------------------------------------------------------------------
read -ra layout <<<"$(rr_layout "$t")"
head -c $((layout[1] + 40)) "$t" >"$tmp/trunc.trace"        # cut inside block 1
cp "$t" "$tmp/corrupt.trace"
printf '\xff\x00\xff' | dd of="$tmp/corrupt.trace" bs=1 seek=$((layout[1] + 60)) conv=notrunc 2>/dev/null
for bad in trunc corrupt; do
	b=$tmp/$bad.trace
	while IFS='|' read -r what outfile; do
		rm -f "$tmp/o.file"
		# shellcheck disable=SC2086 # $what: a tool and its words
		eval "\"$detvm\" $what" >"$tmp/o.out" 2>"$tmp/o.err"
		rc=$?
		show=("$tmp/o.err" "$tmp/o.out")
		rr_no_crash $rc "$tmp/o.err" "$what on $bad"
		[ $rc -eq 7 ] || fail "'$what' on a $bad trace exited $rc, want 7"
		[ "$(wc -l <"$tmp/o.err")" -eq 1 ] || fail "'$what' on a $bad trace: not one line on stderr"
		[ ! -s "$tmp/o.out" ] || fail "'$what' on a $bad trace printed on stdout"
		[ -z "$outfile" ] || [ -z "$(ls "$tmp"/o.file* 2>/dev/null)" ] || fail "'$what' on a $bad trace left an output file"
	done <<EOF2
stats "$b"|
stats --json "$b"|
console "$b"|
console --json "$b"|
diff "$b" "$t"|
diff "$t" "$b"|
diff --json "$t" "$b"|
export --chrome "$b" -o "$tmp/o.file"|1
report "$b" -o "$tmp/o.file"|1
EOF2
done
for cmd in "stats" "console" "diff $t" "export --chrome $t" "export $t -o $tmp/o.file" "report $t" "stats --bogus $t"; do
	# shellcheck disable=SC2086 # words
	"$detvm" $cmd >/dev/null 2>"$tmp/o.err"
	rc=$?
	[ $rc -eq 2 ] || fail "'detvm $cmd' exited $rc, want 2 (usage)"
	[ "$(wc -l <"$tmp/o.err")" -eq 1 ] || fail "'detvm $cmd': not one line on stderr"
done
for c in stats diff console export report; do
	"$detvm" $c --help >"$tmp/help" || fail "detvm $c --help exited $?"
	grep -q "^usage: detvm $c" "$tmp/help" || fail "detvm $c --help shows no usage line"
done
pass "console, stats, diff, export, report on ticks/blk/net traces; bad traces exit 7"
