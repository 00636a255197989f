#!/usr/bin/python3
"""Read a detvm trace (logs/FORMAT.md) with nothing but the stock protobuf and lz4 modules.

Prints the header and every event, one per line, and verifies every CRC32C, to show that
logs/trace.proto plus FORMAT.md are the whole contract. The schema is loaded from a
FileDescriptorSet (the build writes <build>/logs/trace.desc with protoc-c; `make install`
puts it beside this script, where it is the default); without either the script compiles
logs/trace.proto itself with protoc-c or protoc -o.

Exit status: 0 complete trace; 1 damaged (CRC, corrupt) or --expect mismatch; 2 usage or
I/O error; 3 truncated (every complete block was printed); 77 python3-protobuf or
python3-lz4 missing.

Debian: apt-get install python3-protobuf python3-lz4 (and protobuf-c-compiler for --desc
generation). Use /usr/bin/python3: a pyenv python usually lacks these modules.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import lz4.frame
    from google.protobuf import descriptor_pb2, message_factory, text_format
except ImportError as e:
    print("trace_read.py: skipped: needs python3-protobuf and python3-lz4 (%s)" % e,
          file=sys.stderr)
    sys.exit(77)

FILE_MAGIC = b"DETVMTR\0"
BLOCK_MAGIC = b"BLK1"
FOOTER_MAGIC = b"END1"
FORMAT_VERSION = 1
BLOCK_HDR = struct.Struct("<4sIIIQI")  # magic, clen, ulen, count, first_seq, crc

EXIT_OK, EXIT_BAD, EXIT_USAGE, EXIT_TRUNCATED = 0, 1, 2, 3


class TraceError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC32C (Castagnoli), as logs/crc32c.c: crc32c(b"123456789") == 0xE3069283."""
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = (c >> 8) ^ t[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def load_schema(desc_path):
    """Message classes by full name, from a FileDescriptorSet (compiled here if needed)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if desc_path is None and os.path.exists(os.path.join(here, "trace.desc")):
        desc_path = os.path.join(here, "trace.desc")  # installed: make install puts it here
    if desc_path is None:
        proto_dir = os.path.join(here, "..", "logs")
        compiler = shutil.which("protoc-c") or shutil.which("protoc")
        if not compiler:
            raise TraceError(EXIT_USAGE, "no --desc given and neither protoc-c nor protoc "
                     "found to compile logs/trace.proto")
        with tempfile.TemporaryDirectory() as tmp:
            desc_path = os.path.join(tmp, "trace.desc")
            subprocess.run([compiler, "-I", proto_dir, "-o", desc_path,
                    os.path.join(proto_dir, "trace.proto")], check=True)
            with open(desc_path, "rb") as f:
                raw = f.read()
    else:
        with open(desc_path, "rb") as f:
            raw = f.read()
    fds = descriptor_pb2.FileDescriptorSet.FromString(raw)
    return message_factory.GetMessages(list(fds.file))


def varint(buf, off):
    val = shift = 0
    while True:
        if off >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[off]
        off += 1
        val |= (b & 0x7F) << shift
        if not b & 0x80:
            return val, off
        shift += 7


class Trace:
    """Sequential reader: header at construction, then events(), then footer."""

    def __init__(self, path, classes, check_crc=True):
        self.path = path
        self.check_crc = check_crc
        self.Event = classes["detvm.Event"]
        self.Header = classes["detvm.TraceHeader"]
        self.Footer = classes["detvm.TraceFooter"]
        self.f = open(path, "rb")
        self.footer = None
        self.blocks = 0
        self._read_header()

    def _fail(self, code, msg):
        raise TraceError(code, "%s: %s" % (self.path, msg))

    def _crc(self, what, data, stored):
        if self.check_crc and crc32c(data) != stored:
            self._fail(EXIT_BAD, "%s: CRC32C mismatch (stored 0x%08x, computed 0x%08x)"
                   % (what, stored, crc32c(data)))

    def _read_header(self):
        fixed = self.f.read(16)
        if not fixed:
            self._fail(EXIT_BAD, "empty file, not a trace")
        if fixed[:8] != FILE_MAGIC[:len(fixed)]:
            self._fail(EXIT_BAD, "not a detvm trace (bad magic at offset 0)")
        if len(fixed) < 16:
            self._fail(EXIT_TRUNCATED, "truncated inside the file header")
        self.version, hlen = struct.unpack("<II", fixed[8:])
        if self.version > FORMAT_VERSION:
            self._fail(EXIT_BAD, "trace format version %d is newer than this reader (%d)"
                   % (self.version, FORMAT_VERSION))
        rest = self.f.read(hlen + 4)
        if len(rest) < hlen + 4:
            self._fail(EXIT_TRUNCATED, "truncated inside the file header")
        self._crc("file header", fixed + rest[:hlen], struct.unpack("<I", rest[hlen:])[0])
        self.header_bytes = rest[:hlen]
        self.header = self.Header.FromString(self.header_bytes)
        self.offset = 16 + hlen + 4

    def events(self):
        """Yields (seq, position, block, raw_bytes, Event). Ends at the footer."""
        seq = 0
        last_pos = 0
        while True:
            off = self.offset
            head = self.f.read(BLOCK_HDR.size)
            if head[:4] == FOOTER_MAGIC[:len(head)] and head:
                self._read_footer(head, seq)
                return
            if not head:
                self._fail(EXIT_TRUNCATED, "ends at offset %d after %d complete blocks and "
                       "%d events, without a footer" % (off, self.blocks, seq))
            if head[:4] != BLOCK_MAGIC[:len(head)]:
                self._fail(EXIT_BAD, "block %d at offset %d: bad block magic"
                       % (self.blocks, off))
            if len(head) < BLOCK_HDR.size:
                self._fail(EXIT_TRUNCATED, "block %d at offset %d is incomplete"
                       % (self.blocks, off))
            _, clen, ulen, count, first, crc = BLOCK_HDR.unpack(head)
            where = "block %d at offset %d" % (self.blocks, off)
            if first != seq or count == 0:
                self._fail(EXIT_BAD, "%s: first event %d, expected %d" % (where, first, seq))
            z = self.f.read(clen)
            if len(z) < clen:
                self._fail(EXIT_TRUNCATED, "%s is incomplete" % where)
            self._crc(where, z, crc)
            try:
                raw = lz4.frame.decompress(z)
            except RuntimeError as e:
                self._fail(EXIT_BAD, "%s: LZ4 frame: %s" % (where, e))
            if len(raw) != ulen:
                self._fail(EXIT_BAD, "%s: LZ4 frame holds %d bytes, header says %d"
                       % (where, len(raw), ulen))
            self.offset = off + BLOCK_HDR.size + clen
            pos = 0
            p = 0
            for _ in range(count):
                try:
                    elen, p = varint(raw, p)
                except ValueError:
                    self._fail(EXIT_BAD, "%s: event %d has a bad length" % (where, seq))
                rec = raw[p:p + elen]
                if len(rec) != elen:
                    self._fail(EXIT_BAD, "%s: event %d has a bad length" % (where, seq))
                p += elen
                ev = self.Event.FromString(rec)
                pos += ev.position_delta  # delta from the previous event of this block
                if pos < last_pos:
                    self._fail(EXIT_BAD, "%s: event %d goes back in position" % (where, seq))
                last_pos = pos
                yield seq, pos, self.blocks, rec, ev
                seq += 1
            if p != len(raw):
                self._fail(EXIT_BAD, "%s: %d bytes after its last event" % (where, len(raw) - p))
            self.blocks += 1

    def _read_footer(self, head, seq):
        off = self.offset
        fixed = head[:8]
        if len(fixed) < 8:
            self._fail(EXIT_TRUNCATED, "truncated inside the footer at offset %d" % off)
        (flen,) = struct.unpack("<I", fixed[4:8])
        rest = head[8:] + self.f.read(max(0, flen + 4 - len(head[8:])))
        if len(rest) < flen + 4:
            self._fail(EXIT_TRUNCATED, "truncated inside the footer at offset %d" % off)
        self._crc("footer at offset %d" % off, fixed + rest[:flen],
              struct.unpack("<I", rest[flen:flen + 4])[0])
        if len(rest) > flen + 4 or self.f.read(1):
            self._fail(EXIT_BAD, "unexpected bytes after the footer")
        self.footer = self.Footer.FromString(rest[:flen])
        if self.footer.total_events != seq or self.footer.total_blocks != self.blocks:
            self._fail(EXIT_BAD, "footer says %d events in %d blocks, the body has %d in %d"
                   % (self.footer.total_events, self.footer.total_blocks, seq, self.blocks))


def one_line(msg):
    return text_format.MessageToString(msg, as_one_line=True)


def canonical(msg, clear_position=False):
    """Serialize after dropping fields this schema does not know: equal bytes mean the
    schema decoded every field the writer wrote."""
    m = type(msg)()
    m.CopyFrom(msg)
    m.DiscardUnknownFields()
    if clear_position:
        m.position_delta = 0
    return m.SerializeToString(deterministic=True).hex()


def check_expect(trace, expect_path):
    """Compare with trace_py_fixture's expectations; returns the number of mismatches."""
    with open(expect_path) as f:
        want = [line.split() for line in f if line.strip()]
    bad = 0
    if want[0] != ["header", canonical(trace.header)]:
        print("MISMATCH header", file=sys.stderr)
        bad += 1
    events = [w for w in want if w[0] == "event"]
    n = 0
    for seq, pos, _, _, ev in trace.events():
        kind = ev.WhichOneof("payload")
        got = ["event", str(seq), str(pos), str(kind), canonical(ev, True)]
        if n >= len(events) or events[n] != got:
            if bad < 5:
                print("MISMATCH event %d: got %s" % (seq, " ".join(got[:4])), file=sys.stderr)
            bad += 1
        n += 1
    if n != len(events):
        print("MISMATCH: %d events, expected %d" % (n, len(events)), file=sys.stderr)
        bad += 1
    footer = [w for w in want if w[0] == "footer"]
    if footer and (trace.footer is None or trace.footer.total_events != int(footer[0][1])):
        print("MISMATCH footer", file=sys.stderr)
        bad += 1
    if not bad:
        print("OK: header and %d events decode as the C writer wrote them" % n)
    return bad


def main():
    ap = argparse.ArgumentParser(description="Print and verify a detvm trace.")
    ap.add_argument("trace")
    ap.add_argument("--desc", help="FileDescriptorSet of logs/trace.proto "
            "(<build>/logs/trace.desc); default: trace.desc beside this script, "
            "else compile it with protoc-c/protoc")
    ap.add_argument("--no-crc", action="store_true", help="skip CRC32C checks (faster)")
    ap.add_argument("--expect", help="compare with a trace_py_fixture expectation file")
    args = ap.parse_args()
    try:
        classes = load_schema(args.desc)
        tr = Trace(args.trace, classes, check_crc=not args.no_crc)
        if args.expect:
            return EXIT_BAD if check_expect(tr, args.expect) else EXIT_OK
        print("header version=%d %s" % (tr.version, one_line(tr.header)))
        for seq, pos, block, _, ev in tr.events():
            print("%d pos=%d block=%d %s" % (seq, pos, block, one_line(ev)))
        print("footer %s" % one_line(tr.footer))
        return EXIT_OK
    except TraceError as e:
        print(str(e), file=sys.stderr)
        return e.code
    except BrokenPipeError:
        raise
    except (OSError, subprocess.CalledProcessError) as e:
        print("trace_read.py: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a protobuf DecodeError and friends: bad input, one line
        print("%s: corrupt: %s" % (args.trace, e), file=sys.stderr)
        return EXIT_BAD


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `trace_read.py x | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
