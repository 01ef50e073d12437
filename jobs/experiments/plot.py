"""Figures and tables of jobs/experiments/run.sh from its result JSON files.

    plot.py --results DIR --out DIR [--check]

Writes into --out: vision.png, language.png, listops.png, listops-sweep.png, listops-lra.png,
lra-image.png, length.png (one per experiment; an experiment without results gets a figure saying so) and
tables.md (every table of docs/EXPERIMENTS.md). --check: exit non-zero unless every experiment
has results and every figure and table was written (what `run.sh --quick`'s test asserts).
"""

import argparse
import glob
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KINDS = ("flow", "softmax", "linear")
COLORS = {"flow": "tab:blue", "softmax": "tab:orange", "linear": "tab:green"}
FIGURES = ("vision", "language", "listops", "listops-sweep", "listops-lra", "lra-image", "length")
# The PyTorch references of the length benchmark (dashed, beside this project's kinds).
REFERENCE_KINDS = ("pytorch-flow", "pytorch-sdpa")
REFERENCE_COLORS = {"pytorch-flow": "tab:blue", "pytorch-sdpa": "tab:orange"}
LISTOPS_MAJORITY = 0.16   # the most frequent class (value 0 or 9) of the generated ListOps splits


def load(results_dir: str) -> dict:
    by_experiment = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as file:
            result = json.load(file)
        by_experiment.setdefault(result["experiment"], []).append(result)
    return by_experiment


def mean_std(values: list) -> tuple:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def override(result: dict, key: str):
    """The value of `--set key=value` for the run, or None."""
    for item in result.get("overrides", []):
        if item.startswith(key + "="):
            return item.split("=", 1)[1]
    return None


def config_value(result: dict, key: str, default: int) -> int:
    """A `model.<key>` of the run: its override, else the config file's value."""
    value = override(result, "model." + key)
    if value is not None:
        return int(value)
    try:
        with open(result["config"]) as file:
            match = re.search(rf"^\s+{key}:\s*(\d+)", file.read(), re.MULTILINE)
            return int(match.group(1)) if match else default
    except OSError:
        return default


def empty_figure(path: str, title: str) -> None:
    figure, axes = plt.subplots(figsize=(5, 2))
    axes.axis("off")
    axes.text(0.5, 0.5, f"{title}: no results", ha="center", va="center")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def curves(axes, runs: list, x_key: str, y_key: str, label_of) -> None:
    for result in runs:
        points = [(p[x_key], p[y_key]) for p in result["validation"] if p.get(y_key) is not None]
        if points:
            xs, ys = zip(*points)
            axes.plot(xs, ys, marker="o", markersize=3, color=COLORS.get(result["attention"]), label=label_of(result))


def status_note(result: dict) -> str:
    return "" if result.get("status") == "complete" else " (partial)"


def classification_table(runs: list, title: str) -> list:
    lines = [f"### {title}", "", "| run | attention | steps | test accuracy | test loss | val accuracy (last) | train time | wall time | ms/step |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: r["id"]):
        last_val = r["validation"][-1]["accuracy"] if r["validation"] else None
        ms = 1000 * r["train_seconds"] / r["steps"] if r["steps"] else float("nan")
        lines.append(f"| {r['id']}{status_note(r)} | {r['attention']} | {r['steps']} | {100 * r['test']['accuracy']:.2f}% | "
                     f"{r['test']['loss']:.4f} | {'' if last_val is None else f'{100 * last_val:.2f}%'} | "
                     f"{r['train_seconds']:.0f} s | {r['wall_seconds']:.0f} s | {ms:.0f} |")
    return lines + [""]


def vision(runs: list, out: str, tables: list) -> None:
    figure, axes = plt.subplots(figsize=(5, 3.5))
    rows = ["### Vision: Fashion-MNIST test accuracy over seeds", "", "| attention | seeds | test accuracy mean ± std | runs |", "|---|---|---|---|"]
    for i, kind in enumerate(KINDS):
        accuracies = [100 * r["test"]["accuracy"] for r in runs if r["attention"] == kind]
        if not accuracies:
            continue
        mean, std = mean_std(accuracies)
        axes.bar(i, mean, yerr=std, color=COLORS[kind], capsize=6, label=kind)
        axes.scatter([i] * len(accuracies), accuracies, color="black", s=10, zorder=3)
        rows.append(f"| {kind} | {len(accuracies)} | {mean:.2f} ± {std:.2f}% | "
                    + ", ".join(f"{a:.2f}" for a in accuracies) + " |")
    axes.set_xticks(range(len(KINDS)), KINDS)
    axes.set_ylabel("test accuracy (%)")
    low = min((100 * r["test"]["accuracy"] for r in runs), default=0)
    axes.set_ylim(max(0, low - 5), None)
    axes.set_title("Fashion-MNIST, image Flowformer")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "vision.png"), dpi=120)
    plt.close(figure)
    tables += rows + [""] + classification_table(runs, "Vision: every run")


