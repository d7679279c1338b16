# Two "hosts" on one machine: network namespaces joined by a veth pair, and the mpirun line that runs one rank on each over TCP only. Sourced by tests/integration/test_multihost*.sh and bench/multihost.sh.
# shellcheck shell=bash disable=SC2034 # the variables set here are for the scripts that source it
# Safe under set -e (bench/multihost.sh) and without it (the tests): what may fail
# is checked or ends in "|| true".
#
#   sn_netns_up || { echo "skipped: $SN_NETNS_WHY"; exit "$SN_NETNS_SKIP"; }   # status 1
#   trap sn_netns_down EXIT
#   "${SN_NETNS_MPIRUN[@]}" -np 2 shardnet train ...      # rank 0 on host 1, rank 1 on host 2
#   sn_netns_delay 10 || echo "no delay: $SN_NETNS_WHY"
#
# SN_NETNS_LINK=relay joins the namespaces with a TUN device in each and
# netns_relay.py between them instead of the veth pair: the delay is then made in
# userspace, for kernels built without sch_netem.
#
# Everything stays inside the two namespaces: the addresses below exist nowhere else,
# the namespaces have no route out, and MPI is told to use only their subnet.

SN_NETNS_SUBNET=10.77.0.0/24
SN_NETNS_ADDRS=(10.77.0.1 10.77.0.2)
SN_NETNS_LINK=${SN_NETNS_LINK:-veth}
# The automake convention for "skipped"; tests/CMakeLists.txt gives it to ctest as
# SKIP_RETURN_CODE for the multihost label.
SN_NETNS_SKIP=77
# Namespace names carry the creating shell's pid, so concurrent runs do not collide
# and leftovers of a killed run can be recognised (see sn_netns_reap).
SN_NETNS_PREFIX=snmh
SN_NETNS=()
SN_NETNS_WHY=
SN_NETNS_DIR=
SN_NETNS_RELAY_PID=
SN_NETNS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SN_NETNS_AGENT=$SN_NETNS_HERE/netns_agent.sh

# sn_netns_reap: deletes namespaces left by runs that were killed before their
# cleanup ran (SIGKILL, e.g. a ctest timeout): ours are snmh<pid>-N with <pid> gone.
sn_netns_reap() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^${SN_NETNS_PREFIX}([0-9]+)-[12]$ ]] || continue
    pid=${BASH_REMATCH[1]}
    [ -d "/proc/$pid" ] && continue
    echo "netns_hosts: removing namespace $ns left by an earlier run (pid $pid)"
    _sn_netns_remove "$ns"
  done
}

# _sn_netns_remove NS: ends the processes still inside NS (all started by the run
# that made it: mpirun, orted, ranks) and deletes it, which also destroys its end of
# the link.
_sn_netns_remove() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086 # one pid per word
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

# _sn_netns_link: joins the two namespaces with an interface $SN_NETNS_DEV in each.
_sn_netns_link() {
  local err tries
  if [ "$SN_NETNS_LINK" = relay ]; then
    SN_NETNS_DEV=tun0
    echo 0 >"$SN_NETNS_DIR/delay_ms"
    /usr/bin/python3 "$SN_NETNS_HERE/netns_relay.py" "${SN_NETNS[@]}" "$SN_NETNS_DEV" "$SN_NETNS_DIR/delay_ms" \
      >/dev/null 2>"$SN_NETNS_DIR/relay.err" &
    SN_NETNS_RELAY_PID=$!
    for ((tries = 0; tries < 50; tries++)); do
      ip -n "${SN_NETNS[1]}" link show "$SN_NETNS_DEV" >/dev/null 2>&1 && return 0
      kill -0 "$SN_NETNS_RELAY_PID" 2>/dev/null || break
      sleep 0.1
    done
    SN_NETNS_WHY="netns_relay.py did not create $SN_NETNS_DEV: $(tail -1 "$SN_NETNS_DIR/relay.err") (needs CONFIG_TUN)"
    return 1
  fi
  SN_NETNS_DEV=veth0
  # Both veth ends are created directly inside the namespaces: no interface ever
  # appears in the machine's own namespace, and the fixed name cannot clash.
  if ! err=$(ip link add "$SN_NETNS_DEV" netns "${SN_NETNS[0]}" type veth peer name "$SN_NETNS_DEV" netns "${SN_NETNS[1]}" 2>&1); then
    SN_NETNS_WHY="cannot create the veth pair between the namespaces: ${err:-failed} (needs CONFIG_VETH)"
    return 1
  fi
}

