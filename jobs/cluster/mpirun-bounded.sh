#!/usr/bin/env bash
# `mpirun` for multi-node runs of flowformer, with every failure bounded in time.
#
#   jobs/cluster/mpirun-bounded.sh --hostfile HOSTS -np 8 --map-by node flowformer train --config run.yaml
#
# Takes mpirun's own arguments. Exit status: the trainer's (0 done, 1 error, 3 diverged,
# 75 stopped on a signal after a checkpoint) or 76 — "failed, resumable": a node or rank stopped
# answering, the job was ended, the last checkpoint is intact; rerun (on the remaining nodes) to
# resume. One line names the lost host(s) and rank(s).
#
# Plain mpirun across nodes can hang for good: when a node's link is cut or the node freezes, the
# trainer's collective timeout aborts the job, but mpirun then waits for that node's daemon
# forever and the daemon lives on, orphaned. Here:
# - remote daemons start under jobs/cluster/orted-guard.sh (same path on every node): a daemon
#   that cannot reach mpirun for FLOWFORMER_GUARD_SECONDS (default 20) kills itself and its ranks;
# - Open MPI's TCP keep-alive between mpirun and the daemons is 10 s + 3 × 5 s instead of
#   300 s + 9 × 20 s, and daemons are started by mpirun itself (no tree spawn), so a lost idle
#   daemon ends the job in about half a minute even outside a collective;
# - the ranks report how they end through FLOWFORMER_STATUS_FILE (default: a file in the current
#   directory, which must be on storage all nodes share — as the run directory must be); once a
#   rank has recorded a status, mpirun gets FLOWFORMER_ABORT_GRACE seconds (default 10) to exit,
#   then SIGKILL;
# - SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 are forwarded to mpirun (which forwards them to the ranks).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
grace=${FLOWFORMER_ABORT_GRACE:-10}
guard_seconds=${FLOWFORMER_GUARD_SECONDS:-20}
lost_status=76

own_status_file=0
if [ -z "${FLOWFORMER_STATUS_FILE:-}" ]; then
  FLOWFORMER_STATUS_FILE=$PWD/.flowformer-status-$(hostname)-$$
  own_status_file=1
fi
export FLOWFORMER_STATUS_FILE
status_file=$FLOWFORMER_STATUS_FILE
rm -f "$status_file" "$status_file.hosts"
errors=$(mktemp "${TMPDIR:-/tmp}/mpirun-bounded.XXXXXX")
cleanup() {
  rm -f "$errors"
  if [ "$own_status_file" = 1 ]; then rm -f "$status_file" "$status_file.hosts"; fi
}
trap cleanup EXIT

say() { echo "mpirun-bounded: $*" >&2; }

# mpirun's stderr goes to ours and to a file, to find the node it says it lost.
mpirun --mca plm_rsh_no_tree_spawn 1 \
       --mca orte_launch_agent "$here/orted-guard.sh --lost-after $guard_seconds" \
       --mca oob_tcp_keepalive_time 10 --mca oob_tcp_keepalive_intvl 5 --mca oob_tcp_keepalive_probes 3 \
       -x FLOWFORMER_STATUS_FILE "$@" 2> >(tee -a "$errors" >&2) &
launcher=$!
for signal in TERM INT USR1 USR2; do
  trap "kill -$signal $launcher 2>/dev/null" "$signal"
done

recorded_at=
while kill -0 "$launcher" 2>/dev/null; do
  sleep 1 &
  wait $! 2>/dev/null
  if [ -z "$recorded_at" ] && [ -s "$status_file" ]; then recorded_at=$(date +%s); fi
  if [ -n "$recorded_at" ] && [ $(( $(date +%s) - recorded_at )) -ge "$grace" ] && kill -0 "$launcher" 2>/dev/null; then
    say "mpirun has not exited ${grace} s after the ranks recorded status $(head -n1 "$status_file" 2>/dev/null) (a node cannot be reached); ending it"
    # SIGKILL at once: mpirun's own SIGTERM handling waits for the lost daemon again (and
    # crashes in PMIx_Finalize); the reachable daemons end when their connection to it closes.
    { kill -KILL "$launcher"; wait "$launcher"; } 2>/dev/null   # no shell report of the killed job
    break
  fi
done
status=0
while :; do
  { wait "$launcher"; } 2>/dev/null   # no shell report of a killed job
  status=$?
  kill -0 "$launcher" 2>/dev/null || break   # `wait` returned early for a forwarded signal
done
sleep 0.2   # let the stderr copy finish

recorded=$(head -n1 "$status_file" 2>/dev/null)
if [ -n "$recorded" ]; then
  status=$recorded
elif [ "$status" -ne 0 ]; then
  # No rank recorded a status: mpirun ended the job itself. If it lost a node's daemon, or a rank
  # died on a signal, the node is named in its report: say so in one line, as resumable.
  lost=$(sed -n -e 's/.*Remote daemon: .* on node \([^ ]*\).*/\1/p' \
                -e 's/.*process rank [0-9]* with PID [0-9]* on node \([^ ]*\) exited on signal.*/\1/p' "$errors" | sort -u | paste -sd, -)
  if [ -n "$lost" ]; then
    ranks=
    if [ -s "$status_file.hosts" ]; then
      ranks=$(awk -v hosts=",$lost," 'index(hosts, "," $2 ",") { printf "%s%s", sep, $1; sep=", " }' "$status_file.hosts")
    fi
    say "node(s) $lost stopped answering${ranks:+ (rank(s) $ranks)}; the job was ended with exit status $lost_status (failed, resumable): checkpoints already written are intact; run the same command again, on the remaining nodes if need be, to resume"
    status=$lost_status
  fi
fi
exit "$status"
