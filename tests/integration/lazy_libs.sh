#!/usr/bin/env bash
# Each command loads only what it uses: detvm links neither libcurl, json-c nor Capstone,
# and opens them when a command needs them. A host that lacks one gets, from that command
# only, one line naming the library and its Debian package, and exit 10. A missing
# library is played by a private mount namespace where its file is /dev/null. No KVM.
# usage: lazy_libs.sh DETVM TRACE_BOMB
set -u
detvm=$1 bomb=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=()

needed=$(ldd "$detvm")
for lib in libcurl libjson-c libcapstone; do
	grep -q "$lib\.so" <<<"$needed" && failures+=("detvm is linked with $lib")
done
echo "detvm needs $(grep -c '=>' <<<"$needed") libraries"

libfile() { ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }'; }

# masked LIB EXPECT_RC PATTERN -- ARGS: detvm ARGS with LIB hidden ("" hides nothing)
masked() {
	local lib=$1 want=$2 pattern=$3 file="" rc
	shift 4
	if [ -n "$lib" ]; then
		file=$(libfile "$lib")
		[ -n "$file" ] || { failures+=("$lib: not found by ldconfig"); return; }
	fi
	unshare -m sh -c '[ -z "$1" ] || mount --bind /dev/null "$1" || exit 99; shift; exec timeout 30 "$@"' \
		sh "$file" "$detvm" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	echo "${lib:-nothing hidden}: detvm $1: exit $rc: $(head -c 200 "$tmp/err")"
	if [ $rc -eq 99 ]; then
		failures+=("cannot hide $lib (unshare/mount need root)")
	elif [ $rc -ne "$want" ]; then
		failures+=("${lib:-nothing hidden}: detvm $1 exited $rc, want $want: $(head -c 300 "$tmp/err")")
	elif ! grep -q -- "$pattern" "$tmp/err"; then
		failures+=("${lib:-nothing hidden}: detvm $1 does not say '$pattern': $(cat "$tmp/err")")
	elif [ -n "$lib" ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		failures+=("$lib: detvm $1 said more than one line: $(cat "$tmp/err")")
	fi
}

"$bomb" "$tmp/t.trace" 1 10 || { echo "FAIL: trace_bomb"; exit 1; }
masked libcapstone.so.4 10 "the instruction decoder needs libcapstone.so.4 (Debian package libcapstone4)" -- \
	trace "$tmp/t.trace" -o "$tmp/insns"
# with Capstone there, trace gets as far as reading the forged trace
masked "" 7 "" -- trace "$tmp/t.trace" -o "$tmp/insns"
# the rest of detvm does without it
masked libcapstone.so.4 7 "t.trace: ends at offset" -- dump "$tmp/t.trace"

head -c 32 /dev/urandom >"$tmp/key" && chmod 600 "$tmp/key"
primary=(ft primary --peer 127.0.0.1:1 --key "$tmp/key" -o "$tmp/p.trace" --arbiter etcd://127.0.0.1:1/k /nonexistent.elf)
masked libcurl.so.4 10 "an etcd arbiter needs libcurl.so.4 (Debian package libcurl4)" -- "${primary[@]}"
masked libjson-c.so.5 10 "an etcd arbiter needs libjson-c.so.5 (Debian package libjson-c5)" -- "${primary[@]}"
backup=(ft backup --listen 127.0.0.1:0 --key "$tmp/key" --trace "$tmp/b.trace" --arbiter etcd://127.0.0.1:1/k)
masked libcurl.so.4 10 "an etcd arbiter needs libcurl.so.4" -- "${backup[@]}"
# with both there, the primary gets as far as asking etcd (nobody listens on port 1)
masked "" 13 "etcd at http://127.0.0.1:1 is unreachable" -- "${primary[@]}"
# a file arbiter needs neither: the backup gets as far as waiting for its primary
masked libcurl.so.4 10 "no peer connected to 127.0.0.1" -- ft backup --listen 127.0.0.1:0 --key "$tmp/key" \
	--trace "$tmp/b2.trace" --arbiter "file:$tmp/arb" --accept-timeout 1

if [ ${#failures[@]} -gt 0 ]; then
	printf 'FAIL: %s\n' "${failures[@]}"
	exit 1
fi
echo "PASS: lazy_libs"
