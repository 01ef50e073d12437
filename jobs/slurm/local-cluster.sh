#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for tests and for trying the sbatch scripts.
#
#   jobs/slurm/local-cluster.sh start DIR   # starts munged, slurmctld, slurmd; state lives in DIR
#   jobs/slurm/local-cluster.sh stop DIR    # stops them by the PIDs recorded in DIR
#
# After `start`, use the cluster with `export SLURM_CONF=DIR/slurm.conf`. Needs root (it starts
# munged as the munge user) and the Debian packages slurm-wlm and munge (jobs/setup.sh).
set -euo pipefail
action=${1:?usage: local-cluster.sh start|stop DIR}
dir=${2:?usage: local-cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

if [ "$action" = stop ]; then stop; exit 0; fi
[ "$action" = start ] || { echo "local-cluster.sh: unknown action '$action' (start|stop)" >&2; exit 2; }

host=$(hostname)
cpus=$(nproc)
chmod 755 "$dir"   # munged runs as the munge user and must reach its socket directory
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
chown munge:munge "$dir/munge"
cat > "$dir/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
ReturnToService=2
SchedulerType=sched/backfill
KillWait=30
MinJobAge=300
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# munged (as the munge user; setpriv execs, so $! is munged itself), with its socket in DIR so it never clashes with a system munged.
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
  --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" >"$dir/munge/munged.out" 2>&1 &
echo $! > "$dir/munged.pid"
for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$dir/munge/munge.socket" ] || { echo "local-cluster.sh: munged did not start (see $dir/munge/munged.log)" >&2; stop; exit 1; }

export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
echo $! > "$dir/slurmctld.pid"
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
echo $! > "$dir/slurmd.pid"

for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "local Slurm cluster up: export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "local-cluster.sh: slurm did not come up; logs in $dir/log" >&2
stop
exit 1
