"""Writing dataset files in the trainer's HDF5 layout (docs/FORMATS.md, "Dataset files"), shared by every packer.

Every file gets the root attributes `kind` and `format_version` = 1 plus the kind's own
attributes; every dataset is chunked along its first axis and gzip-compressed. Files are
written deterministically: no timestamps in object headers, fixed chunking and compression,
HDF5 1.10-compatible object formats, and a write to a temporary name followed by a rename so a
file is either complete or absent.
"""

import argparse
import glob
import os
import subprocess

import h5py
import numpy as np

FORMAT_VERSION = 1

# Chunks of about this many bytes (uncompressed): small enough that reading one random sample
# decompresses little, large enough for gzip to work well.
DEFAULT_CHUNK_BYTES = 64 * 1024
GZIP_LEVEL = 4

# The oldest and newest object formats allowed: readable by HDF5 1.10 (the trainer's library),
# whatever newer HDF5 h5py was built with.
LIBVER = ("earliest", "v110")


def run(main) -> None:
    """Runs a packer's main, turning I/O and value errors into one line on stderr, exit status 1."""
    try:
        main()
    except (OSError, ValueError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"pack.sh: {error}")


def add_common_arguments(parser: argparse.ArgumentParser, default_name: str) -> None:
    """Options every packer has: output directory, file stem, sharding, chunking."""
    parser.add_argument("--default-out", help=argparse.SUPPRESS, default="datasets/out")
    parser.add_argument("--out", help="output directory (default: datasets/out)")
    parser.add_argument("--name", default=default_name,
                        help=f"file name stem: STEM-SPLIT.h5 (default: {default_name})")
    parser.add_argument("--shard-size", type=int, default=0,
                        help="samples (tokens for a token stream) per file; 0 = one file per split")
    parser.add_argument("--chunk-bytes", type=int, default=DEFAULT_CHUNK_BYTES,
                        help="target uncompressed chunk size in bytes (default: 65536)")


def output_directory(args: argparse.Namespace) -> str:
    directory = args.out if args.out else args.default_out
    os.makedirs(directory, exist_ok=True)
    return directory


def shard_bounds(count: int, shard_size: int) -> list:
    """[(start, end)] covering 0..<count in pieces of shard_size (0 = one piece)."""
    if shard_size < 0:
        raise SystemExit(f"--shard-size must be ≥ 0, got {shard_size}")
    if shard_size == 0 or shard_size >= count:
        return [(0, count)]
    return [(start, min(start + shard_size, count)) for start in range(0, count, shard_size)]


def shard_paths(directory: str, stem: str, split: str, shards: int) -> list:
    """STEM-SPLIT.h5 for one file, STEM-SPLIT-00000-of-00004.h5 ... for shards.

    Files of an earlier run for the same stem and split are removed first, so that a glob
    STEM-SPLIT-*.h5 never mixes two shardings.
    """
    single = os.path.join(directory, f"{stem}-{split}.h5")
    for stale in [single] + glob.glob(os.path.join(directory, f"{stem}-{split}-*-of-*.h5")):
        if os.path.exists(stale):
            os.remove(stale)
    if shards == 1:
        return [single]
    return [os.path.join(directory, f"{stem}-{split}-{i:05d}-of-{shards:05d}.h5") for i in range(shards)]


def chunk_rows(array: np.ndarray, chunk_bytes: int) -> int:
    """Rows per chunk so a chunk holds about chunk_bytes (at least one row, at most all)."""
    row_bytes = max(1, int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize)
    return int(max(1, min(array.shape[0], chunk_bytes // row_bytes)))


def _attribute_value(value):
    if isinstance(value, str):
        # Fixed-length ASCII string: the simplest string type for any HDF5 reader.
        return np.bytes_(value.encode("ascii"))
    if isinstance(value, bool):
        return np.int64(int(value))
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.asarray(value, dtype=np.float64)
    raise TypeError(f"unsupported attribute value {value!r}")


def write_file(path: str, kind: str, arrays: dict, attributes: dict, chunk_bytes: int) -> None:
    """Writes one dataset file: root attributes kind, format_version, then `attributes`;
    each array of `arrays` (name → numpy array, first axis = samples or tokens) as a chunked,
    gzip-compressed dataset."""
    temporary = path + ".partial"
    if os.path.exists(temporary):
        os.remove(temporary)
    with h5py.File(temporary, "w", libver=LIBVER) as file:
        file.attrs["kind"] = _attribute_value(kind)
        file.attrs["format_version"] = np.int64(FORMAT_VERSION)
        for key, value in attributes.items():
            file.attrs[key] = _attribute_value(value)
        for name, array in arrays.items():
            if array.shape[0] == 0:
                raise SystemExit(f"{path}: dataset {name} would be empty")
            rows = chunk_rows(array, chunk_bytes)
            file.create_dataset(name, data=array, chunks=(rows,) + array.shape[1:],
                                compression="gzip", compression_opts=GZIP_LEVEL,
                                track_times=False)
    os.replace(temporary, path)


def write_split(directory: str, stem: str, split: str, kind: str, arrays: dict,
                attributes: dict, shard_size: int, chunk_bytes: int) -> list:
    """Writes one split as one file or as shards of shard_size rows; returns
    [(path, first row, end row)].

    Every shard carries the same contract attributes; `shard_index`, `num_shards`, `split`
    are added for people reading the files."""
    count = next(iter(arrays.values())).shape[0]
    for name, array in arrays.items():
        if array.shape[0] != count:
            raise SystemExit(f"{stem}-{split}: {name} has {array.shape[0]} rows, expected {count}")
    bounds = shard_bounds(count, shard_size)
    paths = shard_paths(directory, stem, split, len(bounds))
    for index, ((start, end), path) in enumerate(zip(bounds, paths)):
        shard_attributes = dict(attributes)
        shard_attributes["split"] = split
        shard_attributes["shard_index"] = index
        shard_attributes["num_shards"] = len(bounds)
        shard_attributes["first_row"] = start
        write_file(path, kind, {name: array[start:end] for name, array in arrays.items()},
                   shard_attributes, chunk_bytes)
    return [(path, start, end) for path, (start, end) in zip(paths, bounds)]


def report(written: list, what: str) -> None:
    """One line per file written: path, size, rows, what the split holds."""
    for path, start, end in written:
        print(f"wrote {path} ({os.path.getsize(path):,} bytes): rows {start:,}..<{end:,} of {what}")


def image_statistics(images: np.ndarray) -> tuple:
    """Per-channel mean and standard deviation of uint8 images [N, H, W(, C)] on the 0–1 scale,
    accumulated in float64 over every pixel."""
    channels = images.shape[3] if images.ndim == 4 else 1
    pixels = images.reshape(-1, channels)
    total = np.zeros(channels, dtype=np.float64)
    total_squares = np.zeros(channels, dtype=np.float64)
    step = 1 << 20
    for start in range(0, pixels.shape[0], step):
        block = pixels[start:start + step].astype(np.float64) / 255.0
        total += block.sum(axis=0)
        total_squares += (block * block).sum(axis=0)
    count = pixels.shape[0]
    mean = total / count
    variance = np.maximum(total_squares / count - mean * mean, 0.0)
    return [float(m) for m in mean], [float(s) for s in np.sqrt(variance)]
