#!/usr/bin/env bash
# Chaos recording vs plain runs on the `race` guest's lost update. RUNS plain
# `detvm run`s and RUNS `detvm record --chaos SEED` (seeds 1..RUNS) of prog=race with N
# iterations per task, and as many chaos recordings with delays only (--chaos-pause-us
# 0); an update is lost when the counter is below 2N. Prints, side by side: how many runs lost one, the run at which the first loss came, the numbers of
# runs from one loss to the next (samples of "runs until the counter first differs"),
# the counters seen, and the wall time per run.
# usage: chaos_race.sh [BUILD_DIR] [RUNS (50)] [N (10)]
set -u
build=${1:-build}
runs=${2:-50}
n=${3:-10}
detvm="$build/detvm"
elf="$build/guests/detvm-guest.elf"
[ -x "$detvm" ] && [ -r "$elf" ] || { echo "chaos_race: build first (no $detvm or $elf)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
want=$((2 * n))

# one run: prints its counter ("fail" if the guest did not print one)
one() {
	local out="$tmp/out" c
	"$@" --timeout 120 --cmdline "prog=race n=$n" "$elf" >"$out" 2>"$tmp/err" </dev/null
	c=$(sed -n 's/^INFO race counter=\([0-9][0-9]*\)$/\1/p' "$out")
	echo "${c:-fail}"
}

# mode -> file of counters, one per run, and the seconds all runs took
measure() {
	local mode=$1 start end
	start=$(date +%s.%N)
	for i in $(seq "$runs"); do
		case $mode in
		plain) one "$detvm" run ;;
		chaos) one "$detvm" record --chaos "$i" -o "$tmp/chaos.trace" ;;
		delays) one "$detvm" record --chaos "$i" --chaos-pause-us 0 -o "$tmp/chaos.trace" ;;
		esac
	done >"$tmp/$mode.counters"
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" -v r="$runs" 'BEGIN { printf "%.2f s", (b - a) / r }' >"$tmp/$mode.time"
}

# figures of one mode, one per line, for paste
figures() {
	awk -v want="$want" -v runs="$runs" -v t="$(cat "$tmp/$1.time")" '
		{ seen[$1]++; if ($1 != want) { lost++; if (!first) first = NR } }
		END {
			printf "%d/%d (%.0f%%)\n", lost, runs, 100 * lost / runs
			print first ? first : "never in " runs
			print lost ? sprintf("%.1f", runs / lost) : ">" runs
			for (v = 0; v <= want; v++) if (v in seen) hist = hist sprintf("%dx%d ", v, seen[v])
			if ("fail" in seen) hist = hist sprintf("failx%d", seen["fail"])
			print hist
			print t
		}' "$tmp/$1.counters"
}

measure plain
measure chaos
measure delays
printf '%s\n' "runs losing an update" "first loss at run" \
	"runs per loss (mean)" "counters (value x runs)" "wall time per run" >"$tmp/labels"
figures plain >"$tmp/plain.fig"
figures chaos >"$tmp/chaos.fig"
figures delays >"$tmp/delays.fig"
echo "race guest: 2 tasks x $n unlocked increments (no-race counter $want), $runs runs each"
printf '%-25s| %-24s| %-32s| %s\n' "" "plain detvm run" "detvm record --chaos 1..$runs" "--chaos, --chaos-pause-us 0"
paste -d '\t' "$tmp/labels" "$tmp/plain.fig" "$tmp/chaos.fig" "$tmp/delays.fig" |
	awk -F '\t' '{ printf "%-25s| %-24s| %-32s| %s\n", $1, $2, $3, $4 }'
echo "runs from one loss to the next (samples of runs until the counter first differs):"
for mode in plain chaos delays; do
	printf '  %-7s %s\n' "$mode:" "$(awk -v want="$want" '$1 != want { printf "%s%d", sep, NR - prev; sep = " "; prev = NR }' "$tmp/$mode.counters")"
done
grep -q fail "$tmp/plain.counters" "$tmp/chaos.counters" "$tmp/delays.counters" && { echo "chaos_race: some runs printed no counter" >&2; exit 1; }
exit 0
