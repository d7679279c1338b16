# A private one-node Slurm (Debian's slurm-wlm + munge) for the Slurm tests: config,
# state, spool, logs and the munge key and socket live in one temporary directory;
# every daemon is stopped by its PID on exit. Sourced after lib.sh, never run.
#
#   slurm_cluster_start   starts munged, slurmctld and slurmd; exports SLURM_CONF (so
#                         sbatch, squeue, scontrol ... talk to this cluster), sets
#                         SN_SLURM_DIR and SN_SLURM_NODE; returns once the node is idle
#   slurm_cluster_stop    cancels the jobs, stops the daemons and whatever they started,
#                         removes the directory (also runs from the EXIT trap)
#   slurm_logs            prints the tail of the daemons' logs (for failure messages)
#
# Exits 77 (ctest: skipped) when this machine cannot run it: not root, or the Debian
# packages `slurm-wlm munge` (SN_SLURM_PACKAGES in scripts/deps.sh) are not installed.
# shellcheck shell=bash

SN_SLURM_DIR=
SN_SLURM_PIDS=()

# Runs on any exit of the test, failed or not (this replaces lib.sh's trap, so it
# removes $WORK too); a TERM or INT (ctest's timeout, ^C) exits through it as well.
trap 'slurm_cluster_stop; rm -rf "$WORK"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

slurm_logs() {
  local f
  for f in "$SN_SLURM_DIR"/log/*; do
    [ -s "$f" ] || continue
    echo "--- $f" >&2
    tail -15 "$f" >&2
  done
}

# _free_port: a TCP port nothing listens on (bash's /dev/tcp connects only to a
# listener), below Linux's ephemeral range (32768-60999) so no outgoing connection
# takes it meanwhile; the next port is free too.
_free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null && continue
    echo "$p"
    return 0
  done
  return 1
}

# _slurm_start_daemon NAME CMD...: starts CMD in the background with its output in
# log/NAME.out and remembers its PID.
_slurm_start_daemon() {
  local name=$1
  shift
  "$@" >"$SN_SLURM_DIR/log/$name.out" 2>&1 &
  SN_SLURM_PIDS+=($!)
}

slurm_cluster_start() {
  local missing=() b
  for b in munged munge unmunge slurmctld slurmd sbatch srun; do
    command -v "$b" >/dev/null || missing+=("$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "SKIP: no ${missing[*]}: install the Debian packages slurm-wlm munge (scripts/test.sh does)"
    exit 77
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the private Slurm cluster runs its daemons as root (SlurmUser=root)"
    exit 77
  fi
  local t0=$SECONDS
  # Not under $WORK: munged insists that every directory above its socket is
  # searchable by all, and sun_path allows 108 characters.
  SN_SLURM_DIR=$(mktemp -d /tmp/sn-slurm.XXXXXX)
  chmod 755 "$SN_SLURM_DIR"
  mkdir -p "$SN_SLURM_DIR"/{munge,state,spool,log}
  local d=$SN_SLURM_DIR

  # munge: a fresh key; the socket directory must be world-searchable, the key private.
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$d/munge/munge.key"
  _slurm_start_daemon munged munged --foreground --force --socket="$d/munge/munge.socket" \
    --key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" \
    --seed-file="$d/munge/munged.seed" --log-file="$d/log/munged.log"
  for _ in $(seq 100); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.05; done
  if ! munge -n -S "$d/munge/munge.socket" | unmunge -S "$d/munge/munge.socket" >/dev/null 2>&1; then
    echo "FAIL: munged does not answer on $d/munge/munge.socket" >&2
    slurm_logs
    return 1
  fi

  # The node as slurmd sees it (CPUs, sockets, cores, RealMemory): a node configured
  # with more than the hardware has would be drained.
  local node_line host port
  node_line=$(slurmd -C | head -1)
  host=${node_line#NodeName=}
  host=${host%% *}
  export SN_SLURM_NODE=$host
  port=$(_free_port) || { echo "FAIL: no free TCP port for Slurm" >&2; return 1; }
  cat >"$d/slurm.conf" <<EOF
# Written by tests/integration/slurm_cluster.sh: a one-node test cluster.
ClusterName=sntest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again
# (default 120 s); 5 s keeps the requeue tests short.
AuthInfo=socket=$d/munge/munge.socket,cred_expire=5
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# No cgroups in a container: track job processes through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Look at pending jobs every second, not every minute: requeued jobs start at once.
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
ReturnToService=2
SlurmctldTimeout=10
SlurmdTimeout=30
KillWait=5
InactiveLimit=0
# Finished jobs stay visible to scontrol (there is no slurmdbd, hence no sacct).
MinJobAge=600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$d/slurm.conf
  # The job environment (and so slurmstepd's and every task's) carries SLURM_CONF
  # with this directory in it: slurm_cluster_stop finds leftovers by it.
  _slurm_start_daemon slurmctld slurmctld -D -c -f "$SLURM_CONF"
  _slurm_start_daemon slurmd slurmd -D -N "$host" -f "$SLURM_CONF"

  local state='' dead='' p
  for _ in $(seq 150); do
    state=$(sinfo -h -n "$host" -o %t 2>/dev/null)
    [ "$state" = idle ] && break
    for p in "${SN_SLURM_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || dead=1; done
    [ -n "$dead" ] && break
    sleep 0.2
  done
  if [ -n "$dead" ]; then
    echo "FAIL: a Slurm daemon exited while starting" >&2
    slurm_logs
    return 1
  elif [ "$state" != idle ]; then
    echo "FAIL: Slurm node $host is '${state:-not answering}' after 30 s" >&2
    slurm_logs
    return 1
  fi
  echo "ok: one-node Slurm up in $((SECONDS - t0)) s ($SN_SLURM_DIR, ports $port-$((port + 1)))"
}

# _slurm_leftovers: PIDs of processes that carry this cluster's SLURM_CONF in their
# environment (slurmstepd, batch shells, srun, tasks), the daemons aside.
_slurm_leftovers() {
  local p env=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    # Bash builtins only: a helper process would find itself.
    { mapfile -d '' env <"/proc/$p/environ"; } 2>/dev/null || continue
    case " ${env[*]} " in
      *" SLURM_CONF=$SN_SLURM_DIR/slurm.conf "*) echo "$p" ;;
    esac
  done
}

# _slurm_running PID...: true while one of them runs (exists and is no zombie).
_slurm_running() {
  local p stat
  for p in "$@"; do
    { read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] && return 0
  done
  return 1
}

slurm_cluster_stop() {
  [ -n "$SN_SLURM_DIR" ] || return 0
  local p left
  if [ ${#SN_SLURM_PIDS[@]} -gt 0 ] && kill -0 "${SN_SLURM_PIDS[1]:-0}" 2>/dev/null; then
    # Let Slurm end its jobs itself (steps, batch shells) while it still can.
    scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 50); do
      [ -z "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  for p in "${SN_SLURM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    left=
    for p in "${SN_SLURM_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ -z "$left" ] && break
    sleep 0.1
  done
  for p in "${SN_SLURM_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait "${SN_SLURM_PIDS[@]}" 2>/dev/null
  left=$(_slurm_leftovers)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086 # one PID a word
    kill -KILL $left 2>/dev/null
    # Not children of this shell, so no `wait`: give them a moment to be gone (or
    # zombies, which init reaps).
    for _ in $(seq 50); do
      # shellcheck disable=SC2086
      _slurm_running $left || break
      sleep 0.1
    done
  fi
  rm -rf "$SN_SLURM_DIR"
  SN_SLURM_DIR=
  SN_SLURM_PIDS=()
}
