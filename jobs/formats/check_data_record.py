"""Checks a checkpoint's training data record (`/data`) from its definition in docs/FORMATS.md
("Training data record"), with h5py and numpy only — no code of the trainer:

    python3 jobs/formats/check_data_record.py CHECKPOINT.h5 [--files TRAIN.h5 ...]

1. `/data`'s crc32 equals zlib's CRC-32 of the record's attributes in the documented order.
2. With --files (the split's shard files, in data.train order): the record names them (base
   name, rows, kind, layout), and each shard's fingerprint recomputed from the file as documented
   equals the recorded one.
Prints one `ok` line and exits 0, or one `FAIL` line and exits 1.
"""
import argparse
import os
import struct
import sys
import zlib

import h5py
import numpy as np

MASK = (1 << 64) - 1


def fail(message):
    print("check_data_record: FAIL: " + message)
    sys.exit(1)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def fmix64(x):
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK
    x ^= x >> 33
    return x


class Fingerprint:
    """h <- fmix64(h xor w) for each 64-bit word w, from h0 = 0xcbf29ce484222325."""

    def __init__(self):
        self.value = 0xCBF29CE484222325

    def word(self, w):
        self.value = fmix64(self.value ^ (w & MASK))

    def bytes(self, data):
        """bytes(x): the byte count, then x as little-endian 8-byte words, the last zero-padded."""
        self.word(len(data))
        data += b"\0" * (-len(data) % 8)
        for (w,) in struct.iter_unpack("<Q", data):
            self.word(w)


def layout_and_fingerprint(path):
    with h5py.File(path, "r") as f:
        kind = text(f.attrs["kind"])
        names = {"images": ["images", "labels"], "tokens": ["tokens"],
                 "sequences": ["tokens", "labels"] + (["lengths"] if "lengths" in f else [])}[kind]
        layout = "; ".join("%s %s [%s]" % (n, f[n].dtype, ", ".join(map(str, f[n].shape))) for n in names)
        h = Fingerprint()
        h.bytes(layout.encode())
        for name in names:
            d = f[name]
            rows = d.shape[0]
            row_bytes = max(int(np.prod(d.shape[1:], dtype=np.int64)) * d.dtype.itemsize, 1)
            m = max(1, -(-65536 // row_bytes))
            starts = [0] if rows <= 32 * m else [i * (rows - m) // 31 for i in range(32)]
            for start in starts:
                count = rows if len(starts) == 1 else m
                h.word(start)
                h.bytes(d[start:start + count].astype(d.dtype.newbyteorder("<")).tobytes())
        return kind, rows_of(f, kind), layout, "%016x" % h.value


def rows_of(f, kind):
    return f["images" if kind == "images" else "tokens"].shape[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--files", nargs="*", default=[])
    args = parser.parse_args()
    with h5py.File(args.checkpoint, "r") as f:
        if "data" not in f:
            fail("%s has no /data record" % args.checkpoint)
        split = f["data"].attrs

        def integer(value):
            return struct.pack("<q", int(value))

        def string(value):
            encoded = text(value).encode()
            return struct.pack("<q", len(encoded)) + encoded

        packed = (integer(split["format_version"]) + integer(split["shards"]) + integer(split["samples"])
                  + integer(split["sequence_length"]) + string(split["fingerprint"]))
        shards = []
        for index in range(int(split["shards"])):
            shard = f["data/shard-%05d" % index].attrs
            shards.append({key: shard[key] for key in shard.keys()})
            packed += (string(shard["file"]) + string(shard["path"]) + integer(shard["rows"]) + string(shard["kind"])
                       + string(shard["attributes"]) + string(shard["layout"]) + string(shard["fingerprint"]))
        if zlib.crc32(packed) != int(split["crc32"]):
            fail("/data crc32 %d, the attributes give %d" % (int(split["crc32"]), zlib.crc32(packed)))
        if args.files:
            if len(args.files) != len(shards):
                fail("%d files given, the record has %d shards" % (len(args.files), len(shards)))
            for index, (path, shard) in enumerate(zip(args.files, shards)):
                kind, rows, layout, fingerprint = layout_and_fingerprint(path)
                recorded = (text(shard["file"]), int(shard["rows"]), text(shard["kind"]), text(shard["layout"]),
                            text(shard["fingerprint"]))
                computed = (os.path.basename(path), rows, kind, layout, fingerprint)
                if recorded != computed:
                    fail("shard %d: recorded %s, computed from %s %s" % (index, recorded, path, computed))
    print("check_data_record: ok %s: crc32 of %d shard(s)%s" % (args.checkpoint, len(shards),
          ", fingerprints recomputed" if args.files else ""))


if __name__ == "__main__":
    main()
