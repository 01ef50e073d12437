#!/usr/bin/env bash
# Cost of train.deterministic: step time with and without it, side by side in one run.
#
#   jobs/bench/deterministic.sh [--rounds N] [--ranks W] [--out DIR]
#
# For the LM benchmark shape (d_model 256, 8 heads, 4 layers, ff 1024, seq 1024, global batch 8,
# KJV) and the image benchmark shape on Fashion-MNIST (28×28×1, patch 4, d_model 192, 6 heads,
# 6 layers, ff 768, global batch 64), each with one micro-batch per rank and with two, runs
# `flowformer train` under `mpirun -np W` alternately with deterministic false / true, N rounds,
# and prints the median samples/s of each (metrics.jsonl records after the first) and their
# ratio. Also prints the gradient all-reduce bytes per step of both modes (parameters × 4 or × 8).
# Needs datasets/out/kjv-train.h5 and fashion-mnist-train.h5 (datasets/pack.sh kjv fashion-mnist)
# and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3 ranks=2 out=runs/bench/deterministic
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "deterministic.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
flowformer=.build/release/flowformer
for f in datasets/out/kjv-train.h5 datasets/out/fashion-mnist-train.h5 "$flowformer"; do
  [[ -e "$f" ]] || { echo "deterministic.sh: $f is missing" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$out"; mkdir -p "$out"

lm="model: {kind: lm, attention: flow, d_model: 256, heads: 8, layers: 4, ff: 1024, seq_len: 1024, vocab_size: 256, dropout: 0.1}
data: {train: datasets/out/kjv-train.h5, val: []}
train: {global_batch: 8, steps: 8, warmup_steps: 1, log_every: 1, eval_every: 0, checksum_every: 0}"
image="model: {kind: image, attention: flow, d_model: 192, heads: 6, layers: 6, ff: 768, image_size: 28, channels: 1, patch: 4, num_classes: 10, dropout: 0.1}
data: {train: datasets/out/fashion-mnist-train.h5, val: []}
train: {global_batch: 64, steps: 12, warmup_steps: 1, log_every: 1, eval_every: 0, checksum_every: 0, augment: true}"

run() {   # name yaml micro deterministic round
  local dir="$out/$1-micro$3-det$4-r$5"
  mkdir -p "$dir"
  printf '%s\ncheckpoint: {dir: %s, every: 0, keep: 1}\n' "$2" "$dir/run" > "$dir/run.yaml"
  mpirun -np "$ranks" --oversubscribe "$flowformer" train --config "$dir/run.yaml" --no-resume \
    --set train.micro_batch="$3" --set train.deterministic="$4" > "$dir/log.txt" 2>&1
}
for round in $(seq 1 "$rounds"); do
  for micro in 4 2; do for det in false true; do run lm "$lm" $micro $det $round; done; done
  for micro in 32 16; do for det in false true; do run image "$image" $micro $det $round; done; done
  echo "round $round done" >&2
done
lscpu | grep -m1 "Model name" | tee "$out/cpu.txt"
python3 - "$out" "$ranks" <<'PY'
import json, sys, glob, os, re, statistics
out, ranks = sys.argv[1], int(sys.argv[2])
def rate(path):
    recs = [json.loads(l) for l in open(path) if '"train"' in l]
    recs = [r for r in recs if r.get("event") == "train"][1:]
    return statistics.median(r["samples_per_second"] for r in recs)
rows = {}
for d in sorted(glob.glob(out + "/*-r*")):
    m = re.match(r".*/(\w+)-micro(\d+)-det(\w+)-r(\d+)$", d)
    rows.setdefault((m[1], int(m[2])), {}).setdefault(m[3], []).append(rate(d + "/run/metrics.jsonl"))
params = {}
for d in glob.glob(out + "/*-dettrue-r1"):
    m = re.search(r"(\d+) parameters", open(d + "/log.txt").read())
    params[os.path.basename(d).split("-")[0]] = int(m[1])
print(f"| model | micro-batches per rank | samples/s deterministic: false | true | time ratio (true / false) | all-reduce bytes per step false / true |")
print("|---|---|---|---|---|---|")
for (model, micro), v in sorted(rows.items()):
    a, b = statistics.median(v["false"]), statistics.median(v["true"])
    per_rank = (8 if model == "lm" else 64) // ranks // micro
    p = params[model]
    print(f"| {model} | {per_rank} | {a:.2f} | {b:.2f} | {a / b:.3f}× | {p * 4 / 2**20:.1f} MiB / {p * 8 / 2**20:.1f} MiB (2.00×) |")
PY
