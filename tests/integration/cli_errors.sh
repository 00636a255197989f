#!/usr/bin/env bash
# Bad input to the CLI: every case must end with exit status 2 and one line on stderr
# that starts "detvm", never a crash.
set -u
detvm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0

expect() {	# expect STATUS PATTERN -- ARGS...
	local want=$1 pattern=$2
	shift 3
	# a bound: an input that blocks (a FIFO) must fail the case, not hang the test
	timeout -k 5 30 "$detvm" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$?
	local lines where=$tmp/err
	lines=$(wc -l <"$tmp/err")
	[ "$want" -eq 0 ] && where=$tmp/out	# success prints on stdout
	if [ "$rc" -ne "$want" ] || ! grep -q -- "$pattern" "$where" ||
		{ [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; }; then
		echo "FAIL: detvm $* -> status $rc (want $want), stderr:"
		sed 's/^/    /' "$tmp/err"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}

: >"$tmp/empty"
printf '\x7fELF\x02\x01\x01' >"$tmp/truncated-elf"
head -c 65536 /dev/urandom >"$tmp/garbage"
truncate -s 2G "$tmp/huge"
head -c 2048 /dev/zero >"$tmp/zeros"
# a bzImage header that claims the 2.03 protocol: too old for the 64-bit entry
python3 - "$tmp/old-bzimage" <<'PY'
import struct, sys
img = bytearray(8192)
img[0x1f1] = 4                                   # setup_sects
struct.pack_into('<H', img, 0x1fe, 0xaa55)
struct.pack_into('<I', img, 0x202, 0x53726448)   # "HdrS"
struct.pack_into('<H', img, 0x206, 0x0203)
open(sys.argv[1], 'wb').write(img)
PY

expect 2 "no command given" -- 
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "no IMAGE given" -- run
expect 2 "unknown option '--bogus'" -- run --bogus "$tmp/zeros"
expect 2 "needs a value" -- run "$tmp/zeros" --mem
expect 2 "bad --mem 'lots'" -- run --mem lots "$tmp/zeros"
expect 2 "bad --mem" -- run --mem 1K "$tmp/zeros"
expect 2 "bad --timeout" -- run --timeout -3 "$tmp/zeros"
expect 2 "bad --serial" -- run --serial tcp:1 "$tmp/zeros"
expect 2 "more than one IMAGE" -- run "$tmp/zeros" "$tmp/zeros"
expect 2 "cannot open image" -- run "$tmp/does-not-exist"
expect 2 "is empty" -- run "$tmp/empty"
expect 2 "is not a regular file" -- run "$tmp"
expect 2 "too large" -- run "$tmp/huge"
expect 2 "truncated\|not a bzImage\|too short" -- run "$tmp/truncated-elf"
expect 2 "not a bzImage or an ELF" -- run "$tmp/garbage"
expect 2 "not a bzImage or an ELF" -- run "$tmp/zeros"
expect 2 "protocol" -- run "$tmp/old-bzimage"
expect 2 "cannot open initrd" -- run --initrd "$tmp/nope" "$tmp/zeros"
expect 2 "cannot open disk" -- run --disk "$tmp/nope" "$tmp/zeros"
expect 2 "at least 512 bytes" -- run --disk "$tmp/empty" "$tmp/zeros"
expect 2 "unknown network backend" -- run --net foo:bar "$tmp/zeros"
expect 2 "unexpected argument" -- doctor --now
# images must be regular files: a FIFO (no writer: a plain open would wait for ever) or
# a device (/dev/zero never ends) is refused at once
mkfifo "$tmp/fifo"
expect 2 "image '$tmp/fifo' is not a regular file" -- run "$tmp/fifo"
expect 2 "image '/dev/zero' is not a regular file" -- run /dev/zero
expect 2 "initrd '$tmp/fifo' is not a regular file" -- run --initrd "$tmp/fifo" "$tmp/zeros"
expect 2 "disk '$tmp/fifo' must be a regular file" -- run --disk "$tmp/fifo,ro" "$tmp/zeros"
expect 2 "disk '/dev/zero' must be a regular file" -- run --disk /dev/zero "$tmp/zeros"
expect 2 "cannot open snapshot '$tmp/fifo': not a regular file" -- run --restore "$tmp/fifo"
# chaos delivery: a seed is a number 0..2^64-1; the bounds need --chaos
for cmd in run record; do
	out=()
	[ $cmd = record ] && out=(-o "$tmp/t")
	expect 2 "bad --chaos 'abc'" -- $cmd --chaos abc -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos '-1'" -- $cmd --chaos -1 -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos '12x'" -- $cmd --chaos 12x -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos ''" -- $cmd --chaos '' -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos '18446744073709551616'" -- $cmd --chaos 18446744073709551616 -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos-max '0'" -- $cmd --chaos 1 --chaos-max 0 -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos-max '-5'" -- $cmd --chaos 1 --chaos-max -5 -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos-max 'many'" -- $cmd --chaos 1 --chaos-max many -o "$tmp/t" "$tmp/zeros"
	expect 2 "bad --chaos-pause-us '-1'" -- $cmd --chaos 1 --chaos-pause-us -1 -o "$tmp/t" "$tmp/zeros"
	expect 2 "need --chaos SEED" -- $cmd --chaos-max 4 "${out[@]}" "$tmp/zeros"
	expect 2 "need --chaos SEED" -- $cmd --chaos-pause-us 0 "${out[@]}" "$tmp/zeros"
done
expect 2 "option '--chaos' needs a value" -- record -o "$tmp/t" "$tmp/zeros" --chaos
expect 2 "unknown option '--chaos'" -- ft primary --chaos 1 -o "$tmp/t" --peer 127.0.0.1:1 "$tmp/zeros"
expect 2 "unknown option '--output'" -- run --output "$tmp/t" "$tmp/zeros"
for cmd in run doctor help version; do
	expect 0 "detvm" -- "$cmd" --help
done
"$detvm" --help | grep -q "^  run " || { echo "FAIL: --help does not list run"; fail=$((fail + 1)); }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
