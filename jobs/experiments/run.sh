#!/usr/bin/env bash
# The comparison suite of docs/EXPERIMENTS.md: flow vs softmax vs linear attention, trained with
# `mpirun -np 2`, then plot.py draws the figures and writes the tables.
#
#   jobs/experiments/run.sh [--quick] [--partial] [--kinds LIST] [--results DIR] [--runs DIR] [NAME…]
#
# NAME: vision, language, listops, listops-sweep, listops-lra, lra-image, length (default: all, in
# that order of priority: listops, vision, length, lra-image, language, listops-sweep, listops-lra). Resumable: a run whose
# result file exists with status "complete" is skipped; an unfinished one resumes from its newest checkpoint (the
# trainer's own resume), so rerunning after an interruption continues where it stopped.
#
#   --quick        every experiment on tiny generated data, a few steps each (checks the machinery;
#                  the figures are not results); results, runs and figures under --runs
#   --partial      train nothing: write the result of each unfinished run that has a checkpoint
#                  from its newest one, marked "partial" (after stopping a suite with SIGTERM,
#                  which makes each trainer checkpoint and exit; a later run.sh still continues it)
#   --kinds LIST   only these attention kinds (comma-separated; default flow,softmax,linear)
#   --results DIR  result JSON files (default: docs/experiments/results; quick: <runs>/results)
#   --runs DIR     run directories (default: runs/experiments; quick: runs/experiments-quick)
#
# FLOWFORMER_BIN (default .build/release/flowformer) is the trainer used; MPIRUN (default mpirun)
# the launcher. Needs the packed datasets (datasets/pack.sh fashion-mnist | kjv | listops with the
# options in jobs/experiments/configs/listops.yaml); the Fashion-MNIST sequence files are made here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

quick=0
partial=0
kinds=(flow softmax linear)
results=""
runs=""
names=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --partial) partial=1 ;;
        --kinds) IFS=, read -r -a kinds <<< "$2"; shift ;;
        --results) results="$2"; shift ;;
        --runs) runs="$2"; shift ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) names+=("$1") ;;
    esac
    shift
