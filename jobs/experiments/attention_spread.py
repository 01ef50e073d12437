#!/usr/bin/env python3
"""How selective the first block's attention of a trained sequence classifier is.

    attention_spread.py CHECKPOINT.h5 DATA.h5 [--rows 8] [--json OUT]

For a mean-pooled sequence classifier and the first `--rows` sequences of DATA (a `sequences` file; padding excluded through its
`lengths`), recomputes block 0's attention weights from the checkpoint's parameters, in numpy:

    x = LN1(embed[token] + pos_embed[position])          (SPEC.md: pre-LN, eps 1e-5)
    q, k = x·W_qᵀ + b_q, x·W_kᵀ + b_k, split into heads of width d_h
    softmax   w_ij ∝ exp(q_i·k_j / √d_h)
    linear    w_ij ∝ φ(q_i)·φ(k_j),  φ = elu + 1
    flow      w_ij ∝ σ(q_i)·σ(k_j) · comp_j,  comp_j = S·softmax_j(clamp(Ô_j, −1, 1))   (flow-attention.md;
              the allocation σ(Î_i) scales a whole row and does not change its spread)

and prints, per head, the mean over queries of the normalised entropy H(w_i·)/log n (1 = every
valid source weighted alike) and of n·max_j w_ij (how many times the uniform weight the most
attended source gets). Later blocks are not recomputed: block 0 is where attention first has to
pick tokens out of the sequence.
"""
import argparse
import json
import math

import h5py
import numpy as np

EPS_NORM = 1e-5
EPS_FLOW = 1e-6


def layer_norm(x, weight, bias):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS_NORM) * weight + bias


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def weights(kind, q, k):
    """[n, n] attention weights of one head, rows summing to 1 (q, k: [n, d_h])."""
    if kind == "softmax":
        scores = q @ k.T / math.sqrt(q.shape[1])
        scores -= scores.max(axis=1, keepdims=True)
        w = np.exp(scores)
    elif kind == "linear":
        phi = lambda x: np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))
        w = phi(q) @ phi(k).T
    else:
        Q, K = sigmoid(q), sigmoid(k)
        n = q.shape[0]
        incoming = (Q + EPS_FLOW) @ (K.sum(axis=0) + EPS_FLOW)                  # I_i
        conserved_source = (K + EPS_FLOW) @ ((Q / incoming[:, None]).sum(axis=0) + EPS_FLOW)   # Ô_j
        conserved_source = np.clip(conserved_source, -1.0, 1.0)
        competition = n * np.exp(conserved_source) / np.exp(conserved_source).sum()
        w = (Q @ K.T) * competition[None, :]
    return w / w.sum(axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()
    with h5py.File(args.checkpoint, "r") as file:
        config = file["config"][()].decode()
        model = {name: file["model"][name][()].astype(np.float64) for name in file["model"]}
    kind = next(line.split(":")[1].strip() for line in config.splitlines() if line.strip().startswith("attention:"))
    heads = int(next(line.split(":")[1] for line in config.splitlines() if line.strip().startswith("heads:")))
    if any(line.strip() == "pool: cls" for line in config.splitlines()):
        raise SystemExit(f"attention_spread.py: {args.checkpoint}: a model with pool: cls is not supported (mean pooling only)")
    with h5py.File(args.data, "r") as file:
        tokens = file["tokens"][: args.rows]
        lengths = file["lengths"][: args.rows] if "lengths" in file else np.full(len(tokens), tokens.shape[1])
    d_model = model["embed.weight"].shape[1]
    width = d_model // heads
    entropy = np.zeros(heads)
    peak = np.zeros(heads)
    for row, length in zip(tokens, lengths):
        x = model["embed.weight"][row[:length]] + model["pos_embed"][:length]
        x = layer_norm(x, model["blocks.0.norm1.weight"], model["blocks.0.norm1.bias"])
        q = x @ model["blocks.0.attn.query.weight"].T + model["blocks.0.attn.query.bias"]
        k = x @ model["blocks.0.attn.key.weight"].T + model["blocks.0.attn.key.bias"]
        for h in range(heads):
            part = slice(h * width, (h + 1) * width)
            w = weights(kind, q[:, part], k[:, part])
            entropy[h] += (-(w * np.log(np.maximum(w, 1e-300))).sum(axis=1) / math.log(length)).mean()
            peak[h] += (length * w.max(axis=1)).mean()
    entropy /= len(tokens)
    peak /= len(tokens)
    result = {"checkpoint": args.checkpoint, "attention": kind, "heads": heads, "rows": len(tokens),
              "mean_length": float(np.mean(lengths)),
              "normalised_entropy": entropy.tolist(), "peak_over_uniform": peak.tolist()}
    print(f"{kind}: block 0, {heads} head(s), {len(tokens)} rows of mean length {np.mean(lengths):.0f}: "
          + "; ".join(f"head {h}: entropy {entropy[h]:.3f} of uniform, peak {peak[h]:.1f}× uniform" for h in range(heads)))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=1)
            file.write("\n")


if __name__ == "__main__":
    main()
