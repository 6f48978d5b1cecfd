"""Issue test (kernel port) 6: a real guest and a peer host behind the switch's
kernel port (a TAP with virtio-net headers in the peer's namespace), iperf3 both
ways over IPv4 and IPv6. Large segments cross whole in both directions: the
guest's TSO segments go into the peer's kernel in one piece, the peer kernel's
GSO packets reach the guest in one piece; retransmissions are reported."""
import os

import pytest

from vo.harness import KernelHost, Switch, cleanup, port_deltas, refusals
from vo.vm import Vm, iperf3_server, iperf_summary, netns_iperf3

SECONDS = 4
GUEST = ("10.75.0.1/24", "fd75::1/64")
PEER = {4: "10.75.0.2", 6: "fd75::2"}


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("vmkernel"))
    with cleanup() as later:
        peer = KernelHost("peer")
        later(peer)
        sock = os.path.join(work, "vm.sock")
        sw = Switch(work, ["--vhost", sock, "--name", "vm"] + peer.switch_args())
        later(sw)
        peer.attach(PEER[4])
        peer.run(f"ip addr add {PEER[6]}/64 dev {peer.tap} nodad")
        later(iperf3_server(work, peer))
        guest = Vm(work, sock, ip=GUEST[0], ip6=GUEST[1], name="vm")
        later(guest)
        guest.iperf3_server()
        yield sw, peer, guest
        assert sw.stop() == 0, "the switch ended with mbufs in use"


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
@pytest.mark.parametrize("direction", ["guest_to_peer", "peer_to_guest"])
def test_large_segments_cross_the_kernel_port_whole(topo, ip, direction):
    sw, peer, guest = topo
    before, peer_before = sw.stats()["ports"], peer.counters()
    if direction == "guest_to_peer":
        report = guest.iperf3(PEER[ip], SECONDS)
    else:
        report = netns_iperf3(peer, guest.ip if ip == 4 else guest.ip6, SECONDS, wait_server=30)
    after = sw.stats()["ports"]
    d = port_deltas(before, after)
    result = iperf_summary(report)
    src, dst = ("vm", "peer") if direction == "guest_to_peer" else ("peer", "vm")
    print(f"\nIPv{ip} {direction}: {result['gbps']:.2f} Gbit/s, {result['retransmits']} "
          f"retransmits; large segments in on {src} {d[src]['rx_large']}, out whole on {dst} "
          f"{d[dst]['tx_large']}, cut {d[dst]['gso_packets']}")
    assert result["bytes"] > 1_000_000
    assert d[src]["rx_large"] > 0, f"no large segment came in on {src}"
    assert d[dst]["tx_large"] >= d[src]["rx_large"] * 9 // 10, "large segments were not passed whole"
    assert d[dst]["gso_packets"] == 0, "the switch cut segments for a port that takes them whole"
    for name, port in d.items():
        assert not refusals(port), f"port {name} refused packets: {refusals(port)}"
    assert peer.counters()["TcpInCsumErrors"] == peer_before["TcpInCsumErrors"]
    assert guest.tcp_counters()["InCsumErrors"] == 0
