#!/usr/bin/env bash
# Slurm: starts a private one-node Slurm and submits the shipped slurm/ job scripts to
# it: 2-rank training under `srun --mpi=pmix` and under mpirun, a job array sweeping
# the learning rate, the multi-node template, and USR1 (by hand and from a real time
# limit) stopping jobs with a checkpoint, after which they requeue and resume.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slurm_cluster.sh"
slurm_cluster_start || exit 1
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
# The same config with a block-style checkpoint section: a restart must find latest.h5
# where that section says.
sed 's/^checkpoint: {dir: run, keep: 2}$/checkpoint:\n  dir: preempt   # where (d) resumes from\n  keep: 2/' \
  blobs.yaml >blocks.yaml
grep -q '^  dir: preempt' blocks.yaml || fail "blocks.yaml: blobs.yaml's checkpoint line has changed"
JOBS=$SN_SOURCE_DIR/slurm
# A model wide enough that a step takes milliseconds: training to interrupt.
long=(--set model.layers.conv.filters=32 --set model.layers.hidden.units=256 --set train.log_every=100000)

# The jobs get this shell's environment (sbatch --export=ALL): SHARDNET, SLURM_CONF,
# OMPI_ALLOW_RUN_AS_ROOT*, OMP_NUM_THREADS=1. lib.sh's "do not abort on a failing
# rank" is for its own status checks; the job scripts need mpirun's real status.
# train-mpirun.sbatch finds train.sbatch through SHARDNET_HOME (the jobs run in $WORK).
export SHARDNET SHARDNET_HOME=$SN_SOURCE_DIR
unset OMPI_MCA_orte_abort_on_non_zero_status

# submit NAME SBATCH-ARGS...: submits with output to NAME.out; sets JOB.
submit() {
  local name=$1
  shift
  JOB=$(sbatch --parsable --chdir="$WORK" --output="$WORK/$name.out" "$@") || {
    fail "$name: sbatch $* refused"
    JOB=
    return 1
  }
}

