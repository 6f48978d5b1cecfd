"""Issue test 1: 64 KB TSO packets from a virtio-user guest reach a network
namespace through a NIC port (net_tap) as valid MSS-sized segments, with the
NIC's TSO used and with it off, for TCPv4 and TCPv6."""
import time

import pytest

from vo.harness import Guest, Netns, Process, Switch, cleanup, tshark_segments, unique, wait_for, wait_iface
from vo import pcaps

FRAMES = 16
PAYLOAD = 64000


@pytest.mark.parametrize("nic_tso", [True, False], ids=["nic-tso", "sw-gso"])
@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_large_segments_reach_the_kernel_valid(tmp_path, ip, nic_tso):
    # The largest MSS a 1500-byte MTU carries (timestamps take 12 bytes) when
    # the switch cuts; net_tap cuts only when MSS plus every header, Ethernet
    # included, fits its MTU.
    mss = 1400 if nic_tso else (1448 if ip == 4 else 1428)
    with cleanup() as later:
        peer = Netns()
        later(peer)
        sock, tap = str(tmp_path / "vm.sock"), unique("vt")
        args = ["--vhost", sock, "--name", "vm", "--nic", f"net_tap0,iface={tap}", "--name", "up"]
        sw = Switch(str(tmp_path), args + ([] if nic_tso else ["--disable", "tso"]))
        later(sw)
        wait_iface(tap)
        src, dst = pcaps.ADDRS[ip]
        peer.adopt(tap, [f"{dst}/{24 if ip == 4 else 64}"], mac=pcaps.PEER_MAC)
        capture = str(tmp_path / "peer.pcap")
        cap = Process(["tshark", "-B", "64", "-i", tap, "-w", capture, "-f", "tcp port 5201"],
                      str(tmp_path / "tshark.log"), netns=peer.name)
        later(cap)
        wait_for("tshark to capture", lambda: "Capturing on" in cap.text())
        before = peer.counters()
        replay = str(tmp_path / "guest.pcap")
        total = pcaps.write_stream(replay, ip, FRAMES, PAYLOAD)
        tp = Guest(str(tmp_path), sock, replay, tso_mss=mss, peer=pcaps.PEER_MAC)
        later(tp)
        per_frame = -(-PAYLOAD // mss)
        # net_tap's TSO covers IPv4 only: for IPv6 the switch cuts even then.
        nic_cuts = nic_tso and ip == 4
        sent = "tx_large" if nic_cuts else "gso_packets"
        wait_for("the uplink to send every segment", lambda: sw.port("up")[sent] >= FRAMES, 30)
        st_vm, st_up = sw.port("vm"), sw.port("up")
        wait_for("the peer's kernel to take every segment",
                 lambda: peer.counters()["TcpInSegs"] - before["TcpInSegs"] >= FRAMES * per_frame, 10)
        time.sleep(1)  # let the capture drain its buffer to the file
        cap.stop()

        assert st_vm["rx_large"] == FRAMES
        if nic_cuts:
            assert st_up["tx_large"] == FRAMES and st_up["gso_packets"] == 0
        else:
            assert st_up["gso_packets"] == FRAMES and st_up["gso_segments"] == FRAMES * per_frame
        segs = tshark_segments(capture, f"tcp.srcport=={pcaps.SPORT}")
        assert len(segs) == FRAMES * per_frame
        assert all(s["tcp_csum"] == "1" for s in segs), "tshark found a bad TCP checksum"
        if ip == 4:
            assert all(s["ip_csum"] == "1" for s in segs), "tshark found a bad IPv4 checksum"
        assert max(s["tcp_len"] for s in segs) == mss
        # The stream is conserved: segments tile it exactly, in order.
        seqs = sorted((s["seq"], s["tcp_len"]) for s in segs)
        pos = 1000
        for seq, length in seqs:
            assert seq == pos
            pos += length
        assert pos == 1000 + total
        after = peer.counters()
        assert after["TcpInCsumErrors"] == before["TcpInCsumErrors"]
        assert after["IpInHdrErrors"] == before["IpInHdrErrors"]
