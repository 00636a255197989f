#!/usr/bin/env bash
# The etcd arbiter as it should be run: a real etcd on loopback with TLS (client
# certificates required; every certificate made here by openssl) and user/password
# authentication on (the client certificates have no CommonName: etcd's JSON gateway
# refuses one that has, with authentication on). Asserts:
#  1. a pair on etcds:// with the CA, a client certificate and a password file: kill -9
#     of the primary, the backup wins generation 1 there and goes live; the reader's
#     console has no gap; etcd holds "1 HOST:PID:backup" (read back with etcdctl), and
#     without a user etcd refuses to say (authentication is really on);
#  2. a side that cannot use its arbiter runs nothing and halts (exit 13), in one line:
#     a client certificate from another CA, a wrong password, plain etcd:// against
#     the TLS port; a password file others can read is refused (exit 2);
#  3. the lease: a primary that went on alone (its backup killed) and then loses etcd
#     (SIGSTOP) stops releasing output within the lease's life and halts (exit 13);
#     once etcd is back, its console is a prefix of a plain run's and ended early.
# usage: ft_etcd_tls.sh DETVM GUEST_ELF
set -u
detvm=$1 elf=$2
. "$(dirname "$0")/ft_lib.sh"
ft_init ft_etcd_tls
for tool in openssl etcd etcdctl; do
	command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh)"
done
pki=$tmp/pki
mkdir -p "$pki"
# cert NAME CA SUBJECT [SAN]: a key and a certificate signed by CA (self-signed: CA "")
cert() {
	local name=$1 ca=$2 subj=$3 san=${4:-}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$name.key" \
		-subj "$subj" -out "$pki/$name.csr" 2>/dev/null || fail "openssl: cannot make $name's key"
	local ext=$pki/$name.ext
	if [ -z "$ca" ]; then
		printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$ext"
		openssl x509 -req -in "$pki/$name.csr" -signkey "$pki/$name.key" -days 2 -extfile "$ext" \
			-out "$pki/$name.pem" 2>/dev/null
	else
		printf 'extendedKeyUsage=serverAuth,clientAuth\n%s' "${san:+subjectAltName=$san}" >"$ext"
		openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.pem" -CAkey "$pki/$ca.key" -CAcreateserial \
			-days 2 -extfile "$ext" -out "$pki/$name.pem" 2>/dev/null
	fi || fail "openssl: cannot sign $name"
	chmod 600 "$pki/$name.key"
}
cert ca "" "/CN=detvm test CA"
cert server ca "/CN=etcd" "IP:127.0.0.1"
cert client ca "/O=detvm"
cert rogue_ca "" "/CN=someone else's CA"
cert rogue rogue_ca "/O=detvm"

p=$((20000 + RANDOM % 20000))
url=https://127.0.0.1:$p
etcd --name tls --data-dir "$tmp/etcd" --listen-client-urls "$url" --advertise-client-urls "$url" \
	--cert-file "$pki/server.pem" --key-file "$pki/server.key" --trusted-ca-file "$pki/ca.pem" --client-cert-auth \
	--listen-peer-urls "http://127.0.0.1:$((p + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((p + 1))" \
	--initial-cluster "tls=http://127.0.0.1:$((p + 1))" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$url" --cacert "$pki/ca.pem" --cert "$pki/client.pem" \
	--key "$pki/client.key" --dial-timeout 2s --command-timeout 3s "$@"; }
for _ in $(seq 100); do ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
ctl endpoint health >/dev/null 2>&1 || fail "etcd with TLS did not come up: $(tail -3 "$tmp/etcd.log")"
{ ctl user add root:rootpw && ctl user add detvm:s3cret && ctl role add ft &&
	ctl role grant-permission ft --prefix=true readwrite /detvm/ && ctl user grant-role detvm ft &&
	ctl auth enable; } >"$tmp/ctl.log" 2>&1 || fail "cannot set up etcd's users: $(tail -3 "$tmp/ctl.log")"
(umask 077 && echo "detvm:s3cret" >"$tmp/auth" && echo "detvm:wrong" >"$tmp/badauth")
arb_creds=(--arbiter-cacert "$pki/ca.pem" --arbiter-cert "$pki/client.pem" --arbiter-key "$pki/client.key"
	--arbiter-auth "$tmp/auth")
n=100
plain_journal $n

