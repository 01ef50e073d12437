"""Summarises the runs of side_by_side.sh: medians over rounds, ratios flowformer / PyTorch.

    python compare.py OUT_DIR [--threads N] [--json FILE]

Reads OUT_DIR/run-<round>-<side>-<name>.json (flowformer: `bench` reports; PyTorch:
torch_bench.py objects), prints one table and writes the same figures as JSON. Standard
library only.
"""

import argparse
import glob
import json
import os
import re
import statistics
import sys

# (label, flowformer run, PyTorch run, target ratio of throughputs or None)
MODEL_COMPARISONS = [
    ("LM seq 1024: flow vs PyTorch authors-style flow", "lm-flow", "lm-flow", 5.0),
    ("LM seq 1024: flow vs PyTorch softmax (SDPA)", "lm-flow", "lm-softmax", 1.5),
    ("LM seq 1024: softmax vs PyTorch softmax (SDPA)", "lm-softmax", "lm-softmax", None),
    ("LM seq 4096: flow vs PyTorch softmax (SDPA)", "lm4096-flow", "lm4096-softmax", 4.0),
    ("LM seq 4096: flow vs PyTorch authors-style flow", "lm4096-flow", "lm4096-flow", None),
    ("image: flow vs PyTorch authors-style flow", "image-flow", "image-flow", 1.5),
    ("image: flow vs PyTorch softmax (SDPA)", "image-flow", "image-softmax", 1.5),
    # bf16 (train.precision: bf16; PyTorch under torch.autocast bf16). A reference named
    # "project:NAME" is flowformer's own run NAME (bf16 against fp32 in the same rounds).
    ("LM seq 1024: flow bf16 vs flowformer flow fp32", "lm-flow-bf16", "project:lm-flow", 1.7),
    ("LM seq 1024: flow bf16 vs PyTorch softmax (SDPA) bf16 autocast", "lm-flow-bf16", "lm-softmax-bf16", 1.5),
    ("LM seq 1024: flow fp32 vs PyTorch softmax (SDPA) bf16 autocast", "lm-flow", "lm-softmax-bf16", None),
    ("image: flow bf16 vs flowformer flow fp32", "image-flow-bf16", "project:image-flow", 1.5),
    ("image: flow bf16 vs PyTorch softmax (SDPA) bf16 autocast", "image-flow-bf16", "image-softmax-bf16", None),
]


def load_runs(directory):
    """{(side, name): [json objects, one per round]}"""
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, "run-*.json"))):
        match = re.match(r"run-(\d+)-(project|torch)-(.+)\.json$", os.path.basename(path))
        if not match:
            continue
        with open(path) as handle:
            try:
                runs.setdefault((match.group(2), match.group(3)), []).append(json.load(handle))
            except json.JSONDecodeError:
                print(f"compare.py: skipping unreadable {path}", file=sys.stderr)
    return runs


def project_model_figures(report):
    model = report["models"][0]
    tokens = model["global_batch"] * model["tokens_per_sample"]
    return (model["tokens_per_second"], model["samples_per_second"], model["peak_resident_mebibytes"],
            tokens / model["step_cpu_seconds"] if model.get("step_cpu_seconds") else None)


def torch_model_figures(result):
    tokens = result["global_batch"] * result["tokens_per_sample"]
    cpu = result.get("step_cpu_seconds_median")
    return (result["tokens_per_second"], result["samples_per_second"], result["peak_resident_mebibytes"],
            tokens / cpu if cpu else None)


def median_of(values):
    return statistics.median(values) if values else None


def model_rows(runs):
    rows = []
    for label, project_name, torch_name, target in MODEL_COMPARISONS:
        project = [project_model_figures(r) for r in runs.get(("project", project_name), [])]
        if torch_name.startswith("project:"):
            torch_side = [project_model_figures(r) for r in runs.get(("project", torch_name[8:]), [])]
        else:
            torch_side = [torch_model_figures(r) for r in runs.get(("torch", torch_name), [])]
        if not project or not torch_side:
            continue
        p_tokens = median_of([f[0] for f in project])
        t_tokens = median_of([f[0] for f in torch_side])
        p_samples = median_of([f[1] for f in project])
        t_samples = median_of([f[1] for f in torch_side])
        p_memory = median_of([f[2] for f in project])
        t_memory = median_of([f[2] for f in torch_side])
        ratio = p_tokens / t_tokens
        # Tokens per CPU-second of the (1-thread) process: what the step costs in compute, which
        # other work on a shared machine changes less than the wall clock.
        p_cpu = median_of([f[3] for f in project if f[3]])
        t_cpu = median_of([f[3] for f in torch_side if f[3]])
        rows.append({
            "comparison": label,
            "flowformer_tokens_per_second": p_tokens, "pytorch_tokens_per_second": t_tokens,
            "flowformer_samples_per_second": p_samples, "pytorch_samples_per_second": t_samples,
            "throughput_ratio": ratio, "target_ratio": target,
            "meets_target": None if target is None else ratio >= target,
            "flowformer_peak_mebibytes": p_memory, "pytorch_peak_mebibytes": t_memory,
            "memory_ratio": p_memory / t_memory,
            "flowformer_tokens_per_cpu_second": p_cpu, "reference_tokens_per_cpu_second": t_cpu,
            "cpu_time_ratio": p_cpu / t_cpu if p_cpu and t_cpu else None,
            "rounds": min(len(project), len(torch_side)),
        })
    return rows


