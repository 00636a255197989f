"""The FT link's tcp wire as a peer speaks it, for the tests that play a bad or hostile
peer (ft_bad_peer.sh, ft_wire_trust.sh): the hello, the key proofs, sealed frames.
Written from net/transport.c and net/transport_auth.h, not from their code: a second
implementation of the protocol, so the tests also check that it is the one documented.
Needs /usr/bin/python3 with Debian's python3-cryptography.
"""
import hashlib
import hmac
import os
import socket
import struct
import time

VERSION = 2
WIRE_TCP = 1
# ft/link.h's defaults, or the --dead-ms the test gives its sides (ft_lib.sh's FT_DEAD_MS)
BEAT_MS, DEAD_MS = 10, int(os.environ.get("FT_DEAD_MS", 100))


def load_key(path):
    """The link key of a key file, as transport_key_load derives it."""
    return hmac.new(b"detvm-ft key", open(path, "rb").read(), hashlib.sha256).digest()


def greeting(version=VERSION, keyed=True, beat=BEAT_MS, dead=DEAD_MS, nonce=None):
    g = b"detvm-ft" + struct.pack("<II", version, WIRE_TCP)
    if version != VERSION:
        return g  # another version: only what every version begins with
    return g + struct.pack("<IIII", beat, dead, 1 if keyed else 0, 0) + (nonce or os.urandom(32))


def frame(b):
    return struct.pack("<I", len(b)) + b


def read_exactly(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("the peer closed the link")
        b += c
    return b


ChaCha20Poly1305 = None


def _cipher():
    """Imported when a keyed link is made, before it connects: the import takes seconds
    under the KVM host VM's emulator, longer than a peer waits for a hello or a beat, and
    the tests that speak no key should not pay it."""
    global ChaCha20Poly1305
    if ChaCha20Poly1305 is None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as c
        ChaCha20Poly1305 = c


def _hkdf(key, salt, info):
    prk = hmac.new(salt, key, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


class Link:
    """A link after the hello: send/recv sealed messages (plain ones when unkeyed)."""

    def __init__(self, sock, key, mine, theirs, server):
        self.s = sock
        self.tx = self.rx = None
        self.tx_seq = self.rx_seq = 0
        if key:
            nc, ns = (theirs, mine) if server else (mine, theirs)
            c2s = ChaCha20Poly1305(_hkdf(key, nc[-32:] + ns[-32:], b"detvm-ft client to server"))
            s2c = ChaCha20Poly1305(_hkdf(key, nc[-32:] + ns[-32:], b"detvm-ft server to client"))
            self.tx, self.rx = (s2c, c2s) if server else (c2s, s2c)

    @staticmethod
    def _nonce(seq):
        return b"\0" * 4 + struct.pack("<Q", seq)

    def seal(self, msg):
        if not self.tx:
            return msg
        self.tx_seq += 1
        return self.tx.encrypt(self._nonce(self.tx_seq - 1), msg, None)

    def send(self, msg):
        self.s.sendall(frame(self.seal(msg)))

    def recv(self):
        n = struct.unpack("<I", read_exactly(self.s, 4))[0]
        b = read_exactly(self.s, n)
        if self.rx:
            b = self.rx.decrypt(self._nonce(self.rx_seq), b, None)
            self.rx_seq += 1
        return b


def _prove(s, key, mine, theirs, server):
    tr = theirs + mine if server else mine + theirs
    proof = lambda role: hmac.new(key, role + b"\0" + tr, hashlib.sha256).digest()
    if server:
        got = read_exactly(s, 32)
        if not hmac.compare_digest(got, proof(b"client")):
            raise ConnectionError("the peer does not hold the key")
        s.sendall(proof(b"server"))
    else:
        s.sendall(proof(b"client"))
        if not hmac.compare_digest(read_exactly(s, 32), proof(b"server")):
            raise ConnectionError("the peer does not hold the key")


def connect(port, key=None, host="127.0.0.1", tries=200, **hello):
    """A primary's side: connects (trying for a while), says hello, proves the key."""
    if key:
        _cipher()
    for _ in range(tries):
        try:
            s = socket.create_connection((host, port))
            break
        except OSError:
            time.sleep(0.05)
    mine = greeting(keyed=key is not None, **hello)
    s.sendall(mine)
    theirs = read_exactly(s, 64)
    if key:
        _prove(s, key, mine, theirs, server=False)
    return Link(s, key, mine, theirs, server=False)


def serve(port, key=None, host="127.0.0.1", timeout=60):
    """A backup's side: takes one peer on port."""
    if key:
        _cipher()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    ls.settimeout(timeout)
    s, _ = ls.accept()
    theirs = read_exactly(s, 64)
    mine = greeting(keyed=key is not None)
    s.sendall(mine)
    if key:
        _prove(s, key, mine, theirs, server=True)
    return Link(s, key, mine, theirs, server=True)


def proxy(port, target, capture=None, flip_at=None, host="127.0.0.1"):
    """Carries one connection on port to target both ways: writes what the connecting side
    sent to the file capture, and flips one bit of that stream at byte flip_at."""
    import select
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    ls.settimeout(60)
    a, _ = ls.accept()
    b = socket.create_connection((host, target))
    log = open(capture, "wb") if capture else None
    sent = 0
    while True:
        r, _, _ = select.select([a, b], [], [], 120)
        if not r:
            break
        if a in r:
            d = a.recv(65536)
            if not d:
                break
            if flip_at is not None and sent <= flip_at < sent + len(d):
                d = bytearray(d)
                d[flip_at - sent] ^= 0x08
                d = bytes(d)
            sent += len(d)
            if log:
                log.write(d)
                log.flush()
            b.sendall(d)
        if b in r:
            d = b.recv(65536)
            if not d:
                break
            a.sendall(d)
    a.close()
    b.close()


if __name__ == "__main__":
    import sys
    # proxy PORT TARGET [capture FILE] [flip N]: for the shell tests
    args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    proxy(int(sys.argv[1]), int(sys.argv[2]), capture=args.get("capture"),
          flip_at=int(args["flip"]) if "flip" in args else None)
