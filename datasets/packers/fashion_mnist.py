"""Fashion-MNIST → `images` files: train (first 55,000 of the official train set), val (its last
5,000), test (the official 10,000). Images uint8 [N, 28, 28], labels uint8 [N], num_classes 10,
mean/std of the train split on the 0–1 scale written into every split.

Source: Debian package dataset-fashion-mnist, /usr/share/datasets/fashion-mnist/*.gz (IDX).
"""

import argparse
import os

import numpy as np

import h5write
from idx import read_idx

DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"
NUM_CLASSES = 10


def main() -> None:
    parser = argparse.ArgumentParser(prog="pack.sh fashion-mnist", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    h5write.add_common_arguments(parser, "fashion-mnist")
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help=f"directory with the four IDX .gz files (default: {DEFAULT_SOURCE})")
    parser.add_argument("--val", type=int, default=5000,
                        help="samples at the end of the official train set kept for val (default: 5000)")
    args = parser.parse_args()

    def load(stem: str) -> np.ndarray:
        for candidate in (f"{stem}.gz", stem):
            path = os.path.join(args.source, candidate)
            if os.path.exists(path):
                return read_idx(path)
        raise SystemExit(f"{os.path.join(args.source, stem)}.gz: not found "
                         "(apt-get install dataset-fashion-mnist, or pass --source DIR)")

    train_images = load("train-images-idx3-ubyte")
    train_labels = load("train-labels-idx1-ubyte")
    test_images = load("t10k-images-idx3-ubyte")
    test_labels = load("t10k-labels-idx1-ubyte")
    for images, labels, what in ((train_images, train_labels, "train"), (test_images, test_labels, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise SystemExit(f"{args.source}: {what} images {images.shape} and labels {labels.shape} do not match")
        if labels.size and int(labels.max()) >= NUM_CLASSES:
            raise SystemExit(f"{args.source}: {what} label {int(labels.max())} ≥ {NUM_CLASSES}")
    if not 0 < args.val < train_images.shape[0]:
        raise SystemExit(f"--val must be in 1..<{train_images.shape[0]}, got {args.val}")

    cut = train_images.shape[0] - args.val
    splits = {
        "train": (train_images[:cut], train_labels[:cut]),
        "val": (train_images[cut:], train_labels[cut:]),
        "test": (test_images, test_labels),
    }
    mean, std = h5write.image_statistics(splits["train"][0])
    directory = h5write.output_directory(args)
    for split, (images, labels) in splits.items():
        attributes = {"num_classes": NUM_CLASSES, "mean": mean, "std": std,
                      "source": "Fashion-MNIST (Zalando Research), MIT licence"}
        paths = h5write.write_split(directory, args.name, split, "images",
                                    {"images": np.ascontiguousarray(images, dtype=np.uint8),
                                     "labels": np.ascontiguousarray(labels, dtype=np.uint8)},
                                    attributes, args.shard_size, args.chunk_bytes)
        h5write.report(paths, f"{split}, {images.shape[0]} images {images.shape[1]}×{images.shape[2]}")
    print(f"train mean {mean[0]:.6f} std {std[0]:.6f} (0–1 scale)")


if __name__ == "__main__":
    h5write.run(main)
