#!/usr/bin/env bash
# Multi-node tests on a virtual cluster of network namespaces (jobs/cluster/netns-cluster.sh):
# Open MPI over TCP between nodes, shared memory within one, real data (the King James Bible).
#
# 1. 2 nodes × 1 rank: final parameters and optimizer state bitwise equal to 1 node × 2 ranks.
# 2. 2 nodes × 2 ranks and 3 nodes × 1 rank: per-step loss within 1e-5 relative of 1 rank's.
# 3. A cut link, a killed node, a frozen node (node3 of 3, mid-run): the job ends within the
#    collective timeout + 30 s with exit status 76 (failed, resumable), a line names node3, no
#    process of the job is left on any node (a frozen node's only once it is thawed: nothing can
#    end a stopped process's work before that), the newest checkpoint loads (`flowformer
#    inspect`), and a rerun on the two remaining nodes resumes from it.
# 4. Slurm across nodes (jobs/cluster/netns-slurm.sh: slurmctld on node1, a slurmd per node):
#    `sbatch --nodes=2 --ntasks-per-node=1 jobs/slurm/train.sbatch` (srun --mpi=pmix), USR1
#    mid-run → checkpoint → requeue → resume → final checkpoint bitwise equal to an
#    uninterrupted run's. Then node2's link is cut under a 2-node job: status 76, requeued within
#    the collective timeout + 30 s, resumed on node1 and node3, completed.
# 5. A bandwidth-capped link (node3's, 20 Mbit/s both ways, tc tbf), 3 nodes × 1 rank: training
#    completes and the slow-rank report of every logged window names node3's link.
#
# Everything it creates (cluster, namespaces, scratch directory) is removed on exit, pass or fail.
# Needs root. Exit 0 = pass.
#
#   jobs/cluster/multinode-test.sh            # all of it
#   jobs/cluster/multinode-test.sh --only equivalence|faults|slow-link|slurm
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
only=${2:-}
[ "${1:-}" = --only ] || only=
bin=${FLOWFORMER_BIN:-$(swift build -c release --show-bin-path)/flowformer}
scratch=$(mktemp -d /var/tmp/flowformer-multinode.XXXXXX)
chmod 755 "$scratch"   # munged (the munge user) must reach its socket inside
export FLOWFORMER_CLUSTER_DIR=$scratch/cluster
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cluster=jobs/cluster/netns-cluster.sh
launcher_pid=
cleanup() {
  [ -n "$launcher_pid" ] && kill -KILL "$launcher_pid" 2>/dev/null
  jobs/cluster/netns-slurm.sh stop >/dev/null 2>&1 || true
  $cluster down >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# A command that fails outside a `|| fail` ends the script (set -e); say which one.
trap 'echo "multinode-test: FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR
started=$(date +%s)
note() { echo "multinode-test: $* ($(( $(date +%s) - started )) s)"; }
fail() { echo "multinode-test: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
[ -x "$bin" ] || fail "flowformer is not built at $bin (swift build -c release)"

datasets/pack.sh kjv --out "$scratch/data" >/dev/null
config() {   # config NAME: a small causal LM on KJV bytes, run directory $scratch/NAME
  cat > "$scratch/$1.yaml" <<YAML
model: {kind: lm, attention: flow, d_model: 16, heads: 2, layers: 2, ff: 32, seq_len: 32, vocab_size: 256}
data: {train: $scratch/data/kjv-train.h5, val: $scratch/data/kjv-val.h5}
train: {global_batch: 24, micro_batch: 2, steps: 30, seed: 3, lr: 3.0e-3, warmup_steps: 5, eval_every: 0, log_every: 1, eval_batches: 4}
checkpoint: {dir: $scratch/$1, every: 10, keep: 3}
YAML
  echo "$scratch/$1.yaml"
}
$cluster up 3 --slots 2 >/dev/null
note "cluster of 3 nodes up"

# Per-step training loss from a run's metrics.jsonl, one value a line.
losses() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try: record = json.loads(line)
    except ValueError: continue
    if record.get("event") == "train": print(repr(record["loss"]))' "$1/metrics.jsonl"; }
# compare_curves REF RUN: every step's loss within 1e-5 relative (NaN fails).
compare_curves() { python3 - "$1" "$2" <<'PY'
import sys
ref = [float(x) for x in open(sys.argv[1])]
run = [float(x) for x in open(sys.argv[2])]
if len(ref) != len(run) or not ref:
    sys.exit(f"{len(run)} logged steps, reference has {len(ref)}")
worst = 0.0
for step, (a, b) in enumerate(zip(ref, run), 1):
    error = abs(a - b) / abs(a)
    if not (error <= 1e-5):
        sys.exit(f"step {step}: loss {b!r} vs {a!r} (relative {error:.2e} > 1e-5)")
    worst = max(worst, error)
print(f"{worst:.1e}")
PY
}

if [ -z "$only" ] || [ "$only" = equivalence ]; then
  # 1 rank and 1 node × 2 ranks (plain mpirun on this machine), the references.
  "$bin" train --config "$(config one)" >/dev/null || fail "the 1-rank run failed"
  mpirun -np 2 "$bin" train --config "$(config local2)" >/dev/null || fail "the 1 node × 2 ranks run failed"
  losses "$scratch/one" > "$scratch/one.loss"

  run_cluster() {   # run_cluster NAME MPIRUN-ARGS…
    local name=$1; shift
    FLOWFORMER_STATUS_FILE=$scratch/$name.status $cluster mpirun "$@" "$bin" train --config "$(config "$name")" \
      > "$scratch/$name.log" 2>&1 || { tail -5 "$scratch/$name.log" >&2; fail "$name failed"; }
  }
  run_cluster nodes2x1 -np 2 --map-by node
  grep -q "2 rank(s)" "$scratch/nodes2x1.log" || fail "nodes2x1 did not run 2 ranks"
  final=checkpoint-000000030.h5
  for group in /model /optimizer; do
    h5diff -r "$scratch/local2/$final" "$scratch/nodes2x1/$final" "$group" "$group" >/dev/null \
      || fail "2 nodes × 1 rank: final $group differs from 1 node × 2 ranks"
  done
  note "2 nodes × 1 rank: final /model and /optimizer bitwise equal to 1 node × 2 ranks"

  run_cluster nodes2x2 -np 4 --map-by slot
  run_cluster nodes3x1 -np 3 --map-by node
  for name in nodes2x2 nodes3x1; do
    losses "$scratch/$name" > "$scratch/$name.loss"
    worst=$(compare_curves "$scratch/one.loss" "$scratch/$name.loss") || fail "$name: loss curve differs from 1 rank's: $worst"
    note "$name: 30 steps' losses within $worst relative of 1 rank's (bound 1e-5)"
  done
fi

if [ -z "$only" ] || [ "$only" = slurm ]; then
  jobs/cluster/netns-slurm.sh start >/dev/null
  slurm() { jobs/cluster/netns-slurm.sh run "$@"; }
  # Empty while the controller does not answer (it can time out while a node is unreachable);
  # the callers poll again.
  job_state() { { slurm scontrol show job "$1" 2>/dev/null || true; } | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
  yaml=$(config slurm)
  sed -i 's/steps: 30/steps: 60/' "$yaml"
  mpirun -np 2 "$bin" train --config "$yaml" --set checkpoint.dir="$scratch/slurm-reference" >/dev/null \
    || fail "slurm: the uninterrupted reference run failed"
  job=$(slurm sbatch --parsable --nodes=2 --ntasks-per-node=1 --output="$scratch/slurm-job.log" --chdir="$root" \
        --export=ALL,FLOWFORMER_BIN="$bin" jobs/slurm/train.sbatch "$yaml" --inject-step-delay 0.1) \
    || fail "slurm: sbatch failed"
  metrics=$scratch/slurm/metrics.jsonl
  for _ in $(seq 1200); do
    [ -f "$metrics" ] && [ "$(grep -c '"event": "train"' "$metrics")" -ge 8 ] && break
    sleep 0.1
  done
  [ -f "$metrics" ] || { cat "$scratch/slurm-job.log" >&2; fail "slurm: the job never started training"; }
  grep -q "2 tasks" "$scratch/slurm-job.log" && grep -q "node\[1-2\]" "$scratch/slurm-job.log" \
    || { cat "$scratch/slurm-job.log" >&2; fail "slurm: the job does not run on 2 nodes"; }
  slurm scancel --batch --signal=USR1 "$job"
  for _ in $(seq 600); do grep -q "requeueing" "$scratch/slurm-job.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "requeueing" "$scratch/slurm-job.log" || { cat "$scratch/slurm-job.log" >&2; fail "slurm: the job did not requeue itself after USR1"; }
  for _ in $(seq 300); do [ "$(job_state "$job")" = PENDING ] && break; sleep 0.1; done
  for _ in $(seq 300); do [ -z "$(slurm squeue --steps --noheader --jobs "$job" 2>/dev/null)" ] && break; sleep 0.1; done
  sleep 2
  slurm scontrol update JobId="$job" StartTime=now
  state=
  for _ in $(seq 1800); do
    state=$(job_state "$job")
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) break ;; esac
    sleep 0.1
  done
  [ "$state" = COMPLETED ] || { cat "$scratch/slurm-job.log" >&2; fail "slurm: the job ended in state '$state'"; }
  [ "$(grep -c "start (restart" "$scratch/slurm-job.log")" -eq 2 ] || fail "slurm: expected 2 starts (first run + requeue)"
  resumed=$(grep -o "resuming from [^ ]* at step [0-9]*" "$scratch/slurm-job.log" | head -n1)
  [ -n "$resumed" ] || fail "slurm: the requeued job did not resume from a checkpoint"
  for group in /model /optimizer; do
    h5diff -r "$scratch/slurm-reference/checkpoint-000000060.h5" "$scratch/slurm/checkpoint-000000060.h5" "$group" "$group" >/dev/null \
      || fail "slurm: final $group differs from the uninterrupted run's"
  done
  note "slurm, 2 nodes × 1 task (srun --mpi=pmix): USR1 → checkpoint → requeue → ${resumed#resuming from $scratch/slurm/} → final checkpoint bitwise equal to the uninterrupted run"

  # A node of the job loses its link: the trainer ends the step (76), the script requeues the
  # job within the collective timeout + 30 s, and the requeued job resumes on the nodes it gets
  # (node1 and node3, once Slurm has marked node2 down).
  yaml=$(config slurm-cut)
  sed -i 's/steps: 30/steps: 120/' "$yaml"
  job=$(slurm sbatch --parsable --nodes=2 --ntasks-per-node=1 --output="$scratch/slurm-cut.log" --chdir="$root" \
        --export=ALL,FLOWFORMER_BIN="$bin" jobs/slurm/train.sbatch "$yaml" --inject-step-delay 0.05 --collective-timeout 15) \
    || fail "slurm: sbatch failed"
  metrics=$scratch/slurm-cut/metrics.jsonl
  for _ in $(seq 1200); do
    [ -f "$metrics" ] && [ "$(grep -c '"event": "checkpoint"' "$metrics")" -ge 1 ] && break
    sleep 0.1
  done
  grep -q "on node\[1-2\]" "$scratch/slurm-cut.log" || { cat "$scratch/slurm-cut.log" >&2; fail "slurm: the job did not start on node1 and node2"; }
  $cluster cut 2
  at=$(date +%s)
  for _ in $(seq 600); do grep -q "requeueing" "$scratch/slurm-cut.log" 2>/dev/null && break; sleep 0.1; done
  seconds=$(( $(date +%s) - at ))
  grep -q "status 76); requeueing" "$scratch/slurm-cut.log" || { cat "$scratch/slurm-cut.log" >&2; fail "slurm: no requeue after node2's link was cut"; }
  [ "$seconds" -le 45 ] || fail "slurm: the job was requeued $seconds s after the cut (bound: 15 + 30 s)"
  grep -q "rank 1 on node2 stopped answering" "$scratch/slurm-cut.log" || fail "slurm: no line names node2"
  state=
  for _ in $(seq 900); do
    state=$(job_state "$job")
    # (the job may leave PENDING before the update reaches it)
    [ "$state" = PENDING ] && { slurm scontrol update JobId="$job" StartTime=now 2>/dev/null || true; }
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT) break ;; esac
    sleep 0.2
  done
  [ "$state" = COMPLETED ] || { cat "$scratch/slurm-cut.log" >&2; fail "slurm: after the cut the job ended in state '$state'"; }
  grep -q "start (restart 1) on node\[1,3\]" "$scratch/slurm-cut.log" || { cat "$scratch/slurm-cut.log" >&2; fail "slurm: the requeued job did not run on node1 and node3"; }
  grep -q "resuming from $scratch/slurm-cut/checkpoint-" "$scratch/slurm-cut.log" || fail "slurm: the requeued job did not resume"
  # The cut-off node's rank ended itself (abort's self-exit); its slurmstepd waits for a
  # controller it cannot reach (on a real cluster: until the node is rebooted or slurmd returns),
  # so the node's leftovers are ended here.
  ranks_left=$(for pid in $($cluster pids 2); do ps -o comm= -p "$pid"; done | grep -c '^flowformer$' || true)
  [ "$ranks_left" -eq 0 ] || fail "slurm: $ranks_left rank(s) left on the cut-off node2"
  $cluster heal 2
  jobs/cluster/netns-slurm.sh stop
  for i in 1 2 3; do $cluster kill "$i"; done
  note "slurm, node2's link cut: status 76, requeued $seconds s after the cut, resumed on node[1,3] and completed; no rank left on node2"
fi

if [ -z "$only" ] || [ "$only" = slow-link ]; then
  $cluster rate 3 20mbit
  yaml=$(config capped)
  FLOWFORMER_STATUS_FILE=$scratch/capped.status $cluster mpirun -np 3 --map-by node "$bin" train --config "$yaml" \
    --set train.log_every=5 > "$scratch/capped.log" 2>&1 || { tail -5 "$scratch/capped.log" >&2; fail "the run with a capped link failed"; }
  $cluster rate 3 off
  named=$(python3 - "$scratch/capped/metrics.jsonl" <<'PY'
import json, sys
windows = [r for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "train"]
named = [r for r in windows if r.get("slow_link_host") == "node3" and r.get("slow_link_rank") == 2]
if not windows or len(named) != len(windows):
    sys.exit(f"{len(named)} of {len(windows)} logged windows name node3's link: "
             + ", ".join(str(r.get("slow_link_host")) for r in windows))
print(f"{len(named)} of {len(windows)} windows, lag {min(r['slow_link_lag'] for r in named):.0%}–{max(r['slow_link_lag'] for r in named):.0%}")
PY
  ) || fail "slow link: $named"
  grep -q "| slow link rank 2 (node3) +" "$scratch/capped.log" || fail "slow link: the progress line does not name node3"
  note "node3's link capped at 20 Mbit/s: the slow-rank report names it in $named"
fi

if [ -z "$only" ] || [ "$only" = faults ]; then
  timeout=15         # --collective-timeout of the fault runs
  bound=$((timeout + 30))
  node_processes() { for i in 1 2 3; do $cluster pids "$i"; done; }
  fault_case() {   # fault_case cut|kill|freeze
    local fault=$1 name=fault-$1
    local yaml status_file=$scratch/$name.status log=$scratch/$name.log
    yaml=$(config "$name")
    FLOWFORMER_STATUS_FILE=$status_file $cluster mpirun -np 3 --map-by node "$bin" train --config "$yaml" \
      --set train.steps=1000 --inject-step-delay 0.1 --collective-timeout "$timeout" > "$log" 2>&1 &
    launcher_pid=$!
    local metrics=$scratch/$name/metrics.jsonl
    for _ in $(seq 1200); do
      [ -f "$metrics" ] && [ "$(grep -c '"event": "checkpoint"' "$metrics")" -ge 2 ] && break
      kill -0 "$launcher_pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -f "$metrics" ] && [ "$(grep -c '"event": "checkpoint"' "$metrics")" -ge 2 ] \
      || { cat "$log" >&2; fail "$fault: the run did not reach its second checkpoint"; }
    $cluster "$fault" 3
    local at
    at=$(date +%s)
    local status=
    for _ in $(seq $((bound * 10 + 100))); do
      kill -0 "$launcher_pid" 2>/dev/null || break
      sleep 0.1
    done
    local seconds=$(( $(date +%s) - at ))
    if kill -0 "$launcher_pid" 2>/dev/null; then
      tail -20 "$log" >&2; fail "$fault: the job was still running $seconds s after the fault"
    fi
    set +e; wait "$launcher_pid"; status=$?; set -e
    launcher_pid=
    [ "$seconds" -le "$bound" ] || fail "$fault: the job ended $seconds s after the fault (bound: $timeout + 30 s)"
    [ "$status" -eq 76 ] || { tail -20 "$log" >&2; fail "$fault: exit status $status, expected 76 (failed, resumable)"; }
    grep -E "rank 2 on node3 stopped answering|node\(s\) node3 stopped answering" "$log" > "$scratch/$name.named" \
      || { tail -20 "$log" >&2; fail "$fault: no line names node3"; }
    [ "$fault" = freeze ] && $cluster thaw 3
    [ "$fault" = cut ] && $cluster heal 3
    # No process of the job on any node (a frozen node's end once thawed; a cut-off node's
    # daemon ends itself within its guard's 20 s).
    local left=
    for _ in $(seq 300); do
      left=$(node_processes)
      [ -z "$left" ] && break
      sleep 0.1
    done
    [ -z "$left" ] || fail "$fault: processes left on the nodes: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" | head -5)"
    local newest
    newest=$(ls "$scratch/$name"/checkpoint-*.h5 | sort | tail -n1)
    "$bin" inspect "$newest" > "$scratch/$name.inspect" || fail "$fault: the newest checkpoint $newest does not load"
    local step=$((10#$(basename "$newest" .h5 | sed 's/checkpoint-//')))
    # Rerun on the two remaining nodes: resumes from the newest checkpoint, stops 4 steps later.
    set +e
    FLOWFORMER_STATUS_FILE=$status_file $cluster mpirun -np 2 --map-by node "$bin" train --config "$yaml" \
      --set train.steps=1000 --collective-timeout "$timeout" --stop-at-step $((step + 4)) > "$log.rerun" 2>&1
    status=$?
    set -e
    [ "$status" -eq 75 ] || { tail -5 "$log.rerun" >&2; fail "$fault: the rerun on 2 nodes ended with $status, expected 75"; }
    grep -q "resuming from $newest at step $step" "$log.rerun" || fail "$fault: the rerun did not resume from $newest"
    note "$fault node3: ended $seconds s after the fault (bound $bound), status 76, '$(cut -c1-90 "$scratch/$name.named" | head -n1)…', no process left, $(basename "$newest") loads, 2-node rerun resumed at step $step"
  }
  fault_case cut
  fault_case kill
  fault_case freeze
fi
note "ok"
