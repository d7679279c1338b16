#!/usr/bin/env bash
# A dataset three times larger than the memory the job may use: inside a cgroup v1
# memory limit of 256 MB, 2 ranks train from an 820 MB set with the stream placement
# (auto chooses it there by itself, and says why) and finish without being killed.
# Skips, saying why, where the memory controller cannot be written (not root, no
# cgroup v1).
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
limit_mb=256
root=/sys/fs/cgroup/memory
group=$root/shardnet-test-$$
if [ "$(id -u)" -ne 0 ] || [ ! -w "$root" ] || ! mkdir "$group" 2>/dev/null; then
  echo "skipped: the cgroup v1 memory controller ($root) is not writable here"
  exit 77
fi
cleanup() {
  [ -d "$group" ] && { while read -r pid; do kill -9 "$pid" 2>/dev/null; done <"$group/cgroup.procs"; sleep 0.2; rmdir "$group"; }
  rm -rf "$WORK"
}
trap cleanup EXIT
echo $((limit_mb << 20)) >"$group/memory.limit_in_bytes"
[ -e "$group/memory.memsw.limit_in_bytes" ] && echo $((limit_mb << 20)) >"$group/memory.memsw.limit_in_bytes"
$PYTHON "$SN_SOURCE_DIR/bench/make_large_set.py" large.h5 820 >/dev/null || { fail "cannot generate the set"; finish; }
size=$(stat -c %s large.h5)
[ "$size" -ge $((3 * limit_mb << 20)) ] && pass "the set ($((size >> 20)) MB) is at least 3 times the limit ($limit_mb MB)" ||
  fail "the set is only $((size >> 20)) MB"
cp "$SN_SOURCE_DIR/tests/integration/large.yaml" .
# Page cache counts against the limit too: drop what writing the set left behind.
sync
echo 1 >/proc/sys/vm/drop_caches 2>/dev/null

in_group() { (echo $BASHPID >"$group/cgroup.procs" && exec "$@"); }
run_limited() {
  OUT=$WORK/out.$RANDOM ERR=$WORK/err.$RANDOM
  in_group timeout 300 mpirun -np 2 --oversubscribe "$SHARDNET" train large.yaml --set train.max_steps=150 "$@" \
    >"$OUT" 2>"$ERR"
  STATUS=$?
}
run_limited --set checkpoint.dir=stream --set data.placement=stream
expect_success "stream under a $limit_mb MB limit" && [ -e stream/latest.h5 ] && pass "stream: 150 steps and a checkpoint" ||
  fail "stream: $(tail -3 "$ERR")"
run_limited --set checkpoint.dir=auto
expect_success "auto under a $limit_mb MB limit"
if grep -q "^shardnet: training set: stream (the 0.820 GB set does not fit in the" "$OUT"; then
  pass "auto chose stream under the limit: $(grep 'training set:' "$OUT")"
else
  fail "auto did not choose stream: $(grep 'set:' "$OUT")"
fi
# Asked for a placement that cannot fit, the job says so before it reads anything.
OUT=$WORK/out.replicate ERR=$WORK/err.replicate
OMPI_MCA_orte_abort_on_non_zero_status=1 in_group timeout 120 mpirun -np 2 --oversubscribe "$SHARDNET" train large.yaml --set data.placement=replicate \
  --set checkpoint.dir=replicate >"$OUT" 2>"$ERR"
STATUS=$?
if [ "$STATUS" -ne 0 ] && [ "$(grep -c '^shardnet: error:' "$ERR")" -eq 1 ] &&
   grep -q "^shardnet: error: large.h5: data.placement replicate holds 1.64 GB of the training set per node, but the node has 0.2[0-9] GB available: use shard or stream, or auto" "$ERR"; then
  pass "replicate asked for under the limit: $(grep '^shardnet: error:' "$ERR")"
else
  fail "replicate under the limit: status $STATUS, $(cat "$ERR")"
fi
kills=$(awk '/^oom_kill /{print $2}' "$group/memory.oom_control" 2>/dev/null)
[ "${kills:-0}" -eq 0 ] && pass "no process of the job was killed for memory" || fail "$kills processes were killed for memory"

echo "peak usage of the job, page cache included: $(($(cat "$group/memory.max_usage_in_bytes") >> 20)) MB of $limit_mb MB"
finish
