"""Issue tests 2, 3, 5 and 6: a guest and a peer host (a network namespace with the
kernel's TCP stack) behind a NIC port without TSO (net_af_packet on a veth), over
IPv4 and IPv6.
  2. guest -> peer: the switch cuts the guest's large segments (its GSO counters
     move) and the peer's kernel counts no checksum error; the throughput is
     reported beside the same guest with TSO switched off in its ethtool;
  3. peer -> guest: the switch merges the peer's segments, so that the guest's
     average received packet is far above the MTU, with few retransmissions;
  6. the VM-exit figure: guest interrupts and switch notifications per GB with
     offloads on and off (a second guest offering none), printed as a table."""
import os

import pytest

from vo.harness import Switch, VethPeer, cleanup, deltas, port_deltas, refusals
from vo.vm import Vm, iperf3_server, iperf_summary, netns_iperf3, notifications

SECONDS = 4
MTU = 1500
GUEST = {4: "10.71.0.1/24", 6: "fd71::1/64"}
PLAIN_GUEST = {4: "10.71.0.3/24", 6: "fd71::3/64"}
PEER = ["10.71.0.2/24", "fd71::2/64"]


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    """The switch, the peer behind net_af_packet, a guest with every offload ("on")
    and one with none ("off"), booted once for all the tests of this file."""
    work = str(tmp_path_factory.mktemp("vmpeer"))
    with cleanup() as later:
        peer = VethPeer(0, "up", PEER)
        later(peer)
        socks = {n: os.path.join(work, f"{n}.sock") for n in ("on", "off")}
        sw = Switch(work, ["--vhost", socks["on"], "--name", "on", "--vhost", socks["off"],
                           "--name", "off"] + peer.switch_args())
        later(sw)
        later(iperf3_server(work, peer))
        on = Vm(work, socks["on"], ip=GUEST[4], ip6=GUEST[6], name="on")
        later(on)
        off = Vm(work, socks["off"], ip=PLAIN_GUEST[4], ip6=PLAIN_GUEST[6], name="off", offloads=())
        later(off)
        for g in (on, off):
            g.iperf3_server()
        yield {"sw": sw, "peer": peer, "on": on, "off": off}
        assert sw.stop() == 0, "the switch ended with mbufs in use"


def measure(topo, guest, direction, ip):
    """One iperf3 transfer between `guest` and the peer; its summary and what moved
    meanwhile on the switch's ports, in the guest and in the peer's kernel."""
    sw, peer = topo["sw"], topo["peer"]
    before = (sw.stats()["ports"], guest.nic_counters(), guest.virtio_interrupts(), peer.counters())
    if direction == "to_peer":
        report = guest.iperf3(peer.addr[ip], SECONDS)
    else:
        report = netns_iperf3(peer, guest.ip if ip == 4 else guest.ip6, SECONDS)
    after = (sw.stats()["ports"], guest.nic_counters(), guest.virtio_interrupts(), peer.counters())
    return {"iperf": iperf_summary(report), "ports": port_deltas(before[0], after[0]),
            "guest": deltas(before[1], after[1]), "interrupts": after[2] - before[2],
            "peer": deltas(before[3], after[3])}


