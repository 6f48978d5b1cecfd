#include "packet_check.h"

namespace vo::testing {
namespace {

uint16_t get16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }
uint32_t get32(const Bytes& b, size_t off) { return uint32_t(get16(b, off)) << 16 | get16(b, off + 2); }

uint32_t pseudo(const Bytes& f, const DecodedIp& ip, uint8_t proto, uint32_t len) {
  size_t alen = ip.version == 4 ? 4 : 16;
  size_t src = ip.off + (ip.version == 4 ? 12 : 8);
  uint32_t s = naive_sum(f.data() + src, 2 * alen);
  return s + proto + (len >> 16) + (len & 0xffff);
}

// Decodes an IP header at `off`; false (with d.error set) when it does not fit.
bool decode_ip(const Bytes& f, size_t off, DecodedIp& ip, std::string& err) {
  if (off + 20 > f.size()) return err = "ip truncated", false;
  ip.off = off;
  ip.version = f[off] >> 4;
  if (ip.version == 4) {
    ip.hdr_len = (f[off] & 0xf) * 4;
    if (ip.hdr_len < 20 || off + ip.hdr_len > f.size()) return err = "ipv4 header", false;
    ip.tos = f[off + 1];
    ip.total_len = get16(f, off + 2);
    ip.id = get16(f, off + 4);
    ip.df = get16(f, off + 6) & 0x4000;
    ip.ttl = f[off + 8];
    ip.proto = f[off + 9];
    ip.checksum = get16(f, off + 10);
    ip.checksum_ok = naive_sum(f.data() + off, ip.hdr_len) == 0xffff;
  } else if (ip.version == 6) {
    if (off + 40 > f.size()) return err = "ipv6 truncated", false;
    ip.hdr_len = 40;
    ip.tos = uint8_t(get32(f, off) >> 20);
    ip.total_len = 40 + get16(f, off + 4);
    ip.proto = f[off + 6];
    ip.ttl = f[off + 7];
    // Hop-by-hop, routing, destination options: next header, length in 8s.
    while (ip.proto == 0 || ip.proto == 43 || ip.proto == 60) {
      size_t x = off + ip.hdr_len;
      if (x + 8 > f.size()) return err = "ipv6 extension truncated", false;
      ip.proto = f[x];
      ip.hdr_len += (f[x + 1] + 1u) * 8;
    }
  } else {
    return err = "ip version", false;
  }
  if (off + ip.total_len > f.size()) return err = "ip length past frame", false;
  return true;
}

size_t skip_eth(const Bytes& f, size_t off, std::optional<uint16_t>* vlan) {
  size_t o = off + 12;
  if (get16(f, o) == 0x8100) {
    if (vlan) *vlan = get16(f, o + 2);
    o += 4;
  }
  return o + 2;
}

}  // namespace

uint16_t naive_sum(const uint8_t* p, size_t n, uint32_t initial) {
  uint64_t s = initial;
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

Decoded decode(const Bytes& f) {
  Decoded d;
  if (f.size() < 14) return d.error = "short frame", d;
  size_t off = skip_eth(f, 0, &d.vlan);
  if (!decode_ip(f, off, d.ip, d.error)) return d;
  if (d.ip.proto == 17) {
    d.tunnel = true;
    d.outer = d.ip;
    size_t udp = d.outer.off + d.outer.hdr_len;
    if (udp + 16 + 14 > f.size()) return d.error = "vxlan truncated", d;
    d.udp_len = get16(f, udp + 4);
    d.udp_checksum = get16(f, udp + 6);
    d.udp_checksum_ok =
        d.udp_checksum == 0 ||
        naive_sum(f.data() + udp, d.udp_len, pseudo(f, d.outer, 17, d.udp_len)) == 0xffff;
    d.vni = get32(f, udp + 12) >> 8;
    off = skip_eth(f, udp + 16, nullptr);
    d.ip = {};
    if (!decode_ip(f, off, d.ip, d.error)) return d;
  }
  if (d.ip.proto != 6) return d.error = "not tcp", d;
  d.tcp_off = d.ip.off + d.ip.hdr_len;
  if (d.tcp_off + 20 > f.size()) return d.error = "tcp truncated", d;
  d.tcp_hdr_len = (f[d.tcp_off + 12] >> 4) * 4;
  size_t end = d.ip.off + d.ip.total_len;
  if (d.tcp_hdr_len < 20 || d.tcp_off + d.tcp_hdr_len > end) return d.error = "tcp header", d;
  d.src_port = get16(f, d.tcp_off);
  d.dst_port = get16(f, d.tcp_off + 2);
  d.seq = get32(f, d.tcp_off + 4);
  d.ack = get32(f, d.tcp_off + 8);
  d.flags = f[d.tcp_off + 13];
  d.window = get16(f, d.tcp_off + 14);
  d.tcp_checksum = get16(f, d.tcp_off + 16);
  d.tcp_options.assign(f.begin() + d.tcp_off + 20, f.begin() + d.tcp_off + d.tcp_hdr_len);
  d.payload.assign(f.begin() + d.tcp_off + d.tcp_hdr_len, f.begin() + end);
  uint32_t l4_len = uint32_t(end - d.tcp_off);
  uint32_t ps = pseudo(f, d.ip, 6, l4_len);
  d.tcp_checksum_ok = naive_sum(f.data() + d.tcp_off, l4_len, ps) == 0xffff;
  uint32_t folded = ps;
  while (folded >> 16) folded = (folded & 0xffff) + (folded >> 16);
  d.tcp_checksum_pseudo = d.tcp_checksum == folded;
  return d;
}

}  // namespace vo::testing
