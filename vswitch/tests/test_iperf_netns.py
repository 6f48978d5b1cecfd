"""Issue test 4: real TCP end to end without VMs: iperf3 between two network
namespaces, each behind its own net_tap port of the switch, over IPv4 and IPv6.
Both kernels must count no TCP checksum error."""
import pytest

from vo.harness import Iperf3, Switch, TapHost, cleanup, refusals
from vo import pcaps

SECONDS = 4


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_iperf3_between_namespaces(tmp_path, ip):
    with cleanup() as later:
        hosts = [TapHost(0, "left"), TapHost(1, "right")]
        for h in hosts:
            later(h)
        sw = Switch(str(tmp_path), hosts[0].switch_args() + hosts[1].switch_args())
        later(sw)
        for h, addr in zip(hosts, pcaps.ADDRS[ip]):
            h.attach(addr)
        client, server = hosts
        run = Iperf3(str(tmp_path), client, server, SECONDS)
        later(run)
        report = run.result()

        received = report["end"]["sum_received"]
        ports = sw.stats()["ports"]
        print(f"IPv{ip}: {received['bits_per_second'] / 1e6:.1f} Mbit/s, {received['bytes']} bytes, "
              f"{report['end']['sum_sent'].get('retransmits')} retransmits; switch: " +
              ", ".join(f"{n} rx {p['rx_packets']} tx {p['tx_packets']} merged {p['gro_merged']} "
                        f"cut {p['gso_packets']}" for n, p in ports.items()))
        # About 1 Gbit/s through net_tap here: a tenth of that is something broken.
        assert received["bits_per_second"] > 100e6, "under 100 Mbit/s between two namespaces"
        segments = received["bytes"] // 1448
        assert report["end"]["sum_sent"].get("retransmits", 0) <= max(10, segments // 100), \
            "more than 1% retransmitted"
        # Every byte the server received left the switch on its port (with headers).
        assert ports[server.port_name]["tx_bytes"] > received["bytes"]
        assert ports[client.port_name]["rx_bytes"] > received["bytes"]
        for h in hosts:
            c = h.counters()
            assert c["TcpInCsumErrors"] == 0, f"{h.port_name}: TCP checksum errors"
            assert c["TcpInSegs"] > 0
        for name, port in ports.items():
            assert not refusals(port), f"port {name} refused packets: {refusals(port)}"
