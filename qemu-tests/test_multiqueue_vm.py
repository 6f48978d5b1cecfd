"""A guest with 2 vCPUs and 2 queue pairs (issue 13, tests 1 and 2): iperf3
with 4 streams each way between it and a namespace behind a kernel port.
Every queue carries traffic in both directions (the switch polls both of the
guest's transmit queues and spreads flows over both receive queues), with the
offloads a single-queue guest negotiates. Then the guest goes down to one
queue pair with `ethtool -L` in the middle of a stream: the stream goes on,
and the switch stops using the queue the guest gave up."""
import os
import threading
import time

from vo.harness import KernelHost, Switch, cleanup
from vo.vm import Vm, iperf_summary, netns_iperf3

SECONDS = 5
GUEST, PEER = "10.78.0.1", "10.78.0.2"
ALL = "CSUM GUEST_CSUM HOST_TSO4 HOST_TSO6 HOST_ECN GUEST_TSO4 GUEST_TSO6 GUEST_ECN MRG_RXBUF"


def queue_packets(port, direction):
    return [port.get(f"vring_q{q}_{direction}_packets", 0) for q in range(2)]


def moved(before, after, direction):
    return [b - a for a, b in zip(queue_packets(before, direction), queue_packets(after, direction))]


def test_a_two_queue_guest_uses_both_queues_and_follows_ethtool(tmp_path):
    work = str(tmp_path)
    sock = os.path.join(work, "vm.sock")
    with cleanup() as later:
        peer = KernelHost("peer")
        later(peer)
        sw = Switch(work, ["--vhost", sock, "--name", "vm"] + peer.switch_args())
        later(sw)
        peer.attach(PEER)
        guest = Vm(work, sock, ip=f"{GUEST}/24", name="vm", vcpus=2, queues=2)
        later(guest)
        sw.wait_guest("vm", 60)
        guest.iperf3_server()
        peer.run(f"ping -c 2 -W 5 {GUEST}")
        assert sw.port("vm")["queue_pairs"] == 2, guest.run("ethtool -l eth0")
        assert sw.port("vm")["features"] == ALL, "offloads differ from a single-queue guest's"

        before = sw.port("vm")
        into = iperf_summary(netns_iperf3(peer, GUEST, SECONDS, parallel=4, wait_server=30))
        out = iperf_summary(netns_iperf3(peer, GUEST, SECONDS, reverse=True, parallel=4))
        after = sw.port("vm")
        to_guest, from_guest = moved(before, after, "to_guest"), moved(before, after, "from_guest")
        print(f"\n4 streams into the guest {into['gbps']:.2f} Gbit/s ({into['retransmits']} "
              f"retransmits), out of it {out['gbps']:.2f} Gbit/s ({out['retransmits']}); packets "
              f"per queue to the guest {to_guest}, from it {from_guest}; expired on the way to "
              f"the guest {after['tx_expired'] - before['tx_expired']}")
        assert all(n > 0 for n in to_guest), "a receive queue of the guest carried nothing"
        assert all(n > 0 for n in from_guest), "a transmit queue of the guest was not polled"

        result = {}
        stream = threading.Thread(target=lambda: result.update(
            report=netns_iperf3(peer, GUEST, 3 * SECONDS, parallel=4)))
        stream.start()
        time.sleep(SECONDS)
        guest.run("ethtool -L eth0 combined 1")
        time.sleep(1)  # what was in flight on queue 1 is delivered
        one = sw.port("vm")
        stream.join(6 * SECONDS + 60)
        end = sw.port("vm")
        late = moved(one, end, "to_guest")
        report = iperf_summary(result["report"])
        print(f"after ethtool -L combined 1: {end['queue_pairs']} queue pair(s) in use; "
              f"packets per queue to the guest since {late}; the stream "
              f"{report['gbps']:.2f} Gbit/s, {report['retransmits']} retransmits; expired "
              f"before the change {one['tx_expired'] - after['tx_expired']}, after "
              f"{end['tx_expired'] - one['tx_expired']}")
        assert end["queue_pairs"] == 1
        assert result["report"]["end"]["sum_received"]["seconds"] >= 3 * SECONDS - 1
        assert late[0] > 0 and late[1] == 0, "the switch went on using the queue given up"
        # Four streams outrun a TCG guest: what waited for its ring past
        # --tx-hold-us expired (a merged packet each, ~45 segments TCP sends
        # again), counted, as with one queue; the streams go on.
