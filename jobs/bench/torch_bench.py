"""PyTorch side of the side-by-side benchmark (jobs/bench/side_by_side.sh).

The same model family as the Swift trainer (docs/FORMATS.md, "Model": pre-LayerNorm blocks, exact
GELU, LayerNorm eps 1e-5, learned position embeddings, lm head without bias), built from the layers
of jobs/torch/flowformer_torch.py, in two variants:

- ``flow``: Flow-Attention written from the equations of shared/spec/flow-attention.md the way
  the paper's reference code computes them: non-causal with sums over positions and einsums;
  causal with cumulative sums, including the cumulative sum of the d_h x d_h outer products
  K_j (x) (comp_j v_j), an O(L d_h^2) tensor per head.
- ``softmax``: the same model with torch.nn.functional.scaled_dot_product_attention.

Subcommands (each prints one JSON object, and writes it with --json):

    model      training steps (forward + backward + AdamW) on synthetic inputs
    attention  one attention core, forward + backward, on synthetic q, k, v
    check      compares the flow equations here with the golden files (float64)

Peak memory is this process's ru_maxrss, so run one measurement per process.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from flowformer_torch import Block, softmax_attention   # the layers and the softmax core

EPS = 1e-6


# ---------------------------------------------------------------------------------------------
# Attention cores. Inputs are per-head tensors [B, H, L, d_h] (queries) and [B, H, S, d_h].


def flow_attention(q, k, v):
    """Non-causal Flow-Attention (flow-attention.md, "Non-causal")."""
    length, sources = q.shape[2], k.shape[2]
    q = torch.sigmoid(q)
    k = torch.sigmoid(k)
    # 1. incoming and outgoing flow: I_i = (Q_i+eps).(sum_j K_j + eps), O_j = (K_j+eps).(sum_i Q_i + eps)
    incoming = 1.0 / torch.einsum("bhld,bhd->bhl", q + EPS, k.sum(dim=2) + EPS)   # a_i
    outgoing = 1.0 / torch.einsum("bhsd,bhd->bhs", k + EPS, q.sum(dim=2) + EPS)   # b_j
    # 2. conservation
    conserved_sink = torch.einsum("bhld,bhd->bhl", q + EPS,
                                  (k * outgoing[:, :, :, None]).sum(dim=2) + EPS)
    conserved_source = torch.einsum("bhsd,bhd->bhs", k + EPS,
                                    (q * incoming[:, :, :, None]).sum(dim=2) + EPS)
    conserved_source = torch.clamp(conserved_source, min=-1.0, max=1.0)
    # 3. competition and allocation
    allocation = torch.sigmoid(conserved_sink * (float(length) / float(sources)))
    competition = torch.softmax(conserved_source, dim=-1) * float(sources)
    # 4. aggregation: A_i = alloc_i (a_i Q_i)^T sum_j K_j (x) (comp_j v_j)
    state = torch.einsum("bhsd,bhse->bhde", k, v * competition[:, :, :, None])   # [B, H, d_h, d_h]
    out = torch.einsum("bhld,bhde->bhle", q * incoming[:, :, :, None], state)
    return out * allocation[:, :, :, None]


def causal_flow_attention(q, k, v):
    """Causal Flow-Attention (flow-attention.md, "Causal"), with prefix sums as cumulative sums
    and the aggregation as the cumulative sum of d_h x d_h outer products."""
    length = q.shape[2]
    q = torch.sigmoid(q)
    k = torch.sigmoid(k)
    positions = torch.arange(1, length + 1, dtype=q.dtype, device=q.device)[None, None, :]   # n_i
    # 1. I_i = (Q_i+eps).(sum_{j<=i} K_j + eps), a_i = n_i / I_i; likewise O_i, b_i
    incoming_raw = torch.einsum("bhld,bhld->bhl", q + EPS, k.cumsum(dim=2) + EPS)       # I_i
    outgoing_raw = torch.einsum("bhld,bhld->bhl", k + EPS, q.cumsum(dim=2) + EPS)       # O_i
    incoming = positions / incoming_raw
    outgoing = positions / outgoing_raw
    # 2. conservation
    conserved_sink = torch.einsum("bhld,bhld->bhl", q + EPS,
                                  (k * outgoing[:, :, :, None]).cumsum(dim=2) + EPS) / positions
    conserved_source = torch.einsum("bhld,bhld->bhl", k + EPS,
                                    (q * incoming[:, :, :, None]).cumsum(dim=2) + EPS) / positions
    conserved_source = torch.clamp(conserved_source, min=-1.0, max=1.0)
    # 3. allocation and competition (causal softmax: exp over a running sum; |O^| <= 1)
    allocation = torch.sigmoid(conserved_sink)
    exponent = torch.exp(conserved_source)
    competition = positions * exponent / exponent.cumsum(dim=2)
    # 4. A_i = alloc_i (Q_i / I_i)^T sum_{j<=i} K_j (x) (comp_j v_j): the [B, H, L, d_h, d_h]
    #    prefix sum of outer products, as the reference computes it.
    outer = torch.einsum("bhld,bhle->bhlde", k, v * competition[:, :, :, None])
    prefix = outer.cumsum(dim=2)
    out = torch.einsum("bhld,bhlde->bhle", q / incoming_raw[:, :, :, None], prefix)
    return out * allocation[:, :, :, None]


def attention_core(kind, causal):
    if kind == "flow":
        return causal_flow_attention if causal else flow_attention
    if kind == "softmax":
        return lambda q, k, v: softmax_attention(q, k, v, causal)
    raise ValueError(f"unknown attention kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# The model (docs/FORMATS.md, "Model"; names from "Parameter names"): the blocks of
# jobs/torch/flowformer_torch.py around the cores above, with a loss.


class LanguageModel(nn.Module):
    def __init__(self, vocab, seq_len, d_model, heads, layers, ff, kind):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos_embed = nn.Parameter(torch.zeros(seq_len, d_model))
        self.blocks = nn.ModuleList(Block(d_model, heads, ff, attention_core(kind, True)) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model, eps=1e-5)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, tokens, targets):
        x = self.embed(tokens) + self.pos_embed[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class ImageModel(nn.Module):
    def __init__(self, image_size, channels, patch, classes, d_model, heads, layers, ff, kind):
        super().__init__()
        self.patch = patch
        tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Linear(channels * patch * patch, d_model)
        self.pos_embed = nn.Parameter(torch.zeros(tokens, d_model))
        self.blocks = nn.ModuleList(Block(d_model, heads, ff, attention_core(kind, False)) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model, eps=1e-5)
        self.head = nn.Linear(d_model, classes)

    def forward(self, images, labels):          # images [B, C, H, W]
        b, c, h, w = images.shape
        p = self.patch
        # patches flattened in (channel, row, column) order, as a Conv2d with stride p would see them
        patches = images.unfold(2, p, p).unfold(3, p, p)                 # [B, C, H/p, W/p, p, p]
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(b, (h // p) * (w // p), c * p * p)
        x = self.patch_embed(patches) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x).mean(dim=1))
        return F.cross_entropy(logits, labels)


def initialise(model, seed):
    """docs/FORMATS.md, "Model": Linear and embedding weights normal(0, 0.02), biases 0, LayerNorm (1, 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".norm" in name or name.startswith("norm."):
                parameter.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.normal_(0.0, 0.02, generator=generator)


CONFIGS = {
    # The configurations.
    "lm": dict(vocab=256, seq_len=1024, d_model=256, heads=8, layers=4, ff=1024, batch=8),
    "image": dict(image_size=32, channels=3, patch=4, classes=10, d_model=192, heads=6, layers=6,
                  ff=768, batch=64),
}


def peak_rss_mebibytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: kibibytes


def median(values):
    return statistics.median(values)


def run_model(args):
    torch.manual_seed(args.seed)
    config = dict(CONFIGS[args.config])
    if args.seq_len:
        config["seq_len"] = args.seq_len
    if args.batch:
        config["batch"] = args.batch
    generator = torch.Generator().manual_seed(args.seed + 1)
    if args.config == "lm":
        model = LanguageModel(config["vocab"], config["seq_len"], config["d_model"], config["heads"],
                              config["layers"], config["ff"], args.attention)
        tokens_per_sample = config["seq_len"]
        inputs = torch.randint(0, config["vocab"], (config["batch"], config["seq_len"]), generator=generator)
        targets = torch.randint(0, config["vocab"], (config["batch"], config["seq_len"]), generator=generator)
    else:
        model = ImageModel(config["image_size"], config["channels"], config["patch"], config["classes"],
                           config["d_model"], config["heads"], config["layers"], config["ff"], args.attention)
        tokens_per_sample = (config["image_size"] // config["patch"]) ** 2
        inputs = torch.randn(config["batch"], config["channels"], config["image_size"], config["image_size"],
                             generator=generator)
        targets = torch.randint(0, config["classes"], (config["batch"],), generator=generator)
    initialise(model, args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)

    def step():
        optimizer.zero_grad(set_to_none=True)
        if args.autocast:
            # CPU autocast: linear / matmul / bmm in bf16, norms, softmax and the loss in fp32.
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(inputs, targets)
        else:
            loss = model(inputs, targets)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        step()
    times = []
    cpu_times = []   # process CPU seconds per step (all threads): with 1 thread, the step's compute
    loss = None
    for _ in range(args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    step_seconds = median(times)
    batch = config["batch"]
    return {
        "side": "pytorch",
        "config": args.config,
        "attention": args.attention,
        "implementation": "authors-style flow (cumulative outer products)" if args.attention == "flow"
                          else "scaled_dot_product_attention",
        "threads": torch.get_num_threads(),
        "precision": "bf16 autocast" if args.autocast else "fp32",
        "global_batch": batch,
        "tokens_per_sample": tokens_per_sample,
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "timed_steps": len(times),
        "step_seconds_median": step_seconds,
        "step_seconds_min": min(times),
        "step_cpu_seconds_median": median(cpu_times),
        "samples_per_second": batch / step_seconds,
        "tokens_per_second": batch * tokens_per_sample / step_seconds,
        "last_loss": float(loss),
        "peak_resident_mebibytes": peak_rss_mebibytes(),
        "torch_version": torch.__version__,
    }


def run_attention(args):
    torch.manual_seed(args.seed)
    core = attention_core(args.kind, args.causal)
    heads, head_width = args.heads, args.d_model // args.heads
    results = []
    for length in args.lengths:
        shape = (args.batch, heads, length, head_width)
        q = torch.randn(shape, requires_grad=True)
        k = torch.randn(shape, requires_grad=True)
        v = torch.randn(shape, requires_grad=True)
        grad = torch.randn(shape)
        times = []
        repeats = args.repeats if length <= 4096 else max(1, args.repeats // 3)
        for index in range(args.warmup + repeats):
            start = time.perf_counter()
            out = core(q, k, v)
            out.backward(grad)
            elapsed = time.perf_counter() - start
            q.grad = k.grad = v.grad = None
            if index >= args.warmup:
                times.append(elapsed)
        results.append({"length": length, "forward_backward_milliseconds": 1000 * median(times),
                        "timed_runs": len(times)})
    return {
        "side": "pytorch", "kind": args.kind, "causal": args.causal, "batch": args.batch,
        "d_model": args.d_model, "heads": heads, "threads": torch.get_num_threads(),
        "results": results, "peak_resident_mebibytes": peak_rss_mebibytes(),
        "torch_version": torch.__version__,
    }


def run_check(args):
    """Golden files: the flow cores here, in float64, against the reference outputs and gradients."""
    import h5py
    worst = 0.0
    report = []
    for name in sorted(os.listdir(args.golden)):
        if not name.endswith(".h5"):
            continue
        with h5py.File(os.path.join(args.golden, name), "r") as f:
            causal = bool(f.attrs["causal"])
            heads = int(f.attrs["n_heads"])

            def tensor(path, grad=False):
                return torch.tensor(f[path][()], dtype=torch.float64, requires_grad=grad)

            inputs = {key: tensor(f"inputs/{key}", True) for key in ("queries", "keys", "values")}
            params = {key: tensor(f"params/{key}") for key in f["params"].keys()}

            def project(x, which):
                y = x @ params[f"{which}_projection.weight"].T + params[f"{which}_projection.bias"]
                b, length, d = y.shape
                return y.view(b, length, heads, d // heads).transpose(1, 2)

            q = project(inputs["queries"], "query")
            k = project(inputs["keys"], "key")
            v = project(inputs["values"], "value")
            core = causal_flow_attention if causal else flow_attention
            y = core(q, k, v)
            b, h, length, dh = y.shape
            y = y.transpose(1, 2).reshape(b, length, h * dh)
            out = y @ params["out_projection.weight"].T + params["out_projection.bias"]
            (out * tensor("R")).sum().backward()
            errors = {"output": relative_error(out, tensor("output"))}
            for key in ("queries", "keys", "values"):
                errors[f"grad/{key}"] = relative_error(inputs[key].grad, tensor(f"grad/{key}"))
            file_worst = max(errors.values())
            worst = max(worst, file_worst)
            report.append({"file": name, "max_relative_error": file_worst})
    return {"side": "pytorch", "check": "golden", "files": report, "max_relative_error": worst,
            "passed": worst < 1e-10 and len(report) > 0}


def relative_error(value, reference):
    return float((value.detach() - reference).abs().max() / reference.abs().max())


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    common.add_argument("--json", help="also write the JSON object to this file")
    common.add_argument("--seed", type=int, default=0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    model = commands.add_parser("model", parents=[common], help="training steps of the LM or image config")
    model.add_argument("--config", choices=sorted(CONFIGS), required=True)
    model.add_argument("--attention", choices=["flow", "softmax"], required=True)
    model.add_argument("--seq-len", type=int, help="override the LM's sequence length")
    model.add_argument("--batch", type=int, help="override the batch size")
    model.add_argument("--steps", type=int, default=3, help="timed steps")
    model.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    model.add_argument("--autocast", action="store_true",
                       help="forward under torch.autocast('cpu', dtype=torch.bfloat16)")

    attention = commands.add_parser("attention", parents=[common], help="one attention core, forward + backward")
    attention.add_argument("--kind", choices=["flow", "softmax"], required=True)
    attention.add_argument("--causal", action="store_true")
    attention.add_argument("--lengths", type=lambda s: [int(x) for x in s.split(",")], default=[1024])
    attention.add_argument("--batch", type=int, default=1)
    attention.add_argument("--d-model", type=int, default=256)
    attention.add_argument("--heads", type=int, default=8)
    attention.add_argument("--repeats", type=int, default=5)
    attention.add_argument("--warmup", type=int, default=1)

    check = commands.add_parser("check", parents=[common], help="compare the flow cores with the golden files")
    check.add_argument("--golden", required=True, help="directory of the golden .h5 files")

    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "model":
        result = run_model(args)
    elif args.command == "attention":
        result = run_attention(args)
    else:
        result = run_check(args)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")
    if args.command == "check" and not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
