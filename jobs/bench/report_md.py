"""Markdown tables from `flowformer bench … --json` reports and side_by_side.json files of
side_by_side.sh (told apart by their contents, in any order), ready to paste into a README.

    python3 jobs/bench/report_md.py BENCH.json [SIDE_BY_SIDE.json] > tables.md
    python3 jobs/bench/report_md.py SIDE_BY_SIDE.json

Standard library only.
"""

import json
import sys


def fmt(value, digits=1, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def bench_tables(report):
    out = []
    machine = report.get("machine", {})
    out.append(f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, OPENBLAS_CORETYPE="
               f"{machine.get('openblas_coretype')}, kernels {machine.get('kernels', 'generic')}, "
               f"load average {machine.get('load_average')} at start"
               + (" — QUICK MODE, not a measurement" if report.get("quick") else "") + ".\n")

    peaks = report.get("sgemm_peaks") or []
    if peaks:
        out.append("**sgemm peak** (best square shape and GEMM — OpenBLAS, or the AVX-512 GEMM at one thread under x86-64-v4 — fastest run)\n")
        out.append(table(["threads", "GFLOP/s"], [[p["threads"], fmt(p["gflops"])] for p in peaks]))

    models = report.get("models") or []
    if models:
        out.append("**Training step** (forward + backward + all-reduce + AdamW; medians; MFU against "
                   "the 1-thread sgemm peak × cores used; CPU use = CPU time / (wall time × threads))\n")
        out.append(table(
            ["run", "ranks × threads", "batch × T", "step s", "samples/s", "tokens/s", "GFLOP/s", "MFU",
             "comm wait s", "data wait s", "peak RSS MiB", "CPU use", "data"],
            [[m["label"], f"{m['ranks']} × {m['threads_per_rank']}", f"{m['global_batch']} × {m['tokens_per_sample']}",
              fmt(m["step"]["median"], 3), fmt(m["samples_per_second"], 1), fmt(m["tokens_per_second"], 0),
              fmt(m["achieved_gflops"], 1), fmt((m.get("mfu") or 0) * 100, 1, "%"),
              fmt(m["comm_wait_seconds"], 4), fmt(m["data_wait_seconds"], 4), fmt(m["peak_resident_mebibytes"], 0),
              fmt(m.get("cpu_utilisation", 0) * 100, 0, "%"),
              "in memory" if m["data"] == "synthetic" else m["data"].split("/")[-1]] for m in models]))

    trainer = report.get("trainer") or []
    if trainer:
        out.append("**`flowformer train`** end to end on KJV (LM config, global batch 8; medians of the "
                   "metrics.jsonl records after the first)\n")
        out.append(table(["run", "ranks × threads", "overlap", "tokens/s", "data wait", "comm wait"],
                         [[t["label"], f"{t['ranks']} × {t['threads_per_rank']}", "yes" if t["overlap"] else "no",
                           fmt(t["tokens_per_second"], 0), fmt(t["data_wait_share"] * 100, 1, "%"),
                           fmt(t["comm_wait_share"] * 100, 1, "%")] for t in trainer]))

    attention = report.get("attention") or []
    if attention:
        columns = []
        for a in attention:
            key = (a["kind"], a["causal"])
            if key not in columns:
                columns.append(key)
        lengths = sorted({a["length"] for a in attention})
        rows = []
        for length in lengths:
            row = [length]
            for kind, causal in columns:
                entry = next((a for a in attention if a["kind"] == kind and a["causal"] == causal
                              and a["length"] == length), None)
                if entry is None:
                    row.append("")
                elif entry.get("forward_backward_milliseconds") is None:
                    row.append("skipped")
                else:
                    row.append(fmt(entry["forward_backward_milliseconds"], 2))
            rows.append(row)
        out.append("**Attention core forward + backward, ms** (d_model 256, 8 heads, batch 1, 1 thread, medians)\n")
        out.append(table(["L"] + [f"{k}{' causal' if c else ''}" for k, c in columns], rows))
    scaling = report.get("attention_scaling") or []
    if scaling:
        first = scaling[0]
        out.append(f"**Scaling** t(L={first['long_length']}) / t(L={first['short_length']}) "
                   f"(linear: {first['length_ratio']:.0f}×; target for flow ≤ 17×)\n")
        out.append(table(["kind", "causal", "ratio"],
                         [[s["kind"], "yes" if s["causal"] else "no", fmt(s["time_ratio"], 1, "×")] for s in scaling]))
    return "\n".join(out)


def side_by_side_tables(result):
    out = [f"**Side by side** with PyTorch {result.get('torch_version')} at {result.get('threads')} thread(s) "
           "(medians over interleaved rounds; ratio > 1: flowformer faster; memory ratio < 1: flowformer smaller)\n"]
    models = result.get("models") or []
    if models:
        def rate(m, side):
            if m["comparison"].startswith("image"):
                return fmt(m[f"{side}_samples_per_second"], 1) + " img/s"
            return fmt(m[f"{side}_tokens_per_second"], 0) + " tok/s"

        out.append(table(
            ["comparison", "flowformer", "reference", "ratio", "target", "met", "flowformer MiB",
             "reference MiB", "memory ratio"],
            [[m["comparison"], rate(m, "flowformer"), rate(m, "pytorch"),
              fmt(m["throughput_ratio"], 2, "×"), "–" if m["target_ratio"] is None else f"≥ {m['target_ratio']}×",
              "–" if m["meets_target"] is None else ("yes" if m["meets_target"] else "**no**"),
              fmt(m["flowformer_peak_mebibytes"], 0), fmt(m["pytorch_peak_mebibytes"], 0),
              fmt(m["memory_ratio"], 2)] for m in models]))
    attention = result.get("attention") or []
    if attention:
        out.append(table(
            ["L", "causal", "flowformer flow ms", "PyTorch flow ms", "speed-up", "PyTorch softmax ms", "speed-up"],
            [[a["length"], "yes" if a["causal"] else "no", fmt(a["flowformer_flow_ms"], 2),
              fmt(a["pytorch_flow_ms"], 2), fmt(a["speedup_vs_pytorch_flow"], 1, "×"),
              fmt(a["pytorch_softmax_ms"], 2), fmt(a["speedup_vs_pytorch_softmax"], 1, "×")] for a in attention]))
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in sys.argv[1:]:
        with open(path) as handle:
            report = json.load(handle)
        # side_by_side.sh writes the PyTorch version; flowformer's reports describe the machine.
        print(side_by_side_tables(report) if "torch_version" in report else bench_tables(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
