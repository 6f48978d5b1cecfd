"""VLANs across a trunk to a real kernel (issue 12): a guest on a trunk port
(VLANs 10 and 20) with 802.1Q sub-interfaces eth0.10 and eth0.20, and one
namespace on an access port of each VLAN. iperf3 runs both ways in VLAN 10
while the namespace of VLAN 20 captures. With TSO, the guest's 64 KB
segments arrive tagged and leave whole (untagged) to the kernel port, and
the kernel's reach the guest whole with the tag; with TSO switched off on the
guest's port, the switch cuts what goes to the guest (every segment tagged)
and merges what comes from it (tags stripped, merged per VLAN). Either way
the guest's and the peers' kernels see valid packets and VLAN 20 none of 10."""
import os

import pytest

from vo.harness import Capture, KernelHost, Switch, cleanup, port_deltas, refusals
from vo.vm import Vm, iperf3_server, iperf_summary, netns_iperf3

SECONDS = 4
GUEST = {10: "10.76.10.3", 20: "10.76.20.3"}
PEER = {10: "10.76.10.1", 20: "10.76.20.1"}


@pytest.mark.parametrize("offloads", ["tso", "no-tso"])
def test_large_segments_cross_a_trunk_to_a_guest(tmp_path, offloads):
    work = str(tmp_path)
    with cleanup() as later:
        peers = {vid: KernelHost(f"v{vid}") for vid in (10, 20)}
        args = []
        for vid, p in peers.items():
            later(p)
            args += p.switch_args() + ["--tag", str(vid)]
        sock = os.path.join(work, "vm.sock")
        args = ["--vhost", sock, "--name", "vm", "--trunks", "10,20"] + (
            ["--disable", "tso"] if offloads == "no-tso" else []) + args
        sw = Switch(work, args)
        later(sw)
        for vid, p in peers.items():
            p.attach(PEER[vid])
        later(iperf3_server(work, peers[10]))
        guest = Vm(work, sock, name="vm")
        later(guest)
        for vid, addr in GUEST.items():
            guest.run(f"ip link add link eth0 name eth0.{vid} type vlan id {vid}")
            guest.run(f"ip addr add {addr}/24 dev eth0.{vid} && ip link set eth0.{vid} up")
        guest.iperf3_server()
        other = Capture(work, peers[20], peers[20].tap)
        later(other)
        for vid in (10, 20):
            guest.run(f"ping -c 2 -W 5 {PEER[vid]}", timeout=30)

        results = {}
        for direction in ("guest_to_peer", "peer_to_guest"):
            before, peer_before = sw.stats()["ports"], peers[10].counters()
            guest_before = guest.tcp_counters()
            if direction == "guest_to_peer":
                report = guest.iperf3(PEER[10], SECONDS)
            else:
                report = netns_iperf3(peers[10], GUEST[10], SECONDS, wait_server=30)
            d = port_deltas(before, sw.stats()["ports"])
            r = iperf_summary(report)
            results[direction] = r
            vm, peer = d["vm"], d["v10"]
            print(f"\n{direction} ({offloads}): {r['gbps']:.2f} Gbit/s, {r['retransmits']} "
                  f"retransmits; vm: rx_large {vm['rx_large']} tx_large {vm['tx_large']} "
                  f"gso_segments {vm['gso_segments']} gro_merged {vm['gro_merged']}; "
                  f"v10: rx_large {peer['rx_large']} tx_large {peer['tx_large']}")
            assert r["bytes"] > 1_000_000
            # The guest's eth0 itself sends untagged (IPv6 neighbour discovery,
            # MLD): a trunk without a native VLAN refuses that, as it should.
            vm.pop("rx_drop_VlanNotCarried", None)
            for name, port in d.items():
                assert not refusals(port), f"port {name} refused packets: {refusals(port)}"
            assert peers[10].counters()["TcpInCsumErrors"] == peer_before["TcpInCsumErrors"]
            assert guest.tcp_counters()["InCsumErrors"] == guest_before["InCsumErrors"]
            if direction == "guest_to_peer" and offloads == "tso":
                assert vm["rx_large"] > 0 and peer["tx_large"] > 0  # tagged in, whole out
            if direction == "guest_to_peer" and offloads == "no-tso":
                assert vm["rx_large"] == 0 and vm["gro_merged"] > 0  # tagged frames merged
            if direction == "peer_to_guest" and offloads == "tso":
                assert peer["rx_large"] > 0 and vm["tx_large"] > 0  # whole, tagged, to the guest
            if direction == "peer_to_guest" and offloads == "no-tso":
                assert vm["tx_large"] == 0 and vm["gso_segments"] > 0  # cut, each tagged
        other.stop()
        leaked = other.count(f"ip.addr == {PEER[10]} or ip.addr == {GUEST[10]}")
        assert leaked == 0, f"{leaked} frames of VLAN 10 reached VLAN 20's namespace"
        assert other.count(f"icmp and ip.addr == {PEER[20]}") >= 4  # its own ping: captured