def assert_no_drops(m):
    for name, port in m["ports"].items():
        assert not refusals(port), f"port {name} refused packets: {refusals(port)}"
    assert m["peer"]["TcpInCsumErrors"] == 0, "the peer's kernel counted TCP checksum errors"


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_guest_to_peer_is_cut_by_the_switch(topo, ip):
    on = topo["on"]
    with_tso = measure(topo, on, "to_peer", ip)
    on.run("ethtool -K eth0 tso off")
    try:
        without = measure(topo, on, "to_peer", ip)
    finally:
        on.run("ethtool -K eth0 tso on")
    print(f"\nIPv{ip} guest -> peer: TSO on {with_tso['iperf']['gbps']:.2f} Gbit/s "
          f"({with_tso['iperf']['retransmits']} retransmits), TSO off {without['iperf']['gbps']:.2f} "
          f"Gbit/s ({without['iperf']['retransmits']} retransmits)")
    up, guest_port = with_tso["ports"]["up"], with_tso["ports"]["on"]
    assert guest_port["rx_large"] > 0, "the guest sent no large segment"
    assert up["gso_packets"] > 0 and up["gso_segments"] > up["gso_packets"], \
        "the switch did not cut the guest's large segments for the NIC"
    assert up["tx_large"] == 0, "a large segment went whole to a NIC without TSO"
    assert without["ports"]["on"]["rx_large"] == 0, "TSO off in the guest, yet large segments"
    for m in (with_tso, without):
        assert m["iperf"]["bytes"] > 1_000_000
        assert_no_drops(m)


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_peer_to_guest_is_merged_by_the_switch(topo, ip):
    m = measure(topo, topo["on"], "to_guest", ip)
    guest = m["guest"]
    average = guest["rx_bytes"] / guest["rx_packets"]
    segments = m["iperf"]["bytes"] // (MTU - 52)
    print(f"\nIPv{ip} peer -> guest: {m['iperf']['gbps']:.2f} Gbit/s, average packet the guest "
          f"received {average:.0f} bytes, {m['iperf']['retransmits']} retransmits of ~{segments} "
          f"segments; switch merged {m['ports']['up']['gro_merged']} packets from "
          f"{m['ports']['up']['gro_absorbed']} segments; to the guest: "
          f"{m['ports']['on']['tx_retries']} retries, {m['ports']['on']['tx_dropped']} dropped, "
              f"{m['ports']['on']['tx_expired']} expired; "
          f"guest dropped {guest['rx_dropped']}; peer port rx {m['ports']['up']['rx_packets']}")
    assert m["ports"]["up"]["gro_merged"] > 0
    # GRO merges what one burst from net_af_packet brings (flushed per burst),
    # so the average follows the burst sizes: 5.6 to 9.4 KB over eight runs
    # here in November, 3.8 to 5.8 KB over ten on 2026-12-06 (the same with
    # the switch of a week before: the machine's load, not the switch).
    # Unmerged it is 1.5 KB; twice that is merging beyond doubt.
    assert average > 2 * MTU, f"the guest's packets average {average:.0f} bytes: not merged"
    assert m["iperf"]["retransmits"] <= max(10, segments // 100), "more than 1% retransmitted"
    assert_no_drops(m)


def test_vm_exits_per_gigabyte(topo):
    """Offloads cut the packets a guest handles per GB by the ratio of segment sizes,
    and the interrupts of its transmit side with them. On its receive side the guest's
    driver polls (NAPI) with interrupts off while packets keep coming, so under TCG
    the interrupt count follows the guest's speed more than the packet count: shown,
    not asserted."""
    rows = []
    for offloads in ("on", "off"):
        guest = topo[offloads]
        for direction in ("to_peer", "to_guest"):
            m = measure(topo, guest, direction, 4)
            assert_no_drops(m)
            gb = m["iperf"]["bytes"] / 1e9
            packets = m["guest"]["tx_packets" if direction == "to_peer" else "rx_packets"]
            rows.append({"direction": "guest -> peer" if direction == "to_peer" else "peer -> guest",
                         "offloads": offloads, "gbps": m["iperf"]["gbps"],
                         "packets_per_gb": packets / gb,
                         "interrupts_per_gb": m["interrupts"] / gb,
                         "notifications_per_gb": notifications(m["ports"][offloads]) / gb})
    print("\ndirection      offloads  Gbit/s  guest packets/GB  guest interrupts/GB  "
          "switch notifications/GB")
    for r in rows:
        print(f"{r['direction']:<14} {r['offloads']:<8} {r['gbps']:>7.2f} {r['packets_per_gb']:>17.0f} "
              f"{r['interrupts_per_gb']:>20.0f} {r['notifications_per_gb']:>24.0f}")
    by = {(r["direction"], r["offloads"]): r for r in rows}
    for direction in ("guest -> peer", "peer -> guest"):
        on, off = by[(direction, "on")], by[(direction, "off")]
        assert on["notifications_per_gb"] > 0 and off["notifications_per_gb"] > 0, \
            "the vhost library's notification counters did not move"
        assert on["packets_per_gb"] * 3 < off["packets_per_gb"], \
            f"{direction}: offloads did not cut the packets the guest handles"
    # Sending, every packet's buffer comes back with a notification the guest may
    # take: far fewer packets, far fewer of both (4-8x fewer on a quiet machine;
    # under load a slower guest batches less, hence only "fewer" here).
    on, off = by[("guest -> peer", "on")], by[("guest -> peer", "off")]
    assert on["notifications_per_gb"] < off["notifications_per_gb"]
    assert on["interrupts_per_gb"] < off["interrupts_per_gb"]