def language(runs: list, out: str, tables: list) -> None:
    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 3.8))
    label = lambda r: r["attention"] + status_note(r)
    curves(by_step, runs, "step", "loss", label)
    curves(by_time, runs, "train_seconds", "loss", label)
    by_step.set_xlabel("step")
    by_time.set_xlabel("training time (s)")
    for axes in (by_step, by_time):
        axes.set_ylabel("validation loss (nats/byte)")
        axes.legend()
    figure.suptitle("KJV byte-level LM, seq 512")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "language.png"), dpi=120)
    plt.close(figure)
    rows = ["### Language: KJV validation loss", "",
            "| attention | steps | val loss (nats/byte) | bits/byte | perplexity | vs softmax | train time | ms/step |", "|---|---|---|---|---|---|---|---|"]
    softmax = next((r["test"]["loss"] for r in runs if r["attention"] == "softmax"), None)
    for r in sorted(runs, key=lambda r: KINDS.index(r["attention"]) if r["attention"] in KINDS else 9):
        loss = r["test"]["loss"]
        relative = f"{100 * (loss / softmax - 1):+.1f}%" if softmax else ""
        ms = 1000 * r["train_seconds"] / r["steps"] if r["steps"] else float("nan")
        rows.append(f"| {r['attention']}{status_note(r)} | {r['steps']} | {loss:.4f} | {loss / math.log(2):.4f} | "
                    f"{math.exp(loss):.2f} | {relative} | {r['train_seconds']:.0f} s | {ms:.0f} |")
    tables += rows + [""]


def accuracy_curves(runs: list, out: str, name: str, title: str, majority: float = None) -> None:
    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 3.8))
    label = lambda r: r["id"] + status_note(r)
    curves(by_step, runs, "step", "accuracy", label)
    curves(by_time, runs, "train_seconds", "accuracy", label)
    by_step.set_xlabel("step")
    by_time.set_xlabel("training time (s)")
    for axes in (by_step, by_time):
        if majority:
            axes.axhline(majority, color="gray", linestyle="--", linewidth=1, label="majority class")
        axes.set_ylabel("validation accuracy")
        axes.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(os.path.join(out, f"{name}.png"), dpi=120)
    plt.close(figure)