# wait_job JOB SECONDS: waits until JOB (every task of an array) has ended; sets
# STATES (e.g. "COMPLETED COMPLETED"). A job still there after SECONDS is cancelled.
wait_job() {
  local job=$1 limit=$2 t0=$SECONDS lines
  while :; do
    lines=$(scontrol -o show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    STATES=$(tr '\n' ' ' <<<"$lines")
    STATES=${STATES% }
    if [ -n "$lines" ] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<<"$lines"; then
      return 0
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      fail "job $job not done after $limit s ($STATES)"
      scontrol show job "$job" >&2
      scancel "$job"
      slurm_logs
      return 1
    fi
    sleep 0.5
  done
}

# job_field JOB FIELD: a field of `scontrol show job` (Restarts, ExitCode, ...).
job_field() { scontrol -o show job "$1" | grep -o " $2=[^ ]*" | head -1 | cut -d= -f2; }

# ckpt_attr FILE ATTR: a root attribute of a checkpoint (lists one item a line).
ckpt_attr() {
  $PYTHON - "$1" "$2" <<'EOF'
import sys, h5py
v = h5py.File(sys.argv[1], "r").attrs[sys.argv[2]]
if isinstance(v, bytes):
    v = v.decode()
if hasattr(v, "tolist") and not isinstance(v, str):
    v = v.tolist()
if isinstance(v, list):
    v = "\n".join(x.decode() if isinstance(x, bytes) else str(x) for x in v)
print(v)
EOF
}

# show NAME: the job's output without the per-epoch lines.
show() {
  echo "--- $1.out, epoch lines left out:"
  grep -v '^epoch\|^test' "$1.out"
  echo "---"
}

# expect_trained NAME JOB DIR STEPS: the job completed, trained one 2-rank world per
# start (one header line each: two singletons would print two) and left DIR/latest.h5 at STEPS; the
# first start found no checkpoint in DIR (shardnet's --resume auto says so).
expect_trained() {
  local name=$1 job=$2 dir=$3 steps=$4 step world
  if [ "$STATES" != COMPLETED ] || [ "$(job_field "$job" ExitCode)" != 0:0 ]; then
    fail "$name: job $job $STATES, exit code $(job_field "$job" ExitCode):"
    tail -20 "$name.out" >&2
    return 1
  fi
  if [ "$(grep -c '^shardnet: 2 ranks x 1 thread' "$name.out")" -ne "$(grep -c ': start [0-9]' "$name.out")" ]; then
    fail "$name: not one 2-rank world per start:"
    grep '^shardnet: .* ranks' "$name.out" >&2
    return 1
  fi
  step=$(ckpt_attr "$dir/latest.h5" step 2>/dev/null)
  world=$(ckpt_attr "$dir/latest.h5" world_size 2>/dev/null)
  if [ "$step" != "$steps" ] || [ "$world" != 2 ]; then
    fail "$name: $dir/latest.h5 has step '$step' world_size '$world', expected $steps and 2"
    tail -20 "$name.out" >&2
  elif ! grep -q "^shardnet: no checkpoint in $dir yet" "$name.out"; then
    fail "$name: the first start did not look for a checkpoint in $dir: $(grep -o 'no checkpoint in [^ ]*' "$name.out")"
  else
    pass "$name: job $job trained 2 ranks to step $step ($dir/latest.h5)"
  fi
  # the job scripts write the run report by default
  grep -q "<table id=\"epoch-table\">" "$dir/report.html" 2>/dev/null && pass "$name: wrote $dir/report.html" ||
    fail "$name: no run report in $dir ($(grep -m1 report "$name.out"))"
}

# preempt NAME JOB DIR STEPS SCANCEL-OPTIONS...: once JOB trains (its second epoch),
# `scancel --signal=USR1 OPTIONS JOB`; then JOB must checkpoint, requeue itself once,
# resume from that checkpoint and complete at STEPS.
preempt() {
  local name=$1 job=$2 dir=$3 steps=$4 stopped step
  shift 4
  for _ in $(seq 600); do grep -q "^epoch 2/" "$name.out" 2>/dev/null && break; sleep 0.1; done
  scancel --signal=USR1 "$@" "$job"
  wait_job "$job" 120 || return 1
  stopped=$(sed -n "s|^shardnet: stopped by SIGUSR1 at step \([0-9]*\); checkpoint written to $dir .*|\1|p" "$name.out")
  step=$(ckpt_attr "$dir/latest.h5" step 2>/dev/null)
  if [ "$STATES" = COMPLETED ] && [ "$(job_field "$job" Restarts)" = 1 ] && [ -n "$stopped" ] &&
    [ "$stopped" -lt "$steps" ] && grep -q "requeueing" "$name.out" && grep -q "start 2 " "$name.out" &&
    grep -q "resumed from $dir/latest.h5 at step $stopped " "$name.out" && [ "$step" = "$steps" ]; then
    pass "$name: scancel --signal=USR1${*:+ $*} stopped it at step $stopped; it requeued, resumed and finished at step $step"
  else
    fail "$name: state $STATES, restarts $(job_field "$job" Restarts), stopped at '$stopped', final step '$step':"
    grep -v '^epoch\|^test' "$name.out" >&2
  fi
}

mpi_list=$(srun --mpi=list 2>&1)
if grep -qx '[[:space:]]*pmix' <<<"$mpi_list"; then
  pass "srun --mpi=list offers pmix"
else
  fail "srun --mpi=list: $(tr '\n' ' ' <<<"$mpi_list")"
fi

# (a) and (c) are submitted together and take turns on the 2 CPUs; the jobs to be
# stopped are submitted one at a time, each once the one before it has ended.
# (a) train.sbatch: srun --mpi=pmix, 2 tasks; the checkpoint directory comes from the
# config (blobs.yaml: checkpoint: {dir: run, ...}).
submit srun "$JOBS/train.sbatch" blobs.yaml --set train.epochs=2 && job_srun=$JOB
# (c) sweep.sbatch: 3 array tasks, 1 rank each, each with its own learning rate.
lrs=(0.05 0.02 0.01)
SWEEP_VALUES="${lrs[*]}" SWEEP_DIR=sweep submit sweep-%a --array=0-2 "$JOBS/sweep.sbatch" blobs.yaml \
  --set train.epochs=1 && job_sweep=$JOB
# (b) train-mpirun.sbatch: mpirun reads the allocation; USR1 reaches the ranks through
# mpirun.
submit mpirun "$JOBS/train-mpirun.sbatch" blobs.yaml "${long[@]}" --set train.epochs=40 \
  --set checkpoint.dir=mpirun && preempt mpirun "$JOB" mpirun 1200 --batch &&
  expect_trained mpirun "$JOB" mpirun 1200

[ -n "${job_srun:-}" ] && wait_job "$job_srun" 60 && expect_trained srun "$job_srun" run 60
if [ -n "${job_sweep:-}" ] && wait_job "$job_sweep" 60; then
  if [ "$STATES" = "COMPLETED COMPLETED COMPLETED" ]; then
    pass "sweep: 3 array tasks completed"
  else
    fail "sweep: task states $STATES"
  fi
  for i in 0 1 2; do
    lr=${lrs[$i]}
    f=sweep/lr=$lr/latest.h5
    # Read whole, then grep: with pipefail, grep -q's early exit would fail the reader.
    overrides=$(ckpt_attr "$f" overrides 2>&1)
    config=$(ckpt_attr "$f" config 2>&1)
    if grep -qx "train.optimizer.lr=$lr" <<<"$overrides" && grep -q "lr: ${lr}[,} ]" <<<"$config" &&
      grep -q "train.optimizer.lr=$lr in sweep/lr=$lr" "sweep-$i.out"; then
      pass "sweep task $i trained with lr $lr into $f (its overrides and config say so)"
    else
      fail "sweep task $i: $f lacks lr=$lr: overrides '$(tr '\n' ' ' <<<"$overrides")', config: $(grep 'lr:' <<<"$config")"
      tail -5 "sweep-$i.out" >&2
    fi
  done
fi

# The multi-node template needs more nodes than there are here: --test-only checks
# that Slurm accepts its directives once the shape fits this node; then it runs so,
# and USR1 to its ranks (scancel without --batch: what --signal=USR1@N without B:
# does) stops it.
fit=(--nodes=1 --ntasks-per-node=2 --cpus-per-task=1)
if out=$(sbatch --test-only --chdir="$WORK" "${fit[@]}" "$JOBS/multinode.sbatch" blobs.yaml 2>&1) &&
  grep -q "to start at" <<<"$out"; then
  pass "multinode.sbatch passes sbatch --test-only with ${fit[*]}: $out"
else
  fail "multinode.sbatch --test-only: $out"
fi
SHARDNET_CKPT_DIR=multinode submit multinode "${fit[@]}" "$JOBS/multinode.sbatch" blobs.yaml \
  "${long[@]}" --set train.epochs=40 && preempt multinode "$JOB" multinode 1200 &&
  expect_trained multinode "$JOB" multinode 1200
# This cluster's TaskPlugin=task/affinity binds ranks to cores, so threads are bound too.
if grep -q "1 nodes x 2 ranks x 1 threads (OMP_PLACES=cores OMP_PROC_BIND=close)" multinode.out; then
  pass "multinode: $(grep -o '1 nodes x[^,]*' multinode.out | head -1)"
else
  fail "multinode: no placement line: $(head -3 multinode.out)"
fi

# (d) Preemption by hand: USR1 to the batch shell (--batch: the path --signal=B:USR1@N
# takes) while srun trains; the job checkpoints, requeues itself and resumes to the
# configured end. Its config has a block-style checkpoint section.
submit preempt "$JOBS/train.sbatch" blocks.yaml "${long[@]}" --set train.epochs=40 &&
  preempt preempt "$JOB" preempt 1200 --batch && expect_trained preempt "$JOB" preempt 1200
show mpirun
show multinode
show preempt

# (e) A real time limit: --time=1 --signal=B:USR1@45. slurmctld looks at time limits
# every 30 s (PERIODIC_TIMEOUT, counted from its start) and sends the signal at the
# first look that finds the job within warning range: with a 1-minute limit, the first
# look after the job starts. The job is timed to begin 8 s before a look, so Slurm's
# USR1 stops it some 6 s into training; the requeued start begins about 7 s after
# that (cred_expire=5 plus a scheduler pass), so the next look, 23 s into it, stops
# it again, and SHARDNET_MAX_RESTARTS=1 ends the job there. Training would go on far
# longer, so how fast the machine trains never matters.
looks=$(grep -h -e "started on cluster" -e "Testing job time limits" "$SN_SLURM_DIR/log/slurmctld.log" |
  sed -n 's/^\[\([0-9T:-]*\).*/\1/p' | tail -1)
begin=()
if [ -n "$looks" ]; then
  t=$(date -d "$looks" +%s)
  while [ "$t" -lt $(($(date +%s) + 10)) ]; do t=$((t + 30)); done
  begin=(--begin="$(date -d "@$((t - 8))" +%Y-%m-%dT%H:%M:%S)")
  echo "the time-limited job begins at ${begin[0]#--begin=}, 8 s before slurmctld's time-limit check"
else
  echo "no start time in slurmctld's log: the time-limited job starts anywhere in the 30 s cycle"
fi
SHARDNET_CKPT_DIR=timelimit SHARDNET_MAX_RESTARTS=1 submit timelimit --time=1 --signal=B:USR1@45 "${begin[@]}" \
  "$JOBS/train.sbatch" blobs.yaml "${long[@]}" --set train.epochs=1000000 && job_limit=$JOB
if [ -n "${job_limit:-}" ] && wait_job "$job_limit" 150; then
  stops=$(sed -n 's/^shardnet: stopped by SIGUSR1 at step \([0-9]*\); checkpoint written to timelimit .*/\1/p' timelimit.out)
  first=$(head -1 <<<"$stops")
  second=$(sed -n 2p <<<"$stops")
  step=$(ckpt_attr timelimit/latest.h5 step 2>/dev/null)
  if [ "$STATES" = FAILED ] && [ "$(job_field "$job_limit" ExitCode)" = 75:0 ] &&
    [ "$(job_field "$job_limit" Restarts)" = 1 ] && [ "$(grep -c "got SIGUSR1" timelimit.out)" = 2 ] &&
    [ -n "$second" ] && grep -q "resumed from timelimit/latest.h5 at step $first " timelimit.out &&
    [ "$second" -gt "$first" ] && [ "$step" = "$second" ] && grep -q "not requeued: 1 restarts already" timelimit.out &&
    ! grep -q "DUE TO TIME LIMIT" timelimit.out; then
    pass "time limit: Slurm's USR1 stopped the job at step $first; it requeued, resumed, was stopped again at step $second and kept it (SHARDNET_MAX_RESTARTS=1)"
  else
    fail "time limit: state $STATES, exit $(job_field "$job_limit" ExitCode), restarts $(job_field "$job_limit" Restarts), stops '$(tr '\n' ' ' <<<"$stops")', final step '$step':"
  fi
  show timelimit
fi
finish
