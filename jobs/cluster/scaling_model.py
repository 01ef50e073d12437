#!/usr/bin/env python3
"""An alpha-beta model of data-parallel training steps, fitted to the virtual cluster's measurements.

    python3 jobs/cluster/scaling_model.py [--measured jobs/cluster/measured]

1. Network. For every `flowformer bench allreduce` result (allreduce-<p>x1-<rate>gbit.json) it
   fits the ring all-reduce time
        t(B) = 2(p-1)·alpha + 2(p-1)/p · B / beta
   (alpha: per-message latency, from sizes <= 16 KiB; beta: the bandwidth a link sustains, from
   sizes >= 16 MiB, beyond the virtual link's token bucket — see fit_ring), and prints alpha,
   beta, beta as a share of the link cap and the worst error over the sizes >= 16 MiB.
   With more nodes measured (allreduce-4x1-1gbit.json), the 2-node fit predicts their all-reduce.
2. Check. With the per-step compute of one rank (bench model, 1 rank) and the fitted network, it
   predicts the step time of the measured 2-node runs (model-<cfg>-2x1-<rate>gbit-<overlap>.json;
   the bench splits the global batch, so each of p ranks computes 1/p of it):
        no overlap:  T = C/p + t(G)
        overlap:     T = C/p + max(t(G) - h·C/p, t(G_last))
   with G the gradient bytes (4 × parameters), h the backward's share of compute (2/3: backward
   costs about twice the forward) and G_last the last bucket (the embeddings, which cannot
   overlap; taken as G/layers). It prints measured vs predicted and the relative error.
3. Projection (weak scaling: every node keeps the measured per-node batch) for 2-512 nodes on 10,
   25 and 100 Gbit/s, for the LM and image bench configs and a ~300M-parameter LM, with
        ring        2(p-1)·alpha + 2(p-1)/p · G/beta
        tree        2·log2(p)·(alpha + G/beta)          (binomial reduce + broadcast)
        hierarchical: r ranks per node reduce in shared memory first, then a ring over p nodes
                    (the same as ring with one rank per node; it avoids 2(pr-1)·alpha)
   and gradient accumulation over k micro-steps (one all-reduce per k steps of compute).
   Efficiency = compute / step time.

Assumptions (stated so they can be challenged): the projection's beta is `--link-share` (0.9) of
the link rate and alpha `--alpha` (30 us, TCP on a real cluster; lower with RDMA): the values
fitted on the virtual cluster are printed, but they measure a 2-core machine whose CPU carries
every byte over veth, not a network. Compute per step is one rank's CPU seconds (not wall time:
the machine is shared) divided by `--node-speedup` (25: a 32-core node, by the measured thread
scaling of 1.7-1.8× per doubling).
"""
import argparse
import glob
import json
import math
import os
import re
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


SMALL_BYTES = 16 << 10    # at most this: the time is latency (alpha)
LARGE_BYTES = 16 << 20    # at least this: the time is bandwidth (beta)


