#!/usr/bin/env bash
# make demo: record the `race` guest (two tasks racing on a counter; the result depends on
# where timer interrupts land), replay it twice, and show the consoles side by side.
set -euo pipefail
build=${1:-build}
detvm=$build/detvm
guest=$build/guests/detvm-guest.elf
[ -x "$detvm" ] || { echo "demo: $detvm is missing; run make build" >&2; exit 2; }
[ -f "$guest" ] || { echo "demo: $guest is missing; run make build" >&2; exit 2; }
# no /dev/kvm here (or DETVM_KVM_TESTS=vm): in the KVM host VM of tests/kvmhost
if [ -z "${DETVM_IN_KVMHOST:-}" ] && { [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ "${DETVM_KVM_TESTS:-}" = vm ]; }; then
	echo "demo: running in the KVM host VM (tests/kvmhost: KVM inside QEMU's emulator, so slow)" >&2
	exec python3 "$(dirname "$0")/../tests/kvmhost/kvmhost.py" run -- "$0" "$@"
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "== three plain runs of the race guest (the counter depends on timing):"
for i in 1 2 3; do
	"$detvm" run -q --cmdline prog=race "$guest" | grep 'race counter' | sed "s/^/   run $i: /"
done

echo "== detvm record -o race.trace --cmdline prog=race $guest"
"$detvm" record -q -o "$dir/race.trace" --cmdline prog=race "$guest" >"$dir/recorded.txt"
echo "== detvm replay race.trace   (twice, no live input)"
"$detvm" replay -q "$dir/race.trace" >"$dir/replay1.txt"
"$detvm" replay -q "$dir/race.trace" >"$dir/replay2.txt"
echo
pr -m -t -w 120 <(sed '1i--- recorded' "$dir/recorded.txt") <(sed '1i--- replayed (2nd)' "$dir/replay2.txt")
echo
"$detvm" dump --stats "$dir/race.trace" 2>/dev/null | head -n 20 || true
echo
if cmp -s "$dir/recorded.txt" "$dir/replay1.txt" && cmp -s "$dir/recorded.txt" "$dir/replay2.txt"; then
	echo "replay identical: yes"
else
	echo "replay identical: no"
	diff "$dir/recorded.txt" "$dir/replay2.txt" || true
	exit 1
fi
