"""Issue test 3: 64 KB TSO segments from virtio-user guest A reach the other
guests intact: B, which negotiated GUEST_TSO4/6, takes them whole; C, which
negotiated no offload, gets them cut into MSS-sized segments with every
checksum complete; D, with GUEST_CSUM only, gets them cut with the TCP checksum
left for it to complete. A sends to one of them, or to a MAC the switch has not
learned, which floods them to all three; TCPv4 and TCPv6."""
import pytest

from vo.harness import Guest, Switch, cleanup, tshark_segments, wait_for
from vo import pcaps

FRAMES = 16
PAYLOAD = 64000
MACS = {"a": "02:00:00:00:0a:0a", "b": "02:00:00:00:0b:0b", "c": "02:00:00:00:0c:0c",
        "d": "02:00:00:00:0d:0d", "nobody": "02:00:00:00:0f:0f"}
RECEIVERS = {"b": {"lro": True}, "c": {}, "d": {"rx_csum": True}}


@pytest.mark.parametrize("to", ["b", "c", "d", "nobody"],
                         ids=["to-tso-guest", "to-plain-guest", "to-csum-guest", "flooded"])
@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_guest_tso_reaches_guests(tmp_path, ip, to):
    mss = pcaps.MSS[ip]
    headers = 14 + (20 if ip == 4 else 40) + 32
    per_frame = -(-PAYLOAD // mss)
    workdir = str(tmp_path)
    sock = {g: str(tmp_path / f"{g}.sock") for g in "abcd"}
    addressed = list(RECEIVERS) if to == "nobody" else [to]
    with cleanup() as later:
        args = []
        for g in "abcd":
            args += ["--vhost", sock[g], "--name", g]
        sw = Switch(workdir, args)
        later(sw)
        captures, guests = {}, {}
        for g, offloads in RECEIVERS.items():
            hello = str(tmp_path / f"hello-{g}.pcap")
            pcaps.write_announce(hello, MACS[g])
            captures[g] = str(tmp_path / f"{g}-rx.pcap")
            guests[g] = Guest(workdir, sock[g], hello, captures[g], **offloads)
            later(guests[g])
            sw.wait_learned(g)
        caps = {g: tuple(sw.port(g)[k] for k in ("tx_tso4", "tx_tso6", "tx_csum")) for g in RECEIVERS}
        assert caps == {"b": (1, 1, 1), "c": (0, 0, 0), "d": (0, 0, 1)}, caps

        replay = str(tmp_path / "a-tx.pcap")
        total = pcaps.write_stream(replay, ip, FRAMES, PAYLOAD)
        sender = Guest(workdir, sock["a"], replay, tso_mss=mss, peer=MACS[to], mac=MACS["a"])
        later(sender)
        wait_for("the switch to receive A's segments", lambda: sw.port("a")["rx_large"] >= FRAMES, 30)
        for g in addressed:
            wait_for(f"the switch to deliver the stream to {g}",
                     lambda: sw.port(g)["tx_bytes"] >= total, 30)
        stats = {g: sw.port(g) for g in "abcd"}
        for g in RECEIVERS:
            guests[g].wait_captured(stats[g]["tx_packets"])
            guests[g].stop()

        assert stats["a"]["rx_large"] == FRAMES and stats["a"]["rx_packets"] == FRAMES
        for g in RECEIVERS:
            frames = pcaps.tcp_frames(captures[g])
            if g not in addressed:
                assert frames == [], f"guest {g} got a stream sent elsewhere"
                continue
            st = stats[g]
            assert pcaps.reassemble(frames) == pcaps.stream(0, total), f"guest {g}"
            assert all(f["ip_csum_ok"] for f in frames), f"guest {g}: bad IPv4 header checksum"
            assert st["tx_dropped"] == 0 and st["too_big_dropped"] == 0
            if g == "b":  # whole: one 64 KB frame per segment A sent
                assert st["tx_large"] == FRAMES and st["gso_packets"] == 0
                assert [f["frame_len"] for f in frames] == [headers + PAYLOAD] * FRAMES
                assert all(f["tcp_csum"] in ("partial", "partial-tso") for f in frames)
                continue
            # cut by the switch at A's MSS
            assert st["tx_large"] == 0
            assert st["gso_packets"] == FRAMES and st["gso_segments"] == FRAMES * per_frame
            assert len(frames) == FRAMES * per_frame
            assert max(len(f["payload"]) for f in frames) == mss
            assert all(f["frame_len"] <= headers + mss for f in frames)
            if g == "d":  # NEEDS_CSUM: the field holds the pseudo-header sum
                assert all(f["tcp_csum"] == "partial" for f in frames), f"guest {g}"
            else:
                segs = tshark_segments(captures[g], f"tcp.srcport=={pcaps.SPORT}")
                assert len(segs) == FRAMES * per_frame
                assert all(s["tcp_csum"] == "1" for s in segs), "tshark found a bad TCP checksum"
                if ip == 4:
                    assert all(s["ip_csum"] == "1" for s in segs), "tshark found a bad IPv4 checksum"
