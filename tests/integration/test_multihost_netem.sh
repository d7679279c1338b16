#!/usr/bin/env bash
# test_multihost.sh with 10 ms of netem delay on each end of the veth (a 20 ms round trip): training still completes and still matches the single-host run. Skipped (exit 77) when the kernel has no sch_netem.
SN_MULTIHOST_DELAY_MS=10 exec bash "$(dirname "$0")/test_multihost.sh"
