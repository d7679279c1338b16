#!/usr/bin/python3
"""A userspace stand-in for netem, for kernels without sch_netem: links two network
namespaces with a TUN device in each and copies every packet across after a delay.

usage: netns_relay.py NS1 NS2 DEV DELAY_FILE
Creates DEV in /run/netns/NS1 and /run/netns/NS2 (the caller gives them addresses and
brings them up; netns_hosts.sh does) and relays until killed. The one-way delay in
milliseconds is read from DELAY_FILE at start and again on SIGUSR1 (missing or empty
means 0); each direction is delayed by it, as netem on both ends of a veth would.

The devices carry virtio-net headers with TCP segmentation offload, so TCP hands
over 64 KB segments with a 1500-byte MSS as it does on a veth: congestion windows
grow as on a real 1500-MTU link while the relay moves few, large packets.
"""
import collections
import ctypes
import errno
import fcntl
import os
import select
import signal
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x1000, 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
# A 64 KB segment plus its virtio-net header, with room to spare.
PACKET_MAX = 1 << 17

libc = ctypes.CDLL(None, use_errno=True)


def open_tun(ns, name):
    """A TUN device named NAME, created inside network namespace NS."""
    nsfd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        # Devices are created in the namespace of the thread that asks for them.
        if libc.setns(nsfd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {ns}: {os.strerror(err)}")
    finally:
        os.close(nsfd)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifreq = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI | IFF_VNET_HDR)
    fcntl.ioctl(fd, TUNSETIFF, ifreq)
    fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    return fd


def read_delay(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return float(text) / 1000.0 if text else 0.0
    except FileNotFoundError:
        return 0.0


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    ns1, ns2, dev, delay_file = sys.argv[1:]
    a, b = open_tun(ns1, dev), open_tun(ns2, dev)
    other = {a: b, b: a}
    # Packets on their way to each fd, oldest first: (time due, bytes). One constant
    # delay keeps every queue in time order, so the head is always the next due.
    queues = {a: collections.deque(), b: collections.deque()}
    state = {"delay": read_delay(delay_file)}

    def reload(signum, frame):
        state["delay"] = read_delay(delay_file)

    signal.signal(signal.SIGUSR1, reload)
    while True:
        now = time.monotonic()
        wait = None
        for fd, queue in queues.items():
            while queue and queue[0][0] <= now:
                send(fd, queue.popleft()[1])
            if queue:
                wait = min(wait if wait is not None else 1e9, queue[0][0] - now)
        try:
            ready, _, _ = select.select([a, b], [], [], wait)
        except InterruptedError:
            continue
        for fd in ready:
            due = time.monotonic() + state["delay"]
            # Drain what is there: one wake-up per packet would cost more than the copy.
            while True:
                try:
                    packet = os.read(fd, PACKET_MAX)
                except BlockingIOError:
                    break
                if state["delay"] > 0:
                    queues[other[fd]].append((due, packet))
                else:
                    send(other[fd], packet)


def send(fd, packet):
    try:
        os.write(fd, packet)
    except OSError as e:
        # A full or down device drops the packet, as a wire would; TCP resends it.
        if e.errno not in (errno.EAGAIN, errno.EIO, errno.EINVAL, errno.ENOBUFS):
            raise


if __name__ == "__main__":
    main()
