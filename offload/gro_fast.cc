// What GRO's fast path works from: the flow hash read from a packet's bytes,
// and the header template of a held flow (gro_fast_inl.h compares with it).
#include <rte_mbuf.h>

#include <cstring>

#include "gro_fast_inl.h"

namespace vo::gro {
namespace {

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void unmask(HeaderTemplate& t, uint32_t off, uint32_t len) {
  for (uint32_t i = off; i < off + len; ++i) reinterpret_cast<uint8_t*>(t.mask)[i] = 0;
}

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd, kEtherVlan = 0x8100;

}  // namespace

// Any function of the key will do; this one reads only the fields that tell
// flows apart in practice (addresses, ports, VNI: flows that differ only in the
// rest share a probe chain and are told apart by the comparison). A CRC over
// the whole 104-byte key was a chain of 13 dependent crc32 instructions, an
// eighth of the time per merged segment.
uint32_t flow_hash(const uint8_t* src, const uint8_t* dst, IpVer ver, uint32_t ports,
                   uint32_t vni) {
  uint64_t x = (uint64_t(ports) | uint64_t(vni) << 32) * 0x165667b19e3779f9ull;
  if (ver == IpVer::V4)
    x += (uint64_t(load32(src)) | uint64_t(load32(dst)) << 32) * 0x9e3779b97f4a7c15ull;
  else
    x += (load64(src) ^ load64(dst + 8)) * 0x9e3779b97f4a7c15ull +
         (load64(dst) ^ load64(src + 8)) * 0xc2b2ae3d27d4eb4full;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return uint32_t(x ^ (x >> 32));
}

uint32_t flow_hash(const FlowKey& k) {
  return flow_hash(k.src, k.dst, IpVer(k.ip_ver),
                   uint32_t(k.src_port.raw()) | uint32_t(k.dst_port.raw()) << 16, k.vni);
}

bool raw_flow_hash(const rte_mbuf* m, uint32_t& hash) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  uint32_t len = m->data_len;
  uint32_t l3 = sizeof(EthHdr);
  if (len < l3 + sizeof(Ipv6Hdr) + sizeof(TcpHdr)) return false;  // also covers IPv4
  uint16_t type = rte_be_to_cpu_16(load16(p + 12));
  if (type == kEtherVlan) {
    type = rte_be_to_cpu_16(load16(p + 16));
    l3 += 4;
  }
  const uint8_t *src, *dst;
  uint32_t l4;
  IpVer ver;
  if (type == kEtherIpv4) {
    const auto* ip = reinterpret_cast<const Ipv4Hdr*>(p + l3);
    if (ip->protocol != kIpProtoTcp) return false;
    l4 = l3 + ip->header_len();
    src = reinterpret_cast<const uint8_t*>(&ip->src);
    dst = reinterpret_cast<const uint8_t*>(&ip->dst);
    ver = IpVer::V4;
  } else if (type == kEtherIpv6) {
    const auto* ip = reinterpret_cast<const Ipv6Hdr*>(p + l3);
    if (ip->next_header != kIpProtoTcp) return false;
    l4 = l3 + sizeof(Ipv6Hdr);
    src = reinterpret_cast<const uint8_t*>(&ip->src);
    dst = reinterpret_cast<const uint8_t*>(&ip->dst);
    ver = IpVer::V6;
  } else {
    return false;
  }
  if (l4 + 4 > len) return false;
  hash = flow_hash(src, dst, ver, load32(p + l4), 0);
  return true;
}

void make_template(Flow& f) {
  HeaderTemplate& t = f.tmpl;
  const Layout& l = f.layout;
  const uint32_t compared = (l.header_len() + 15u) & ~15u;
  t.bytes_compared = 0;
  if (l.tunnel || compared > HeaderTemplate::kMaxBytes ||
      f.head->data_len < compared)
    return;
  std::memset(t.mask, 0, sizeof(t.mask));
  std::memset(t.mask, 0xff, l.header_len());
  if (l.ip == IpVer::V4) {
    unmask(t, l.l3_off + offsetof(Ipv4Hdr, total_length), 2);
    unmask(t, l.l3_off + offsetof(Ipv4Hdr, id), 2);
    unmask(t, l.l3_off + offsetof(Ipv4Hdr, checksum), 2);
  } else {
    unmask(t, l.l3_off + offsetof(Ipv6Hdr, payload_length), 2);
  }
  unmask(t, l.l4_off + offsetof(TcpHdr, seq_raw), 4);
  unmask(t, l.l4_off + offsetof(TcpHdr, window), 2);
  unmask(t, l.l4_off + offsetof(TcpHdr, checksum), 2);
  const auto* p = rte_pktmbuf_mtod(f.head, const uint8_t*);
  for (uint32_t i = 0; i < compared / sizeof(HeaderTemplate::Block); ++i) {
    std::memcpy(&t.bytes[i], p + i * sizeof(HeaderTemplate::Block), sizeof(HeaderTemplate::Block));
    t.bytes[i] &= t.mask[i];
  }
  t.bytes_compared = uint16_t(compared);
}

}  // namespace vo::gro
