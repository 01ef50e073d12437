#!/usr/bin/env bash
# Side by side: flowformer against PyTorch (CPU) on the same configurations, at the same thread
# count, in alternating runs, then a table of ratios (throughput, peak memory) and a JSON file.
#
#   jobs/bench/side_by_side.sh [--rounds N] [--threads N] [--out DIR] [--only LIST] [--quick]
#                              [--skip-build]
#
#   --rounds N    interleaved rounds (default 3); every figure is the median over the rounds
#   --threads N   threads on both sides (default 1): flowformer's BLAS threads,
#                 torch.set_num_threads and OMP_NUM_THREADS
#   --out DIR     where the per-run JSON files and side_by_side.json go
#                 (default runs/bench/side-by-side)
#   --only LIST   comma-separated subset of: lm, lm-softmax, lm4096, image, attention, lm-bf16,
#                 image-bf16
#   --quick       one round, one timed step (no warm-up) per run, same shapes: a smoke test,
#                 not a measurement
#   --skip-build  use the existing .build/release/flowformer
#
# Configurations (the issue's; inputs are synthetic on both sides — compute only):
#   lm          vocab 256, d_model 256, 8 heads, 4 layers, ff 1024, seq 1024, batch 8:
#               flowformer flow  vs  PyTorch authors-style flow, PyTorch softmax (SDPA)
#   lm-softmax  the same LM with softmax attention on both sides (same algorithm, both codes)
#   lm4096      the LM at seq 4096, batch 2 (same tokens per step): flowformer flow vs both
#   image       32×32×3, patch 4, d_model 192, 6 heads, 6 layers, ff 768, batch 64:
#               flowformer flow  vs  PyTorch authors-style flow, PyTorch softmax
#   lm-bf16     the LM with train.precision bf16 (Linear products on bf16 operands, fp32 sums)
#               vs PyTorch softmax (SDPA) under bf16 autocast (and flowformer's fp32 lm run)
#   image-bf16  the image model in bf16 vs PyTorch softmax under bf16 autocast
#   attention   the cores alone, forward+backward, d_model 256, 8 heads, batch 1,
#               L = 1024 and 4096, causal and not: flowformer flow vs PyTorch authors-style flow
#               and PyTorch softmax
#
# A training step is forward + backward + AdamW on both sides. Each run is its own process, so
# its peak resident memory (VmHWM / ru_maxrss) is that configuration's alone.
#
# PyTorch comes from the CPU wheel index if it answers, else a local CPU wheel on pip's
# find-links path, else PyPI; it is installed into jobs/bench/.venv (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=3
threads=1
out="$root/runs/bench/side-by-side"
only="lm,lm-softmax,lm4096,image,attention,lm-bf16,image-bf16"
quick=0
build=1

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --quick) quick=1; rounds=1; shift ;;
    --skip-build) build=0; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "side_by_side.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds$threads" in *[!0-9]*) echo "side_by_side.sh: --rounds and --threads take positive integers" >&2; exit 2 ;; esac

venv="$here/.venv"
python="$venv/bin/python"

setup_venv() {
  if [ -x "$python" ] && "$python" -c 'import torch, h5py' 2>/dev/null; then return; fi
  echo "== creating $venv and installing PyTorch (CPU)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
  if ! "$venv/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
    local wheel=""
    for dir in ${PIP_FIND_LINKS:-} $(pip3 config get global.find-links 2>/dev/null || true); do
      for candidate in "$dir"/torch-*+cpu-*.whl; do [ -f "$candidate" ] && wheel=$candidate; done
    done
    if [ -n "$wheel" ]; then
      echo "   the CPU wheel index did not answer; installing $wheel"
      "$venv/bin/pip" install --quiet "$wheel"
    else
      echo "   the CPU wheel index did not answer; installing torch from PyPI"
      "$venv/bin/pip" install --quiet torch
    fi
  fi
  "$venv/bin/pip" install --quiet numpy h5py
}

setup_venv
if [ "$build" = 1 ]; then
  echo "== building flowformer (release)"
  (cd "$root" && swift build -c release --product flowformer 2>&1 | tail -1)
