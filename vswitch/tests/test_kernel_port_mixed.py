"""Kernel port next to a port without TSO: one namespace behind the kernel
port, another behind net_af_packet on a veth (no TSO, no checksum offload).
The switch cuts the kernel's large segments on the way to the plain port
(GSO) and merges the plain port's segments on the way back (GRO); traffic is
valid both ways."""
import pytest

from vo.harness import KernelHost, Netns, Switch, cleanup, iperf3_both_ways, refusals, sh, unique
from vo import pcaps


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_kernel_port_and_a_port_without_tso(tmp_path, ip):
    with cleanup() as later:
        host = KernelHost("kern")
        later(host)
        plain = Netns("voplain")
        later(plain)
        outer, inner = unique("va"), unique("vb")
        sh(f"ip link add {outer} type veth peer name {inner}")
        later(lambda: sh(f"ip link del {outer}", check=False))
        sh(f"ip link set {outer} up")
        # DPDK reads `outer`: what `inner` sends must carry finished checksums
        # (field notes), which also turns its TSO off.
        kern_addr, plain_addr = pcaps.ADDRS[ip]
        plain.adopt(inner, [f"{plain_addr}/{24 if ip == 4 else 64}"])
        plain.run(f"ethtool -K {inner} tx off")
        plain.addr = plain_addr
        sw = Switch(str(tmp_path), host.switch_args() +
                    ["--nic", f"net_af_packet0,iface={outer}", "--name", "plain"])
        later(sw)
        host.attach(kern_addr)

        for client, server, report in iperf3_both_ways(str(tmp_path), host, plain, 3, later):
            print(f"IPv{ip} {client.name}->{server.name}: "
                  f"{report['end']['sum_received']['bits_per_second'] / 1e9:.2f} Gbit/s")
        k, p = sw.port("kern"), sw.port("plain")
        print({n: {c: s[c] for c in ("rx_large", "tx_large", "gso_packets", "gso_segments",
                                     "gro_merged", "gro_absorbed", "csum_completed")}
               for n, s in (("kern", k), ("plain", p))})
        # Kernel -> plain: large segments in, cut for the port without TSO.
        assert k["rx_large"] > 0 and p["gso_packets"] > 0 and p["gso_segments"] > p["gso_packets"]
        # Plain -> kernel: segments merged, handed to the kernel whole.
        assert p["gro_merged"] > 0 and p["gro_absorbed"] > p["gro_merged"] and k["tx_large"] > 0
        assert k["gso_packets"] == 0
        for name, s in (("kern", k), ("plain", p)):
            assert not refusals(s), (name, refusals(s))
        for h in (host, plain):
            assert h.counters()["TcpInCsumErrors"] == 0, f"{h.name}: TCP checksum errors"
        assert sw.stop() == 0
