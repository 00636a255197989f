#!/usr/bin/env bash
# The report pages of trace_tools.sh (its fixture: PAGES) in headless Chromium from
# Debian: --dump-dom of each page has the SVG timeline with bars in the exit and interrupt
# rows (disk I/O for blk, network I/O for net), every console line of the recording in
# the transcript, no outside resource, "not replayed" without a replay log; the page of
# a replay that diverged says "diverged at exit N" and marks it on the timeline, with the
# trace's events there; a --screenshot of it is a PNG. Runs on the host: no KVM needed.
# usage: report_chromium.sh PAGES ; fails without chromium.
set -u
pages=$1
test_name=report_chromium
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
show=()
fail() {
	echo "FAIL $test_name: $*"
	local f
	for f in "${show[@]}"; do [ -f "$f" ] && { echo "--- ${f#"$tmp"/}"; head -c 4000 "$f"; }; done
	exit 1
}
py() { python3 -c "$@"; }
chromium=$(command -v chromium) || fail "chromium is not installed (scripts/install-deps.sh installs it)"
[ -s "$pages/div.html" ] || fail "no pages in $pages (trace_tools makes them)"
SECONDS=0

# ---- report in headless Chromium ------------------------------------------------------------
# no desktop here: settings in memory (dconf maps a file under XDG_RUNTIME_DIR, which a
# 9p root cannot map), a runtime directory of the test's own
mkdir -m 700 -p "$tmp/xdg"
export XDG_RUNTIME_DIR=$tmp/xdg GSETTINGS_BACKEND=memory
dom() { # dom HTML OUT: the DOM Chromium builds from the page
	"$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/chrome" \
		--dump-dom "file://$1" >"$2" 2>"$tmp/chrome.err" || { local rc=$?; show=("$tmp/chrome.err"); fail "chromium --dump-dom $1 exited $rc"; }
}
html_lines() { py 'import html,sys; [print(html.escape(l.rstrip("\n"), quote=False)) for l in open(sys.argv[1])]' "$1"; }
for p in ticks blk net; do
	! grep -Eq '(src|href)="(https?:)?//' "$pages/$p.html" || fail "report $p refers to an outside resource"
	dom "$pages/$p.html" "$tmp/$p.dom"
	show=("$tmp/$p.dom")
	grep -q '<svg id="timeline"' "$tmp/$p.dom" || fail "report $p: no SVG timeline in the DOM"
	for s in exits interrupts; do
		py 'import re,sys; d=open(sys.argv[1]).read(); g=re.search(r"<g class=\"row\" data-series=\"%s\">(.*?)</g>" % sys.argv[2], d, re.S)
sys.exit(0 if g and "<rect class=\"bar\"" in g.group(1) else 1)' "$tmp/$p.dom" "$s" || fail "report $p: no $s bars"
	done
	grep -q 'not replayed' "$tmp/$p.dom" || fail "report $p without a replay log does not say 'not replayed'"
	while IFS= read -r line; do
		grep -qF "<td>$line</td>" "$tmp/$p.dom" || fail "report $p: console line '$line' not in the DOM"
	done < <(html_lines "$pages/$p.out")
done
want_row() { py 'import re,sys; d=open(sys.argv[1]).read(); g=re.search(r"<g class=\"row\" data-series=\"%s\">(.*?)</g>" % sys.argv[2], d, re.S)
sys.exit(0 if g and "<rect class=\"bar\"" in g.group(1) else 1)' "$1" "$2"; }
want_row "$tmp/blk.dom" "disk I/O" || fail "report blk: no disk I/O bars"
want_row "$tmp/net.dom" "network I/O" || fail "report net: no network I/O bars"
# a replay that diverged: the report says where, on the page and on the timeline
m_console_pos=$(cat "$pages/div.pos")
dom "$pages/div.html" "$tmp/div.dom"
show=("$tmp/div.dom")
grep -q "diverged at exit $m_console_pos, guest time" "$tmp/div.dom" || fail "report: no 'diverged at exit $m_console_pos'"
grep -q '<g id="divergence">' "$tmp/div.dom" || fail "report: the divergence is not on the timeline"
grep -q "^[0-9]* @$m_console_pos exit pio out port=0x3f8" "$tmp/div.dom" || fail "report: no trace context at the divergence"
"$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/chrome" --window-size=1000,900 \
	--screenshot="$tmp/shot.png" "file://$pages/div.html" >/dev/null 2>&1 || fail "chromium --screenshot exited $?"
[ "$(head -c 8 "$tmp/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the screenshot is not a PNG"

echo "PASS $test_name (${SECONDS}s): timelines, transcripts and a divergence in Chromium's DOM; a PNG screenshot"