# sn_netns_up: creates the two hosts. Returns 1 with the reason in SN_NETNS_WHY when
# this machine cannot (not root, no iproute2, no CAP_SYS_ADMIN in a container, ...),
# 2 when the fault is ours (the agent is not executable).
# Sets SN_NETNS (the namespace names), SN_NETNS_DEV (the interface in each),
# SN_NETNS_MPIRUN (mpirun inside host 1 with the hostfile, the launcher agent and
# TCP-only transport; add -np and the program) and exports SN_NETNS_MAP, which the
# agent reads.
sn_netns_up() {
  if [ "$(id -u)" -ne 0 ]; then SN_NETNS_WHY="network namespaces need root (running as $(id -un))"; return 1; fi
  if ! command -v ip >/dev/null; then SN_NETNS_WHY="ip not found: install the Debian package iproute2"; return 1; fi
  if ! command -v mpirun >/dev/null; then SN_NETNS_WHY="mpirun not found: install openmpi-bin"; return 1; fi
  # A checkout or copy that lost the executable bit would otherwise fail inside mpirun.
  if [ ! -x "$SN_NETNS_AGENT" ]; then SN_NETNS_WHY="$SN_NETNS_AGENT is not executable (chmod +x it)"; return 2; fi
  case $SN_NETNS_LINK in veth | relay) ;; *) SN_NETNS_WHY="SN_NETNS_LINK must be veth or relay, not '$SN_NETNS_LINK'"; return 2 ;; esac
  sn_netns_reap
  SN_NETNS=("${SN_NETNS_PREFIX}$$-1" "${SN_NETNS_PREFIX}$$-2")
  local err
  if ! err=$(ip netns add "${SN_NETNS[0]}" 2>&1); then
    SN_NETNS_WHY="cannot create a network namespace (ip netns add: ${err:-failed}); needs CAP_SYS_ADMIN and a kernel with CONFIG_NET_NS"
    SN_NETNS=()
    return 1
  fi
  if ! err=$(ip netns add "${SN_NETNS[1]}" 2>&1); then
    SN_NETNS_WHY="cannot create a second network namespace: $err"
    sn_netns_down
    return 1
  fi
  SN_NETNS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shardnet-netns.XXXXXX")
  _sn_netns_link || { sn_netns_down; return 1; }
  local i
  for i in 0 1; do
    # Open MPI also talks to itself over loopback inside each host.
    if ! err=$({ ip -n "${SN_NETNS[i]}" link set lo up &&
      ip -n "${SN_NETNS[i]}" addr add "${SN_NETNS_ADDRS[i]}/24" dev "$SN_NETNS_DEV" &&
      ip -n "${SN_NETNS[i]}" link set "$SN_NETNS_DEV" up; } 2>&1); then
      SN_NETNS_WHY="cannot configure ${SN_NETNS[i]}: $err"
      sn_netns_down
      return 1
    fi
  done
  printf '%s slots=1\n' "${SN_NETNS_ADDRS[@]}" >"$SN_NETNS_DIR/hostfile"
  export SN_NETNS_MAP="${SN_NETNS_ADDRS[0]}=${SN_NETNS[0]} ${SN_NETNS_ADDRS[1]}=${SN_NETNS[1]}"
  # The agent starts remote daemons with a fresh environment, as ssh would: what the
  # ranks need must be forwarded with -x.
  local forward=() v
  for v in OMP_NUM_THREADS SHARDNET_PROGRESS; do [ -n "${!v+set}" ] && forward+=(-x "$v"); done
  # mpirun runs inside host 1 so that the daemon on host 2 can call it back over the
  # link; --map-by node with one slot per host puts rank 0 on host 1, rank 1 on host 2.
  # ob1 + tcp,self: no shared memory, UCX or other fabric may carry anything.
  # shellcheck disable=SC2054 # "tcp,self" is one word
  SN_NETNS_MPIRUN=(ip netns exec "${SN_NETNS[0]}" mpirun --hostfile "$SN_NETNS_DIR/hostfile" --map-by node
    --mca plm_rsh_agent "$SN_NETNS_AGENT" --mca pml ob1 --mca btl tcp,self
    --mca btl_tcp_if_include "$SN_NETNS_SUBNET" --mca oob_tcp_if_include "$SN_NETNS_SUBNET"
    "${forward[@]}")
  # A veth end reports LOWERLAYERDOWN until its peer is up: wait until both pass traffic.
  local tries
  for ((tries = 0; tries < 50; tries++)); do
    ip -n "${SN_NETNS[0]}" -br link show "$SN_NETNS_DEV" | grep -qE ' (UP|UNKNOWN) ' &&
      ip -n "${SN_NETNS[1]}" -br link show "$SN_NETNS_DEV" | grep -qE ' (UP|UNKNOWN) ' && return 0
    sleep 0.1
  done
  SN_NETNS_WHY="the link between the namespaces did not come up"
  sn_netns_down
  return 1
}

