#!/usr/bin/env bash
# make demo: boots the demo test guest under detvm and shows its console.
set -euo pipefail
build=${1:-build}
detvm=$build/detvm
guest=$build/guests/detvm-guest.elf
[ -x "$detvm" ] || { echo "demo: $detvm is missing; run make build" >&2; exit 2; }
[ -f "$guest" ] || { echo "demo: $guest is missing; run make build" >&2; exit 2; }
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not usable here; detvm needs KVM" >&2
	exit 2
fi

for prog in hello race; do
	echo "== detvm run --cmdline prog=$prog $guest"
	set +e
	"$detvm" run --timeout 120 --stats --cmdline "prog=$prog" "$guest"
	rc=$?
	set -e
	echo "== exit status $rc"
	[ "$rc" -eq 0 ] || exit "$rc"
done
