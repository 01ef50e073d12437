#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for tests and for trying the sbatch scripts.
#
#   jobs/slurm/local-cluster.sh start DIR   # starts munged, slurmctld, slurmd; state lives in DIR
#   jobs/slurm/local-cluster.sh stop DIR    # stops them by the PIDs recorded in DIR
#
# After `start`, use the cluster with `export SLURM_CONF=DIR/slurm.conf`. Needs root (it starts
# munged as the munge user) and the Debian packages slurm-wlm and munge (jobs/setup.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/slurm-daemons.sh"
action=${1:?usage: local-cluster.sh start|stop DIR}
dir=${2:?usage: local-cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() { stop_recorded "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; }

if [ "$action" = stop ]; then stop; exit 0; fi
[ "$action" = start ] || { echo "local-cluster.sh: unknown action '$action' (start|stop)" >&2; exit 2; }

host=$(hostname)
cpus=$(nproc)
chmod 755 "$dir"   # munged runs as the munge user and must reach its socket directory
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
chown munge:munge "$dir/munge"
{
  slurm_conf_common local "$host" "$dir" "" 30
  echo "NodeName=$host CPUs=$cpus State=UNKNOWN"
  echo "PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP"
} > "$dir/slurm.conf"

start_munged "$dir/munge" "$dir/munged.pid" \
  || { echo "local-cluster.sh: munged did not start (see $dir/munge/munged.log)" >&2; stop; exit 1; }

export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
echo $! > "$dir/slurmctld.pid"
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
echo $! > "$dir/slurmd.pid"

slurm_up() { sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
if wait_until 100 0.2 slurm_up; then
  echo "local Slurm cluster up: export SLURM_CONF=$SLURM_CONF"
  exit 0
fi
echo "local-cluster.sh: slurm did not come up; logs in $dir/log" >&2
stop
exit 1
