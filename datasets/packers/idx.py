"""Reading IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

Layout: two zero bytes, a type byte (0x08 = uint8 is the only one used for images and labels),
a byte with the number of dimensions d, d big-endian uint32 sizes, then the data row-major.
"""

import gzip

import numpy as np

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """The array stored in an IDX file (`.gz` is decompressed)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise SystemExit(f"{path}: not an IDX file (bad magic number)")
    type_code, dimensions = data[2], data[3]
    if type_code not in _TYPES:
        raise SystemExit(f"{path}: unknown IDX element type 0x{type_code:02x}")
    header = 4 + 4 * dimensions
    if len(data) < header:
        raise SystemExit(f"{path}: IDX header truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions))
    dtype = np.dtype(_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise SystemExit(f"{path}: IDX shape {shape} needs {expected} data bytes, file has {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
