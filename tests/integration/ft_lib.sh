# Helpers of the FT failure tests (sourced): a real etcd on loopback, a journal disk, a
# primary/backup pair on loopback, the console an outside reader sees.
# Needs: detvm, elf, tmp set by the caller; fail() defined by it, or by ft_init.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ft_console=$here/../../tools/ft_console.py
# Silence that means a dead peer: the emulated host of the KVM host VM can starve a
# side for seconds beside the rest of the suite; /dev/kvm hosts much less.
dead_ms=${FT_DEAD_MS:-$([ -n "${DETVM_IN_KVMHOST:-}" ] && echo 5000 || echo 1000)}
etcd_pid=

# ft_init NAME: a scratch $tmp, the sides' pids (bpid ppid b2pid) killed and etcd stopped
# on exit, and fail MSG, which prints the sides' logs ($tmp/*/*.err) and exits 1.
ft_init() {
	ft_name=$1
	tmp=$(mktemp -d)
	bpid= ppid= b2pid=
	trap ft_cleanup EXIT
	# (defined here, so a test that sources this file with its own fail keeps that)
	fail() {
		echo "FAIL $ft_name: $*"
		local f
		for f in "$tmp"/*/*.err; do [ -f "$f" ] && { echo "--- ${f#"$tmp"/}"; tail -c 1500 "$f"; }; done
		exit 1
	}
	SECONDS=0
}

ft_cleanup() {
	kill -CONT $ppid 2>/dev/null	# a stopped side cannot die of SIGKILL's cleanup otherwise
	kill -9 $bpid $ppid $b2pid 2>/dev/null
	etcd_stop
	rm -rf "$tmp"
}


# etcd_start: a single-member etcd on loopback ports of its own; sets etcd_url.
etcd_start() {
	command -v etcd >/dev/null || fail "etcd is not installed (scripts/install-deps.sh installs etcd-server)"
	local p=$((20000 + RANDOM % 20000))
	etcd_port=$p
	etcd --name ft --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$p" \
		--advertise-client-urls "http://127.0.0.1:$p" --listen-peer-urls "http://127.0.0.1:$((p + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((p + 1))" \
		--initial-cluster "ft=http://127.0.0.1:$((p + 1))" >"$tmp/etcd.log" 2>&1 &
	etcd_pid=$!
	for _ in $(seq 200); do
		python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$p/health', timeout=1)" \
			2>/dev/null && { etcd_url=etcd://127.0.0.1:$p; return 0; }
		kill -0 "$etcd_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -5 "$tmp/etcd.log"
	fail "etcd did not come up"
}

etcd_stop() {
	[ -n "$etcd_pid" ] && { kill "$etcd_pid"; wait "$etcd_pid"; } 2>/dev/null
	etcd_pid=
}

# ft_key: the pair's key file, $tmp/ft.key (made on first use), for --key.
ft_key() {
	[ -f "$tmp/ft.key" ] || (umask 077 && head -c 32 /dev/urandom >"$tmp/ft.key")
	echo "$tmp/ft.key"
}

# make_disk PATH: 1 MiB of a known pattern.
make_disk() {
	python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' >"$1"
}

# plain_journal N: the console and disk of a plain run, in $tmp/plain.{con,img}.
plain_journal() {
	make_disk "$tmp/plain.img"
	"$detvm" run --disk "$tmp/plain.img" --cmdline "prog=journal n=$1" -s "file:$tmp/plain.con" --timeout 300 \
		"$elf" 2>"$tmp/plain.err" </dev/null || fail "the plain journal run failed: $(tail -1 "$tmp/plain.err")"
}

# creds_of SIDE: the --arbiter-* options of SIDE (primary or backup): the array
# SIDE_creds if declared, else arb_creds (paths without spaces).
creds_of() {
	local -n own=${1}_creds 2>/dev/null
	if declare -p "${1}_creds" >/dev/null 2>&1; then
		echo ${own[@]+"${own[@]}"}
	else
		echo ${arb_creds[@]+"${arb_creds[@]}"}
	fi
}

# start_pair DIR PORT ARBITER GUEST_ARGS...: backup then primary, on loopback, each
# with its console, side channel and log in DIR; sets bpid and ppid. Both sides also get
# the array arb_creds (the --arbiter-* options), if set; each side the array
# primary_creds or backup_creds instead, where that is set.
start_pair() {
	start_backup "$@"
	local d=$1 arb=$3
	shift 3
	start_primary "$d" "$arb" "$@"
}

# start_backup DIR PORT ARBITER GUEST_ARGS...: the backup, listening on PORT (or the
# next free one: pair_port); sets bpid. It gets -v (its "waiting for the primary" line
# tells it listens), the --disk and --net of GUEST_ARGS (it takes the shared disks and
# its network from its own command line, never from the primary's trace header), and
# the array backup_args (e.g. --control), if set.
start_backup() {
	local d=$1 port=$2 arb=$3 try
	shift 3
	local arbiter=() shared=()
	[ -n "$arb" ] && arbiter=(--arbiter "$arb" $(creds_of backup))
	while [ $# -gt 1 ]; do
		case $1 in --disk | --net) shared+=("$1" "$2") ;; esac
		shift
	done
	# a port another run still holds: the backup says so at once, and takes the next
	for try in 1 2 3 4 5; do
		"$detvm" ft backup --listen "127.0.0.1:$port" --key "$(ft_key)" --trace "$d/b.trace" "${arbiter[@]}" --dead-ms "$dead_ms" \
			--console-seq "$d/b.seq" -s "file:$d/b.con" --accept-timeout 60 -v ${shared[@]+"${shared[@]}"} \
			${backup_args[@]+"${backup_args[@]}"} 2>"$d/b.err" </dev/null &
		bpid=$!
		for _ in $(seq 200); do
			grep -q "waiting for the primary" "$d/b.err" 2>/dev/null && break
			kill -0 "$bpid" 2>/dev/null || break
			sleep 0.02
		done
		grep -q "waiting for the primary" "$d/b.err" && break
		wait "$bpid" 2>/dev/null
		port=$((port + 1))
	done
	pair_port=$port
}

# start_primary DIR ARBITER GUEST_ARGS...: the primary of the backup on pair_port; sets ppid.
start_primary() {
	local d=$1 arb=$2
	shift 2
	local arbiter=()
	[ -n "$arb" ] && arbiter=(--arbiter "$arb" $(creds_of primary))
	"$detvm" ft primary --peer "127.0.0.1:$pair_port" --key "$(ft_key)" -o "$d/p.trace" "${arbiter[@]}" --dead-ms "$dead_ms" \
		--console-seq "$d/p.seq" -s "file:$d/p.con" --timeout 300 -v "$@" "$elf" 2>"$d/p.err" </dev/null &
	ppid=$!
}

# lines FILE PREFIX: how many lines of FILE start with PREFIX (0 if none or no file).
lines() {
	local n
	n=$(grep -c "^$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# wait_lines FILE PREFIX N: until FILE has N such lines (60 s at most); 1 if not.
wait_lines() {
	for _ in $(seq 1200); do
		[ "$(lines "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