done
all=(listops vision length lra-image language listops-sweep listops-lra)
[[ ${#names[@]} -eq 0 ]] && names=("${all[@]}")
for name in "${names[@]}"; do
    [[ " ${all[*]} " == *" $name "* ]] || { echo "run.sh: unknown experiment '$name' (expected: ${all[*]})" >&2; exit 2; }
done

bin="${FLOWFORMER_BIN:-$root/.build/release/flowformer}"
mpirun_cmd="${MPIRUN:-mpirun}"
[[ -x "$bin" ]] || { echo "run.sh: no trainer at $bin (swift build -c release --product flowformer)" >&2; exit 1; }
if [[ $quick == 1 ]]; then
    runs="${runs:-runs/experiments-quick}"
    results="${results:-$runs/results}"
    data="$runs/data"
    [[ -f "$data/fmnist-seq-test.h5" ]] || python3 "$here/make_data.py" quick --out "$data"
else
    runs="${runs:-runs/experiments}"
    results="${results:-docs/experiments/results}"
    data="datasets/out"
    for file in fashion-mnist-train kjv-train listops-train; do
        [[ -f "$data/$file.h5" ]] || { echo "run.sh: missing $data/$file.h5 (see datasets/pack.sh and the configs' comments)" >&2; exit 1; }
    done
    [[ -f "$data/fmnist-seq-test.h5" ]] || python3 "$here/make_data.py" lra-image --images "$data" --out "$data"
    if [[ " ${names[*]} " == *" listops-lra "* && ! -f "$data/listops-lra-train.h5" ]]; then
        echo "run.sh: missing $data/listops-lra-train.h5 (datasets/pack.sh listops --name listops-lra --train 96000 --val 2000 --test 2000)" >&2
        exit 1
    fi
fi
mkdir -p "$runs" "$results"
attention="$(dirname "$results")/attention"   # attention_spread.py of every sequence classifier
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# train_run EXPERIMENT ID CONFIG STEM [--set key=value …]: trains (or resumes, or skips) one run
# and writes $results/ID.json. STEM names the data files $data/STEM-{train,val,test}.h5.
train_run() {
    local experiment="$1" id="$2" config="$3" stem="$4"
    shift 4
    local result="$results/$id.json" dir="$runs/$id"
    if [[ -f "$result" ]] && grep -q '"status": "complete"' "$result"; then
        echo "run.sh: $id finished ($result), skipped"
        return 0
    fi
    if [[ $partial == 1 && ! -d "$dir" ]]; then
        echo "run.sh: $id: not started, no partial result"
        return 0
    fi
    mkdir -p "$dir"
    local test="$data/$stem-test.h5"
    [[ -f "$test" ]] || test="$data/$stem-val.h5"
    local sets=(--set "checkpoint.dir=$dir" --set "data.train=$data/$stem-train.h5"
                --set "data.val=$data/$stem-val.h5" --set "data.test=$test")
    if [[ $quick == 1 ]]; then
        sets+=(--set train.steps=4 --set train.warmup_steps=1 --set train.eval_every=2
               --set train.log_every=1 --set checkpoint.every=2 --set train.eval_batches=1)
    fi
    local checkpoint partial_flag=()
    if [[ $partial == 1 ]]; then
        checkpoint=$(ls "$dir"/checkpoint-*.h5 2>/dev/null | sort | tail -1)
        [[ -n "$checkpoint" ]] || { echo "run.sh: $id: no checkpoint yet, no partial result"; return 0; }
        partial_flag=(--partial)
        echo "run.sh: $id: partial result from $checkpoint"
    else
        echo "run.sh: $id: $mpirun_cmd -np 2 $bin train --config $config ${sets[*]} $*"
        local start end status=0
        start=$(date +%s.%N)
        "$mpirun_cmd" -np 2 "$bin" train --config "$config" "${sets[@]}" "$@" >> "$dir/train.log" 2>&1 || status=$?
        end=$(date +%s.%N)
        echo "$start $end" >> "$dir/wall-seconds"   # stopped runs too: the wall time of every call counts
        if [[ $status != 0 ]]; then
            echo "run.sh: $id: training stopped (status $status), see $dir/train.log" >&2
            tail -3 "$dir/train.log" >&2
            return 1
        fi
        checkpoint=$(ls "$dir"/checkpoint-*.h5 | sort | tail -1)
    fi
    "$bin" eval --checkpoint "$checkpoint" --data "$test" --json > "$dir/test.json"
    python3 "$here/collect.py" run --experiment "$experiment" --id "$id" --dir "$dir" \
        --config "$config" --test-split "$test" --out "$result" "${partial_flag[@]}" -- "$@"
    # Sequence classifiers: how selective block 0's attention became (attention_spread.py).
    if grep -q '^  kind: sequence' "$config"; then
        mkdir -p "$attention"
        python3 "$here/attention_spread.py" "$checkpoint" "$test" --json "$attention/$id.json"
    fi
    echo "run.sh: $id: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("test loss %.4f accuracy %.4f, %.0f s" % (r["test"]["loss"], r["test"].get("accuracy") or 0, r["wall_seconds"]))' "$result")"
}

configs="$here/configs"
for name in "${names[@]}"; do
    case "$name" in
        listops)
            for kind in "${kinds[@]}"; do
                extra=()
                [[ $quick == 1 ]] && extra=(--set model.seq_len=64)
                train_run listops "listops-$kind" "$configs/listops.yaml" listops \
                    --set "model.attention=$kind" "${extra[@]}"
            done ;;
        listops-lra)
            # The LRA sizes: 96,000 trees of 501–1,999 tokens in a 2,000 window.
            stem=listops-lra
            extra=()
            [[ $quick == 1 ]] && { stem=listops; extra=(--set model.seq_len=64 --set train.eval_batches=1); }
            for kind in "${kinds[@]}"; do
                train_run listops-lra "listops-lra-$kind" "$configs/listops-lra.yaml" "$stem" \
                    --set "model.attention=$kind" "${extra[@]}"
            done
            # Flow for about softmax's training time (0.71 s against 1.82 s a step): 2,500 steps.
            if [[ " ${kinds[*]} " == *" flow "* ]]; then
                long=(--set train.steps=2500)
                [[ $quick == 1 ]] && long=()
                train_run listops-lra "listops-lra-flow-2500" "$configs/listops-lra.yaml" "$stem" \
                    --set model.attention=flow "${long[@]}" "${extra[@]}"
            fi ;;
        listops-sweep)
            # Flow's head width: d_model 128 split into 1, 2 (= the listops run) and 4 heads.
            for heads in 1 4; do
                extra=()
                [[ $quick == 1 ]] && extra=(--set model.seq_len=64)
                train_run listops-sweep "listops-flow-h$heads" "$configs/listops.yaml" listops \
                    --set model.attention=flow --set "model.heads=$heads" "${extra[@]}"
            done ;;
        vision)
            seeds=(0 1 2)
            for seed in "${seeds[@]}"; do
                for kind in "${kinds[@]}"; do
                    train_run vision "vision-$kind-s$seed" "$configs/vision.yaml" fashion-mnist \
                        --set "model.attention=$kind" --set "train.seed=$seed"
                done
            done ;;
        lra-image)
            for kind in "${kinds[@]}"; do
                train_run lra-image "lra-image-$kind" "$configs/lra-image.yaml" fmnist-seq \
                    --set "model.attention=$kind"
            done ;;
        language)
            for kind in "${kinds[@]}"; do
                extra=()
                [[ $quick == 1 ]] && extra=(--set model.seq_len=32 --set train.eval_batches=1)
                train_run language "language-$kind" "$configs/language.yaml" kjv \
                    --set "model.attention=$kind" "${extra[@]}"
            done ;;
        length)
            # Training step time and peak memory of the LM preset (batch 1, one rank) against L.
            lengths=(256 512 1024 2048 4096 8192 16384)
            bench_extra=(--steps 2 --warmup 1)
            [[ $quick == 1 ]] && { lengths=(32 64); bench_extra=(--quick); }
            for kind in "${kinds[@]}"; do
                for length in "${lengths[@]}"; do
                    id="length-$kind-$length"
                    if [[ -f "$results/$id.json" ]]; then echo "run.sh: $id finished, skipped"; continue; fi
                    [[ $partial == 1 ]] && continue
                    # softmax keeps L² probabilities per head and layer: 8 GiB per layer at 16384.
                    if [[ $kind == softmax && $length -gt 4096 ]]; then continue; fi
                    mkdir -p "$runs/length"
                    echo "run.sh: $id: $bin bench model --config lm --attention $kind --seq-len $length --batch 1 ${bench_extra[*]}"
                    "$bin" bench model --config lm --attention "$kind" --seq-len "$length" --batch 1 \
                        --peak-gflops 1 "${bench_extra[@]}" --json "$runs/length/$id.json" > "$runs/length/$id.log" 2>&1 \
                        || { echo "run.sh: $id failed, see $runs/length/$id.log" >&2; return 1 2>/dev/null || exit 1; }
                    python3 "$here/collect.py" length --id "$id" --bench "$runs/length/$id.json" --out "$results/$id.json"
                done
            done
            # The PyTorch references beside them (the authors' causal Flow-Attention and SDPA), when
            # the benchmark environment of jobs/bench/side_by_side.sh exists; not in --quick.
            torch_python="$root/jobs/bench/.venv/bin/python"
            if [[ $quick == 0 && $partial == 0 ]] && "$torch_python" -c 'import torch' 2>/dev/null; then
                for kind in flow softmax; do
                    reference=$([[ $kind == flow ]] && echo pytorch-flow || echo pytorch-sdpa)
                    for length in "${lengths[@]}"; do
                        id="length-$reference-$length"
                        if [[ -f "$results/$id.json" ]]; then echo "run.sh: $id finished, skipped"; continue; fi
                        # SDPA's time grows as L²: 9.9 s a step at 8192 here, about 40 s at 16384.
                        if [[ $kind == softmax && $length -gt 8192 ]]; then continue; fi
                        echo "run.sh: $id: torch_bench.py model --config lm --attention $kind --seq-len $length --batch 1"
                        if OMP_NUM_THREADS=1 "$torch_python" "$root/jobs/bench/torch_bench.py" model --config lm --attention "$kind" \
                               --seq-len "$length" --batch 1 --steps 2 --warmup 1 --threads 1 \
                               --json "$runs/length/$id.json" > "$runs/length/$id.log" 2>&1; then
                            python3 "$here/collect.py" length --pytorch --id "$id" --bench "$runs/length/$id.json" --out "$results/$id.json"
                        else
                            echo "run.sh: $id failed (see $runs/length/$id.log); the figure goes without it" >&2
                        fi
                    done
                done
            elif [[ $quick == 0 ]]; then
                echo "run.sh: no PyTorch in jobs/bench/.venv (jobs/bench/side_by_side.sh makes it): length without the PyTorch lines"
            fi ;;
    esac
done

figures="docs/experiments"
[[ $quick == 1 ]] && figures="$runs/figures"
python3 "$here/plot.py" --results "$results" --out "$figures"
