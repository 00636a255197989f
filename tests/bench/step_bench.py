#!/usr/bin/python3
"""Step delivery points: what they cost in the trace (issue 15, item 4).

Records each workload with the default `step` delivery and prints, per workload, the step
points, the page images they carry (pages and uncompressed bytes a point), the trace's
size and its bytes per guest second, and the recorder's wall time and peak RSS
(/usr/bin/time):

- Debian's stock kernel booting the test initramfs (tests/linux/linux_test.sh's `stock`
  recording; needs detvm's KVM modules, `detvm doctor`: tsc-exit OK; skipped without them)
- prog=memrate: a ring-3 loop writing 1, 16 and 128 MiB of fresh words a guest second
  with no exit between timer ticks (tests/guests/README.md); under QEMU's emulator the
  fastest rate is not reached: the guest says how many words it wrote (INFO), printed here

    step_bench.py BUILD [--out DIR] [--only stock,memrate]

--out keeps the traces (DIR/<workload>.trace) for tests/bench/step_pages.py. Where
/dev/kvm is missing it runs itself in the KVM host VM with detvm's modules.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
RATES = (1, 16, 128)


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK) and os.environ.get("DETVM_KVM_TESTS") != "vm"


def cached(pattern_dir, prefix, name):
    base = os.path.expanduser(os.environ.get("DETVM_CACHE", "~/.cache/detvm"))
    if pattern_dir:
        base = os.path.join(base, pattern_dir)
    for d in sorted(os.listdir(base)) if os.path.isdir(base) else ():
        p = os.path.join(base, d, name)
        if d.startswith(prefix) and os.path.exists(p):
            return p
    return None


def record(detvm, trace, args, image):
    """Records; returns (wall s, peak RSS KiB, console text)."""
    tfile = trace + ".time"
    cmd = ["/usr/bin/time", "-o", tfile, "-f", "%e %M", detvm, "record", "-q", "-o", trace] + args + [image]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit("step_bench: %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode()[-600:]))
    wall, rss = open(tfile).read().split()[-2:]
    os.unlink(tfile)
    return float(wall), int(rss), p.stdout.decode(errors="replace")


def stats(detvm, trace):
    out = subprocess.run([detvm, "dump", "--stats", "--json", trace], stdout=subprocess.PIPE, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--out")
    ap.add_argument("--only", default="stock,memrate")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    detvm = os.path.join(build, "detvm")
    only = a.only.split(",")
    doctor = subprocess.run([detvm, "doctor"], stdout=subprocess.PIPE).stdout.decode() if kvm_usable() else ""
    tsc_exit = re.search(r"^OK .*tsc-exit", doctor, re.M)
    # every workload on one host, the one the stock kernel replays on
    if not os.environ.get("DETVM_IN_KVMHOST") and not (kvm_usable() and (tsc_exit or "stock" not in only)):
        print("step_bench: running in the KVM host VM with detvm's KVM modules (QEMU's emulator: "
              "compare sizes and ratios, not times)", file=sys.stderr, flush=True)
        os.execv(sys.executable, [sys.executable, os.path.join(root, "tests", "kvmhost", "kvmhost.py"), "run",
                                  "--kvm", "tsc-exit", "--timeout", "1500", "--"] + [os.path.abspath(__file__)] +
                 sys.argv[1:])
    guest = os.path.join(build, "guests", "detvm-guest.elf")
    out = a.out or tempfile.mkdtemp(prefix="detvm-step-")
    os.makedirs(out, exist_ok=True)
    work = []
    if "stock" in only:
        kernel = cached("kvmhost", "linux-image-", "vmlinuz")
        initrd = cached(None, "linux-", "initramfs.cpio")
        if not tsc_exit or not kernel or not initrd:
            print("step_bench: stock boot skipped (needs tsc-exit, the cached stock kernel and the test "
                  "initramfs)", file=sys.stderr)
        else:
            work.append(("stock boot", "stock", ["--checkpoint-every", "1000", "--initrd", initrd], kernel))
    if "memrate" in only:
        for r in RATES:
            work.append(("ring 3, %d MiB/s" % r, "memrate-%d" % r, ["--cmdline", "prog=memrate n=%d" % r], guest))
    rows = []
    for name, tag, args, image in work:
        trace = os.path.join(out, tag + ".trace")
        wall, rss, console = record(detvm, trace, args, image)
        s = stats(detvm, trace)
        m = re.search(r"INFO memrate words=(\d+)", console)
        reached = "%.1f" % (int(m.group(1)) * 8 / 1e6) if m else "-"
        rows.append((name, s, wall, rss, reached))
        print("step_bench: %s: %s" % (name, trace), file=sys.stderr, flush=True)
    print("%-18s %7s %9s %12s %10s %8s %11s %8s %9s %9s" % (
        "workload", "points", "pages/pt", "bytes/pt", "trace MB", "guest s", "MB/guest s", "rec s",
        "rec MiB", "wrote MB"))
    for name, s, wall, rss, reached in rows:
        pts, g = s["step_points"], s["guest_ns"] / 1e9
        print("%-18s %7d %9.1f %12.0f %10.2f %8.2f %11.3f %8.1f %9.0f %9s" % (
            name, pts, s["step_pages"] / pts if pts else 0, s["step_page_bytes"] / pts if pts else 0,
            s["file_bytes"] / 1e6, g, s["file_bytes"] / 1e6 / g if g else 0, wall, rss / 1024, reached))
    print("(bytes/pt: page bytes a step point carries in the events, uncompressed; guest s: the guest clock\n"
          " the trace saw; wrote MB: what memrate wrote, 4 s of its ticks, some coalesced late; MB = 10^6 bytes)")


if __name__ == "__main__":
    main()
