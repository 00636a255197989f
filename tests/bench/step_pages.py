#!/usr/bin/python3
"""What the page images of a trace's step delivery points are made of, and what each way
of storing them would cost: measured on a recorded trace, before choosing one (issue 15,
item 4).

    step_pages.py TRACE [--desc BUILD/logs/trace.desc]

Per trace: step points, pages, their bytes; how many pages are all zero, the same as the
image the trace stored last of that page (a repeat), or new; of the rest, how many bytes
differ from that last image (an XOR delta's nonzero bytes). Then the page stream's size
(LZ4 as the writer frames it, LZ4 HC, zstd) stored three ways: as today (whole images),
without zero pages and repeats, and with XOR deltas against the last stored image.
"the rest" is everything else in the trace, framed and compressed as the writer does.
"""
import argparse
import os
import subprocess
import sys

import lz4.frame

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import trace_read  # noqa: E402

PAGE = 4096
ZERO = bytes(PAGE)
BLOCK = 64 * 1024


def lz4_blocks(chunks, level=0):
    """LZ4 frames of about 64 KiB of content each, as logs/trace_writer.c closes blocks."""
    total, buf = 0, bytearray()
    for c in chunks:
        buf += c
        if len(buf) >= BLOCK:
            total += len(lz4.frame.compress(bytes(buf), compression_level=level)) + 28
            buf = bytearray()
    if buf:
        total += len(lz4.frame.compress(bytes(buf), compression_level=level)) + 28
    return total


def zstd(data, level):
    p = subprocess.run(["zstd", "-q", "-c", "-%d" % level], input=data, stdout=subprocess.PIPE, check=True)
    return len(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--desc", default=os.path.join(here, "..", "..", "build", "logs", "trace.desc"))
    a = ap.parse_args()
    classes = trace_read.load_schema(a.desc)
    t = trace_read.Trace(a.trace, classes, check_crc=False)
    last = {}
    points = pages = zero = repeat = new = delta_pages = delta_nz = 0
    whole, dedup, xor, rest = [], [], [], []
    for seq, pos, blk, raw, ev in t.events():
        if ev.WhichOneof("payload") != "landmark" or not ev.landmark.pages:
            rest.append(raw)
            continue
        points += 1
        strip = type(ev)()
        strip.CopyFrom(ev)
        del strip.landmark.pages[:]
        rest.append(strip.SerializeToString())
        for pg in ev.landmark.pages:
            d = pg.data
            pages += 1
            whole.append(d)
            prev = last.get(pg.gpa)
            if d == ZERO:
                zero += 1
            elif prev == d:
                repeat += 1
            else:
                dedup.append(d)
                if prev is None:
                    new += 1
                    xor.append(d)
                else:
                    delta_pages += 1
                    x = (int.from_bytes(d, "little") ^ int.from_bytes(prev, "little")).to_bytes(PAGE, "little")
                    delta_nz += PAGE - x.count(0)
                    xor.append(x)
            last[pg.gpa] = d
    print("trace %s: %d bytes" % (a.trace, os.path.getsize(a.trace)))
    print("step points %d, pages %d (%.1f a point), %d bytes" % (points, pages, pages / max(points, 1),
                                                                 pages * PAGE))
    print("pages: zero %d, repeat of the last stored image %d, first image of the page %d, changed %d "
          "(%.0f bytes of 4096 differ, mean)" % (zero, repeat, new, delta_pages, delta_nz / max(delta_pages, 1)))
    print("distinct gpas %d (the shadow a recorder would keep: %d KiB)" % (len(last), len(last) * 4))
    print("the rest of the trace, LZ4 as written: %d bytes" % lz4_blocks(rest))
    print("%-34s %12s %12s %12s %12s %12s" % ("page stream", "raw", "lz4", "lz4 hc9", "zstd -3", "zstd -19"))
    for name, chunks in (("whole images (today)", whole), ("no zero pages, no repeats", dedup),
                         ("+ XOR delta vs last stored", xor)):
        data = b"".join(chunks)
        print("%-34s %12d %12d %12d %12d %12d" % (name, len(data), lz4_blocks(chunks), lz4_blocks(chunks, 9),
                                                  zstd(data, 3), zstd(data, 19)))


if __name__ == "__main__":
    main()
