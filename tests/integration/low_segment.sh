#!/usr/bin/env bash
# A PVH ELF linked with ld -Ttext=0x100000 (its ELF headers in a LOAD segment just below
# 1 MiB, in the e820-reserved BIOS area) boots under detvm as under QEMU: the image really
# has such a segment, detvm runs it, the guest prints its byte and powers off cleanly.
# usage: low_segment.sh DETVM ELF
set -u
detvm=$1 elf=$2
fail() { echo "FAIL guest_low_segment: $*"; exit 1; }
low=
while read -r type _ _ paddr _; do
	[ "$type" = LOAD ] && [ $((paddr)) -ge $((0x9fc00)) ] && [ $((paddr)) -lt $((0x100000)) ] && low=$paddr
done < <(readelf -lW "$elf")
[ -n "$low" ] || fail "$elf has no LOAD segment between 0x9fc00 and 1 MiB: the test lost its point"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$detvm" run --timeout 60 "$elf" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
[ $rc -eq 0 ] || fail "detvm exited $rc: $(cat "$tmp/err")"
[ "$(tr -d '\r' <"$tmp/out")" = R ] || fail "console was '$(cat "$tmp/out")', want 'R'"
echo "PASS guest_low_segment: the segment at $low loaded, the guest ran and powered off"