# sn_netns_down: removes both namespaces (and so the link), the relay if any and the
# hostfile. Safe to call twice and from an EXIT trap.
sn_netns_down() {
  local ns
  if [ -n "$SN_NETNS_RELAY_PID" ]; then
    kill "$SN_NETNS_RELAY_PID" 2>/dev/null || true
    wait "$SN_NETNS_RELAY_PID" 2>/dev/null || true
    SN_NETNS_RELAY_PID=
  fi
  for ns in "${SN_NETNS[@]}"; do _sn_netns_remove "$ns"; done
  SN_NETNS=()
  [ -n "$SN_NETNS_DIR" ] && rm -rf "$SN_NETNS_DIR"
  SN_NETNS_DIR=
}

# sn_netns_delay MS: delays every packet leaving each host by MS milliseconds (netem
# on both veth ends, or the relay: the round trip grows by 2*MS); 0 removes the delay.
# Returns 2 with the reason in SN_NETNS_WHY when the kernel has no sch_netem, 1 on
# any other failure.
sn_netns_delay() {
  local ms=$1 ns err
  if [ "$SN_NETNS_LINK" = relay ]; then
    echo "$ms" >"$SN_NETNS_DIR/delay_ms"
    kill -USR1 "$SN_NETNS_RELAY_PID" 2>/dev/null && return 0
    SN_NETNS_WHY="netns_relay.py is not running: $(tail -1 "$SN_NETNS_DIR/relay.err")"
    return 1
  fi
  if [ "$ms" = 0 ]; then
    for ns in "${SN_NETNS[@]}"; do tc -n "$ns" qdisc del dev "$SN_NETNS_DEV" root 2>/dev/null || true; done
    return 0
  fi
  # Built as a module on most distribution kernels; harmless where it is built in.
  if command -v modprobe >/dev/null; then modprobe -q sch_netem 2>/dev/null || true; fi
  for ns in "${SN_NETNS[@]}"; do
    if ! err=$(tc -n "$ns" qdisc replace dev "$SN_NETNS_DEV" root netem delay "${ms}ms" 2>&1); then
      case $err in
        *"qdisc kind is unknown"* | *"Unknown qdisc"*)
          local config
          config=$(zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?CONFIG_(NET_SCH_NETEM|MODULES)[= ]' | tr '\n' ',' | sed 's/,$//; s/,/, /g')
          SN_NETNS_WHY="the kernel ($(uname -r)) has no sch_netem${config:+ ($config)}; tc said: $err"
          return 2 ;;
        *) SN_NETNS_WHY="tc qdisc add netem in $ns failed: $err"; return 1 ;;
      esac
    fi
  done
}

# sn_netns_describe: one line saying what joins the hosts and what delays packets.
sn_netns_describe() {
  if [ "$SN_NETNS_LINK" = relay ]; then
    echo "TUN devices joined by netns_relay.py, $(cat "$SN_NETNS_DIR/delay_ms") ms one-way delay"
  else
    local q
    q=$(tc -n "${SN_NETNS[0]}" qdisc show dev "$SN_NETNS_DEV" | head -1)
    echo "veth pair, qdisc on each end: ${q:-none}"
  fi
}

# sn_netns_rtt_ms: prints the round trip from host 1 to host 2 in milliseconds, the
# best of 5 TCP connects (a connect returns after SYN and SYN-ACK: one round trip), or
# nothing when it cannot be measured. There is no ping in a minimal Debian, and TCP
# is what MPI uses anyway.
sn_netns_rtt_ms() {
  local port=$SN_NETNS_DIR/rtt.port
  rm -f "$port"
  ip netns exec "${SN_NETNS[1]}" /usr/bin/python3 -c '
import socket, sys
s = socket.create_server((sys.argv[1], 0))
s.settimeout(20)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
for _ in range(5):
    s.accept()[0].close()' "${SN_NETNS_ADDRS[1]}" "$port" &
  local listener=$! tries
  for ((tries = 0; tries < 100; tries++)); do [ -s "$port" ] && break; sleep 0.05; done
  ip netns exec "${SN_NETNS[0]}" /usr/bin/python3 -c '
import socket, sys, time
best = 1e9
for _ in range(5):
    t = time.monotonic()
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20).close()
    best = min(best, time.monotonic() - t)
print(f"{best * 1e3:.2f}")' "${SN_NETNS_ADDRS[1]}" "$(cat "$port" 2>/dev/null)" || true
  wait "$listener" 2>/dev/null || true
}

# sn_netns_tx_bytes: bytes host 1 has sent over the link so far.
sn_netns_tx_bytes() {
  ip netns exec "${SN_NETNS[0]}" cat "/sys/class/net/$SN_NETNS_DEV/statistics/tx_bytes"
}