def fit_ring(results, p):
    """alpha from the small messages, beta from the large ones; returns (alpha, beta, the large results).

    The virtual links are token buckets holding 10 ms of their rate: a message that fits in the
    bucket passes at memory speed, so mid-sized messages (64 KiB to a few MiB) beat the link rate
    and say nothing about it. Gradients (megabytes per step, several buckets back to back) drain
    the bucket, so beta is fitted where it is drained: sizes >= 16 MiB. alpha is the median
    small-message time over the ring's 2(p-1) steps; beta minimises the relative error of
    t = 2(p-1)·alpha + 2(p-1)/p · B/beta on the large sizes with alpha fixed (closed form)."""
    steps, share = 2 * (p - 1), 2 * (p - 1) / p
    small = sorted(r["median_seconds"] for r in results if r["bytes"] <= SMALL_BYTES)
    large = [r for r in results if r["bytes"] >= LARGE_BYTES]
    if not small or not large:
        return None   # not enough sizes to fit both
    alpha = small[len(small) // 2] / steps
    # minimise sum((steps·alpha/t + share·B·x/t - 1)^2) over x = 1/beta
    num = den = 0.0
    for r in large:
        t, u = r["median_seconds"], share * r["bytes"] / r["median_seconds"]
        num += u * (1 - steps * alpha / t)
        den += u * u
    beta = den / num
    return alpha, beta, large


def ring_time(p, size, alpha, beta):
    return 0.0 if p < 2 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * size / beta


def tree_time(p, size, alpha, beta):
    return 0.0 if p < 2 else 2 * math.log2(p) * (alpha + size / beta)


def model_step(result):
    """Median step seconds of a bench model result."""
    return result["step"]["median"] if isinstance(result.get("step"), dict) and "median" in result["step"] else result["step"]["seconds"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measured", default=os.path.join(here, "measured"))
    parser.add_argument("--node-speedup", type=float, default=25.0,
                        help="a node's compute speed in cores of this machine (default 25: a 32-core node)")
    parser.add_argument("--overlap-share", type=float, default=2.0 / 3.0)
    parser.add_argument("--alpha", type=float, default=30e-6,
                        help="latency in seconds for the projection (default 30 us, TCP on a real cluster)")
    parser.add_argument("--link-share", type=float, default=0.9,
                        help="share of the link rate an all-reduce delivers, for the projection (default 0.9)")
    args = parser.parse_args()

    # 1. Network fits.
    fits = {}
    measured_only = {}   # all-reduce results without the sizes to fit (checked against a fit below)
    print("## Network: ring all-reduce fits (t = 2(p-1)·alpha + 2(p-1)/p · B/beta)\n")
    print("| ranks | link cap | alpha | beta | beta / cap | worst fit error, >= 16 MiB |")
    print("|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(args.measured, "allreduce-*x1-*gbit.json"))):
        data = load(path)
        p, gbits = data["ranks"], data["link_gbits"]
        fit = fit_ring(data["results"], p)
        if fit is None:
            measured_only[(p, gbits)] = path
            continue
        alpha, beta, fitted = fit
        worst = max(abs(ring_time(p, r["bytes"], alpha, beta) / r["median_seconds"] - 1) for r in fitted)
        fits[(p, gbits)] = (alpha, beta)
        print(f"| {p} | {gbits:g} Gbit/s | {alpha * 1e6:.0f} us | {beta * 8 / 1e9:.3f} Gbit/s | "
              f"{beta * 8 / 1e9 / gbits:.0%} | {worst:.0%} |")
    if not fits:
        sys.exit(f"no allreduce-*.json in {args.measured}")

    # 1b. The ring formula on more nodes: the 2-node fit's alpha and beta predict the all-reduce of
    # p > 2 nodes (each link then carries 2(p-1)/p of the buffer, in 2(p-1) steps).
    more = sorted((p, g) for (p, g) in {**fits, **measured_only} if p > 2 and (2, g) in fits)
    if more:
        print("\n## Check: all-reduce on more nodes, predicted from the 2-node fit\n")
        print("| ranks | link cap | bytes | measured ms | predicted ms | error |")
        print("|---|---|---|---|---|---|")
        worst = 0.0
        for p, gbits in more:
            alpha, beta = fits[(2, gbits)]
            path = os.path.join(args.measured, f"allreduce-{p}x1-{gbits:g}gbit.json")
            for r in load(path)["results"]:
                if r["bytes"] < LARGE_BYTES:
                    continue
                predicted = ring_time(p, r["bytes"], alpha, beta)
                error = predicted / r["median_seconds"] - 1
                worst = max(worst, abs(error))
                print(f"| {p} | {gbits:g} Gbit/s | {r['bytes']} | {1e3 * r['median_seconds']:.1f} | "
                      f"{1e3 * predicted:.1f} | {error:+.0%} |")
        print(f"\nworst error: {worst:.0%}")

    # 2. Check against the measured 2-node steps.
    one_rank = {}
    for cfg in ("lm", "image"):
        path = os.path.join(args.measured, f"model-{cfg}-1x1.json")
        if os.path.exists(path):
            one_rank[cfg] = load(path)["models"][0]
    print("\n## Check: measured 2 nodes × 1 rank vs the model\n")
    print("| config | link cap | overlap | measured step s | predicted s | error | speed-up over 1 rank |")
    print("|---|---|---|---|---|---|---|")
    errors = []
    for path in sorted(glob.glob(os.path.join(args.measured, "model-*-2x1-*gbit-*.json"))):
        m = re.search(r"model-(\w+)-2x1-(\d+)gbit-(overlap|no-overlap)\.json", os.path.basename(path))
        if not m or m.group(1) not in one_rank:
            continue
        cfg, gbits, overlap = m.group(1), float(m.group(2)), m.group(3) == "overlap"
        result = load(path)["models"][0]
        base = one_rank[cfg]
        fit = fits.get((2, gbits))
        if fit is None:
            continue
        alpha, beta = fit
        compute = base["step"]["median"] / 2
        grad = 4 * base["parameter_count"]
        comm = ring_time(2, grad, alpha, beta)
        layers = 4 if cfg == "lm" else 6
        if overlap:
            predicted = compute + max(comm - args.overlap_share * compute, ring_time(2, grad / layers, alpha, beta))
        else:
            predicted = compute + comm
        measured = result["step"]["median"]
        error = predicted / measured - 1
        errors.append(abs(error))
        speedup = base["step"]["median"] / measured
        print(f"| {cfg} | {gbits:g} Gbit/s | {'on' if overlap else 'off'} | {measured:.3f} | {predicted:.3f} | "
              f"{error:+.0%} | {speedup:.2f}× |")
    if errors:
        print(f"\nworst prediction error: {max(errors):.0%} (target: within 15%)")

    # 3. Projection.
    alpha = args.alpha
    configs = []
    for cfg in ("lm", "image"):
        if cfg in one_rank:
            r = one_rank[cfg]
            # CPU seconds of one rank's step: the compute of an unloaded core (wall-clock here
            # includes the time other work on the machine took the core away).
            configs.append((cfg, 4 * r["parameter_count"], r["step_cpu_seconds"] / args.node_speedup))
    if "lm" in one_rank:
        # ~300M-parameter LM: d_model 1024, 24 layers, ff 4096, the same tokens per step; compute
        # scales with the parameters (about 6 FLOPs per parameter per token).
        r = one_rank["lm"]
        params = 24 * (4 * 1024 * 1024 + 2 * 1024 * 4096) + 256 * 1024
        configs.append(("lm-300m", 4 * params, r["step_cpu_seconds"] * params / r["parameter_count"] / args.node_speedup))
    nodes = [2, 8, 32, 128, 512]
    print(f"\n## Projection: efficiency (compute / step time), weak scaling\n")
    print(f"alpha {alpha * 1e6:.0f} us, beta {args.link_share:.0%} of the link, a node computes "
          f"{args.node_speedup:g}× one core here, overlap hides up to {args.overlap_share:.2f} of compute; "
          "k = micro-steps per all-reduce (gradient accumulation).\n")
    print("| config | gradient MB | compute s/step | link | algorithm, k | " + " | ".join(f"{n} nodes" for n in nodes) + " |")
    print("|---|---|---|---|---|" + "---|" * len(nodes))
    for name, grad, compute in configs:
        for gbits in (10, 25, 100):
            beta = args.link_share * gbits * 1e9 / 8
            for algorithm, time, k in (("ring", ring_time, 1), ("tree", tree_time, 1), ("ring", ring_time, 8), ("ring, no overlap", ring_time, 1)):
                cells = []
                for n in nodes:
                    comm = time(n, grad, alpha, beta)
                    hidden = 0.0 if "no overlap" in algorithm else args.overlap_share * compute
                    step = k * compute + max(comm - hidden, 0.0)
                    cells.append(f"{k * compute / step:.0%}")
                print(f"| {name} | {grad / 1e6:.0f} | {compute:.3f} | {gbits} Gbit/s | {algorithm}, k={k} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
