#!/usr/bin/python3
"""Writes the seeds of ports/vhost/fuzz/fuzz_peer_hdr into ports/vhost/fuzz/corpus/.

Each seed: a 12-byte virtio_net_hdr, first/later mbuf sizes, flags, the
guest's offloads (fuzz_peer_hdr.cc says what each byte means), then a frame.
Run it again after changing the input format; the seeds are checked in.
"""
import os
import struct
import sys

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether

NEEDS_CSUM = 1
GSO_TCPV4, GSO_TCPV6, GSO_ECN = 1, 4, 0x80
ALL_OFFLOADS = 0x0f  # CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN
EXTERNAL, EMPTY_SECOND = 0x01, 0x02


def hdr(flags=0, gso=0, hdr_len=0, gso_size=0, start=0, offset=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, start, offset, 0)


def seed(h, frame, first=0, later=0, flags=0, offloads=ALL_OFFLOADS):
    return h + bytes([first, later, flags, offloads]) + bytes(frame)


def tcp4(payload, vlan=False):
    l2 = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if vlan:
        l2 = l2 / Dot1Q(vlan=10)
    return l2 / IP(src="10.0.0.1", dst="10.0.0.2", flags="DF") / TCP(sport=40000, dport=5201, flags="A", seq=1000) / (b"\xab" * payload)


def tcp6(payload, ext=False):
    ip = IPv6(src="fd00::1", dst="fd00::2")
    if ext:
        ip = ip / IPv6ExtHdrHopByHop()
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / TCP(sport=40000, dport=5201, flags="A") / (b"\xcd" * payload)


def udp4(payload):
    return Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"\x11" * payload)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "tcp4_gso": seed(hdr(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), tcp4(6000)),
        "tcp4_gso_ecn_vlan_chain": seed(hdr(NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 58, 1000, 38, 16), tcp4(5000, vlan=True), 100, 200),
        "tcp4_gso_mss88_external": seed(hdr(NEEDS_CSUM, GSO_TCPV4, 54, 88, 34, 16), tcp4(3000), 64, 250, EXTERNAL),
        "tcp6_gso_empty_second": seed(hdr(NEEDS_CSUM, GSO_TCPV6, 74, 1428, 54, 16), tcp6(7000), 80, 0, EMPTY_SECOND),
        "tcp6_ext_gso": seed(hdr(NEEDS_CSUM, GSO_TCPV6, 82, 1400, 62, 16), tcp6(4000, ext=True)),
        "tcp4_partial": seed(hdr(NEEDS_CSUM, 0, 0, 0, 34, 16), tcp4(500)),
        "udp4_partial_external": seed(hdr(NEEDS_CSUM, 0, 0, 0, 34, 6), udp4(300), 0, 0, EXTERNAL),
        "tcp4_gso_not_negotiated": seed(hdr(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), tcp4(6000), offloads=0x01),
        "tcp4_plain": seed(hdr(), tcp4(100)),
        "tcp4_csum_start_past_end": seed(hdr(NEEDS_CSUM, 0, 0, 0, 0xfff0, 16), tcp4(100)),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
