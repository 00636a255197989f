#!/usr/bin/python3
"""Record/replay benchmarks, measured side by side in one run (issue 4 targets):

- record / plain wall time for a CPU-bound ring-3 guest (spin) and for I/O-heavy guests:
  console (race: a port exit per iteration, plus console output), blk (1,400 requests)
  and net (2,000 frames echoed by a host peer)
- replay / record wall time for an idle-heavy guest (ticks: halts between timer ticks)
  and a busy one (spin); and for a guest that spins in ring 0 without exits (kspin), whose
  ticks reach it through `step` delivery points that replay has to run back to
- trace bytes per guest-second for an idle guest at 100, 250 and 1000 Hz, and for the
  blk and net workloads; LZ4 compression ratio
- trace writer throughput (events/s on one core), from logs' trace_bench
- `detvm trace` (every instruction single-stepped): instructions per second, and its time
  over a plain replay of the same recording
"""
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
here = os.path.dirname(os.path.abspath(__file__))
detvm = os.path.join(build, "detvm")
guest = os.path.join(build, "guests", "detvm-guest.elf")
peer = os.path.join(here, "..", "guests", "net_peer.py")
runs = int(os.environ.get("BENCH_RUNS", "3"))
tmp = tempfile.mkdtemp(prefix="detvm-bench-")
disk = os.path.join(tmp, "disk.img")
with open(disk, "wb") as f:
    f.truncate(1 << 20)


def timed(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode()[-500:]))
    return dt, p.stderr.decode()


def median_time(cmd, n=runs):
    return statistics.median(timed(cmd)[0] for _ in range(n))


def with_peer(cmd_fn, frames):
    sock = os.path.join(tmp, "peer.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(["/usr/bin/python3", peer, "--sock", sock, "--frames", str(frames)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    try:
        return cmd_fn(["--net", "unix:" + sock])
    finally:
        p.wait(timeout=30)


def run_cmd(cmdline, extra=()):
    return [detvm, "run", "-q", "--disk", disk] + list(extra) + ["--cmdline", cmdline, guest]


def record_cmd(trace, cmdline, extra=()):
    return [detvm, "record", "-q", "--stats", "-o", trace, "--disk", disk] + list(extra) + \
        ["--cmdline", cmdline, guest]


def replay_cmd(trace):
    return [detvm, "replay", "-q", trace]


rows = []


def median_time_peer(cmd_fn, frames, n=runs):
    return statistics.median(with_peer(lambda net: timed(cmd_fn(net))[0], frames) for _ in range(n))


def ratio_row(name, cmdline, a_label, b_label, target, frames=0):
    trace = os.path.join(tmp, "r.trace")
    if frames:
        plain = median_time_peer(lambda net: run_cmd(cmdline, net), frames)
        rec = median_time_peer(lambda net: record_cmd(trace, cmdline, net), frames)
    else:
        plain = median_time(run_cmd(cmdline))
        rec = median_time(record_cmd(trace, cmdline))
    rows.append((name, "%s %.3f s, %s %.3f s" % (a_label, plain, b_label, rec), rec / plain, target))


def replay_row(name, cmdline, target):
    trace = os.path.join(tmp, "p.trace")
    rec = median_time(record_cmd(trace, cmdline))
    rep = median_time(replay_cmd(trace))
    rows.append((name, "record %.3f s, replay %.3f s" % (rec, rep), rec / rep, target))


def insn_trace_row(name, cmdline):
    """detvm trace over a whole recording: instructions single-stepped per second, and how
    much longer than a plain replay of it that takes (the recording itself pays nothing)."""
    trace = os.path.join(tmp, "i.trace")
    timed(record_cmd(trace, cmdline))
    rep = median_time(replay_cmd(trace))
    dt, err = timed([detvm, "trace", "--stats", "-o", os.path.join(tmp, "i.txt"), trace])
    m = re.search(r"trace: (\d+) instructions traced in [0-9.]+ s \((\d+) instructions/s\)", err)
    if not m:
        sys.exit("bench: detvm trace did not say its rate: " + err[-300:])
    rows.append((name, "%s insn/s; replay %.3f s, trace %.1f s" % (m.group(2), rep, dt), dt / rep,
                 "(only replay pays)"))


def trace_rate(name, cmdline, extra=(), frames=0):
    trace = os.path.join(tmp, "s.trace")
    if frames:
        dt, err = with_peer(lambda net: timed(record_cmd(trace, cmdline, net)), frames)
    else:
        dt, err = timed(record_cmd(trace, cmdline, extra))
    size = os.path.getsize(trace)
    m = re.search(r"ratio ([0-9.]+)", err)
    return size, dt, float(m.group(1)) if m else float("nan")


def main():
    for f in (detvm, guest):
        if not os.path.exists(f):
            sys.exit("bench: %s is missing; run make build" % f)
    ratio_row("record/plain, CPU-bound (spin)", "prog=spin n=31", "plain", "record", "<= 1.02")
    ratio_row("record/plain, console (race)", "prog=race n=20000", "plain", "record", "<= 1.15")
    ratio_row("record/plain, blk (1,400 requests)", "prog=blk n=200", "plain", "record", "<= 1.15")
    ratio_row("record/plain, net (2,000 frames)", "prog=net n=2000", "plain", "record", "<= 1.15",
              frames=2000)
    replay_row("record/replay, idle-heavy (ticks)", "prog=ticks n=300", ">= 10 (replay faster)")
    replay_row("record/replay, busy (spin)", "prog=spin n=31", "")
    replay_row("record/replay, ring-0 spin (kspin)", "prog=kspin n=20", "(step points)")
    insn_trace_row("trace/replay, ticks (detvm trace)", "prog=ticks n=30")
    print("%-36s %-40s %8s  %s" % ("figure", "measured", "ratio", "target"))
    for name, measured, ratio, target in rows:
        print("%-36s %-40s %8.2f  %s" % (name, measured, ratio, target))
    print()
    print("%-36s %12s %12s %10s  %s" % ("trace size", "bytes", "guest s", "bytes/s", "lz4 ratio"))
    for hz in (100, 250, 1000):
        secs = 4
        size, dt, lz = trace_rate("idle", "prog=ticks n=%d hz=%d" % (hz * secs, hz))
        print("%-36s %12d %12.1f %10.0f  %.2f%s" % ("idle guest at %d Hz" % hz, size, secs, size / secs, lz,
                                                  "   (target <= 10 KB/s at 250 Hz)" if hz == 250 else ""))
    size, dt, lz = trace_rate("blk", "prog=blk n=200")
    print("%-36s %12d %12.2f %10.0f  %.2f" % ("blk workload (1,400 requests)", size, dt, size / dt, lz))
    size, dt, lz = trace_rate("net", "prog=net n=200", frames=200)
    print("%-36s %12d %12.2f %10.0f  %.2f" % ("net workload (200 frames echoed)", size, dt, size / dt, lz))
    bench = os.path.join(build, "tests", "unit", "logs", "trace_bench")
    if os.path.exists(bench):
        print()
        out = subprocess.run([bench], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
        print("trace writer (logs/trace_bench, target >= 2 M events/s):")
        print("".join("  " + l + "\n" for l in out.strip().splitlines()))


try:
    main()
finally:
    subprocess.run(["rm", "-rf", tmp])
