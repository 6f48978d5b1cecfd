#!/usr/bin/python3
"""Writes frames with a virtio_net_hdr of our choosing into an interface, as a
process in a peer namespace can (a packet socket with PACKET_VNET_HDR), in a
tight loop for SECONDS; prints a JSON line of what it sent.

    vnet_sender.py IFACE SRC_MAC DST_MAC MODE SECONDS

MODE: valid      TCPv4 frames of 4,000 bytes of payload, GSO at MSS 1448
      large      the same at 64,000 bytes: a 64 KB segment every send
      malformed  headers that lie, one kind after the other (KINDS below);
                 the kernel refuses some itself (counted per kind as refused)
The kernel turns what it takes into the TAP's own virtio_net_hdr, which the
switch reads: what reaches the switch is what a hostile namespace can make
the kernel say."""
import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_ECN = 0, 1, 4, 0x80


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def frame(src, dst, payload_len, ip_len_lie=0):
    """Ethernet/IPv4/TCP with the TCP checksum field holding the pseudo-header
    sum, as a sender asking for a partial checksum writes it."""
    tcp_len = 20 + payload_len
    total = 20 + tcp_len + ip_len_lie
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total & 0xffff, 1, 0x4000, 64, 6, 0,
                     bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2]))
    ip = ip[:10] + struct.pack("!H", 0xffff - csum(ip)) + ip[12:]
    pseudo = csum(ip[12:20] + struct.pack("!BBH", 0, 6, tcp_len))
    tcp = struct.pack("!HHIIBBHHH", 40000, 5201, 1, 1, 5 << 4, 0x10, 512, pseudo, 0)
    return dst + src + b"\x08\x00" + ip + tcp + bytes(payload_len)


def hdr(flags=NEEDS_CSUM, gso=GSO_TCPV4, gso_size=1448, start=34, offset=16, hdr_len=54):
    return struct.pack("<BBHHHH", flags, gso, hdr_len, gso_size, start, offset)


KINDS = {  # name: (header, payload bytes, IP length lie)
    "gso_size_1": (hdr(gso_size=1), 4000, 0),
    "gso_size_40": (hdr(gso_size=40), 4000, 0),
    "gso_type_v6_on_v4": (hdr(gso=GSO_TCPV6), 4000, 0),
    "ecn_without_gso": (hdr(gso=GSO_ECN, gso_size=0), 1000, 0),
    "gso_without_needs_csum": (hdr(flags=0), 4000, 0),
    "csum_start_at_ip": (hdr(gso=GSO_NONE, gso_size=0, start=14, offset=10), 1000, 0),
    "csum_offset_not_tcp": (hdr(gso=GSO_NONE, gso_size=0, offset=6), 1000, 0),
    "ip_length_past_frame": (hdr(), 4000, 300),
    "ip_length_short": (hdr(), 4000, -300),
}


def main():
    iface, src, dst, mode, seconds = sys.argv[1:6]
    src, dst = bytes.fromhex(src.replace(":", "")), bytes.fromhex(dst.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((iface, 0))
    if mode == "malformed":
        msgs = [(k, h + frame(src, dst, n, lie)) for k, (h, n, lie) in KINDS.items()]
    else:
        msgs = [(mode, hdr() + frame(src, dst, 64000 if mode == "large" else 4000))]
    sent = {k: 0 for k, _ in msgs}
    refused = {k: 0 for k, _ in msgs}
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        for kind, m in msgs:
            for _ in range(50):
                try:
                    s.send(m)
                    sent[kind] += 1
                except OSError:
                    refused[kind] += 1
    print(json.dumps({"sent": sent, "refused": refused}))


if __name__ == "__main__":
    main()
