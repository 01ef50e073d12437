#!/usr/bin/env bash
# A virtual cluster on one machine: N "nodes", each its own network and UTS namespace (its own
# network stack and hostname node1 … nodeN), wired to one bridge. Nothing is added to the
# machine's own network namespace: the bridge lives in a namespace of its own too, so the nodes'
# addresses (198.18.0.1 … 198.18.0.N/24, the benchmarking range) are seen by no one else.
#
#   netns-cluster.sh up N [--slots S] [--rate RATE]   # N nodes, S MPI slots each (default 1),
#                                                     # every link capped at RATE (tc tbf, e.g. 1gbit)
#   netns-cluster.sh mpirun ARGS…      # Open MPI across the nodes, launched from node1 (hostfile,
#                                      # TCP between nodes, shared memory within one)
#   netns-cluster.sh exec I CMD…       # run CMD on node I (its network, hostname nodeI)
#   netns-cluster.sh cut I | heal I    # take node I's link down / up (the switch port)
#   netns-cluster.sh rate I RATE|off   # cap node I's link (both directions) or lift the cap
#   netns-cluster.sh kill I            # SIGKILL every process of node I
#   netns-cluster.sh freeze I | thaw I # SIGSTOP / SIGCONT every process of node I
#   netns-cluster.sh pids I            # the processes of node I, one PID a line
#   netns-cluster.sh hostfile          # path of the hostfile (nodeI slots=S)
#   netns-cluster.sh down              # remove everything `up` made, by name; idempotent
#
# State (names, hostfile, rsh agent, /etc/netns entries' list) lives in the cluster directory,
# FLOWFORMER_CLUSTER_DIR (default /var/tmp/flowformer-cluster); several clusters can exist at
# once in different directories. Every name `up` creates carries a random tag stored there
# (namespaces ffc-TAG-node1 …, ffc-TAG-switch), so leftovers of a crashed run never collide with
# a new cluster, and `down` removes exactly the names recorded, also after a crash.
#
# The virtual nodes share this machine's cores, so ranks are not bound to cores (`--bind-to
# none`): each node's daemon would otherwise bind its first rank to core 0, and every node's
# first rank would share that one core.
#
# mpirun runs with the project's launch settings (jobs/cluster/mpirun-bounded.sh): Open MPI
# starts the remote daemons through an rsh agent that runs
#   ip netns exec ffc-TAG-nodeI unshare --uts sh -c "hostname nodeI; <orted command>"
# so no sshd is needed. Needs root, iproute2 and util-linux.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${FLOWFORMER_CLUSTER_DIR:-/var/tmp/flowformer-cluster}
subnet=198.18.0

die() { echo "netns-cluster.sh: $*" >&2; exit 1; }
usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

load() {
  [ -f "$dir/tag" ] || die "no cluster in $dir (run: netns-cluster.sh up N)"
  tag=$(cat "$dir/tag")
  nodes=$(cat "$dir/nodes")
}
ns() { echo "ffc-$tag-node$1"; }
switch_ns() { echo "ffc-$tag-switch"; }
node_index() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$nodes" ] \
    || die "node '${1:-}' is not one of 1 … $nodes"
}
# Processes whose network namespace is node I's.
node_pids() { ip netns pids "$(ns "$1")" 2>/dev/null || true; }
# The token bucket of a rate: 10 ms worth of bytes, at least 64 KiB (a smaller bucket than the
# kernel timer's tick allows throttles TCP well below the rate).
burst_for() {
  local number unit bits
  number=$(echo "$1" | sed -n 's/^\([0-9][0-9]*\)[a-zA-Z]*$/\1/p')
  unit=$(echo "$1" | sed -n 's/^[0-9][0-9]*\([a-zA-Z]*\)$/\1/p')
  [ -n "$number" ] || die "rate '$1' is not a number with a unit (examples: 1gbit, 100mbit)"
  case "$unit" in
    gbit) bits=$((number * 1000000000)) ;;
    mbit) bits=$((number * 1000000)) ;;
    kbit) bits=$((number * 1000)) ;;
    bit|"") bits=$number ;;
    *) die "rate '$1': use a unit tc knows in bits (gbit, mbit, kbit)" ;;
  esac
  local bytes=$((bits / 8 / 100))
  [ "$bytes" -ge 65536 ] || bytes=65536
  echo "$bytes"
}
set_rate() {   # set_rate I RATE|off: both directions of node I's link
  local node=$1 rate=$2 burst=
  [ "$rate" = off ] || burst=$(burst_for "$rate")
  for side in "$(switch_ns) port$node" "$(ns "$node") eth0"; do
    set -- $side
    ip netns exec "$1" tc qdisc del dev "$2" root 2>/dev/null || true
    if [ "$rate" != off ]; then
      ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$rate" burst "$burst" latency 50ms \
        || die "tc cannot cap $2 at '$rate' (examples: 1gbit, 100mbit)"
    fi
  done
}

# reachable I ADDRESS PORT: node I gets an answer (a connection, or a refusal) from ADDRESS:PORT.
reachable() {
  local out
  out=$(ip netns exec "$(ns "$1")" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>&1) && return 0
  case "$out" in *refused*) return 0 ;; esac
  return 1
}

