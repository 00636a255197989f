#!/bin/bash
# The KVM host VM's agent: runs in the VM, chrooted into the machine's root, and takes
# one job at a time from its spool directory (a directory of the machine's filesystem,
# seen over 9p). kvmhost.py writes SPOOL/job.sh; the agent claims it, runs it in its own
# process group with a fresh TMPDIR on the VM's tmpfs and writes SPOOL/job.rc. It
# touches SPOOL/heartbeat while it lives, so the machine can tell a wedged VM from a slow
# job, kills the job when SPOOL/cancel appears, and powers the VM off on SPOOL/stop or
# after SPOOL's idle limit without a job (a VM left behind by a killed test run).
# usage: agent.sh SPOOL
set -u
spool=$1
idle_limit=$(cat "$spool/idle_limit" 2>/dev/null || echo 900)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd / || exit 1
# Waiting forks nothing: /bin/sleep (a fork and an exec, each emulated) every 0.1 s and a
# heartbeat written over 9p each time cost an idle VM a quarter of a host CPU, taken
# from the VMs that run tests. A read that times out on a pipe nobody writes is the nap;
# the heartbeat goes once a second.
exec {never}<> <(:)
nap() { read -r -t "$1" -u "$never" _; }
beat_at=-1
beat() {
	if [ "$SECONDS" != "$beat_at" ]; then
		: >"$spool/heartbeat"
		beat_at=$SECONDS
	fi
}
: >"$spool/ready"
idle_since=$SECONDS

run_job() {
	local tmp pid rc
	mv "$spool/job.sh" "$spool/job.running" || return
	rm -f "$spool/cancel"
	tmp=$(mktemp -d /dev/shm/job.XXXXXX)
	TMPDIR=$tmp DETVM_IN_KVMHOST=1 setsid bash "$spool/job.running" \
		>"$spool/job.out" 2>"$spool/job.err" </dev/null {never}<&- &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ -e "$spool/cancel" ]; then
			kill -KILL -- "-$pid" 2>/dev/null
			break
		fi
		beat
		nap 0.2
	done
	wait "$pid"
	rc=$?
	# whatever the job left running in its group goes with it
	kill -KILL -- "-$pid" 2>/dev/null
	rm -rf "$tmp"
	echo "$rc" >"$spool/job.rc.tmp"
	mv "$spool/job.rc.tmp" "$spool/job.rc"
	rm -f "$spool/job.running"
}

while :; do
	beat
	[ -e "$spool/stop" ] && break
	if [ -e "$spool/job.sh" ]; then
		run_job
		idle_since=$SECONDS
	elif [ $((SECONDS - idle_since)) -ge "$idle_limit" ]; then
		echo "kvmhost agent: idle for ${idle_limit}s, powering off" >/dev/console
		break
	fi
	nap 0.1
done
exit 0
