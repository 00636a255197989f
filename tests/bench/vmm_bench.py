#!/usr/bin/python3
"""detvm vs QEMU-KVM on the same PVH benchmark guest, measured side by side in one run.

Figures: time from process start to the first console byte; the cost of one port-I/O
exit round trip (a guest loop of N port writes, minus the same guest with none); the
VMM's resident memory beyond guest RAM. Prints a table with ratios (detvm / QEMU).
With BENCH_BASELINE=PATH (another build's detvm, e.g. an older commit's), its start-up
and memory are measured in the same run, alternating, and printed beside this one's.
"""
import os
import re
import statistics
import subprocess
import sys
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
runs = int(os.environ.get("BENCH_RUNS", "15"))
detvm = os.path.join(build, "detvm")
g0 = os.path.join(build, "bench", "pio-0.elf")
gn = os.path.join(build, "bench", "pio-100000.elf")
loops = 100000


baseline = os.environ.get("BENCH_BASELINE")


def detvm_cmd(img, stats=False, prog=None):
    return [prog or detvm, "run", "--mem", "256M"] + (["--stats"] if stats else []) + [img]


def qemu_cmd(img):
    return ["qemu-system-x86_64", "-accel", "kvm", "-M", "microvm", "-nodefaults",
            "-no-user-config", "-nographic", "-serial", "stdio", "-m", "256M",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", img]


def one_run(cmd):
    """(seconds to first stdout byte, seconds to exit, unused, stderr)"""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    first = p.stdout.read(1)
    t1 = time.perf_counter()
    p.stdout.read()
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    t2 = time.perf_counter()
    p.returncode = os.waitstatus_to_exitcode(status)
    if not first:
        sys.exit("bench: %s printed nothing (status %d): %s" % (cmd[0], p.returncode, err.strip()))
    return t1 - t0, t2 - t0, ru.ru_maxrss, err


def max_rss_kib(cmd):
    """Peak RSS of cmd alone: /usr/bin/time execs it from a small process, whereas
    ru_maxrss of a child forked from Python would count Python's pages too."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL).stderr.decode()
    return int(out.strip().splitlines()[-1])


def series(cmd, n):
    return [one_run(cmd) for _ in range(n)]


def med(xs):
    return statistics.median(xs)


def main():
    for f in (detvm, g0, gn):
        if not os.path.exists(f):
            sys.exit("bench: %s is missing; run make build" % f)
    have_qemu = subprocess.call(["sh", "-c", "command -v qemu-system-x86_64"],
                                stdout=subprocess.DEVNULL) == 0
    rows = []
    d0 = series(detvm_cmd(g0), runs)
    dn = series(detvm_cmd(gn), max(3, runs // 3))
    ds = one_run(detvm_cmd(g0, stats=True))
    m = re.search(r"VMM beyond guest RAM (\d+) KiB", ds[3])
    d_beyond = int(m.group(1)) if m else float("nan")
    d_first = med([r[0] for r in d0]) * 1e3
    d_exit = (med([r[1] for r in dn]) - med([r[1] for r in d0])) / loops * 1e9
    d_rss = med([max_rss_kib(detvm_cmd(g0)) for _ in range(3)])
    if have_qemu:
        q0 = series(qemu_cmd(g0), runs)
        qn = series(qemu_cmd(gn), max(3, runs // 3))
        q_first = med([r[0] for r in q0]) * 1e3
        q_exit = (med([r[1] for r in qn]) - med([r[1] for r in q0])) / loops * 1e9
        q_rss = med([max_rss_kib(qemu_cmd(g0)) for _ in range(3)])
    else:
        q_first = q_exit = q_rss = float("nan")

    def row(name, d, q, unit, target=""):
        ratio = d / q if q == q and q else float("nan")
        rows.append((name, d, q, ratio, unit, target))

    row("start to first console byte", d_first, q_first, "ms", "<= 20 ms")
    row("port-I/O exit round trip", d_exit, q_exit, "ns", "<= QEMU")
    row("max resident set (whole process)", d_rss, q_rss, "KiB")
    rows.append(("VMM memory beyond guest RAM", d_beyond, float("nan"), float("nan"), "KiB", "<= 5120 KiB"))
    print("benchmark guest: %s / %s (%d port writes), %d runs, median" % (g0, gn, loops, runs))
    print("%-34s %12s %12s %8s  %s" % ("figure", "detvm", "qemu-kvm", "ratio", "target"))
    for name, d, q, ratio, unit, target in rows:
        print("%-34s %9.1f %-2s %9.1f %-2s %8.2f  %s" % (name, d, unit[:3], q, unit[:3], ratio, target))
    if not have_qemu:
        print("(qemu-system-x86_64 is not installed: QEMU columns are empty)")
    if baseline:
        compare_baseline()


def startup_figures(prog):
    """(ms to the first console byte, max RSS KiB, KiB beyond guest RAM) of one run each"""
    first, _, _, _ = one_run(detvm_cmd(g0, prog=prog))
    rss = max_rss_kib(detvm_cmd(g0, prog=prog))
    m = re.search(r"VMM beyond guest RAM (\d+) KiB", one_run(detvm_cmd(g0, stats=True, prog=prog))[3])
    return first * 1e3, rss, int(m.group(1)) if m else float("nan")


def compare_baseline():
    """This detvm against BENCH_BASELINE, alternating run by run so both see the same host."""
    if not os.path.exists(baseline):
        sys.exit("bench: BENCH_BASELINE %s is missing" % baseline)
    this, base = [], []
    for _ in range(runs):
        this.append(startup_figures(detvm))
        base.append(startup_figures(baseline))
    libs = [len([l for l in subprocess.run(["ldd", p], stdout=subprocess.PIPE).stdout.decode().splitlines()
                 if "=>" in l or "ld-linux" in l]) for p in (detvm, baseline)]
    print()
    print("this detvm against %s, %d alternating runs, median" % (baseline, runs))
    print("%-34s %12s %12s %8s" % ("figure", "this", "baseline", "ratio"))
    for i, (name, unit) in enumerate((("start to first console byte", "ms"), ("max resident set", "KiB"),
                                      ("VMM memory beyond guest RAM", "KiB"))):
        a, b = med([r[i] for r in this]), med([r[i] for r in base])
        print("%-34s %9.1f %-2s %9.1f %-2s %8.2f" % (name, a, unit[:3], b, unit[:3], a / b if b else float("nan")))
    print("%-34s %12d %12d %8.2f" % ("shared objects loaded (ldd)", libs[0], libs[1], libs[0] / libs[1]))


main()
