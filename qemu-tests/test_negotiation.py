"""Issue test 1: what a guest negotiates with the switch. With the defaults, the
guest's driver takes every offload and its ethtool shows TSO on, and the switch's
stats name the same features; with TSO switched off on the switch's port, the
guest shows TSO off and traffic still passes."""
import os

from vo.harness import Switch, cleanup
from vo.vm import Vm, iperf_summary

EXPECTED = {"CSUM", "GUEST_CSUM", "HOST_TSO4", "GUEST_TSO4", "HOST_TSO6", "GUEST_TSO6",
            "MRG_RXBUF"}
TSO = {"HOST_TSO4", "HOST_TSO6", "GUEST_TSO4", "GUEST_TSO6"}


def test_defaults_and_tso_switched_off(tmp_path):
    work = str(tmp_path)
    socks = {name: os.path.join(work, f"{name}.sock") for name in ("full", "notso")}
    with cleanup() as later:
        sw = Switch(work, ["--vhost", socks["full"], "--name", "full",
                           "--vhost", socks["notso"], "--name", "notso", "--disable", "tso"])
        later(sw)
        full = Vm(work, socks["full"], ip="10.70.0.1/24", name="full")
        later(full)
        notso = Vm(work, socks["notso"], ip="10.70.0.2/24", name="notso")
        later(notso)

        seen = full.features()
        assert EXPECTED <= seen, f"guest negotiated only {sorted(seen)}"
        assert full.ethtool_k()["tcp-segmentation-offload"] == "on"
        switch_says = set(sw.port("full")["features"].split())
        assert seen == switch_says & set(EXPECTED | {"HOST_ECN", "GUEST_ECN"}), \
            f"guest {sorted(seen)} vs switch {sorted(switch_says)}"

        seen = notso.features()
        assert not seen & TSO, f"TSO was switched off, yet the guest has {sorted(seen & TSO)}"
        assert {"CSUM", "GUEST_CSUM", "MRG_RXBUF"} <= seen
        assert notso.ethtool_k()["tcp-segmentation-offload"] == "off"
        assert not set(sw.port("notso")["features"].split()) & TSO

        notso.iperf3_server()
        report = full.iperf3(notso.ip, seconds=3)
        result = iperf_summary(report)
        print(f"full -> notso: {result['gbps']:.2f} Gbit/s, {result['retransmits']} retransmits")
        assert result["bytes"] > 1_000_000
        ports = sw.stats()["ports"]
        assert ports["full"]["rx_large"] > 0, "the full guest sent no large segment"
        assert ports["notso"]["tx_large"] == 0 and ports["notso"]["gso_packets"] > 0, \
            "the guest without TSO must get segments cut by the switch"
        assert sw.stop() == 0
