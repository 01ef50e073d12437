"""Checks a `flowformer export` file against its checkpoint, and the PyTorch module against
`flowformer predict` (the same forward as `flowformer eval`).

    python3 jobs/torch/check_export.py --safetensors M --checkpoint C.h5 \
        [--predictions P.h5 --data X.h5 --samples 32] [--require-torch]

1. With numpy only (the `safetensors` package's numpy loader): the tensor names are exactly the
   checkpoint's /model datasets, with the same shapes and bit-identical values, and the metadata
   holds the model configuration.
2. When torch is importable (or --require-torch): FlowformerTorch.from_safetensors(M) on the
   first --samples samples of X gives the logits stored by predict (classifiers) or its per-token
   losses (language models), within 1e-5 relative. Without torch this part is skipped with a note.
Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def fail(message):
    print("check_export: FAIL: " + message)
    sys.exit(1)


def check_tensors(safetensors_path, checkpoint_path):
    tensors = load_file(safetensors_path)
    with safe_open(safetensors_path, framework="np") as f:
        metadata = f.metadata()
    config = json.loads(metadata["flowformer.config"])
    with h5py.File(checkpoint_path, "r") as h5:
        group = h5["model"]
        names = set(group.keys())
        if names != set(tensors):
            fail(f"names differ: only in checkpoint {sorted(names - set(tensors))}, only in export {sorted(set(tensors) - names)}")
        for name in sorted(names):
            expected = group[name][()]
            got = tensors[name]
            if got.dtype != np.float32:
                fail(f"{name}: dtype {got.dtype}, expected float32")
            if got.shape != expected.shape:
                fail(f"{name}: shape {got.shape}, checkpoint {expected.shape}")
            if not np.array_equal(got, expected):
                fail(f"{name}: values differ (max |diff| {np.max(np.abs(got - expected))})")
    count = sum(t.size for t in tensors.values())
    print(f"safetensors: {len(tensors)} tensors, {count} parameters: names, shapes and values equal the checkpoint's; "
          f"config {config['kind']}/{config['attention']} d_model {config['d_model']}")
    return config


def check_torch(safetensors_path, config, predictions_path, data_path, samples):
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from flowformer_torch import FlowformerTorch

    torch.set_num_threads(1)
    model = FlowformerTorch.from_safetensors(safetensors_path)
    kind = config["kind"]
    with h5py.File(data_path, "r") as data, h5py.File(predictions_path, "r") as predictions:
        if kind == "image":
            images = data["images"][:samples].astype(np.float32) / 255.0
            if images.ndim == 3:
                images = images[..., None]
            mean = np.asarray(data.attrs["mean"], dtype=np.float64)
            std = np.asarray(data.attrs["std"], dtype=np.float64)
            x = torch.from_numpy(((images - mean) / std).astype(np.float32))
            expected = predictions["logits"][:samples]
        elif kind == "sequence":
            x = torch.from_numpy(data["tokens"][:samples].astype(np.int64))
            expected = predictions["logits"][:samples]
        else:
            length = config["seq_len"]
            stream = data["tokens"][: samples * length + 1].astype(np.int64)
            windows = np.stack([stream[i * length: i * length + length + 1] for i in range(samples)])
            x = torch.from_numpy(windows[:, :-1])
            targets = torch.from_numpy(windows[:, 1:])
            expected = predictions["token_loss"][:samples]
        with torch.no_grad():
            logits = model(x)
            if kind == "lm":
                got = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none").reshape(targets.shape)
            else:
                got = logits
    got = got.numpy().astype(np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(np.max(np.abs(expected)), 1e-30)
    error = np.max(np.abs(got - expected)) / scale
    what = "per-token losses" if kind == "lm" else "logits"
    if not error <= 1e-5:
        fail(f"torch {what} differ from flowformer predict's: max relative error {error:.3g} > 1e-5")
    print(f"torch {torch.__version__}: {what} of {samples} samples equal flowformer predict's, "
          f"max |diff| / max |value| = {error:.2e} (bound 1e-5)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--safetensors", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--predictions")
    parser.add_argument("--data")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--require-torch", action="store_true")
    args = parser.parse_args()
    config = check_tensors(args.safetensors, args.checkpoint)
    if args.predictions is None:
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        if args.require_torch:
            fail("torch is not installed")
        print("torch: not installed here, the PyTorch comparison is skipped (jobs/bench/.venv has it)")
        return
    check_torch(args.safetensors, config, args.predictions, args.data, args.samples)


if __name__ == "__main__":
    main()
