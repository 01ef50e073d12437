#!/usr/bin/env bash
# Tests of the experiment machinery, called by jobs/test.sh (needs the release build):
#  1. TensorBoard events: a tiny run killed while writing a checkpoint and resumed from the one
#     before; TensorBoard's own reader (the `tensorboard` package) must find in the event files
#     exactly the steps and values of metrics.jsonl, no step twice, one file per start.
#  2. `run.sh --quick` on tiny generated data trains every experiment, plot.py writes every figure
#     and table, every sequence run has an attention_spread.py result in range (entropy in (0, 1],
#     peak ≥ 1); a second `run.sh --quick` retrains nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin="${FLOWFORMER_BIN:-.build/release/flowformer}"
python3 -c 'import tensorboard' 2>/dev/null || {
    echo "experiments/test.sh: installing tensorboard with pip" >&2
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check tensorboard >&2
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. TensorBoard across a resume.
python3 jobs/experiments/make_data.py quick --out "$work/data" >/dev/null
run="$work/tb-run"
args=(--config jobs/experiments/configs/listops.yaml --set "checkpoint.dir=$run"
      --set "data.train=$work/data/listops-train.h5" --set "data.val=$work/data/listops-val.h5"
      --set "data.test=$work/data/listops-test.h5" --set model.seq_len=64 --set model.d_model=16
      --set model.heads=2 --set model.ff=32 --set train.steps=12 --set train.warmup_steps=2
      --set train.log_every=1 --set train.eval_every=3 --set train.eval_batches=1 --set checkpoint.every=4)
if mpirun -np 2 "$bin" train "${args[@]}" --inject-fault kill-writer-at-step-8 > "$work/first.log" 2>&1; then
    echo "experiments/test.sh: the run with an injected kill at step 8 did not fail" >&2; exit 1
fi
mpirun -np 2 "$bin" train "${args[@]}" > "$work/second.log" 2>&1 \
    || { echo "experiments/test.sh: the resumed run failed:" >&2; tail -5 "$work/second.log" >&2; exit 1; }
grep -q '"step": 8' "$run/metrics.jsonl" || { echo "experiments/test.sh: step 8 was not logged before the kill" >&2; exit 1; }
python3 jobs/experiments/tb_check.py "$run" --expect-files 2

# 2. The suite in quick mode, twice.
quick="$work/quick"
jobs/experiments/run.sh --quick --runs "$quick" > "$work/quick1.log" 2>&1 \
    || { echo "experiments/test.sh: run.sh --quick failed:" >&2; tail -20 "$work/quick1.log" >&2; exit 1; }
python3 jobs/experiments/plot.py --results "$quick/results" --out "$quick/figures" --check
python3 - "$quick/attention" <<'PY'
import glob, json, sys
files = sorted(glob.glob(sys.argv[1] + "/*.json"))
if not any("listops-lra" in f for f in files) or not any("lra-image" in f for f in files):
    sys.exit(f"experiments/test.sh: attention_spread.py results missing: {files}")
for path in files:
    result = json.load(open(path))
    for entropy, peak in zip(result["normalised_entropy"], result["peak_over_uniform"]):
        if not (0 < entropy <= 1 + 1e-9 and peak >= 1 - 1e-9):
            sys.exit(f"experiments/test.sh: {path}: entropy {entropy} or peak {peak} out of range")
PY
trained=$(grep -c ' train --config' "$work/quick1.log" || true)
[[ $trained -gt 0 ]] || { echo "experiments/test.sh: the first quick run trained nothing" >&2; exit 1; }
jobs/experiments/run.sh --quick --runs "$quick" > "$work/quick2.log" 2>&1 \
    || { echo "experiments/test.sh: the second run.sh --quick failed:" >&2; tail -20 "$work/quick2.log" >&2; exit 1; }
if grep -q ' train --config\|bench model' "$work/quick2.log"; then
    echo "experiments/test.sh: the second quick run retrained finished runs:" >&2
    grep ' train --config\|bench model' "$work/quick2.log" >&2
    exit 1
fi
echo "experiments/test.sh: TensorBoard events match metrics.jsonl across a resume; run.sh --quick ($trained training runs) and plot.py made every figure and table; the rerun trained nothing"
