#!/usr/bin/env bash
# install_man BUILD_DIR TRACE_PY_FIXTURE: what `make install` puts in place, and the man page against the
# --help texts. No KVM needed.
#  1. `cmake --install BUILD_DIR --prefix /usr` with DESTDIR=a temp dir (what `make install
#     DESTDIR=... PREFIX=/usr` runs) installs bin/detvm, share/man/man1/detvm.1, its bash
#     completion and share/detvm/ (ft_console.py, trace_read.py and its schema) and nothing outside;
#  2. the installed detvm prints its --help, ft_console.py its usage, and trace_read.py
#     reads a fixture trace (tests/unit/logs) with the schema installed beside it;
#  3. groff -ww and man --warnings render the page without a warning;
#  4. man_options.py: every command of `detvm --help` has its subsection and every long
#     option of its --help appears there; and the check itself fails on a copy of the page
#     with an option or a command taken out (so the page cannot fall behind silently).
set -euo pipefail
build=$(cd "$1" && pwd)
fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/detvm-install.XXXXXX")
manifest=$build/install_manifest.txt
# cmake --install rewrites the build's manifest: keep a real install's for make uninstall
[ -f "$manifest" ] && cp -p "$manifest" "$tmp/manifest.keep"
restore() {
	if [ -f "$tmp/manifest.keep" ]; then cp -p "$tmp/manifest.keep" "$manifest"; else rm -f "$manifest"; fi
	rm -rf "$tmp"
}
trap restore EXIT
fail() { echo "install_man: FAIL: $*" >&2; exit 1; }

root=$tmp/root
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
expect="usr/bin/detvm
usr/share/bash-completion/completions/detvm
usr/share/detvm/FORMAT.md
usr/share/detvm/ft_console.py
usr/share/detvm/trace.desc
usr/share/detvm/trace.proto
usr/share/detvm/trace_read.py
usr/share/man/man1/detvm.1"
got=$(cd "$root" && find . -type f | sed 's,^\./,,' | LC_ALL=C sort)
[ "$got" = "$expect" ] || fail "installed files differ from the expected set:
$(diff <(echo "$expect") <(echo "$got") || true)"
for f in usr/bin/detvm usr/share/detvm/ft_console.py usr/share/detvm/trace_read.py; do
	[ -x "$root/$f" ] || fail "$f is not executable"
done
echo "install_man: installed $(echo "$got" | wc -l) files under DESTDIR/usr"

bin=$root/usr/bin/detvm
page=$root/usr/share/man/man1/detvm.1
"$bin" --help >"$tmp/help" || fail "installed detvm --help exited $?"
grep -q '^usage: detvm COMMAND' "$tmp/help" || fail "installed detvm --help: no usage line"
[[ $("$bin" version) == "detvm "* ]] || fail "installed detvm version"
python3 "$root/usr/share/detvm/ft_console.py" --help >"$tmp/ftc" || fail "installed ft_console.py --help exited $?"
grep -q '^usage: ft_console.py' "$tmp/ftc" || fail "installed ft_console.py --help: no usage line"
# the installed trace_read.py reads a trace with the schema beside it: no --desc, no
# protoc on PATH to compile one (77: python3-protobuf or python3-lz4 missing)
(cd "$tmp" && "$fixture" py.trace py.expect) || fail "trace_py_fixture"
rc=0
env PATH=/nonexistent /usr/bin/python3 "$root/usr/share/detvm/trace_read.py" --expect "$tmp/py.expect" \
	"$tmp/py.trace" >"$tmp/py.out" 2>&1 || rc=$?
case $rc in
0) echo "install_man: the installed trace_read.py read a fixture trace with the installed schema" ;;
77) echo "install_man: note: $(tail -1 "$tmp/py.out") (scripts/install-deps.sh installs them)" ;;
*) fail "installed trace_read.py exited $rc: $(tail -3 "$tmp/py.out")" ;;
esac

# the installed bash completion: commands, ft's sides, each command's options
completes() {	# WANT WORD...: completing the last word offers WANT
	local got
	got=$(bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _detvm; echo "${COMPREPLY[*]}"' \
		sh "$root/usr/share/bash-completion/completions/detvm" "$bin" "${@:2}")
	[[ " $got " == *" $1 "* ]] || fail "bash completion of '${*:2}' offers '$got', not $1"
}
completes replay r
completes report r
completes primary ft p
completes --mem run --m
completes --accept-timeout ft backup --acc
completes --gdb-wait replay --gdb
echo "install_man: bash completion offers commands and each one's options"

# the page renders without a warning: groff at its strictest, then man(1) as a user runs it
export LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat
groff -man -Tutf8 -ww -z "$page" 2>"$tmp/groff.err" || fail "groff exited $?: $(cat "$tmp/groff.err")"
[ ! -s "$tmp/groff.err" ] || fail "groff warnings:
$(cat "$tmp/groff.err")"
man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/man.err" || fail "man -l exited $?: $(cat "$tmp/man.err")"
[ ! -s "$tmp/man.err" ] || fail "man -l warnings:
$(cat "$tmp/man.err")"
grep -q '^NAME' "$tmp/page.txt" || fail "man -l rendered no NAME section"
echo "install_man: the page renders without warnings ($(wc -l <"$tmp/page.txt") lines)"

# every command and option of the --help texts is in the page
python3 "$here/man_options.py" "$bin" "$page" || fail "the man page lacks options of the --help texts (above)"

# the check catches a page that fell behind: an option, a short form, a command taken out
check_catches() {  # WHAT SED-SCRIPT EXPECTED-MESSAGE
	sed "$2" "$page" >"$tmp/behind.1"
	cmp -s "$page" "$tmp/behind.1" && fail "negative control '$1': the sed script changed nothing"
	if python3 "$here/man_options.py" "$bin" "$tmp/behind.1" >"$tmp/behind.out" 2>&1; then
		fail "man_options.py passed a page without $1"
	fi
	grep -qF -- "$3" "$tmp/behind.out" || fail "man_options.py on a page without $1 did not say '$3':
$(cat "$tmp/behind.out")"
}
check_catches "replay's --checkpoint-mem" '/checkpoint\\-mem/d' "detvm replay --checkpoint-mem"
check_catches "snapshot's -C" 's/^\.BR \\-C ", " /.BR /' "detvm snapshot -C"
check_catches "the doctor subsection" 's/^\.SS "detvm doctor"/.SS "doctor"/' "detvm doctor: no .SS"
echo "install_man: the check fails on pages without an option, a short option or a command"
echo "install_man: OK"
