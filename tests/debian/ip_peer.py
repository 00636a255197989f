#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Debian guest's network peer: a link-local IPv4 host on a unix datagram socket.

Binds PATH as a SOCK_DGRAM unix socket, one datagram = one Ethernet frame (detvm's
`--net unix:PATH`, as tests/guests/net_peer.py). It is 169.254.0.1 with MAC
02:00:00:00:00:01 and answers: ARP requests for that address, ICMP echo requests (ping),
and UDP datagrams to port 7 (echo, RFC 862). Everything else is counted and dropped.
Runs until --timeout or SIGTERM, then prints one summary line on stderr.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import time

MAC = bytes.fromhex("020000000001")
IP = socket.inet_aton("169.254.0.1")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def arp_reply(f):
    op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", f[14:42])
    if op != 1 or tpa != IP:
        return None
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, MAC, IP, sha, spa)
    return sha + MAC + b"\x08\x06" + arp


def ip_reply(f, counts):
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    proto, src, dst = ip[9], ip[12:16], ip[16:20]
    if ip[0] >> 4 != 4 or dst != IP or total > len(ip):
        return None
    body = ip[ihl:total]
    if proto == 1 and body[0] == 8:  # ICMP echo request -> echo reply
        body = b"\0\0\0\0" + body[4:]
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        counts["icmp"] += 1
    elif proto == 17 and struct.unpack("!H", body[2:4])[0] == 7:  # UDP echo
        sport, dport = struct.unpack("!HH", body[0:4])
        body = struct.pack("!HHHH", dport, sport, len(body), 0) + body[8:]
        counts["udp"] += 1
    else:
        return None
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, proto, 0, IP, src)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return f[6:12] + MAC + b"\x08\x00" + hdr + body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sock", required=True, help="unix datagram socket path to bind")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to run")
    args = ap.parse_args()
    try:
        os.unlink(args.sock)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(args.sock)
    counts = {"frames": 0, "arp": 0, "icmp": 0, "udp": 0, "dropped": 0}

    def done(*_):
        print("ip_peer: %(frames)d frames: %(arp)d arp, %(icmp)d icmp echo, %(udp)d udp echo "
              "answered, %(dropped)d dropped" % counts, file=sys.stderr, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, done)
    deadline = time.monotonic() + args.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            done()
        s.settimeout(left)
        try:
            f, guest = s.recvfrom(65536)
        except socket.timeout:
            done()
        counts["frames"] += 1
        reply = None
        if len(f) >= 42 and f[12:14] == b"\x08\x06":
            reply = arp_reply(f)
            counts["arp"] += reply is not None
        elif len(f) >= 34 and f[12:14] == b"\x08\x00":
            reply = ip_reply(f, counts)
        if reply is None:
            counts["dropped"] += 1
        else:
            s.sendto(reply, guest)


if __name__ == "__main__":
    sys.exit(main())
