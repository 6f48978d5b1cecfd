"""Issue tests 4 and 5: guests talking to each other through the switch, over IPv4
and IPv6, both directions. Between two guests with every offload, large segments
cross the switch whole (no software segmentation); a guest with every offload off
talks to one with all on, the switch cutting what the first cannot take and
merging what it sends."""
import os

import pytest

from vo.harness import Switch, cleanup, port_deltas, refusals
from vo.vm import Vm, iperf_summary

SECONDS = 4
ADDRS = {"a": ("10.72.0.1/24", "fd72::1/64"), "b": ("10.72.0.2/24", "fd72::2/64"),
         "plain": ("10.72.0.3/24", "fd72::3/64")}


@pytest.fixture(scope="module")
def guests(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("vm2vm"))
    with cleanup() as later:
        socks = {n: os.path.join(work, f"{n}.sock") for n in ADDRS}
        sw = Switch(work, [arg for n in ADDRS for arg in ("--vhost", socks[n], "--name", n)])
        later(sw)
        vms = {}
        for n, (ip, ip6) in ADDRS.items():
            vms[n] = Vm(work, socks[n], ip=ip, ip6=ip6, name=n, offloads=() if n == "plain" else
                        ("CSUM", "GUEST_CSUM", "HOST_TSO4", "HOST_TSO6", "HOST_ECN", "GUEST_TSO4",
                         "GUEST_TSO6", "GUEST_ECN", "MRG_RXBUF"))
            later(vms[n])
            vms[n].iperf3_server()
        yield sw, vms
        assert sw.stop() == 0, "the switch ended with mbufs in use"


def transfer(sw, vms, client, server, ip, reverse):
    """iperf3 from guest `client` to `server` (reverse: the other way); the report and
    what moved on the switch's ports."""
    before = sw.stats()["ports"]
    dest = vms[server].ip if ip == 4 else vms[server].ip6
    report = vms[client].iperf3(dest, SECONDS, reverse=reverse)
    after = sw.stats()["ports"]
    ports = port_deltas(before, after)
    for name, port in ports.items():
        assert not refusals(port), f"port {name} refused packets: {refusals(port)}"
        # A TCG guest can be off its CPU longer than the switch holds packets for it
        # (--tx-hold-us): a few drops are TCP's to recover, many are a bug.
        assert port["tx_dropped"] * 100 <= port["tx_packets"], \
            f"port {name} dropped {port['tx_dropped']} of {port['tx_packets']} packets"
    for g in vms.values():
        assert g.tcp_counters()["InCsumErrors"] == 0, f"guest {g.name} counted checksum errors"
    return iperf_summary(report), ports


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
@pytest.mark.parametrize("reverse", [False, True], ids=["a_to_b", "b_to_a"])
def test_large_segments_cross_whole(guests, ip, reverse):
    sw, vms = guests
    result, ports = transfer(sw, vms, "a", "b", ip, reverse)
    src, dst = ("b", "a") if reverse else ("a", "b")
    print(f"\nIPv{ip} {src} -> {dst}: {result['gbps']:.2f} Gbit/s, {result['retransmits']} "
          f"retransmits; large segments in {ports[src]['rx_large']}, out whole "
          f"{ports[dst]['tx_large']}, cut {ports[dst]['gso_packets']}")
    assert result["bytes"] > 1_000_000
    assert ports[src]["rx_large"] > 0, f"guest {src} sent no large segment"
    assert ports[dst]["tx_large"] >= ports[src]["rx_large"] * 9 // 10, \
        "large segments did not reach the other guest whole"
    assert ports[dst]["gso_packets"] == 0, "the switch cut segments for a guest with GUEST_TSO"


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
@pytest.mark.parametrize("reverse", [False, True], ids=["full_to_plain", "plain_to_full"])
def test_guest_without_offloads_talks_to_full_one(guests, ip, reverse):
    sw, vms = guests
    assert not vms["plain"].features(), "the plain guest negotiated offloads"
    result, ports = transfer(sw, vms, "a", "plain", ip, reverse)
    print(f"\nIPv{ip} {'plain -> a' if reverse else 'a -> plain'}: {result['gbps']:.2f} Gbit/s, "
          f"{result['retransmits']} retransmits; cut for plain {ports['plain']['gso_packets']} "
          f"into {ports['plain']['gso_segments']}, merged from plain {ports['plain']['gro_merged']} "
          f"of {ports['plain']['gro_absorbed']}, checksums completed {ports['plain']['csum_completed']}")
    assert result["bytes"] > 1_000_000
    assert ports["plain"]["tx_large"] == 0 and ports["plain"]["rx_large"] == 0
    if reverse:
        assert ports["plain"]["gro_merged"] > 0, "the plain guest's segments were not merged for a"
        assert ports["a"]["tx_large"] > 0
    else:
        assert ports["plain"]["gso_packets"] > 0, "a's large segments were not cut for plain"
        # Each large segment is at least two; and all the bytes plain got came in
        # segments of at most one MSS (1448 with timestamps): no fewer packets.
        assert ports["plain"]["gso_segments"] >= 2 * ports["plain"]["gso_packets"]
        assert ports["plain"]["tx_packets"] >= result["bytes"] // 1448, \
            "fewer packets reached the plain guest than its bytes need"
