"""Your own images → an `images` file (uint8 [N, H, W] or [N, H, W, C], integer labels [N]).

Sources (exactly one):
  --npy IMAGES.npy LABELS.npy     NumPy arrays: images uint8 [N, H, W] or [N, H, W, C], labels
                                  any non-negative integer type [N]
  --idx IMAGES LABELS             IDX files (MNIST format), plain or .gz
  --cifar10 FILE [FILE ...]       CIFAR-10 binary batches (data_batch_1.bin ...): records of one
                                  label byte + 3072 bytes, channel-major (R, G, B planes of 32×32);
                                  stored as H×W×C. --cifar100 reads the CIFAR-100 layout (coarse
                                  and fine label bytes; the fine label is kept).

Writes STEM-SPLIT.h5 (--name, --split). num_classes is --num-classes or, if not given, the largest
label + 1 (10 for CIFAR-10, 100 for CIFAR-100). mean/std are computed from these images, or
copied from --stats-from FILE.h5 (pack val/test with the train split's statistics). --val N moves
the last N samples into STEM-val.h5, normalised with the statistics of the rest.
"""

import argparse
import os

import h5py
import numpy as np

import h5write
from idx import read_idx


def read_cifar(paths: list, label_bytes: int) -> tuple:
    record = label_bytes + 3 * 32 * 32
    images, labels = [], []
    for path in paths:
        with open(path, "rb") as stream:
            data = stream.read()
        if len(data) == 0 or len(data) % record:
            raise SystemExit(f"{path}: {len(data)} bytes is not a whole number of {record}-byte CIFAR records")
        records = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
        labels.append(records[:, label_bytes - 1].copy())
        # [n, C, H, W] → [n, H, W, C]
        images.append(records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)


def statistics_from(path: str) -> tuple:
    try:
        with h5py.File(path, "r") as file:
            if "mean" not in file.attrs or "std" not in file.attrs:
                raise SystemExit(f"{path}: no mean/std attributes to copy")
            return [float(v) for v in np.atleast_1d(file.attrs["mean"])], \
                   [float(v) for v in np.atleast_1d(file.attrs["std"])]
    except OSError as error:
        raise SystemExit(f"{path}: cannot read ({error})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="pack.sh convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    h5write.add_common_arguments(parser, "custom")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--npy", nargs=2, metavar=("IMAGES", "LABELS"))
    source.add_argument("--idx", nargs=2, metavar=("IMAGES", "LABELS"))
    source.add_argument("--cifar10", nargs="+", metavar="FILE")
    source.add_argument("--cifar100", nargs="+", metavar="FILE")
    parser.add_argument("--split", default="train", help="split name in the file name (default: train)")
    parser.add_argument("--num-classes", type=int, help="default: largest label + 1")
    parser.add_argument("--stats-from", help="copy mean/std from this images file")
    parser.add_argument("--val", type=int, default=0, help="move the last N samples into STEM-val.h5")
    args = parser.parse_args()

    if args.npy:
        images, labels = np.load(args.npy[0], allow_pickle=False), np.load(args.npy[1], allow_pickle=False)
        origin = args.npy[0]
    elif args.idx:
        images, labels = read_idx(args.idx[0]), read_idx(args.idx[1])
        origin = args.idx[0]
    else:
        hundred = args.cifar100 is not None
        files = args.cifar100 if hundred else args.cifar10
        images, labels = read_cifar(files, 2 if hundred else 1)
        origin = files[0]
        if args.num_classes is None:
            args.num_classes = 100 if hundred else 10

    if images.dtype != np.uint8:
        raise SystemExit(f"{origin}: images must be uint8 (0–255), got {images.dtype}")
    if images.ndim not in (3, 4):
        raise SystemExit(f"{origin}: images must be [N, H, W] or [N, H, W, C], got shape {images.shape}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SystemExit(f"labels must be integers [N], got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise SystemExit(f"{images.shape[0]} images but {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise SystemExit(f"{origin}: no images")
    if int(labels.min()) < 0:
        row = int(np.argmin(labels))
        raise SystemExit(f"labels row {row}: negative label {int(labels[row])}")
    num_classes = args.num_classes if args.num_classes is not None else int(labels.max()) + 1
    if int(labels.max()) >= num_classes:
        row = int(np.argmax(labels))
        raise SystemExit(f"labels row {row}: label {int(labels[row])} ≥ num_classes {num_classes}")
    if not 0 <= args.val < images.shape[0]:
        raise SystemExit(f"--val must be in 0..<{images.shape[0]}, got {args.val}")

    label_type = np.uint8 if num_classes <= 256 else np.int32
    images = np.ascontiguousarray(images)
    labels = labels.astype(label_type)
    cut = images.shape[0] - args.val
    splits = [(args.split, images[:cut], labels[:cut])]
    if args.val:
        splits.append(("val", images[cut:], labels[cut:]))
    mean, std = statistics_from(args.stats_from) if args.stats_from else h5write.image_statistics(images[:cut])
    channels = images.shape[3] if images.ndim == 4 else 1
    if len(mean) != channels:
        raise SystemExit(f"{args.stats_from}: mean has {len(mean)} channels, images have {channels}")

    directory = h5write.output_directory(args)
    for split, split_images, split_labels in splits:
        written = h5write.write_split(directory, args.name, split, "images",
                                      {"images": split_images, "labels": split_labels},
                                      {"num_classes": num_classes, "mean": mean, "std": std,
                                       "source": os.path.basename(origin)},
                                      args.shard_size, args.chunk_bytes)
        h5write.report(written, f"{split}, {split_images.shape[0]} images {list(split_images.shape[1:])}")


if __name__ == "__main__":
    h5write.run(main)
