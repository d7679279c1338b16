#!/usr/bin/env bash
# test_multihost.sh with the 10 ms of delay per direction made by netns_relay.py between TUN devices instead of netem: covers kernels without sch_netem (and the relay bench/multihost.sh falls back to).
SN_NETNS_LINK=relay SN_MULTIHOST_DELAY_MS=10 exec bash "$(dirname "$0")/test_multihost.sh"
