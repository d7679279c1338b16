#!/usr/bin/env bash
# A small run of the mutation campaign (tests/campaign/campaign.py, issue 11): 15
# hostile inputs of each kind (configs, --set, datasets, checkpoints, IDX/CIFAR),
# fixed seed, against the binary under test; every one must be accepted or refused in
# one `shardnet: error:` line naming the file or key, with no crash and no hang.
# scripts/campaign.sh runs the full campaign against the sanitizer build.
source "$(dirname "$0")/lib.sh"
if $PYTHON "$SN_SOURCE_DIR/tests/campaign/campaign.py" 15 1 --binary "$SHARDNET" --out "$WORK/campaign"; then
  pass "15 mutated inputs of each kind"
else
  fail "the campaign found crashes, hangs or bad messages"
  # $WORK goes when this script ends: show what each bad case ran and printed
  for log in "$WORK"/campaign/failures/*/log.txt; do
    [ -e "$log" ] && { echo "== $log" >&2; head -c 6000 "$log" >&2; }
  done
fi
finish