fi
flowformer="$root/.build/release/flowformer"
[ -x "$flowformer" ] || { echo "side_by_side.sh: $flowformer not found (build it, or drop --skip-build)" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/run-*.json
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "== PyTorch flow equations against the golden files"
golden="${FLOWFORMER_GOLDEN_DIR:-$root/../shared/golden}"
if [ -d "$golden" ]; then
  "$python" "$here/torch_bench.py" check --golden "$golden" --json "$out/golden-check.json" > "$out/golden-check.log" 2>&1 \
    && echo "   passed (max relative error in $out/golden-check.json)" \
    || { echo "side_by_side.sh: the PyTorch flow equations do not match $golden (see $out/golden-check.log)" >&2; exit 1; }
else
  echo "   skipped: no golden files at $golden (set FLOWFORMER_GOLDEN_DIR)"
fi

if [ "$quick" = 1 ]; then steps=1; warmup=0; quickflag=--quick; else steps=3; warmup=1; quickflag=; fi

# run NAME COMMAND... : runs one measurement, its JSON into $out/run-<round>-NAME.json
run() {
  local name=$1; shift
  local file="$out/run-$round-$name.json"
  local start=$SECONDS
  if "$@" --json "$file" > "$out/run-$round-$name.log" 2>&1; then
    echo "   round $round  $name  ($((SECONDS - start)) s)"
  else
    echo "   round $round  $name  FAILED (see $out/run-$round-$name.log)"
    rm -f "$file"
  fi
}

project_model() {  # NAME CONFIG ATTENTION [extra flowformer options]
  local name=$1 config=$2 attention=$3; shift 3
  run "project-$name" "$flowformer" bench model --config "$config" --attention "$attention" \
    --threads "$threads" --steps "$steps" --warmup "$warmup" "$@"
}
torch_model() {    # NAME CONFIG ATTENTION [extra torch_bench options]
  local name=$1 config=$2 attention=$3; shift 3
  run "torch-$name" "$python" "$here/torch_bench.py" model --threads "$threads" --config "$config" \
    --attention "$attention" --steps "$steps" --warmup "$warmup" "$@"
}

has() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds"
  # Alternate which side goes first, so slow drifts of the shared machine cancel out.
  if [ $((round % 2)) = 1 ]; then order="project torch"; else order="torch project"; fi
  for side in $order; do
    if [ "$side" = project ]; then
      has lm && project_model lm-flow lm flow
      has lm-softmax && project_model lm-softmax lm softmax
      has lm4096 && project_model lm4096-flow lm flow --seq-len 4096 --batch 2
      has image && project_model image-flow image flow
      has lm-bf16 && project_model lm-flow-bf16 lm flow --precision bf16
      has lm-bf16 && ! has lm && project_model lm-flow lm flow
      has image-bf16 && project_model image-flow-bf16 image flow --precision bf16
      has image-bf16 && ! has image && project_model image-flow image flow
      if has attention; then
        run project-attention "$flowformer" bench attention --lengths 1024,4096 --kinds flow,softmax \
          --threads "$threads" $quickflag
      fi
    else
      has lm && torch_model lm-flow lm flow
      has lm && torch_model lm-softmax lm softmax
      has lm-softmax && ! has lm && torch_model lm-softmax lm softmax
      has lm4096 && torch_model lm4096-flow lm flow --seq-len 4096 --batch 2
      has lm4096 && torch_model lm4096-softmax lm softmax --seq-len 4096 --batch 2
      has image && torch_model image-flow image flow
      has image && torch_model image-softmax image softmax
      has lm-bf16 && torch_model lm-softmax-bf16 lm softmax --autocast
      has image-bf16 && torch_model image-softmax-bf16 image softmax --autocast
      if has attention; then
        for kind in flow softmax; do
          run "torch-attention-$kind" "$python" "$here/torch_bench.py" attention --threads "$threads" \
            --kind "$kind" --lengths 1024,4096 $([ "$quick" = 1 ] && echo "--repeats 1 --warmup 0")
          run "torch-attention-$kind-causal" "$python" "$here/torch_bench.py" attention --threads "$threads" \
            --kind "$kind" --causal --lengths 1024,4096 $([ "$quick" = 1 ] && echo "--repeats 1 --warmup 0")
        done
      fi
    fi
  done
done

"$python" "$here/compare.py" "$out" --threads "$threads" --json "$out/side_by_side.json"