# 1. failover through etcd over TLS, with a user
d=$tmp/failover
mkdir -p "$d"
make_disk "$d/disk.img"
start_pair "$d" $((30000 + RANDOM % 20000)) "etcds://127.0.0.1:$p/detvm/a" --disk "$d/disk.img" --cmdline "prog=journal n=$n"
wait_lines "$d/p.con" journal 15 || fail "failover: no 15 journal lines within 60 s"
kill -9 "$ppid"
wait "$ppid" 2>/dev/null
ppid=
wait "$bpid"
brc=$?
bpid=
[ $brc -eq 0 ] || fail "failover: the backup exited $brc"
grep -q "won generation 1 at the arbiter" "$d/b.err" || fail "failover: the backup did not win generation 1"
python3 "$ft_console" -o "$d/seen.con" "$d/p.con" "$d/p.seq" "$d/b.con" "$d/b.seq" 2>"$d/reader.err" ||
	fail "failover: the reader found a gap: $(cat "$d/reader.err")"
cmp -s "$d/seen.con" "$tmp/plain.con" || fail "failover: the console the reader saw differs from a plain run's"
held=$(ctl --user detvm:s3cret get --print-value-only /detvm/a/generation 2>&1)
[[ $held == "1 "*":backup" ]] || fail "failover: etcd holds '$held', not generation 1 for the backup"
ctl get /detvm/a/generation >"$tmp/anon.out" 2>&1 && fail "etcd answered a client with no user: auth is off"
echo "  failover over etcds: etcd holds '$held'"

# 2. credentials that do not work: nothing runs
refused() {	# NAME WANT PATTERN ARBITER_ARGS...: a primary with these, against a real backup
	local name=$1 want=$2 pattern=$3
	shift 3
	local d=$tmp/$name
	mkdir -p "$d"
	primary_creds=("$@")
	# the primary asks its arbiter before it calls the backup: this one needs none
	start_backup "$d" $((30000 + RANDOM % 20000)) ""
	start_primary "$d" "${arb_url:-etcds://127.0.0.1:$p/detvm/$name}" --cmdline "prog=talk n=20"
	unset primary_creds
	wait "$ppid"
	local rc=$?
	ppid=
	kill -9 "$bpid" 2>/dev/null
	wait "$bpid" 2>/dev/null
	bpid=
	[ $rc -eq "$want" ] || fail "$name: the primary exited $rc, want $want: $(cat "$d/p.err")"
	local line
	line=$(grep -v "warning:" "$d/p.err" | grep "$pattern")
	[ -n "$line" ] || fail "$name: the primary did not say '$pattern': $(cat "$d/p.err")"
	[ -s "$d/p.con" ] && fail "$name: the primary released console output"
	echo "  $name: exit $rc, ${line#detvm: }"
}
refused rogue_cert 13 "is unreachable.*halting before the guest starts" --arbiter-cacert "$pki/ca.pem" \
	--arbiter-cert "$pki/rogue.pem" --arbiter-key "$pki/rogue.key" --arbiter-auth "$tmp/auth"
refused wrong_password 13 "refused the user 'detvm'" --arbiter-cacert "$pki/ca.pem" --arbiter-cert "$pki/client.pem" \
	--arbiter-key "$pki/client.key" --arbiter-auth "$tmp/badauth"
arb_url=etcd://127.0.0.1:$p/detvm/plain refused plain_http 13 "is unreachable"
chmod 644 "$tmp/auth"
refused open_password 2 "password file .* is open to other users" "${arb_creds[@]}"
chmod 600 "$tmp/auth"

# 3. the winner loses its lease
d=$tmp/lease
mkdir -p "$d"
make_disk "$d/disk.img"
start_pair "$d" $((30000 + RANDOM % 20000)) "etcds://127.0.0.1:$p/detvm/lease" --disk "$d/disk.img" \
	--cmdline "prog=journal n=3000"
wait_lines "$d/p.con" journal 10 || fail "lease: no 10 journal lines within 60 s"
kill -9 "$bpid"
wait "$bpid" 2>/dev/null
bpid=
wait_lines "$d/p.err" "detvm: won generation 1" 1 || fail "lease: the primary did not win the arbiter"
kill -STOP "$etcd_pid"
SECONDS_AT=$SECONDS
wait "$ppid"
prc=$?
ppid=
kill -CONT "$etcd_pid"
took=$((SECONDS - SECONDS_AT))
[ $prc -eq 13 ] || fail "lease: the primary exited $prc, want 13"
grep -q "the arbiter's lease on generation 1 is lost" "$d/p.err" || fail "lease: the primary did not say its lease is lost"
grep -q "releasing nothing more; halting" "$d/p.err" || fail "lease: the primary did not say it halts"
[ $took -le 30 ] || fail "lease: the primary took ${took}s to halt"
got=$(lines "$d/p.con" journal)
[ "$got" -lt 3000 ] || fail "lease: the primary ran the guest to its end"
echo "  lease lost: halted ${took}s after etcd froze, at journal line $got of 3000"
echo "PASS ft_etcd_tls: failover through etcd with TLS and a password; a wrong certificate, password, scheme refused (13, nothing run); a lost lease halts the winner (${SECONDS}s)"
