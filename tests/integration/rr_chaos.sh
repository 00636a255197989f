#!/usr/bin/env bash
# Chaos recording (`detvm record --chaos SEED`) of prog=race n=10, where plain runs
# hardly ever lose an update (the first timer tick comes after worker 0's ten
# increments). Asserts:
#  - chaos recordings with seeds 1..10 exit 0, the header carries seed and bounds, and
#    each replays exactly (exit 0, the same counter, the same console) with no flag;
#  - at least one of those ten loses an update (counter < 20); measured ~50% a run
#    (tests/bench/chaos_race.sh), so all ten keeping it has odds of about 1 in 1000;
#  - two recordings with the same seed carry the same chaos header (their traces differ:
#    the host's timing still picks where ticks fall);
#  - a recording that held an interrupt (--stats: delays of more than 0 exits) replays
#    only because its trace says so: with the chaos field stripped, replay diverges (6);
#  - a chaos recording of kspin (ticks held through `step` delivery points) replays;
#  - `detvm run --chaos` runs the guest to its end and --stats reports the perturbation.
# usage: rr_chaos.sh DETVM GUEST_ELF TRACE_MUTATE ; fails without /dev/kvm.
set -u
# shellcheck source=rr_lib.sh
source "$(dirname "$0")/rr_lib.sh"
rr_init rr_chaos "$1" "$2"
mutate=$3
n=10
want=$((2 * n))
runs=10

counter() {
	sed -n 's/^INFO race counter=\([0-9][0-9]*\)$/\1/p' "$1"
}

lost=0 held=
for seed in $(seq $runs); do
	rr_record "$tmp/c$seed.trace" "rec$seed" --chaos "$seed" --cmdline "prog=race n=$n" </dev/null
	rc=$?
	rr_no_crash $rc "$tmp/rec$seed.err" "record --chaos $seed"
	[ $rc -eq 0 ] || fail "record --chaos $seed exited $rc"
	c=$(counter "$tmp/rec$seed.out")
	[ -n "$c" ] || fail "record --chaos $seed printed no race counter"
	grep -q "^chaos: seed $seed, max delay 16 exits, max pause 5000 us; " "$tmp/rec$seed.err" ||
		fail "record --chaos $seed --stats printed no chaos line"
	"$detvm" dump "$tmp/c$seed.trace" 2>/dev/null | grep -q "^chaos: seed $seed, max delay 16 exits, max pause 5000 us$" ||
		fail "the trace of --chaos $seed has no chaos header"
	rr_replay "$tmp/c$seed.trace" "rep$seed"
	rc=$?
	rr_no_crash $rc "$tmp/rep$seed.err" "replay of --chaos $seed"
	[ $rc -eq 0 ] || fail "replay of the --chaos $seed recording exited $rc"
	[ "$(counter "$tmp/rep$seed.out")" = "$c" ] || fail "replay of --chaos $seed printed another counter than $c"
	cmp -s "$tmp/rec$seed.out" "$tmp/rep$seed.out" || fail "replay of --chaos $seed: the console differs"
	[ "$c" -lt "$want" ] && lost=$((lost + 1))
	echo "$c" >>"$tmp/counters"
	# a recording that held an interrupt at least one exit
	[ -z "$held" ] && grep -q "interrupts delayed by [1-9][0-9]* exits" "$tmp/rec$seed.err" && held=$seed
done
seen=$(sort -n "$tmp/counters" | uniq -c | awk '{ printf "%s%sx%s", s, $2, $1; s = " " }')
[ "$lost" -ge 1 ] || fail "no chaos recording of $runs lost an update (counters: $seen)"

# the same seed again: the same header, a trace of its own
rr_record "$tmp/again.trace" again --chaos 1 --cmdline "prog=race n=$n" </dev/null
rc=$?
[ $rc -eq 0 ] || fail "the second record --chaos 1 exited $rc"
h1=$("$detvm" dump "$tmp/c1.trace" | grep '^chaos:')
h2=$("$detvm" dump "$tmp/again.trace" | grep '^chaos:')
[ "$h1" = "$h2" ] || fail "two recordings with seed 1 have different chaos headers: '$h1', '$h2'"
rr_replay "$tmp/again.trace" again-rep
[ $? -eq 0 ] || fail "replay of the second seed-1 recording failed"

# replay follows the trace, not the guest's state: without the chaos field it diverges
[ -n "$held" ] || fail "no recording of $runs held an interrupt (see --stats)"
show=("$tmp/rec$held.err")
"$mutate" "$tmp/c$held.trace" "$tmp/plain.trace" chaos-max 0 >/dev/null 2>"$tmp/mutate.err" ||
	fail "trace_mutate chaos-max 0 failed: $(cat "$tmp/mutate.err")"
rr_replay_refused "$tmp/plain.trace" stripped 6 "diverged at exit .*got interrupt vector" \
	"the --chaos $held recording with its chaos field stripped"

# held interrupts and `step` delivery points together: kspin waits for ticks in a ring-0
# spin without exits, so a held tick is offered again at step points
rr_record "$tmp/kspin.trace" kspin --chaos 5 --cmdline prog=kspin </dev/null
rc=$?
rr_no_crash $rc "$tmp/kspin.err" "record --chaos of kspin"
[ $rc -eq 0 ] || fail "record --chaos 5 of kspin exited $rc"
rr_replay "$tmp/kspin.trace" kspin-rep
rc=$?
[ $rc -eq 0 ] || fail "replay of the kspin chaos recording exited $rc"
cmp -s "$tmp/kspin.out" "$tmp/kspin-rep.out" || fail "replay of the kspin chaos recording: the console differs"

# detvm run --chaos
show=("$tmp/run.out" "$tmp/run.err")
"$detvm" run --stats --timeout 120 --chaos 42 --chaos-max 3 --chaos-pause-us 100 --cmdline "prog=race n=$n" "$elf" \
	>"$tmp/run.out" 2>"$tmp/run.err" </dev/null
rc=$?
rr_no_crash $rc "$tmp/run.err" "run --chaos"
[ $rc -eq 0 ] || fail "run --chaos 42 exited $rc"
[ -n "$(counter "$tmp/run.out")" ] || fail "run --chaos printed no race counter"
grep -q "^chaos: seed 42, max delay 3 exits, max pause 100 us; " "$tmp/run.err" || fail "run --chaos --stats: no chaos line"
pass "$runs chaos recordings replayed exactly, $lost lost an update (counters: $seen); seed $held's trace without its chaos field diverges"
