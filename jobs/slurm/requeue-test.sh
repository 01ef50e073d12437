#!/usr/bin/env bash
# End-to-end test of pre-emption on a real Slurm: starts munged, slurmctld and slurmd on this
# machine, submits a 2-task training job with jobs/slurm/train.sbatch, signals it mid-run
# (`scancel --batch --signal=USR1`, what `--signal=B:USR1@120` does before the time limit),
# checks that it checkpointed and was requeued, lets the requeued job finish, and compares its
# final checkpoint with an uninterrupted run's: bitwise equal (h5diff, no tolerance).
# Then a job whose launcher exits 0 without running the trainer must be retried and fail, not
# complete. The daemons are stopped by PID at the end, pass or fail. Needs root; exit 0 = pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=${FLOWFORMER_BIN:-$(swift build -c release --show-bin-path)/flowformer}
scratch=$(mktemp -d /tmp/flowformer-slurm-test.XXXXXX)
chmod 755 "$scratch"
cluster=$scratch/cluster
fail() { echo "requeue-test: FAIL: $*" >&2; [ -f "$scratch/job.log" ] && sed 's/^/  job log: /' "$scratch/job.log" >&2; exit 1; }
# A command that fails outside a `|| fail` ends the script (set -e); say which one.
trap 'echo "requeue-test: FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR
# A job's state; empty while the controller does not answer (callers poll again).
job_state() { { scontrol show job "$1" 2>/dev/null || true; } | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
cleanup() { jobs/slurm/local-cluster.sh stop "$cluster" >/dev/null 2>&1 || true; rm -rf "$scratch"; }
trap cleanup EXIT

[ -x "$bin" ] || fail "flowformer is not built at $bin (swift build -c release)"
jobs/slurm/local-cluster.sh start "$cluster" >/dev/null
export SLURM_CONF=$cluster/slurm.conf
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Real data: the King James Bible as bytes.
datasets/pack.sh kjv --out "$scratch/data" >/dev/null
cat > "$scratch/run.yaml" <<YAML
model: {kind: lm, attention: flow, d_model: 16, heads: 2, layers: 2, ff: 32, seq_len: 32, vocab_size: 256}
data: {train: $scratch/data/kjv-train.h5, val: $scratch/data/kjv-val.h5}
train: {global_batch: 8, micro_batch: 2, steps: 60, seed: 1, lr: 3.0e-3, warmup_steps: 5, eval_every: 20, log_every: 1}
checkpoint: {dir: $scratch/preempted, every: 20, keep: 3}
YAML

# The uninterrupted reference, launched directly.
mpirun -np 2 "$bin" train --config "$scratch/run.yaml" --set checkpoint.dir="$scratch/reference" >/dev/null \
  || fail "reference run failed"

# The job under Slurm, slowed down so the signal lands mid-run.
job=$(sbatch --parsable --ntasks=2 --output="$scratch/job.log" --chdir="$root" \
      --export=ALL,FLOWFORMER_BIN="$bin" \
      jobs/slurm/train.sbatch "$scratch/run.yaml" --inject-step-delay 0.1) || fail "sbatch failed"
metrics=$scratch/preempted/metrics.jsonl
for _ in $(seq 600); do
  [ -f "$metrics" ] && [ "$(grep -c '"event": "train"' "$metrics")" -ge 5 ] && break
  sleep 0.1
done
[ -f "$metrics" ] || fail "the job never started training"
scancel --batch --signal=USR1 "$job"

# The trainer checkpoints, exits 75, the script requeues: wait for the job to be pending again.
for _ in $(seq 600); do
  grep -q "requeueing" "$scratch/job.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "requeueing" "$scratch/job.log" || fail "the job did not requeue itself after the signal"
stopped=$(ls "$scratch/preempted" | grep -c '^checkpoint-') || true
[ "$stopped" -ge 1 ] || fail "no checkpoint written on the signal"
for _ in $(seq 100); do
  state=$(job_state "$job")
  [ "$state" = PENDING ] && break
  sleep 0.1
done
# Start it again at once (a requeued job otherwise waits about 2 minutes), once the old job
# step has been cleaned up on the node.
for _ in $(seq 300); do
  [ -z "$(squeue --steps --noheader --jobs "$job" 2>/dev/null)" ] && break
  sleep 0.1
done
sleep 2
scontrol update JobId="$job" StartTime=now

# Let the requeued job finish.
for _ in $(seq 1800); do
  state=$(job_state "$job")
  case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) break ;; esac
  sleep 0.1
done
[ "$state" = COMPLETED ] || fail "job ended in state '$state'"
restarts=$(grep -c "start (restart" "$scratch/job.log")
[ "$restarts" -eq 2 ] || fail "expected 2 starts in the job log (first run + requeue), found $restarts"
launches=$(grep -c "launching again" "$scratch/job.log") || true
[ "$launches" -eq 0 ] || echo "requeue-test: note: $launches step launch(es) did not start and were retried (see the job log)"
grep -q "resuming from" "$scratch/job.log" || fail "the requeued job did not resume from a checkpoint"

final=checkpoint-000000060.h5
for group in /model /optimizer; do
  h5diff -r "$scratch/reference/$final" "$scratch/preempted/$final" "$group" "$group" >/dev/null \
    || fail "final $group differs from the uninterrupted run's"
done

# A launcher that exits 0 although no trainer ran (what srun reports for a step whose tasks never
# started) must not end the job as if training had finished: the script launches again, then
# fails. /bin/true stands in for the trainer's tasks: they start and exit 0 without a status.
silent=$(sbatch --parsable --ntasks=2 --output="$scratch/silent.log" --chdir="$root" \
         --export=ALL,FLOWFORMER_BIN=/bin/true,FLOWFORMER_LAUNCH_ATTEMPTS=2 \
         jobs/slurm/train.sbatch "$scratch/run.yaml") || fail "sbatch (silent launcher) failed"
for _ in $(seq 300); do
  state=$(job_state "$silent")
  case "$state" in COMPLETED|FAILED|CANCELLED) break ;; esac
  sleep 0.1
done
[ "$state" = FAILED ] || fail "a launch that never ran the trainer ended in state '$state', not FAILED"
grep -q "launching again" "$scratch/silent.log" || fail "the silent launch was not retried"
grep -q "giving up" "$scratch/silent.log" || fail "the script did not give up after the silent launches"

echo "requeue-test: ok (job $job: signalled, checkpointed, requeued, resumed; final checkpoint bitwise equal to the uninterrupted run; a launch that never ran the trainer is retried, then fails)"
