#!/usr/bin/env bash
# Failover: kill -9 of the primary at random points of a guest writing its disk and its
# console every tick (prog=journal), with a real etcd as the arbiter. For each kill,
# asserts: the backup wins the arbiter and goes live, and the guest's work completes
# (exit 0, RESULT PASS); the console an outside reader sees (tools/ft_console.py over
# the primary's then the backup's console and side channel) has no gap and equals a
# plain run's byte for byte, every duplicate dropped by its sequence number and inside the
# window the backup issued again (what the primary had not said it released); the shared
# disk equals a plain run's. Prints the kill points, duplicates and switch times.
# usage: ft_failover.sh DETVM GUEST_ELF [KILLS (default 10; 100 for the long run)]
set -u
detvm=$1 elf=$2 kills=${3:-10}
. "$(dirname "$0")/ft_lib.sh"
ft_init ft_failover
n=100
etcd_start
plain_journal $n
summary=
for k in $(seq "$kills"); do
	d=$tmp/k$k
	mkdir -p "$d"
	make_disk "$d/disk.img"
	at=$((1 + RANDOM % (n - 10)))
	start_pair "$d" $((30000 + RANDOM % 20000)) "$etcd_url/detvm-test/k$k" --disk "$d/disk.img" --cmdline "prog=journal n=$n"
	wait_lines "$d/p.con" journal "$at" || fail "kill $k: the primary printed no $at journal lines within 60 s"
	kill -9 "$ppid"
	wait "$ppid" 2>/dev/null
	ppid=
	wait "$bpid" 2>/dev/null
	brc=$?
	bpid=
	rm -f "$d"/*.trace*	# only logs stay for fail()
	[ $brc -eq 0 ] || fail "kill $k (after $at lines): the backup exited $brc"
	grep -q "won generation 1 at the arbiter" "$d/b.err" || fail "kill $k: the backup did not win the arbiter"
	grep -q "^detvm: live at exit" "$d/b.err" || fail "kill $k: the backup did not go live"
	python3 "$ft_console" -o "$d/seen.con" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$d/reader.err" ||
		fail "kill $k: the outside reader found a gap: $(cat "$d/reader.err")"
	cmp -s "$d/seen.con" "$tmp/plain.con" || fail "kill $k: the console the reader saw differs from a plain run's"
	cmp -s "$d/disk.img" "$tmp/plain.img" || fail "kill $k: the shared disk differs from a plain run's"
	released=$(lines "$d/p.con" journal)
	dup=$(grep -o '[0-9]* duplicate' "$d/reader.err" | cut -d' ' -f1)
	window=$(sed -n 's/.* \([0-9]*\) bytes issued again (the re-issued window).*/\1/p' "$d/b.err")
	[ -n "$window" ] || fail "kill $k: the backup did not say its re-issued window"
	[ "$dup" -le "$window" ] || fail "kill $k: the reader dropped $dup duplicate bytes, more than the $window the backup issued again"
	sw=$(grep -o 'switch took [0-9.]* ms' "$d/b.err" | cut -d' ' -f3)
	summary+=" $at/$released/$dup/$window/$sw"
	rm -rf "$d"
done
echo "PASS ft_failover: $kills kills of the primary, each: backup live, no gap, console and disk equal a plain run's (${SECONDS}s)"
echo "kill point/lines released/duplicate bytes dropped/re-issued bytes/switch ms:$summary"
