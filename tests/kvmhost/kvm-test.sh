#!/usr/bin/env bash
# Runs a test that needs KVM: directly where /dev/kvm is usable, else inside the KVM host
# VM pool of this build ($DETVM_KVMHOST_POOL, see kvmhost.py). With neither, the test
# FAILS and says why; only DETVM_KVM_TESTS=skip (an explicit opt-out, never set by the
# project) turns that into a skip. DETVM_KVM_TESTS=vm runs them in the host VM even where
# /dev/kvm is usable (to test on one machine what a machine without KVM does).
#   kvm-test.sh CMD ARG...   run one test
#   kvm-test.sh --setup      the suite's fixture: say where KVM tests run, and boot the
#                            pool's first VM once, so its failure is reported once
#   kvm-test.sh --where      one line: where KVM tests run here
set -u
here=$(cd "$(dirname "$0")" && pwd)
kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

if [ -n "${DETVM_IN_KVMHOST:-}" ] || { kvm_usable && [ "${DETVM_KVM_TESTS:-}" != vm ]; }; then
	case ${1:-} in
	--setup) echo "KVM tests run directly on this machine's /dev/kvm"; exit 0 ;;
	--where) echo "KVM tests ran on this machine's /dev/kvm (rdma_pingpong in the KVM host VM: it needs Soft-RoCE)"; exit 0 ;;
	esac
	exec "$@"
fi
if [ "${DETVM_KVM_TESTS:-}" = skip ]; then
	echo "SKIP: no /dev/kvm here and DETVM_KVM_TESTS=skip"
	exit 77
fi
if [ "${1:-}" = --where ]; then
	kvm_usable || echo -n "no /dev/kvm here: "
	echo "KVM tests ran inside the KVM host VM (tests/kvmhost; tests labelled kvm, rdma_pingpong always)"
	exit 0
fi
if [ "${1:-}" = --setup ]; then
	kvm_usable || echo -n "no /dev/kvm here: "
	echo "KVM tests run inside the KVM host VM (tests/kvmhost/kvmhost.py)"
	entry=$(python3 "$here/kvmhost.py" prepare) || exit 1
	cat "$entry/version"
	python3 "$here/kvmhost.py" exec -- test -c /dev/kvm || {
		echo "FAIL: the KVM host VM has no /dev/kvm"
		exit 1
	}
	echo "the KVM host VM has /dev/kvm"
	exit 0
fi
# outside ctest (no pool): a VM of its own for this one command
[ -n "${DETVM_KVMHOST_POOL:-}" ] || exec python3 "$here/kvmhost.py" run -- "$@"
exec python3 "$here/kvmhost.py" exec -- "$@"
