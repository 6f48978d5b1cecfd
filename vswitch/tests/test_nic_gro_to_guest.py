"""Issue test 2: MSS-sized TCP segments arriving on a NIC port (net_tap) reach a
virtio-user guest that negotiated GUEST_TSO4/6 merged into large segments
(software GRO), and a guest without GUEST_TSO one by one, unchanged; for TCPv4
and TCPv6. Both get the stream intact."""
import pytest

from vo.harness import Guest, Netns, Switch, cleanup, tshark_segments, unique, wait_for, wait_iface
from vo import pcaps

SEGMENTS = 64
MTU_FRAME = 1514


@pytest.mark.parametrize("guest_tso", [True, False], ids=["guest-tso", "no-guest-tso"])
@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_nic_segments_reach_the_guest(tmp_path, ip, guest_tso):
    mss = pcaps.MSS[ip]
    with cleanup() as later:
        peer = Netns()
        later(peer)
        sock, tap = str(tmp_path / "vm.sock"), unique("vt")
        sw = Switch(str(tmp_path), ["--vhost", sock, "--name", "vm",
                                    "--nic", f"net_tap0,iface={tap}", "--name", "up"])
        later(sw)
        wait_iface(tap)
        # No addresses and no IPv6: the peer's kernel sends nothing but the stream.
        peer.adopt(tap, mac=pcaps.PEER_MAC, ipv6=False)

        hello, received = str(tmp_path / "hello.pcap"), str(tmp_path / "guest-rx.pcap")
        pcaps.write_announce(hello, pcaps.GUEST_MAC)
        guest = Guest(str(tmp_path), sock, hello, received, lro=guest_tso)
        later(guest)
        sw.wait_learned("vm")
        features = sw.port("vm")["features"].split()
        assert (f"GUEST_TSO{ip}" in features) == guest_tso, features

        stream = str(tmp_path / "peer.pcap")
        total = pcaps.write_stream(stream, ip, SEGMENTS, mss,
                                   src_mac=pcaps.PEER_MAC, dst_mac=pcaps.GUEST_MAC)
        before = sw.port("up")["rx_packets"]
        # The whole stream waits on the TAP while the switch is frozen, as a NIC's ring
        # fills between two polls: the switch then reads it in full bursts.
        with sw.paused():
            peer.inject(tap, stream)
        wait_for("the switch to receive the stream",
                 lambda: sw.port("up")["rx_packets"] >= before + SEGMENTS)
        wait_for("the switch to deliver the stream to the guest",
                 lambda: sw.port("vm")["tx_bytes"] >= total)
        up, vm = sw.port("up"), sw.port("vm")
        guest.wait_captured(vm["tx_packets"])
        guest.stop()

        frames = pcaps.tcp_frames(received)
        assert pcaps.reassemble(frames) == pcaps.stream(0, total)
        assert up["rx_packets"] == before + SEGMENTS
        assert vm["tx_dropped"] == 0 and vm["too_big_dropped"] == 0
        if guest_tso:
            # Every segment went into a merged packet, handed to the guest whole.
            assert up["gro_merged"] >= 1
            assert up["gro_merged"] + up["gro_absorbed"] == SEGMENTS
            assert vm["tx_large"] == up["gro_merged"] == len(frames)
            assert vm["gso_packets"] == 0
            print(f"guest received {len(frames)} packets for {SEGMENTS} segments: "
                  f"{[f['frame_len'] for f in frames]} bytes")
            assert all(f["frame_len"] > 2 * MTU_FRAME for f in frames)
            # A large segment reaches the guest as NEEDS_CSUM: the TCP checksum field holds
            # a pseudo-header sum, which the guest completes (the data was verified above).
            assert all(f["tcp_csum"] in ("partial", "partial-tso") for f in frames)
            assert all(f["ip_csum_ok"] for f in frames), "bad IPv4 header checksum"
        else:
            assert up["gro_merged"] == 0 and vm["tx_large"] == 0
            assert len(frames) == SEGMENTS
            assert all(f["frame_len"] == MTU_FRAME for f in frames)
            segs = tshark_segments(received, f"tcp.srcport=={pcaps.SPORT}")
            assert len(segs) == SEGMENTS
            assert all(s["tcp_csum"] == "1" for s in segs), "tshark found a bad TCP checksum"
            if ip == 4:
                assert all(s["ip_csum"] == "1" for s in segs), "tshark found a bad IPv4 checksum"
