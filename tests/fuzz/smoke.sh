#!/usr/bin/env bash
# Fuzz smoke test: build every libFuzzer target with clang into build-fuzz/ and run each
# for a short while (FUZZ_SECONDS, default 30). Not part of `make test`.
#
# Convention (so this script never needs editing when a target is added):
#   tests/fuzz/<dir>/CMakeLists.txt   builds its targets only when DETVM_FUZZ is ON and
#                                     the compiler is clang. Every executable it builds
#                                     that defines LLVMFuzzerTestOneInput is run; other
#                                     executables there (seed generators...) are not.
#   tests/fuzz/<dir>/seeds/           optional committed seed inputs; a seeds/ folder
#                                     the build puts in build-fuzz/tests/fuzz/<dir>/ is
#                                     used too.
#   tests/fuzz/<dir>/smoke.args       optional extra libFuzzer flags, one line
#                                     (e.g. -max_len=8192 -rss_limit_mb=2048).
#   tests/fuzz/corpus-<target>/       the growing corpus (git-ignored), kept between runs.
#   build-fuzz/crashes/<target>/      where a crash, leak or timeout input is written.
# Folders without a CMakeLists.txt (corpus-*) are skipped.
#
# Usage: tests/fuzz/smoke.sh [dir...]       (default: every folder)
# Env:   FUZZ_SECONDS (30), BUILD_DIR (build-fuzz), JOBS (nproc)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
secs=${FUZZ_SECONDS:-30}
jobs=${JOBS:-$(nproc)}

for tool in clang nm make; do
	if ! command -v "$tool" >/dev/null; then
		echo "smoke.sh: $tool is required (apt-get install clang llvm binutils make)" >&2
		exit 1
	fi
done

dirs=()
if [ $# -gt 0 ]; then
	dirs=("$@")
else
	for d in "$root"/tests/fuzz/*/; do
		[ -f "$d/CMakeLists.txt" ] && dirs+=("$(basename "$d")")
	done
fi
if [ ${#dirs[@]} -eq 0 ]; then
	echo "smoke.sh: no fuzz targets under tests/fuzz/"
	exit 0
fi

# Instrument everything the targets link for coverage and ASan; each target adds
# -fsanitize=fuzzer itself for its main(). Makefiles, so one folder can be built alone.
cmake -S "$root" -B "$build" -G "Unix Makefiles" -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDETVM_FUZZ=ON \
	-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" >/dev/null

failed=()
ran=0
for d in "${dirs[@]}"; do
	out=$build/tests/fuzz/$d
	if ! make -C "$out" -j"$jobs" --no-print-directory >/dev/null; then
		echo "smoke.sh: tests/fuzz/$d does not build" >&2
		failed+=("$d(build)")
		continue
	fi
	extra=()
	[ -f "$root/tests/fuzz/$d/smoke.args" ] && read -r -a extra <"$root/tests/fuzz/$d/smoke.args"
	for bin in "$out"/*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		# grep without -q reads all of nm's output: no SIGPIPE under pipefail
		nm "$bin" 2>/dev/null | grep ' T LLVMFuzzerTestOneInput$' >/dev/null || continue
		name=$(basename "$bin")
		corpus=$root/tests/fuzz/corpus-$name
		crashes=$build/crashes/$name
		mkdir -p "$corpus" "$crashes"
		inputs=("$corpus")
		for s in "$root/tests/fuzz/$d/seeds" "$out/seeds"; do
			[ -d "$s" ] && inputs+=("$s")
		done
		echo "== $name for ${secs}s (corpus $corpus)"
		ran=$((ran + 1))
		if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$crashes/" \
			"${extra[@]}" "${inputs[@]}"; then
			failed+=("$name")
		fi
	done
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "smoke.sh: FAILED: ${failed[*]} (inputs in $build/crashes/)" >&2
	exit 1
fi
echo "smoke.sh: $ran fuzz target(s) ran ${secs}s each without a finding"
