#!/usr/bin/env bash
# Open MPI's daemon (orted) on a remote node, ended when mpirun can no longer be reached.
#
# jobs/cluster/mpirun-bounded.sh starts the remote daemons through this script
# (`--mca orte_launch_agent "PATH/orted-guard.sh --lost-after S"`), so it must exist at the same
# path on every node (a shared checkout). Open MPI calls it with orted's own arguments.
#
# Why: when a node's link is cut, nothing tells its orted. mpirun's orders cannot reach it and its
# own reports wait in TCP retransmission (about 15 minutes with Linux defaults), so the daemon and
# the ranks it started live on, orphaned, until someone kills them. This guard starts orted, and a
# detached watcher of the daemon it becomes every few seconds opens (and at once closes) a TCP connection to mpirun's own
# listening address, taken from orted's `orte_hnp_uri` argument. When no connection succeeds for
# S seconds (default 20) — mpirun unreachable, or gone — it kills orted and every process below
# it, and notes that in the system log (logger -t orted-guard) when there is one.
set -uo pipefail
lost_after=20
if [ "${1:-}" = --lost-after ]; then lost_after=$2; shift 2; fi
[[ "$lost_after" =~ ^[0-9]+$ ]] && [ "$lost_after" -ge 2 ] || { echo "orted-guard: --lost-after needs whole seconds ≥ 2" >&2; exit 2; }
period=$(( lost_after / 5 > 0 ? lost_after / 5 : 1 ))   # seconds between checks
connect_timeout=$(( period < 2 ? period : 2 ))

# orte_hnp_uri looks like "3141.0;tcp://198.18.0.1,10.0.0.1:40123": the first address and the port.
hnp_address= hnp_port=
previous=
for argument in "$@"; do
  if [ "$previous" = orte_hnp_uri ]; then
    uri=${argument//\"/}
    endpoint=${uri#*tcp://}
    endpoint=${endpoint%%;*}
    hnp_port=${endpoint##*:}
    hnp_address=${endpoint%:*}
    hnp_address=${hnp_address%%,*}
  fi
  previous=$argument
done

# orted detaches itself (--daemonize): find it by its job and daemon ids, then watch it from a
# detached watcher of our own, so that the remote shell returns as Open MPI expects.
jobid= vpid=
previous=
for argument in "$@"; do
  case "$previous" in
    ess_base_jobid) jobid=$argument ;;
    ess_base_vpid) vpid=$argument ;;
  esac
  previous=$argument
done
orted "$@" || exit
[ -n "$jobid" ] && [ -n "$vpid" ] && [ -n "$hnp_address" ] && [ -n "$hnp_port" ] || exit 0
daemon=
for _ in $(seq 50); do
  daemon=$(pgrep -f -- "orted .*ess_base_jobid $jobid .*ess_base_vpid $vpid " | head -n1)
  [ -n "$daemon" ] && break
  sleep 0.1
done
[ -n "$daemon" ] || exit 0

descendants() {   # every process below PID
  local child
  for child in $(pgrep -P "$1"); do echo "$child"; descendants "$child"; done
}

watch() {
  local last_answer now victims
  last_answer=$(date +%s)
  while kill -0 "$daemon" 2>/dev/null; do
    sleep "$period"
    kill -0 "$daemon" 2>/dev/null || break
    if timeout "$connect_timeout" bash -c "exec 3<>/dev/tcp/$hnp_address/$hnp_port" 2>/dev/null; then
      last_answer=$(date +%s)
      continue
    fi
    now=$(date +%s)
    if [ $(( now - last_answer )) -ge "$lost_after" ]; then
      victims=$(descendants "$daemon")
      kill -STOP "$daemon" 2>/dev/null
      for pid in $victims; do kill -KILL "$pid" 2>/dev/null; done
      kill -KILL "$daemon" 2>/dev/null
      logger -t orted-guard "mpirun at $hnp_address:$hnp_port unreachable for $(( now - last_answer )) s: killed orted $daemon (job $jobid) and its ranks" 2>/dev/null
      return
    fi
  done
}
watch </dev/null >/dev/null 2>&1 &
disown
exit 0
