"""A guest's 64 KB TSO segments with MSS 536, under load, toward a net_tap uplink with TSO.

net_tap's TSO is rte_gso inside the PMD, which makes at most 64 segments of one packet
(MAX_GSO_MBUFS) and takes fewer packets than it is given when one needs more; and the
switch hands it a guest's segment (an external buffer) as a copy. Before the fix the
switch kept the originals it had freed queued (sent again, freed again at the hold
timeout) and leaked the copies: 10 packets out, the pool drained for every port. Now a
segment that needs more than 64 is cut by the switch, and a copy the PMD does not take
is freed while the original stays queued. Checked by the peer's kernel and by the
mempool returning to its baseline."""
import time

import pytest

from vo.harness import Guest, Netns, Switch, cleanup, refusals, unique, wait_for, wait_iface
from vo import pcaps

SECONDS = 8
PAYLOAD = 64000


# 536: 120 segments a packet, more than net_tap makes: the switch cuts them.
# 1400: 46 segments, net_tap cuts them from copies; under this load it takes
# fewer packets than it is given now and then.
@pytest.mark.parametrize("mss", [536, 1400])
def test_tso_segments_to_net_tap_under_load_leak_nothing(tmp_path, mss):
    with cleanup() as later:
        peer = Netns()
        later(peer)
        sock, tap = str(tmp_path / "vm.sock"), unique("vt")
        sw = Switch(str(tmp_path), ["--vhost", sock, "--name", "vm",
                                    "--nic", f"net_tap0,iface={tap}", "--name", "up"])
        later(sw)
        wait_iface(tap)
        _, dst = pcaps.ADDRS[4]
        peer.adopt(tap, [f"{dst}/24"], mac=pcaps.PEER_MAC)
        baseline = sw.stats()["mempool_in_use"]
        before = peer.counters()
        stream = str(tmp_path / "stream.pcap")
        pcaps.write_stream(stream, 4, 4, PAYLOAD)
        guest = Guest(str(tmp_path), sock, stream, tso_mss=mss, peer=pcaps.PEER_MAC, loop=True)
        later(guest)
        sw.wait_guest("vm")
        time.sleep(SECONDS)
        guest.stop()
        wait_for("the guest to leave", lambda: sw.port("vm")["ready"] == 0)
        vm, up = sw.port("vm"), sw.port("up")
        after = peer.counters()
        segments = after["TcpInSegs"] - before["TcpInSegs"]
        print(f"\nguest large segments in {vm['rx_large']}; uplink: cut {up['gso_packets']} into "
              f"{up['gso_segments']}, {up['tx_large']} whole, {up['tx_packets']} sent, "
              f"{up['tx_dropped']} dropped, {up['tx_retries']} retries; peer kernel took "
              f"{segments} TCP segments")
        assert vm["rx_large"] > 100, "the guest's load did not arrive"
        per_packet = -(-PAYLOAD // mss)
        if per_packet > 64:
            assert up["tx_large"] == 0, "a segment net_tap cannot cut went to it whole"
            assert up["gso_packets"] >= vm["rx_large"] * 0.99
            assert up["gso_segments"] == up["gso_packets"] * per_packet
        else:
            assert up["gso_packets"] == 0 and up["tx_large"] >= vm["rx_large"] * 0.99
        assert not refusals(up), f"the uplink refused packets: {refusals(up)}"
        # The kernel's backlog may drop under this load, but what arrives is valid.
        assert segments > up["tx_packets"] // 2
        assert after["TcpInCsumErrors"] == before["TcpInCsumErrors"]
        wait_for(f"the switch's mbufs in use to return to {baseline}",
                 lambda: sw.stats()["mempool_in_use"] == baseline, 10)
        assert sw.stats()["indirect_in_use"] == 0
        assert sw.stop() == 0
