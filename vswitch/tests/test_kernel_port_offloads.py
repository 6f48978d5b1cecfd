"""Each kernel port offload switched off (--disable X), one run per switch:
`ethtool -k` on the TAP shows it off, the switch does the work instead (its
GSO / checksum counters move), and traffic stays valid both ways."""
import pytest

from vo.harness import KernelHost, Switch, cleanup, iperf3_both_ways, refusals
from vo import pcaps

# offload -> (IP version to test, ethtool features that must read off, whether the
# switch still hands large segments to the port whole)
CASES = {
    "tso4": (4, ["tx-tcp-segmentation"], False),
    "tso6": (6, ["tx-tcp6-segmentation"], False),
    "csum": (4, ["tx-checksumming", "tcp-segmentation-offload"], False),
    "ecn": (4, ["tx-tcp-ecn-segmentation"], True),
}


@pytest.mark.parametrize("off", list(CASES))
def test_offload_switched_off(tmp_path, off):
    ip, features, whole = CASES[off]
    with cleanup() as later:
        limited, full = KernelHost("limited", disable=off), KernelHost("full")
        later(limited)
        later(full)
        sw = Switch(str(tmp_path), limited.switch_args() + full.switch_args())
        later(sw)
        for h, addr in zip((limited, full), pcaps.ADDRS[ip]):
            h.attach(addr)
        shown = limited.features()
        for f in features:
            assert shown[f] is False, f"ethtool -k shows {f} on"
        assert full.features()["tcp-segmentation-offload"] is True
        assert sw.port("limited")["tx_" + ("tso4" if ip == 4 else "tso6")] == int(whole)

        for client, server, report in iperf3_both_ways(str(tmp_path), full, limited, 3, later):
            print(f"--disable {off}, IPv{ip} {client.port_name}->{server.port_name}: "
                  f"{report['end']['sum_received']['bits_per_second'] / 1e9:.2f} Gbit/s")
        lim = sw.port("limited")
        print({c: lim[c] for c in ("features", "rx_large", "tx_large", "gso_packets",
                                   "csum_completed")})
        if whole:
            assert lim["tx_large"] > 0 and lim["rx_large"] > 0 and lim["gso_packets"] == 0
        else:
            # Toward the port: the switch cuts; from it: the kernel cut before handing over.
            assert lim["gso_packets"] > 0 and lim["tx_large"] == 0 and lim["rx_large"] == 0
        if off == "csum":
            assert lim["csum_completed"] > 0 and "CSUM" not in lim["features"]
        for name, p in sw.stats()["ports"].items():
            assert not refusals(p), (name, refusals(p))
        for h in (limited, full):
            assert h.counters()["TcpInCsumErrors"] == 0, f"{h.port_name}: TCP checksum errors"
        assert sw.stop() == 0
