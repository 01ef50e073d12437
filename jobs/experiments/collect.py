"""Turns one finished run of jobs/experiments/run.sh into its result JSON (what plot.py reads).

    collect.py run --experiment E --id ID --dir RUN_DIR --config YAML --test-split H5 --out JSON [--partial] -- SETS…
    collect.py length --id ID --bench BENCH_JSON --out JSON [--pytorch]

A run's result holds its identity (experiment, id, attention kind, config file and overrides),
the curves of metrics.jsonl (train loss/accuracy, validation loss/accuracy by step, with the
training time up to each step), the test-split evaluation (`flowformer eval --json`), the wall
time of the `train` invocations and the machine's CPU model.
"""

import argparse
import json
import os
import platform
import subprocess


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def read_metrics(path: str) -> list:
    """Records of metrics.jsonl; lines that do not parse (a crash's partial line) are skipped;
    a step logged twice (a resume after a crash between log and checkpoint) keeps its last record."""
    records = {}
    with open(path) as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "step" in record and "event" in record:
                records[(record["event"], record["step"])] = record
    return sorted(records.values(), key=lambda r: (r["step"], r["event"]))


def attention_of(sets: list, default: str) -> str:
    for item in sets:
        if item.startswith("model.attention="):
            return item.split("=", 1)[1]
    return default


def collect_run(args) -> None:
    records = read_metrics(os.path.join(args.dir, "metrics.jsonl"))
    train = [r for r in records if r["event"] == "train"]
    evals = [r for r in records if r["event"] == "eval"]
    # Training time up to each logged step: Σ Δsamples / samples_per_second over the intervals.
    elapsed, previous_samples, curve = 0.0, 0, []
    for r in train:
        rate = r.get("samples_per_second") or 0
        if rate > 0:
            elapsed += (r["samples_seen"] - previous_samples) / rate
        previous_samples = r["samples_seen"]
        curve.append({"step": r["step"], "loss": r.get("loss"), "accuracy": r.get("accuracy"),
                      "train_seconds": elapsed, "samples_per_second": r.get("samples_per_second"),
                      "tokens_per_second": r.get("tokens_per_second")})
    time_at = {c["step"]: c["train_seconds"] for c in curve}
    validation = []
    for r in evals:
        earlier = [s for s in time_at if s <= r["step"]]
        validation.append({"step": r["step"], "loss": r.get("val_loss"), "accuracy": r.get("val_accuracy"),
                           "perplexity": r.get("val_perplexity"),
                           "train_seconds": time_at[max(earlier)] if earlier else 0.0})
    wall = 0.0
    wall_path = os.path.join(args.dir, "wall-seconds")
    if os.path.exists(wall_path):
        with open(wall_path) as file:
            for line in file:
                start, end = (float(x) for x in line.split())
                wall += end - start
    with open(os.path.join(args.dir, "test.json")) as file:
        test = json.load(file)
    result = {
        "experiment": args.experiment, "id": args.id, "status": "partial" if args.partial else "complete",
        "attention": attention_of(args.sets, "flow"), "config": os.path.relpath(args.config),
        "overrides": [s for s in args.sets if s != "--set"],
        # The evaluated checkpoint's step (a stopped run may have logged a few steps past it).
        "steps": test.get("step", train[-1]["step"] if train else 0), "test_split": os.path.basename(args.test_split),
        "test": test, "train": curve, "validation": validation, "wall_seconds": wall,
        "train_seconds": elapsed, "ranks": train[-1].get("world_size") if train else None,
        "cpu": cpu_model(),
    }
    write(args.out, result)


def collect_length(args) -> None:
    with open(args.bench) as file:
        bench = json.load(file)
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "peak_resident_mebibytes" in node and "step" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(bench.get("models", []))
    if not found:
        raise SystemExit(f"collect.py: no model result in {args.bench}")
    m = found[0]
    # Step CPU seconds (rank 0's process, all threads) next to the wall time: on a machine
    # shared with other work the wall time includes waiting for a core, the CPU time does not.
    result = {"experiment": "length", "id": args.id, "status": "complete", "attention": m["attention"],
              "length": m["tokens_per_sample"], "batch": m["global_batch"], "step_seconds": m["step"]["median"],
              "step_cpu_seconds": m["step_cpu_seconds"], "peak_mib": m["peak_resident_mebibytes"],
              "tokens_per_second": m["tokens_per_second"], "cpu_utilisation": m.get("cpu_utilisation"),
              "load_average": bench.get("machine", {}).get("load_average"), "cpu": cpu_model(),
              "command": f"flowformer bench model --config lm --attention {m['attention']} "
                         f"--seq-len {m['tokens_per_sample']} --batch 1 --steps 2 --warmup 1 --peak-gflops 1"}
    write(args.out, result)


def collect_length_pytorch(args) -> None:
    """One `jobs/bench/torch_bench.py model --config lm --batch 1` result: the PyTorch reference
    (the authors' causal Flow-Attention, or scaled_dot_product_attention) at one length."""
    with open(args.bench) as file:
        m = json.load(file)
    kind = "pytorch-flow" if m["attention"] == "flow" else "pytorch-sdpa"
    result = {"experiment": "length", "id": args.id, "status": "complete", "attention": kind,
              "implementation": m["implementation"], "torch_version": m["torch_version"],
              "length": m["tokens_per_sample"], "batch": m["global_batch"],
              "step_seconds": m["step_seconds_median"], "step_cpu_seconds": m["step_cpu_seconds_median"],
              # the whole Python process: the interpreter and PyTorch's own libraries included
              "peak_mib": m["peak_resident_mebibytes"], "tokens_per_second": m["tokens_per_second"],
              "cpu": cpu_model(),
              "command": f"jobs/bench/torch_bench.py model --config lm --attention {m['attention']} "
                         f"--seq-len {m['tokens_per_sample']} --batch 1 --steps 2 --warmup 1 --threads 1"}
    write(args.out, result)


def write(path: str, result: dict) -> None:
    temporary = path + ".partial"
    with open(temporary, "w") as file:
        json.dump(result, file, indent=1)
        file.write("\n")
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    for option in ("--experiment", "--id", "--dir", "--config", "--test-split", "--out"):
        run.add_argument(option, required=True)
    run.add_argument("--partial", action="store_true", help="the run was stopped before its last step")
    run.add_argument("sets", nargs="*")
    length = sub.add_parser("length")
    for option in ("--id", "--bench", "--out"):
        length.add_argument(option, required=True)
    length.add_argument("--pytorch", action="store_true", help="--bench is a torch_bench.py model result")
    args = parser.parse_args()
    if args.command == "run":
        collect_run(args)
    elif args.pytorch:
        collect_length_pytorch(args)
    else:
        collect_length(args)


if __name__ == "__main__":
    main()