def listops_sweep(runs: list, out: str, tables: list) -> None:
    figure, axes = plt.subplots(figsize=(5, 3.5))
    points = []
    for r in runs:
        d_model, heads = config_value(r, "d_model", 128), config_value(r, "heads", 2)
        points.append((d_model // heads, heads, r))
    points.sort(key=lambda p: p[0])
    if points:
        axes.plot([p[0] for p in points], [100 * p[2]["test"]["accuracy"] for p in points], marker="o", color=COLORS["flow"])
        axes.axhline(100 * LISTOPS_MAJORITY, color="gray", linestyle="--", linewidth=1, label="majority class")
        axes.set_xscale("log", base=2)
        axes.legend()
    axes.set_xlabel("head width d_h (d_model 128)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("ListOps, Flow-Attention: head width")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "listops-sweep.png"), dpi=120)
    plt.close(figure)
    rows = ["### ListOps: Flow-Attention head width (d_model 128)", "", "| heads | head width | test accuracy | run |", "|---|---|---|---|"]
    for width, heads, r in points:
        rows.append(f"| {heads} | {width} | {100 * r['test']['accuracy']:.2f}% | {r['id']}{status_note(r)} |")
    tables += rows + [""]


def length(runs: list, out: str, tables: list) -> None:
    figure, (time_axes, cpu_axes, memory_axes) = plt.subplots(1, 3, figsize=(14, 3.8))
    lengths = sorted({r["length"] for r in runs})
    table = {}
    for kind in KINDS + REFERENCE_KINDS:
        points = sorted((r["length"], r["step_seconds"], r.get("step_cpu_seconds", float("nan")), r["peak_mib"])
                        for r in runs if r["attention"] == kind)
        if not points:
            continue
        if kind in REFERENCE_KINDS:
            style = dict(marker="s", markersize=3, linestyle="--", color=REFERENCE_COLORS[kind], label=f"{kind} (PyTorch)")
        else:
            style = dict(marker="o", color=COLORS[kind], label=kind)
        xs = [p[0] for p in points]
        time_axes.plot(xs, [1000 * p[1] for p in points], **style)
        cpu_axes.plot(xs, [1000 * p[2] for p in points], **style)
        memory_axes.plot(xs, [p[3] for p in points], **style)
        for p in points:
            table[(kind, p[0])] = p
    flow = sorted(p for (kind, _), p in table.items() if kind == "flow")
    if flow:
        base = flow[0]
        for axes, index in ((time_axes, 1), (cpu_axes, 2)):
            axes.plot(lengths, [1000 * base[index] * L / base[0] for L in lengths], color="gray", linestyle=":",
                      label="flow at the shortest L, × L")
    for axes, ylabel in ((time_axes, "training step wall time (ms)"), (cpu_axes, "training step CPU time (ms)"),
                         (memory_axes, "peak resident memory (MiB)")):
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xlabel("sequence length L")
        axes.set_ylabel(ylabel)
        axes.legend(fontsize=8)
    figure.suptitle("LM preset (d 256, 8 heads, 4 layers, causal), batch 1, one rank")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "length.png"), dpi=120)
    plt.close(figure)
    shown = KINDS + tuple(k for k in REFERENCE_KINDS if any((k, L) in table for L in lengths))
    rows = ["### Length: training step wall time, CPU time (ms) and peak memory (MiB), LM preset, batch 1", "",
            "| L | " + " | ".join(f"{k} wall ms | {k} CPU ms | {k} MiB" for k in shown) + " |",
            "|---|" + "---|---|---|" * len(shown)]
    for L in lengths:
        cells = []
        for kind in shown:
            p = table.get((kind, L))
            cells += [f"{1000 * p[1]:.1f}", f"{1000 * p[2]:.1f}", f"{p[3]:.0f}"] if p else ["–", "–", "–"]
        rows.append(f"| {L} | " + " | ".join(cells) + " |")
    tables += rows + [""]


def equal_time_table(runs: list, title: str) -> list:
    """Validation accuracy of every run at the largest validation step whose training time fits
    in the shortest run's whole training time: the comparison at equal wall time."""
    budget = min(r["train_seconds"] for r in runs)
    rows = [f"### {title}: at equal training time ({budget:.0f} s, the shortest run's)", "",
            "| run | attention | step reached | training time | val accuracy |", "|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: r["id"]):
        fitting = [p for p in r["validation"] if p.get("accuracy") is not None and p["train_seconds"] <= budget * 1.02]
        if fitting:
            p = fitting[-1]
            rows.append(f"| {r['id']}{status_note(r)} | {r['attention']} | {p['step']} | {p['train_seconds']:.0f} s | "
                        f"{100 * p['accuracy']:.2f}% |")
        else:
            rows.append(f"| {r['id']}{status_note(r)} | {r['attention']} | – | – | no validation within the budget |")
    return rows + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = load(args.results)
    tables = ["# Experiment tables", "", f"Generated by jobs/experiments/plot.py from {args.results}.", ""]
    missing = []
    for name in FIGURES:
        runs = results.get(name, [])
        path = os.path.join(args.out, f"{name}.png")
        if not runs:
            missing.append(name)
            empty_figure(path, name)
            tables += [f"### {name}", "", "not run", ""]
            continue
        if name == "vision":
            vision(runs, args.out, tables)
        elif name == "language":
            language(runs, args.out, tables)
        elif name == "listops":
            accuracy_curves(runs, args.out, "listops", "ListOps (lengths 100–511, padding excluded)", LISTOPS_MAJORITY)
            tables += classification_table(runs, "ListOps")
        elif name == "listops-sweep":
            flow_main = [r for r in results.get("listops", []) if r["attention"] == "flow"]
            listops_sweep(runs + flow_main, args.out, tables)
        elif name == "listops-lra":
            accuracy_curves(runs, args.out, "listops-lra", "ListOps at the LRA sizes (96,000 trees of 501–1,999 tokens)",
                            LISTOPS_MAJORITY)
            tables += classification_table(runs, "ListOps at the LRA sizes")
            tables += equal_time_table(runs, "ListOps at the LRA sizes")
        elif name == "lra-image":
            accuracy_curves(runs, args.out, "lra-image", "Fashion-MNIST as 784-token sequences")
            tables += classification_table(runs, "LRA-Image analogue (Fashion-MNIST as pixel sequences)")
        elif name == "length":
            length(runs, args.out, tables)
    with open(os.path.join(args.out, "tables.md"), "w") as file:
        file.write("\n".join(tables))
    written = [f for f in FIGURES if os.path.exists(os.path.join(args.out, f"{f}.png"))]
    print(f"plot.py: {len(written)} figures and tables.md in {args.out}"
          + (f"; no results for {', '.join(missing)}" if missing else ""))
    if args.check and (missing or len(written) != len(FIGURES)):
        sys.exit(f"plot.py: missing results or figures: {missing}")


if __name__ == "__main__":
    main()
