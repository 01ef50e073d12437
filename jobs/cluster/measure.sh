#!/usr/bin/env bash
# Remeasures every file in jobs/cluster/measured/ (docs/CLUSTER.md §6), then runs the scaling model.
#
#   jobs/cluster/measure.sh [--out DIR]     # default DIR: jobs/cluster/measured
#
# On a 2-node virtual cluster (netns-cluster.sh, made here and removed at the end), at link caps of
# 1 and 10 Gbit/s: `bench allreduce` (1 KiB … 256 MiB), and `bench model` for the LM and image
# configs with overlap on and off (and the LM with bf16 gradients on the wire at 1 Gbit/s, both ways); plus both
# configs on 1 rank of one node; and the all-reduce on 4 nodes at 1 Gbit/s. Needs root and the release build. Run it on a quiet machine: the
# virtual links are copied by the same cores that run the ranks. About 6 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/measured
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "measure.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
bin=${FLOWFORMER_BIN:-$root/.build/release/flowformer}
[ -x "$bin" ] || { echo "measure.sh: no trainer at $bin (swift build -c release --product flowformer)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export FLOWFORMER_CLUSTER_DIR=${FLOWFORMER_CLUSTER_DIR:-/var/tmp/flowformer-measure}
cluster="$here/netns-cluster.sh"
trap '"$cluster" down' EXIT
model_flags=(--steps 5 --warmup 1 --peak-gflops 100)

"$cluster" up 2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for config in lm image; do
  "$cluster" exec 1 "$bin" bench model --config "$config" "${model_flags[@]}" --json "$out/model-$config-1x1.json" >/dev/null
done
for rate in 1 10; do
  "$cluster" rate 1 "${rate}gbit"
  "$cluster" rate 2 "${rate}gbit"
  "$cluster" mpirun -np 2 --map-by node "$bin" bench allreduce --link-gbits "$rate" \
      --json "$out/allreduce-2x1-${rate}gbit.json"
  for config in lm image; do
    for overlap in overlap no-overlap; do
      "$cluster" mpirun -np 2 --map-by node "$bin" bench model --config "$config" --"$overlap" \
          "${model_flags[@]}" --json "$out/model-$config-2x1-${rate}gbit-$overlap.json" >/dev/null
    done
  done
done
"$cluster" rate 1 1gbit
"$cluster" rate 2 1gbit
for overlap in overlap no-overlap; do
  "$cluster" mpirun -np 2 --map-by node "$bin" bench model --config lm --"$overlap" --allreduce-dtype bf16 \
      "${model_flags[@]}" --json "$out/model-lm-2x1-1gbit-$overlap-bf16wire.json" >/dev/null
done
# The ring on 4 nodes at 1 Gbit/s (all-reduce only: 4 ranks on a 2-core machine share cores, so
# steps would measure the sharing; spinning ranks yield while they wait).
"$cluster" down
"$cluster" up 4 --rate 1gbit
"$cluster" mpirun -np 4 --map-by node --mca mpi_yield_when_idle 1 "$bin" bench allreduce --link-gbits 1 \
    --sizes 1048576,4194304,16777216,67108864 --budget 4 --json "$out/allreduce-4x1-1gbit.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/scaling_model.py" --measured "$out"
