#!/usr/bin/env bash
# Re-protection: after a failover the backup that went live (started with --control) gets
# a new backup (`ft backup --protect` its control socket) without stopping, and survives a
# second failover. Real etcd arbiter, prog=journal. Asserts, for each trial: the first
# backup goes live (generation 1), hands its running state to the new backup (pre-copy,
# then a pause it reports), and becomes its primary; kill -9 of it at a random later point:
# the new backup wins generation 2, goes live and the guest completes; the console an
# outside reader sees over all three sides has no gap and equals a plain run's; the shared
# disk equals a plain run's. Then: the new backup killed instead -> the re-protected VM
# wins generation 2 and goes on alone, console and disk still a plain run's; a backup
# that is not live refuses to be protected, and nothing else changes.
# usage: ft_reprotect.sh DETVM GUEST_ELF [TRIALS (default 3)]
set -u
detvm=$1 elf=$2 trials=${3:-3}
. "$(dirname "$0")/ft_lib.sh"
ft_init ft_reprotect
n=300
etcd_start
plain_journal $n

# trial DIR KILL: first failover, re-protection, then kill -9 of KILL (b1: the
# re-protected VM, b2: its new backup); leaves the survivor's exit status in $rc
trial() {
	local d=$1 victim=$2
	mkdir -p "$d"
	make_disk "$d/disk.img"
	backup_args=(--control "$d/ctl")
	start_pair "$d" $((30000 + RANDOM % 20000)) "$etcd_url/detvm-test/$(basename "$d")" --disk "$d/disk.img" \
		--cmdline "prog=journal n=$n"
	backup_args=()
	wait_lines "$d/p.con" journal $((5 + RANDOM % 30)) || fail "$d: the primary printed too little"
	kill -9 "$ppid"
	wait "$ppid" 2>/dev/null
	ppid=
	for _ in $(seq 600); do grep -q "^detvm: live at exit" "$d/b.err" && break; sleep 0.05; done
	grep -q "won generation 1 at the arbiter" "$d/b.err" || fail "$d: the first backup did not win generation 1"
	local port=$((30000 + RANDOM % 20000))
	"$detvm" ft backup --listen "127.0.0.1:$port" --key "$(ft_key)" --trace "$d/b2.trace" --arbiter "$etcd_url/detvm-test/$(basename "$d")" \
		--dead-ms "$dead_ms" --protect "$d/ctl" --disk "$d/disk.img" --console-seq "$d/b2.seq" -s "file:$d/b2.con" -v \
		2>"$d/b2.err" </dev/null &
	b2pid=$!
	for _ in $(seq 600); do grep -q "protected by the backup\|re-protection by .* failed" "$d/b.err" && break; sleep 0.05; done
	grep -q "protected by the backup" "$d/b.err" || fail "$d: the live VM was not re-protected"
	local before
	before=$(lines "$d/b.con" journal)
	wait_lines "$d/b.con" journal $((before + 3 + RANDOM % 30)) || fail "$d: the re-protected VM stopped printing"
	if [ "$victim" = b1 ]; then
		kill -9 "$bpid"
		wait "$bpid" 2>/dev/null
		bpid=
		wait "$b2pid"
		rc=$?
		b2pid=
	else
		kill -9 "$b2pid"
		wait "$b2pid" 2>/dev/null
		b2pid=
		wait "$bpid"
		rc=$?
		bpid=
	fi
}

# same_as_plain DIR SIDES...: the reader's console over SIDES and the disk equal a plain run's
same_as_plain() {
	local d=$1 s args=()
	shift
	for s in "$@"; do args+=("$d/$s.con" "$d/$s.seq"); done
	python3 "$ft_console" -o "$d/seen.con" "${args[@]}" 2>"$d/reader.err" ||
		fail "$d: the outside reader found a gap: $(cat "$d/reader.err")"
	cmp -s "$d/seen.con" "$tmp/plain.con" || fail "$d: the console the reader saw differs from a plain run's"
	cmp -s "$d/disk.img" "$tmp/plain.img" || fail "$d: the shared disk differs from a plain run's"
}

pauses=
for t in $(seq "$trials"); do
	d=$tmp/t$t
	trial "$d" b1
	[ $rc -eq 0 ] || fail "$d: the new backup exited $rc after the second failover"
	grep -q "won generation 2 at the arbiter" "$d/b2.err" || fail "$d: the new backup did not win generation 2"
	grep -q "^detvm: live at exit" "$d/b2.err" || fail "$d: the new backup did not go live"
	grep -q "took the primary's running state" "$d/b2.err" || fail "$d: the new backup did not take the state"
	same_as_plain "$d" p b b2
	pauses+=" $(grep -o 'pause [0-9.]* ms' "$d/b.err" | cut -d' ' -f2)"
	rm -f "$d"/*.trace*
done

d=$tmp/alone
trial "$d" b2
[ $rc -eq 0 ] || fail "the re-protected VM exited $rc after its new backup died"
grep -q "won generation 2 at the arbiter: going on alone" "$d/b.err" || fail "the re-protected VM did not go on alone at generation 2"
same_as_plain "$d" p b

# a backup that still follows its primary cannot be protected
d=$tmp/notlive
mkdir -p "$d"
make_disk "$d/disk.img"
backup_args=(--control "$d/ctl")
start_pair "$d" $((30000 + RANDOM % 20000)) "" --disk "$d/disk.img" --cmdline "prog=journal n=40"
backup_args=()
wait_lines "$d/p.con" journal 3 || fail "notlive: the primary printed nothing"
"$detvm" ft backup --listen "127.0.0.1:$((30000 + RANDOM % 20000))" --key "$(ft_key)" --trace "$d/b2.trace" --protect "$d/ctl" \
	--disk "$d/disk.img" --accept-timeout 3 -v 2>"$d/b2.err" </dev/null
b2rc=$?
[ $b2rc -ne 0 ] || fail "a backup of a VM that is not live exited 0"
grep -q "was not protected: this backup is not live" "$d/b2.err" || fail "no 'not live' refusal: $(cat "$d/b2.err")"
wait "$ppid" || fail "notlive: the primary exited $?"
wait "$bpid" || fail "notlive: the backup exited $?"
ppid= bpid=
echo "PASS ft_reprotect: $trials double failovers and a lost new backup, each: no gap, console and disk equal a plain run's; a backup that is not live refuses (${SECONDS}s)"
echo "re-protection pause ms:$pauses"
