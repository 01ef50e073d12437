# Sourced, not run: what jobs/slurm/local-cluster.sh (one node) and jobs/cluster/netns-slurm.sh
# (the nodes of a virtual cluster) do alike to start and stop a Slurm of their own — the shared
# slurm.conf lines, munged, waiting, stopping daemons by their recorded PIDs.

# wait_until TRIES SECONDS CMD…: runs CMD until it succeeds, up to TRIES times SECONDS apart, and
# once more after the last pause; status 0 as soon as it succeeded, 1 if it never did.
wait_until() {
  local tries=$1 pause=$2
  shift 2
  for _ in $(seq "$tries"); do
    "$@" && return 0
    sleep "$pause"
  done
  "$@"
}

# stop_recorded PIDFILE…: each daemon whose PID a file records gets SIGTERM, up to 5 s to end,
# then SIGKILL; the file is removed. Files that do not exist are passed over.
stop_recorded() {
  local pidfile pid
  for pidfile in "$@"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    wait_until 50 0.1 not_running "$pid" || true
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}
not_running() { ! kill -0 "$1" 2>/dev/null; }

# start_munged DIR PIDFILE: munged as the munge user, its socket, PID, log and seed files in DIR
# (never a system munged's socket); records its PID in PIDFILE (setpriv execs, so $! is munged
# itself). Status 1 if its socket has not appeared within about 5 s. DIR must belong to the munge
# user and its parents be reachable by it.
start_munged() {
  local munge=$1 pidfile=$2
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    --socket="$munge/munge.socket" --pid-file="$munge/munged.pid" \
    --log-file="$munge/munged.log" --seed-file="$munge/munged.seed" >"$munge/munged.out" 2>&1 &
  echo $! > "$pidfile"
  wait_until 50 0.1 test -S "$munge/munge.socket"
}

# slurm_conf_common NAME CONTROLLER DIR NODE_SUFFIX KILL_WAIT: the slurm.conf lines both clusters
# share, on stdout (the caller adds its nodes and partition). CONTROLLER is SlurmctldHost's value;
# state, spool, PID and log files go to DIR (munged's socket to DIR/munge, see start_munged);
# NODE_SUFFIX ("" for one node, "-%n" for several) sets slurmd's spool, PID and log files apart.
slurm_conf_common() {
  local name=$1 controller=$2 dir=$3 node=$4 kill_wait=$5
  cat <<CONF
ClusterName=$name
SlurmctldHost=$controller
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
SlurmdSpoolDir=$dir/spool$node
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd$node.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd$node.log
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
ReturnToService=2
SchedulerType=sched/backfill
KillWait=$kill_wait
MinJobAge=300
CONF
}
