"""Capture files of TCP streams for replay through net_pcap (scapy)."""
from scapy.all import IP, TCP, Ether, IPv6, Raw, wrpcap  # noqa: F401

GUEST_MAC = "02:00:00:00:0a:01"
PEER_MAC = "02:00:00:00:0b:01"
ADDRS = {4: ("10.77.0.1", "10.77.0.2"), 6: ("fd77::1", "fd77::2")}
SPORT, DPORT = 40000, 5201
TIMESTAMPS = [("NOP", None), ("NOP", None), ("Timestamp", (1000, 2000))]


def stream_byte(i):
    return (i * 131 + (i >> 8)) & 0xFF


def stream(offset, length):
    return bytes(stream_byte(i) for i in range(offset, offset + length))


def frame(ip, seq, payload, src_mac=GUEST_MAC, dst_mac=PEER_MAC, flags="A", ip_id=1):
    src, dst = ADDRS[ip]
    l3 = IP(src=src, dst=dst, flags="DF", id=ip_id) if ip == 4 else IPv6(src=src, dst=dst)
    return (Ether(src=src_mac, dst=dst_mac) / l3 /
            TCP(sport=SPORT, dport=DPORT, seq=seq, ack=1, flags=flags, window=1024,
                options=TIMESTAMPS) / Raw(payload))


def write_stream(path, ip, count, size, **kw):
    """`count` back-to-back segments of `size` payload bytes each; returns the frames' payload."""
    frames, off = [], 0
    for i in range(count):
        frames.append(frame(ip, 1000 + off, stream(off, size), ip_id=1 + i, **kw))
        off += size
    wrpcap(path, frames)
    return off
