#!/usr/bin/python3
"""Linux boot: detvm vs qemu-system-x86_64 -accel kvm on the same kernel and command line,
side by side in one run.

QEMU cannot get past int3_selftest on hosts that do not emulate INT3 in guest ring 0, so
the common point is the console line printed just before it ("x86/fpu: ... FXSAVE").
detvm turns the INT3 into the #BP the CPU would raise and goes on: its time to
"Run /init as init process" is printed too.
"""
import os
import statistics
import subprocess
import sys
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
here = os.path.dirname(os.path.abspath(__file__))
runs = int(os.environ.get("BENCH_RUNS", "3"))
detvm = os.path.join(build, "detvm")
COMMON = b"x86/fpu: x87 FPU will use FXSAVE"
INIT = b"Run /init as init process"
# what detvm puts first for Linux on a host whose CPUID is not virtualized (README.md)
CMDLINE = ("console=ttyS0 nolapic noapic lpj=1000000 panic=-1 noxsave clearcpuid=4,124,145,149,150,"
           "151,153,154,156,158,288,289,291,293,295,296,297,298,306,308,311,312,317,448,452,454,"
           "455,514,515,528,534,580")


def time_to(cmd, markers, limit=600):
    """Seconds from start until each marker appears on stdout (None if never)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    seen, buf = {}, b""
    try:
        while len(seen) < len(markers) and time.perf_counter() - t0 < limit:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
            for m in markers:
                if m not in seen and m in buf:
                    seen[m] = time.perf_counter() - t0
    finally:
        p.kill()
        p.wait()
    return [seen.get(m) for m in markers]


def main():
    paths = subprocess.run([os.path.join(here, "..", "linux", "build.sh")], stdout=subprocess.PIPE,
                           check=True).stdout.decode().split()
    bzimage, vmlinux, initrd = paths
    rows = []
    for name, image in (("bzImage", bzimage), ("vmlinux (PVH)", vmlinux)):
        d = [time_to([detvm, "run", "-q", "--initrd", initrd, image], [COMMON, INIT]) for _ in range(runs)]
        q = [time_to(["qemu-system-x86_64", "-accel", "kvm", "-M", "pc", "-m", "256M", "-nodefaults",
                      "-nographic", "-serial", "stdio", "-no-reboot", "-kernel", image, "-initrd", initrd,
                      "-append", CMDLINE], [COMMON]) for _ in range(runs)]
        dc = statistics.median(x[0] for x in d if x[0])
        di = statistics.median(x[1] for x in d if x[1])
        qc = statistics.median(x[0] for x in q if x[0])
        rows.append((name, dc, qc, di))
    print("Linux 6.1 test kernel, %d runs each, median wall time" % runs)
    print("%-16s %14s %14s %8s %20s" % ("image", "detvm to FPU", "qemu to FPU", "ratio", "detvm to Run /init"))
    for name, dc, qc, di in rows:
        print("%-16s %12.2f s %12.2f s %8.2f %18.2f s" % (name, dc, qc, dc / qc, di))


main()
