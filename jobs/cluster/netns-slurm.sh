#!/usr/bin/env bash
# Slurm across the nodes of a virtual cluster (jobs/cluster/netns-cluster.sh): slurmctld on node1,
# one slurmd per node (NodeName nodeI, NodeAddr 198.18.0.I), one munged for all.
#
#   netns-slurm.sh start     # the cluster must be up; prints the SLURM_CONF to use
#   netns-slurm.sh run CMD…  # a Slurm client command from node1 (the controller is reachable
#                            # only inside the cluster's network), e.g. netns-slurm.sh run sinfo
#   netns-slurm.sh stop      # stops the daemons by their recorded PIDs (idempotent)
#
# State lives in $FLOWFORMER_CLUSTER_DIR/slurm (never in /tmp: every slurmd gets a /tmp of its
# own, see below). Needs root and the Debian packages slurm-wlm and munge (jobs/setup.sh).
#
# Traps found on this machine (../shared/PLATFORM.md): the daemons enter the node's network with
# `nsenter --net` (ip netns exec remounts /sys and slurmd then finds no cgroup filesystem); each
# slurmd has a private /tmp (a tmpfs in a mount namespace of its own), else the slurmstepds of
# two nodes collide on PMIx's /tmp/spmix_appdir_… directory; the spool and PID files carry the
# node name (%n); the recorded PIDs are the daemons' own (every wrapper execs).
# SlurmdTimeout is 40 s: a node that stops answering is marked down after that. Shorter, Slurm's own
# node-failure requeue races the batch script's requeue after the trainer's collective timeout
# (seen with 20 s and a 15 s collective timeout: the job ended FAILED).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../slurm/slurm-daemons.sh"
cluster_dir=${FLOWFORMER_CLUSTER_DIR:-/var/tmp/flowformer-cluster}
dir=$cluster_dir/slurm
die() { echo "netns-slurm.sh: $*" >&2; exit 1; }

[ -f "$cluster_dir/tag" ] || die "no cluster in $cluster_dir (netns-cluster.sh up N first)"
tag=$(cat "$cluster_dir/tag")
nodes=$(cat "$cluster_dir/nodes")
ns() { echo "/run/netns/ffc-$tag-node$1"; }

stop() {
  [ -d "$dir" ] || return 0
  stop_recorded "$dir"/pids/*
}

case "${1:-}" in
  stop) stop; exit 0 ;;
  run)
    shift
    export SLURM_CONF=$dir/slurm.conf
    exec nsenter --net="$(ns 1)" "$@"
    ;;
  start) ;;
  *) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

[ ! -f "$dir/pids/slurmctld" ] || die "Slurm is already running in $dir (netns-slurm.sh stop first)"
mkdir -p "$dir/state" "$dir/log" "$dir/munge" "$dir/pids"
chmod 755 "$cluster_dir" "$dir"   # munged runs as the munge user and must reach its socket
chown munge:munge "$dir/munge"
for i in $(seq "$nodes"); do mkdir -p "$dir/spool-node$i"; done
cpus=$(nproc)
{
  slurm_conf_common "ffc$tag" "node1(198.18.0.1)" "$dir" "-%n" 10
  echo "SlurmdTimeout=40"
  for i in $(seq "$nodes"); do echo "NodeName=node$i NodeAddr=198.18.0.$i CPUs=$cpus State=UNKNOWN"; done
  echo "PartitionName=virtual Nodes=node[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
} > "$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf

trap 'echo "netns-slurm.sh: start failed; stopping what was started (logs in $dir/log)" >&2; stop' ERR
start_munged "$dir/munge" "$dir/pids/munged" || die "munged did not start (see $dir/munge/munged.log)"

nsenter --net="$(ns 1)" unshare --uts sh -c 'hostname node1; exec /usr/sbin/slurmctld -D -i -f "$0"' "$SLURM_CONF" \
  >"$dir/log/slurmctld.out" 2>&1 &
echo $! > "$dir/pids/slurmctld"
for i in $(seq "$nodes"); do
  nsenter --net="$(ns "$i")" unshare --uts --mount --propagation private sh -c \
    'hostname "$0"; mount -t tmpfs tmpfs /tmp; exec /usr/sbin/slurmd -D -N "$0" -f "$1"' "node$i" "$SLURM_CONF" \
    >"$dir/log/slurmd-node$i.out" 2>&1 &
  echo $! > "$dir/pids/slurmd-node$i"
done
trap - ERR

nodes_up() {
  local idle
  idle=$(nsenter --net="$(ns 1)" sinfo -h -N -o '%T' 2>/dev/null | grep -cE '^(idle|mixed|allocated)$' || true)
  [ "$idle" = "$nodes" ]
}
if wait_until 150 0.2 nodes_up; then
  echo "Slurm up on $nodes node(s): export SLURM_CONF=$SLURM_CONF; clients through: $here/netns-slurm.sh run CMD"
  exit 0
fi
echo "netns-slurm.sh: the nodes did not all come up; logs in $dir/log" >&2
nsenter --net="$(ns 1)" sinfo -N >&2 || true
stop
exit 1
