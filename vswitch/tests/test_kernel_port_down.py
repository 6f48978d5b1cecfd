"""A kernel port whose device is deleted (`ip link del`), or whose namespace
is deleted (`ip netns del`), in the middle of traffic: the switch keeps
running and answering stats, the port shows down (counted, logged once),
the other ports keep forwarding, and every mbuf is back at stop."""
import time

import pytest

from vo.harness import Iperf3, KernelHost, Switch, cleanup, wait_for, wait_moving
from vo import pcaps


@pytest.mark.parametrize("how", ["link-del", "netns-del"])
def test_kernel_port_goes_away_mid_traffic(tmp_path, how):
    ip = 4
    with cleanup() as later:
        src, victim, survivor = KernelHost("src"), KernelHost("victim"), KernelHost("survivor")
        for h in (src, victim, survivor):
            later(h)
        sw = Switch(str(tmp_path), src.switch_args() + victim.switch_args() + survivor.switch_args())
        later(sw)
        base = pcaps.ADDRS[ip][0].rsplit(".", 1)[0]
        for i, h in enumerate((src, victim, survivor)):
            h.attach(f"{base}.{i + 1}")
        lasting = Iperf3(str(tmp_path), src, survivor, 8, port=5201)
        later(lasting)
        # Data from src to the victim (-R), its client in the victim's namespace
        # (iperf3 reports are named after the client's).
        doomed = Iperf3(str(tmp_path), victim, src, 8, port=5202, client_args=["-R"])
        later(doomed)
        wait_moving("traffic to the victim", lambda: sw.port("victim")["tx_large"])
        time.sleep(1)
        if how == "link-del":
            victim.run(f"ip link del {victim.tap}")
        else:
            victim.close()  # kills its iperf3 server, then `ip netns del`
        wait_for("the victim's port to go down", lambda: sw.port("victim")["ready"] == 0, 5)
        stats = sw.stats()  # the switch still answers
        down = stats["ports"]["victim"]
        print(f"{how}: {down.get('down_reason')}")
        assert down["down_events"] == 1
        assert ("deleted" if how == "netns-del" else "is gone") in down["down_reason"]
        # The others go on: the survivor keeps getting the stream.
        wait_moving("traffic to the survivor", lambda: sw.port("survivor")["tx_packets"], 5)
        report = lasting.result()
        assert report["end"]["sum_received"]["bytes"] > 0
        doomed.stop()
        assert sw.port("victim")["ready"] == 0 and sw.port("src")["ready"] == 1
        log = sw.process.text()
        assert log.count("the port is down") == 1
        for h in (src, survivor):
            assert h.counters()["TcpInCsumErrors"] == 0
        assert sw.stop() == 0