down() {
  [ -f "$dir/tag" ] || { rm -rf "$dir"; return 0; }
  tag=$(cat "$dir/tag")
  local names
  names=$(cat "$dir/namespaces" 2>/dev/null || true)
  # Stop every process inside the namespaces first (a namespace with live processes outlives
  # `ip netns del`), then the namespaces; their veths and bridge go with them.
  for name in $names; do
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
  done
  for name in $names; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(ip netns pids "$name" 2>/dev/null)" ] && break; sleep 0.2; done
    ip netns del "$name" 2>/dev/null || true
    rm -rf "/etc/netns/$name"
  done
  rm -rf "$dir"
}

command=${1:-}
[ -n "$command" ] || usage
shift
case "$command" in
  up)
    count=${1:-}
    [[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 250 ] || die "up: N must be 1 … 250, got '${count}'"
    shift
    slots=1 rate=off
    while [ $# -gt 0 ]; do
      case "$1" in
        --slots) slots=${2:?--slots needs a number}; shift 2 ;;
        --rate) rate=${2:?--rate needs a rate such as 1gbit}; shift 2 ;;
        *) die "up: unknown option '$1'" ;;
      esac
    done
    [[ "$slots" =~ ^[0-9]+$ ]] && [ "$slots" -ge 1 ] || die "up: --slots must be a positive number, got '$slots'"
    [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
    [ ! -f "$dir/tag" ] || die "a cluster already exists in $dir (netns-cluster.sh down first, or set FLOWFORMER_CLUSTER_DIR)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    nodes=$count
    echo "$tag" > "$dir/tag"
    echo "$nodes" > "$dir/nodes"
    : > "$dir/namespaces"
    trap 'echo "netns-cluster.sh: up failed; removing what was made" >&2; down' ERR
    sw=$(switch_ns)
    echo "$sw" >> "$dir/namespaces"
    ip netns add "$sw"
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    hosts="127.0.0.1 localhost"
    for i in $(seq "$nodes"); do hosts+=$'\n'"$subnet.$i node$i"; done
    : > "$dir/hostfile"
    for i in $(seq "$nodes"); do
      name=$(ns "$i")
      echo "$name" >> "$dir/namespaces"
      ip netns add "$name"
      mkdir -p "/etc/netns/$name"
      printf '%s\n' "$hosts" > "/etc/netns/$name/hosts"
      ip -n "$sw" link add "port$i" type veth peer name eth0 netns "$name"
      ip -n "$sw" link set "port$i" master br0 up
      ip -n "$name" link set lo up
      ip -n "$name" addr add "$subnet.$i/24" dev eth0
      ip -n "$name" link set eth0 up
      echo "node$i slots=$slots" >> "$dir/hostfile"
      [ "$rate" = off ] || set_rate "$i" "$rate"
    done
    # The rsh agent Open MPI calls as `AGENT HOST COMMAND…` (like ssh: the words are joined and
    # run by a shell on HOST).
    cat > "$dir/rsh-agent" <<AGENT
#!/bin/sh
# Open MPI's remote-shell agent for the cluster in $dir: runs the command on node HOST.
host=\$1; shift
exec ip netns exec "ffc-$tag-\$host" unshare --uts sh -c "hostname \$host; \$*"
AGENT
    chmod 755 "$dir/rsh-agent"
    trap - ERR
    # Every node must reach every other before the cluster counts as up.
    for i in $(seq "$nodes"); do
      for j in $(seq "$nodes"); do
        [ "$i" = "$j" ] && continue
        ok=0
        for _ in $(seq 50); do
          if reachable "$i" "$subnet.$j" 9; then ok=1; break; fi
          sleep 0.1
        done
        [ "$ok" = 1 ] || { down; die "node$i cannot reach node$j"; }
      done
    done
    echo "cluster $tag up: $nodes node(s) × $slots slot(s), links ${rate/off/uncapped}; state in $dir"
    ;;
  mpirun)
    load
    exec ip netns exec "$(ns 1)" unshare --uts sh -c 'hostname node1; exec "$@"' sh \
      "$here/mpirun-bounded.sh" --hostfile "$dir/hostfile" --mca plm_rsh_agent "$dir/rsh-agent" \
      --mca btl tcp,self,vader --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --bind-to none "$@"
    ;;
  exec)
    load; node_index "${1:-}"; node=$1; shift
    [ $# -ge 1 ] || die "exec: no command"
    exec ip netns exec "$(ns "$node")" unshare --uts sh -c 'hostname "$0"; exec "$@"' "node$node" "$@"
    ;;
  cut)    load; node_index "${1:-}"; ip -n "$(switch_ns)" link set "port$1" down ;;
  heal)   load; node_index "${1:-}"; ip -n "$(switch_ns)" link set "port$1" up ;;
  rate)   load; node_index "${1:-}"; set_rate "$1" "${2:?rate I RATE|off}" ;;
  kill)   load; node_index "${1:-}"; for pid in $(node_pids "$1"); do kill -KILL "$pid" 2>/dev/null || true; done ;;
  freeze) load; node_index "${1:-}"; for pid in $(node_pids "$1"); do kill -STOP "$pid" 2>/dev/null || true; done ;;
  thaw)   load; node_index "${1:-}"; for pid in $(node_pids "$1"); do kill -CONT "$pid" 2>/dev/null || true; done ;;
  pids)   load; node_index "${1:-}"; node_pids "$1" ;;
  hostfile) load; echo "$dir/hostfile" ;;
  down)   down ;;
  *) usage ;;
esac
