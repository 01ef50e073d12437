"""Data files for jobs/experiments/run.sh that the packers do not write directly.

    make_data.py lra-image --images DIR --out DIR
        Fashion-MNIST as 784-token sequences (the LRA "Image" task's form): the `images` files
        fashion-mnist-{train,val,test}.h5 of DIR → fmnist-seq-{train,val,test}.h5, `sequences`
        kind, token = grey level 0–255 (vocab_size 256), pixels in row order, no padding.

    make_data.py quick --out DIR
        Tiny files of every kind for `run.sh --quick` (seconds of training, not results):
        fashion-mnist-* (images, 256/32/32 of 28×28, class-dependent brightness), kjv-* (tokens,
        a repeated text), listops-* (the ListOps packer's rules, 64/32/32 trees of 10–63 tokens
        padded to 64), fmnist-seq-* (from those images).
"""

import argparse
import os
import subprocess
import sys

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "datasets", "packers"))
import h5write  # noqa: E402

SPLITS = ("train", "val", "test")


def lra_image(images_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for split in SPLITS:
        with h5py.File(os.path.join(images_dir, f"fashion-mnist-{split}.h5"), "r") as source:
            images = source["images"][...]                      # [N, 28, 28] uint8
            labels = source["labels"][...].astype(np.uint8)     # [N]
            classes = int(source.attrs["num_classes"])
        tokens = images.reshape(images.shape[0], -1).astype(np.int32)   # [N, 784]
        h5write.write_file(os.path.join(out_dir, f"fmnist-seq-{split}.h5"), "sequences",
                           {"tokens": tokens, "labels": labels},
                           {"num_classes": classes, "vocab_size": 256, "seq_len": tokens.shape[1], "pad_id": -1},
                           h5write.DEFAULT_CHUNK_BYTES)


def quick(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, count in zip(SPLITS, (256, 32, 32)):
        labels = (np.arange(count) % 10).astype(np.uint8)
        base = (labels[:, None, None].astype(np.float64) * 20 + 30)
        images = np.clip(base + rng.normal(0, 30, size=(count, 28, 28)), 0, 255).astype(np.uint8)
        h5write.write_file(os.path.join(out_dir, f"fashion-mnist-{split}.h5"), "images",
                           {"images": images, "labels": labels},
                           {"num_classes": 10, "mean": [0.3], "std": [0.3]}, h5write.DEFAULT_CHUNK_BYTES)
    text = np.frombuffer(b"In the beginning God created the heaven and the earth. " * 200, dtype=np.uint8)
    for split, part in (("train", text[: len(text) * 9 // 10]), ("val", text[len(text) * 9 // 10:])):
        h5write.write_file(os.path.join(out_dir, f"kjv-{split}.h5"), "tokens",
                           {"tokens": part.astype(np.int32)}, {"vocab_size": 256}, h5write.DEFAULT_CHUNK_BYTES)
    pack = os.path.join(here, "..", "..", "datasets", "pack.sh")
    subprocess.run([pack, "listops", "--out", out_dir, "--train", "64", "--val", "32", "--test", "32",
                    "--seq-len", "64", "--min-length", "10", "--max-length", "64"],
                   check=True, stdout=subprocess.DEVNULL)
    lra_image(out_dir, out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lra = sub.add_parser("lra-image")
    lra.add_argument("--images", required=True)
    lra.add_argument("--out", required=True)
    tiny = sub.add_parser("quick")
    tiny.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "lra-image":
        lra_image(args.images, args.out)
    else:
        quick(args.out)


if __name__ == "__main__":
    main()
