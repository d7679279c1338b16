# Shared by the integration tests: run shardnet under mpirun, check messages and
# the exit status of every rank, fail loudly. Sourced, never run.
# shellcheck shell=bash
set -uo pipefail

: "${SHARDNET:?SHARDNET must name the shardnet binary}"
: "${SN_SOURCE_DIR:?SN_SOURCE_DIR must name the source tree}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Let every rank finish on its own after one fails, so that each rank's exit status
# can be checked (mpirun would otherwise kill the rest at the first non-zero exit).
export OMPI_MCA_orte_abort_on_non_zero_status=0
# The tests share two cores: one thread per rank keeps runs short and repeatable.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export SHARDNET_PROGRESS=0
PYTHON=/usr/bin/python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shardnet-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILURES=0
CHECKS=0
# What starts the ranks: test_multihost*.sh replace it with mpirun inside a network
# namespace, with a hostfile and TCP-only options (netns_hosts.sh).
SN_MPIRUN=(mpirun)

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

pass() {
  CHECKS=$((CHECKS + 1))
  echo "ok: $*"
}

# run_ranks N ARGS...: runs `shardnet ARGS` on N ranks with a time limit; sets
# OUT, ERR (file paths), STATUS (mpirun's) and RANK_STATUS ("0:1 1:1", each rank's).
run_ranks() {
  local n=$1
  shift
  OUT=$WORK/out.$RANDOM
  ERR=$WORK/err.$RANDOM
  local codes=$WORK/codes.$RANDOM
  : >"$codes"
  timeout 120 "${SN_MPIRUN[@]}" -np "$n" --oversubscribe bash -c \
    '"$0" "$@"; code=$?; echo "$OMPI_COMM_WORLD_RANK:$code" >>'"$codes"'; exit $code' \
    "$SHARDNET" "$@" >"$OUT" 2>"$ERR"
  STATUS=$?
  RANK_STATUS=$(sort "$codes" | tr '\n' ' ')
  if [ "$STATUS" -eq 124 ]; then fail "shardnet $* hung (killed after 120 s)"; return; fi
  # mpirun reports 0 when it was told not to abort on a failing rank: the ranks' own
  # statuses decide.
  local worst
  worst=$(cut -d: -f2 "$codes" | sort -n | tail -1)
  if [ "$STATUS" -eq 0 ] && [ -n "$worst" ] && [ "$worst" -ne 0 ]; then STATUS=$worst; fi
}

# expect_failure WHAT N TEXT: the last run failed on all N ranks, and stderr holds
# exactly one `shardnet: error:` line, containing TEXT.
expect_failure() {
  local what=$1 n=$2 text=$3
  local lines
  lines=$(grep -c "^shardnet: error:" "$ERR")
  if [ "$STATUS" -eq 0 ]; then fail "$what: exited 0"; return; fi
  local r
  for ((r = 0; r < n; r++)); do
    case " $RANK_STATUS" in
      *" $r:0 "*) fail "$what: rank $r exited 0"; return ;;
      *" $r:"*) ;;
      *) fail "$what: rank $r did not finish ($RANK_STATUS)"; return ;;
    esac
  done
  if [ "$lines" -ne 1 ]; then fail "$what: $lines error lines, expected 1:"; cat "$ERR" >&2; return; fi
  if ! grep "^shardnet: error:" "$ERR" | grep -qF -- "$text"; then
    fail "$what: message lacks '$text':"
    grep "^shardnet: error:" "$ERR" >&2
    return
  fi
  pass "$what: $(grep '^shardnet: error:' "$ERR")"
}

expect_success() {
  local what=$1
  if [ "$STATUS" -ne 0 ]; then
    fail "$what: exit status $STATUS"
    tail -20 "$ERR" >&2
    return 1
  fi
  pass "$what"
}

finish() {
  echo "$CHECKS passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ]
  exit $?
}
