"""Capture files of TCP streams for replay through net_pcap (scapy), and what
a receiver makes of the frames it captured."""
import struct

from scapy.all import ARP, IP, TCP, Dot1Q, Ether, IPv6, Raw, rdpcap, wrpcap  # noqa: F401

GUEST_MAC = "02:00:00:00:0a:01"
PEER_MAC = "02:00:00:00:0b:01"
ADDRS = {4: ("10.77.0.1", "10.77.0.2"), 6: ("fd77::1", "fd77::2")}
SPORT, DPORT = 40000, 5201
FIRST_SEQ = 1000
TIMESTAMPS = [("NOP", None), ("NOP", None), ("Timestamp", (1000, 2000))]
# The largest MSS a 1500-byte MTU carries with timestamps (12 bytes of options).
MSS = {4: 1500 - 20 - 32, 6: 1500 - 40 - 32}


def stream_byte(i):
    return (i * 131 + (i >> 8)) & 0xFF


def stream(offset, length):
    return bytes(stream_byte(i) for i in range(offset, offset + length))


def frame(ip, seq, payload, src_mac=GUEST_MAC, dst_mac=PEER_MAC, flags="A", ip_id=1, vlan=None):
    src, dst = ADDRS[ip]
    l3 = IP(src=src, dst=dst, flags="DF", id=ip_id) if ip == 4 else IPv6(src=src, dst=dst)
    l2 = Ether(src=src_mac, dst=dst_mac) / Dot1Q(vlan=vlan) if vlan else Ether(src=src_mac, dst=dst_mac)
    return (l2 / l3 /
            TCP(sport=SPORT, dport=DPORT, seq=seq, ack=1, flags=flags, window=1024,
                options=TIMESTAMPS) / Raw(payload))


def write_stream(path, ip, count, size, **kw):
    """`count` back-to-back segments of `size` payload bytes each; returns the frames' payload."""
    frames, off = [], 0
    for i in range(count):
        frames.append(frame(ip, FIRST_SEQ + off, stream(off, size), ip_id=1 + i, **kw))
        off += size
    wrpcap(path, frames)
    return off


def write_announce(path, mac, ip="10.77.0.99"):
    """A gratuitous ARP from `mac`, as a guest sends when its link comes up: the switch
    learns where `mac` lives."""
    wrpcap(path, [Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=2, hwsrc=mac, psrc=ip, hwdst="ff:ff:ff:ff:ff:ff", pdst=ip)])


def _sum16(data):
    """RFC 1071 ones' complement sum, folded to 16 bits."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _pseudo_header(l3, l4_len):
    if isinstance(l3, IP):
        return (bytes(map(int, l3.src.split("."))) + bytes(map(int, l3.dst.split("."))) +
                struct.pack("!BBH", 0, 6, l4_len))
    return bytes(l3)[8:40] + struct.pack("!I3xB", l4_len, 6)


def _tcp_checksum_state(l3, segment):
    """'valid': the checksum is complete and right. 'partial': the field holds the
    pseudo-header sum a receiver completes (virtio NEEDS_CSUM, Linux CHECKSUM_PARTIAL).
    'partial-tso': the same sum without the TCP length, the form a NIC's TSO wants
    (rte_net_intel_cksum_prepare(), which DPDK's vhost library applies to every large
    segment it hands a guest). 'bad': none of these."""
    pseudo = _pseudo_header(l3, len(segment))
    if _sum16(pseudo + segment) == 0xFFFF:
        return "valid"
    field = struct.unpack("!H", segment[16:18])[0]
    if field == _sum16(pseudo):
        return "partial"
    return "partial-tso" if field == _sum16(_pseudo_header(l3, 0)) else "bad"


def tcp_frames(path, sport=SPORT):
    """The TCP frames from `sport` in a capture, each as a dict: frame_len, seq, payload,
    tcp_csum ('valid', 'partial', 'partial-tso' or 'bad') and ip_csum_ok (IPv6: always True)."""
    out = []
    for pkt in rdpcap(path):
        if TCP not in pkt or pkt[TCP].sport != sport:
            continue
        l3 = pkt[IP] if IP in pkt else pkt[IPv6]
        raw_l3 = bytes(l3)
        if isinstance(l3, IP):
            ihl = (raw_l3[0] & 0xF) * 4
            segment = raw_l3[ihl:l3.len]
            ip_ok = _sum16(raw_l3[:ihl]) == 0xFFFF
        else:
            segment = raw_l3[40:40 + l3.plen]
            ip_ok = True
        out.append({"frame_len": len(pkt), "seq": pkt[TCP].seq,
                    "payload": segment[(segment[12] >> 4) * 4:],
                    "tcp_csum": _tcp_checksum_state(l3, segment), "ip_csum_ok": ip_ok})
    return out


def reassemble(frames, first_seq=FIRST_SEQ):
    """The byte stream the frames carry, put together by sequence number as a receiver
    would; raises AssertionError on a gap or an overlap."""
    data, pos = bytearray(), first_seq
    for f in sorted(frames, key=lambda f: f["seq"]):
        assert f["seq"] == pos, f"stream broken at seq {pos}: next frame starts at {f['seq']}"
        data += f["payload"]
        pos += len(f["payload"])
    return bytes(data)
