#!/bin/bash
# Open MPI's remote launcher for the namespace "hosts" of netns_hosts.sh, used in place of ssh: `netns_agent.sh HOST COMMAND...` runs COMMAND inside HOST's network namespace.
# Only the hosts in SN_NETNS_MAP ("10.77.0.1=ns1 10.77.0.2=ns2", exported by
# sn_netns_up) are accepted: anything else is refused rather than reached some other way.
host=$1
shift
for entry in ${SN_NETNS_MAP:-}; do
  if [ "${entry%%=*}" = "$host" ]; then
    # A fresh environment, as ssh gives a remote login: anything the ranks need must
    # be forwarded by mpirun (-x), so the test sees what a real cluster would.
    # Open MPI quotes the daemon's command for a remote shell, hence sh -c "$*".
    # Its own UTS namespace and host name, too: Open MPI groups ranks into nodes by
    # host name, and two "hosts" both called $(hostname) would disagree on which ranks
    # share a node (MPI_Comm_split_type then crashes inside Open MPI 4.1).
    exec env -i PATH="$PATH" HOME="${HOME:-/root}" ip netns exec "${entry#*=}" \
      unshare --uts /bin/sh -c 'hostname "$0" && exec /bin/sh -c "$1"' "${entry#*=}" "$*"
  fi
done
echo "netns_agent.sh: unknown host '$host' (known: ${SN_NETNS_MAP:-none})" >&2
exit 255
