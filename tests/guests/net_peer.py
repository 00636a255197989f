#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test peer for the guest's `net` program (and a sink for `badqueue`).

Binds PATH as a SOCK_DGRAM unix socket; one datagram = one Ethernet frame.
Works with QEMU (-netdev dgram,...,remote.path=PATH: QEMU sends from its
bound local.path) and with detvm (--net unix:PATH: detvm autobinds and
connects to PATH).  Either way the peer learns the guest's address from the
guest's first frame, the READY frame, so the peer never sends first.

Echo mode (default): after READY, send N deterministic frames one at a time,
each time waiting for the echo (the same frame with source and destination
MAC swapped).  Exit 0 if all N came back intact.
Sink mode (--sink): receive and discard until the timeout or SIGTERM.
"""
import argparse
import os
import socket
import sys
import time

ETHERTYPE = b"\x88\xb5"
PEER_MAC = bytes.fromhex("020000000001")
GUEST_MAC = bytes.fromhex("020000000002")


def frame(i):
    """Frame i: fixed MACs, ethertype 0x88b5, index, then a pattern; 60..1499 bytes."""
    length = 60 + (i * 97) % 1440
    payload = i.to_bytes(4, "big") + bytes((i * 31 + j * 7) & 0xFF for j in range(length - 18))
    return GUEST_MAC + PEER_MAC + ETHERTYPE + payload


def is_ready(data):
    return len(data) >= 14 + 11 and data[12:14] == ETHERTYPE and data[14:25] == b"DETVM-READY"


def log(msg):
    print("net_peer: " + msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sock", required=True, help="unix datagram socket path to bind")
    ap.add_argument("--frames", type=int, default=16, help="frames to echo (guest n=, default 16)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait overall")
    ap.add_argument("--sink", action="store_true", help="only receive and discard")
    args = ap.parse_args()

    try:
        os.unlink(args.sock)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(args.sock)
    deadline = time.monotonic() + args.timeout

    def recv():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        s.settimeout(left)
        return s.recvfrom(65536)

    if args.sink:
        n = 0
        try:
            while True:
                recv()
                n += 1
        except (TimeoutError, socket.timeout):
            pass
        log("sink received %d frames" % n)
        return 0

    try:
        data, guest = recv()
        while not is_ready(data):
            data, guest = recv()
        log("READY from %r" % (guest,))
        for i in range(args.frames):
            f = frame(i)
            s.sendto(f, guest)
            want = f[6:12] + f[0:6] + f[12:]
            while True:
                data, _ = recv()
                if is_ready(data):
                    continue  # a repeated READY sent before frame 0 arrived
                break
            if data != want:
                log("frame %d: bad echo (%d bytes, want %d)" % (i, len(data), len(want)))
                return 1
    except (TimeoutError, socket.timeout):
        log("timed out")
        return 1
    log("ok: %d frames echoed" % args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
