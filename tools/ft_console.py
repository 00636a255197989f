#!/usr/bin/env python3
"""The guest's console as an outside reader sees it across an FT failover.

usage: ft_console.py [-o OUT] SERIAL SEQ [SERIAL SEQ ...]

Each SERIAL is a console file of one side (`detvm ft primary|backup --serial file:...`)
and SEQ its side channel (`--console-seq`), whose lines "OFFSET LENGTH" describe the
chunks of SERIAL in order, OFFSET counting the guest's console bytes since boot. Give
the sides in the order the reader followed them (the primary, then the backup that
went live). Writes the merged stream (stdout or OUT): every byte once, duplicates by
OFFSET dropped. Prints one summary line on stderr. Exit status: 0; 1 when the stream
has a gap (bytes no side delivered); 2 bad arguments or unreadable files.
"""
import sys


def chunks(serial_path, seq_path):
    with open(serial_path, "rb") as f:
        data = f.read()
    pos = 0
    with open(seq_path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise ValueError(f"{seq_path}:{n}: not 'OFFSET LENGTH': {line.strip()[:60]!r}")
            off, length = int(parts[0]), int(parts[1])
            chunk = data[pos:pos + length]
            pos += length
            if chunk:
                yield off, chunk
            if len(chunk) < length:
                # a side killed with bytes still buffered announced more than it wrote:
                # its stream ends here, and the next side carries on from this offset
                return


def main(argv):
    out_path = None
    if len(argv) >= 2 and argv[0] == "-o":
        out_path, argv = argv[1], argv[2:]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if not argv or len(argv) % 2:
        print("ft_console.py: want SERIAL SEQ pairs (see --help)", file=sys.stderr)
        return 2
    merged = bytearray()
    gaps, dups, widest = [], 0, 0
    try:
        for i in range(0, len(argv), 2):
            side_dups = 0
            for off, chunk in chunks(argv[i], argv[i + 1]):
                end = off + len(chunk)
                if off > len(merged):
                    gaps.append((len(merged), off))
                    merged.extend(b"\0" * (off - len(merged)))
                seen = min(len(merged), end) - off
                if seen > 0:
                    side_dups += seen
                merged.extend(chunk[max(seen, 0):])
            dups += side_dups
            widest = max(widest, side_dups)
    except (OSError, ValueError) as e:
        print(f"ft_console.py: {e}", file=sys.stderr)
        return 2
    if out_path:
        with open(out_path, "wb") as f:
            f.write(merged)
    else:
        sys.stdout.buffer.write(merged)
    gap_text = ", ".join(f"[{a}, {b})" for a, b in gaps) or "none"
    print(f"ft_console: {len(merged)} bytes, {dups} duplicate bytes dropped, gaps: {gap_text}", file=sys.stderr)
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