def attention_rows(runs):
    """Forward+backward ms per (kind, causal, L): flowformer flow vs PyTorch flow and softmax."""
    project = {}
    for report in runs.get(("project", "attention"), []):
        for entry in report.get("attention", []):
            if entry.get("forward_backward_milliseconds") is not None:
                key = (entry["kind"], entry["causal"], entry["length"])
                project.setdefault(key, []).append(entry["forward_backward_milliseconds"])
    torch_side = {}
    for (side, name), results in runs.items():
        if side != "torch" or not name.startswith("attention-"):
            continue
        for result in results:
            for entry in result["results"]:
                key = (result["kind"], result["causal"], entry["length"])
                torch_side.setdefault(key, []).append(entry["forward_backward_milliseconds"])
    rows = []
    for (kind, causal, length) in sorted(project):
        if kind != "flow":
            continue
        ours = median_of(project[(kind, causal, length)])
        row = {"causal": causal, "length": length, "flowformer_flow_ms": ours}
        for torch_kind in ("flow", "softmax"):
            theirs = median_of(torch_side.get((torch_kind, causal, length), []))
            row[f"pytorch_{torch_kind}_ms"] = theirs
            row[f"speedup_vs_pytorch_{torch_kind}"] = theirs / ours if theirs else None
        softmax_ours = median_of(project.get(("softmax", causal, length), []))
        row["flowformer_softmax_ms"] = softmax_ours
        rows.append(row)
    return rows


def fmt(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"


def print_table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(title)
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths)):
            cells.append(str(cell).ljust(width) if i == 0 else str(cell).rjust(width))
        print("  ".join(cells).rstrip())
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()

    runs = load_runs(args.directory)
    models = model_rows(runs)
    attention = attention_rows(runs)
    torch_version = next((r[0].get("torch_version") for (side, _), r in runs.items()
                          if side == "torch" and r and r[0].get("torch_version")), None)

    print(f"flowformer / PyTorch {torch_version} at {args.threads} thread(s); medians over rounds; "
          "ratio > 1: flowformer faster; memory ratio < 1: flowformer smaller")
    print()
    if models:
        print_table("training step (forward + backward + AdamW), synthetic inputs",
                    ["comparison", "flowformer tok/s", "reference tok/s", "ratio", "target", "met",
                     "flowformer MiB", "reference MiB", "memory ratio", "ratio per CPU-s", "rounds"],
                    [[m["comparison"], fmt(m["flowformer_tokens_per_second"], 0),
                      fmt(m["pytorch_tokens_per_second"], 0), fmt(m["throughput_ratio"], 2) + "x",
                      "" if m["target_ratio"] is None else f">= {m['target_ratio']}x",
                      "" if m["meets_target"] is None else ("yes" if m["meets_target"] else "NO"),
                      fmt(m["flowformer_peak_mebibytes"], 0), fmt(m["pytorch_peak_mebibytes"], 0),
                      fmt(m["memory_ratio"], 2),
                      "" if m["cpu_time_ratio"] is None else fmt(m["cpu_time_ratio"], 2) + "x",
                      m["rounds"]] for m in models])
    if attention:
        print_table("attention core forward+backward, ms (d_model 256, 8 heads, batch 1)",
                    ["L", "causal", "flowformer flow", "PyTorch flow", "speedup", "PyTorch softmax",
                     "speedup", "flowformer softmax"],
                    [[a["length"], "yes" if a["causal"] else "no", fmt(a["flowformer_flow_ms"], 2),
                      fmt(a["pytorch_flow_ms"], 2), fmt(a["speedup_vs_pytorch_flow"], 1) + "x",
                      fmt(a["pytorch_softmax_ms"], 2), fmt(a["speedup_vs_pytorch_softmax"], 1) + "x",
                      fmt(a["flowformer_softmax_ms"], 2)] for a in attention])
    if not models and not attention:
        print("no complete pairs of runs found in", args.directory)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "torch_version": torch_version, "models": models,
                       "attention": attention}, handle, indent=2, sort_keys=True)
            handle.write("\n")
        print("wrote", args.json)
    return 0 if (models or attention) else 1


if __name__ == "__main__":
    sys.exit(main())
