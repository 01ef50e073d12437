#!/usr/bin/env bash
# Kill-and-resume soak. A small data-parallel run (mpirun -np 2, a tiny Flowformer language model
# on the King James Bible) is killed with SIGKILL on a random rank at random moments, rerun with
# the same command after each kill (it resumes from its newest checkpoint), and its final
# parameters and optimizer state are compared bitwise with those of an uninterrupted run.
#
#   jobs/soak.sh [--short] [--kills N] [--steps N] [--seed N] [--bin PATH] [--data FILE] [--keep]
#
#   --short     3 kills in a 60-step run: about a minute (what CI runs)
#               (default: 10 kills in a 300-step run)
#   --kills N   number of kills          --steps N   optimizer steps of the run
#   --seed N    seeds the choice of ranks and moments (default 3, whose first kills hit ranks
#               1, 0, 1): the same seed, the same ranks and steps
#   --bin PATH  the flowformer executable (default: a release build of this package)
#   --data FILE kjv-train.h5 (default: datasets/out/kjv-train.h5, packed when missing)
#   --keep      keep the work directory (it is always kept when the soak fails)
#
# Each kill lands after the run has reached a randomly drawn step, a random fraction of a step
# later (inside forward, backward, the all-reduce or a checkpoint write). The killed job must end
# within 60 s of the kill, with a non-zero status. Exit status: 0 pass, 1 fail (reason on stderr),
# 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=10 steps=300 seed=3 bin="" data="" keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --short) kills=3 steps=60 ;;
        --kills) kills="$2"; shift ;;
        --steps) steps="$2"; shift ;;
        --seed)  seed="$2"; shift ;;
        --bin)   bin="$2"; shift ;;
        --data)  data="$2"; shift ;;
        --keep)  keep=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak.sh: unknown option '$1' (see jobs/soak.sh --help)" >&2; exit 2 ;;
    esac
    shift
done

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [[ -z "$bin" ]]; then
    swift build -c release --product flowformer >&2
    bin="$(swift build -c release --show-bin-path)/flowformer"
fi
if [[ -z "$data" ]]; then
    data=datasets/out/kjv-train.h5
    [[ -f "$data" ]] || datasets/pack.sh kjv >&2
fi
[[ -x "$bin" ]] || { echo "soak.sh: $bin is not an executable" >&2; exit 2; }
[[ -f "$data" ]] || { echo "soak.sh: $data not found" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/flowformer-soak.XXXXXX")"
running=""   # PID of the mpirun in flight, for the clean-up
cleanup() {
    local status=$?
    if [[ -n "$running" ]] && kill -0 "$running" 2>/dev/null; then kill -9 "$running" 2>/dev/null || true; fi
    if [[ $status -eq 0 && $keep -eq 0 ]]; then rm -rf "$work"; else echo "soak: work directory kept: $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 1' TERM INT
fail() { echo "soak: FAIL: $*" >&2; exit 1; }

every=4
cat > "$work/run.yaml" <<EOF
model: {kind: lm, attention: flow, d_model: 16, heads: 2, layers: 2, ff: 32, seq_len: 32, vocab_size: 256}
data: {train: $data, val: []}
train: {global_batch: 12, micro_batch: 2, steps: $steps, seed: 7, optimizer: adamw, lr: 3.0e-3,
        weight_decay: 0.1, schedule: cosine, warmup_steps: 5, min_lr: 1.0e-4, clip_grad_norm: 1.0,
        eval_every: 0, log_every: 1, checksum_every: 10}
checkpoint: {every: $every, keep: 2}
EOF
# The one command every launch repeats (plus checkpoint.dir; a simple command, so that `$!` of a
# background launch is mpirun's own PID).
train=(mpirun -np 2 "$bin" train --config "$work/run.yaml")
newest_step() {  # the last step a run's log reports as done (0 when none)
    grep -oE '^step [0-9]+/' "$1" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+' || echo 0
}
rank_pid() {  # rank_pid MPIRUN_PID RANK: the rank's process, a child of mpirun
    local child
    for child in $(pgrep -P "$1"); do
        if tr '\0' '\n' < "/proc/$child/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$child"; return 0
        fi
    done
    return 1
}

echo "soak: $kills kills of a $steps-step run (mpirun -np 2, checkpoint every $every steps, seed $seed) in $work"
started=$SECONDS
"${train[@]}" --set "checkpoint.dir=$work/reference" > "$work/reference.log" 2>&1 || fail "the uninterrupted run failed (see $work/reference.log)"
echo "soak: uninterrupted run done in $((SECONDS - started)) s"

RANDOM=$seed
reached=0   # the step the soak run had reached when last killed
for kill_number in $(seq 1 "$kills"); do
    log="$work/soak-$kill_number.log"
    # Kill after a step drawn from the next stretch of the run, a random 0-99 ms into the next step.
    span=$(( (steps - reached) / (kills - kill_number + 2) ))
    target=$(( reached + 1 + RANDOM % (span > 1 ? span : 1) ))
    rank=$(( RANDOM % 2 ))
    delay_ms=$(( RANDOM % 100 ))
    "${train[@]}" --set "checkpoint.dir=$work/soak" --inject-step-delay 0.05 > "$log" 2>&1 &
    running=$!
    deadline=$((SECONDS + 120))
    while (( $(newest_step "$log") < target )); do
        kill -0 "$running" 2>/dev/null || fail "launch $kill_number ended before step $target (see $log)"
        (( SECONDS < deadline )) || fail "launch $kill_number did not reach step $target within 120 s (see $log)"
        sleep 0.02
    done
    sleep "0.$(printf '%03d' "$delay_ms")"
    pid=$(rank_pid "$running" "$rank") || fail "launch $kill_number: rank $rank not found under mpirun $running"
    reached=$(newest_step "$log")
    kill -9 "$pid"
    killed_at=$SECONDS
    status=0
    while kill -0 "$running" 2>/dev/null && (( SECONDS - killed_at < 60 )); do sleep 0.1; done
    kill -0 "$running" 2>/dev/null && fail "launch $kill_number: the job still runs 60 s after rank $rank was killed"
    wait "$running" || status=$?
    running=""
    (( status != 0 )) || fail "launch $kill_number: exit status 0 although rank $rank was killed (see $log)"
    grep -q "process rank $rank .*exited on signal 9" "$log" \
        || fail "launch $kill_number: no message naming the killed rank $rank (see $log)"
    echo "soak: kill $kill_number: rank $rank (pid $pid) at step $reached + ${delay_ms} ms; job ended in $((SECONDS - killed_at)) s with status $status"
done

log="$work/soak-final.log"
"${train[@]}" --set "checkpoint.dir=$work/soak" > "$log" 2>&1 || fail "the final resumed launch failed (see $log)"
grep -q "resuming from" "$log" || fail "the final launch did not resume from a checkpoint (see $log)"
name=$(printf 'checkpoint-%09d.h5' "$steps")
for group in /model /optimizer; do
    h5diff "$work/reference/$name" "$work/soak/$name" "$group" "$group" > "$work/h5diff${group//\//-}.txt" 2>&1 \
        || fail "$group of the killed-and-resumed run differs from the uninterrupted run's (see $work/h5diff${group//\//-}.txt)"
done
echo "soak: pass: $kills kills, final parameters and optimizer state bitwise equal to the uninterrupted run's ($((SECONDS - started)) s)"
