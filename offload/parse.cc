#include "parse.h"

#include <rte_mbuf.h>

namespace vo {
namespace {

// Bounds for one parse: `end` is where the enclosing datagram's bytes stop,
// `first` where the first mbuf's bytes stop (headers must lie before both).
struct Bounds {
  uint32_t end;
  uint32_t first;
  // Ok when [off, off+len) may be read as a header.
  [[nodiscard]] Reason need(uint32_t off, uint32_t len, Reason truncated) const {
    if (off + len > end) return truncated;
    if (off + len > first) return Reason::HeadersSplit;
    return Reason::Ok;
  }
};

#define VO_TRY(expr)                          \
  do {                                        \
    if (Reason r_ = (expr); r_ != Reason::Ok) \
      return r_;                              \
  } while (0)

// Ethernet + optional 802.1Q at `off`; returns the ether type and the L3 offset.
Reason parse_l2(const rte_mbuf* m, const Bounds& b, uint32_t off, uint16_t& type,
                uint32_t& l3_off, bool* has_vlan, uint16_t* tci) {
  VO_TRY(b.need(off, sizeof(EthHdr), Reason::TruncatedEthernet));
  type = header_at<EthHdr>(m, off)->ether_type.get();
  off += sizeof(EthHdr);
  if (type == kEtherTypeVlan) {
    VO_TRY(b.need(off, sizeof(VlanTag), Reason::TruncatedVlan));
    const auto* tag = header_at<VlanTag>(m, off);
    if (has_vlan) *has_vlan = true;
    if (tci) *tci = tag->tci.get();
    type = tag->ether_type.get();
    off += sizeof(VlanTag);
  }
  if (type != kEtherTypeIpv4 && type != kEtherTypeIpv6) return Reason::NotIp;
  l3_off = off;
  return Reason::Ok;
}

struct L3 {
  IpVer ver;
  uint32_t len;     // header length
  uint32_t end;     // offset where the datagram ends
  uint8_t proto;
};

Reason parse_ipv4(const rte_mbuf* m, const Bounds& b, uint32_t off, bool exact, L3& l3) {
  VO_TRY(b.need(off, sizeof(Ipv4Hdr), Reason::TruncatedIpv4));
  const auto* ip = header_at<Ipv4Hdr>(m, off);
  if (ip->version() != 4) return Reason::Ipv4BadVersion;
  if (ip->header_len() < sizeof(Ipv4Hdr)) return Reason::Ipv4IhlTooSmall;
  VO_TRY(b.need(off, ip->header_len(), Reason::Ipv4OptionsTruncated));
  uint32_t total = ip->total_length.get();
  uint32_t present = b.end - off;
  if (total < ip->header_len() || total > present || (exact && total != present))
    return Reason::Ipv4LengthMismatch;
  if (ip->is_fragment()) return Reason::Ipv4Fragment;
  l3 = {IpVer::V4, ip->header_len(), off + total, ip->protocol};
  return Reason::Ok;
}

// The largest l3_len an mbuf holds (a 9-bit field).
constexpr uint32_t kMaxL3Len = 511;

// Walks Hop-by-Hop and Destination Options headers from `off`, the end of the
// fixed IPv6 header. Others (Routing, Fragment, AH, ESP...) are refused: a
// Routing header changes the destination the TCP checksum covers, and a
// fragment is never one segment of a stream.
Reason walk_ipv6_extensions(const rte_mbuf* m, const Bounds& b, uint32_t l3_off, uint8_t& next,
                            uint32_t& off) {
  while (next == kIpv6HopByHop || next == kIpv6DestOptions) {
    VO_TRY(b.need(off, 8, Reason::Ipv6ExtensionTruncated));
    const auto* ext = header_at<Ipv6OptionsHdr>(m, off);
    if (off + ext->length() - l3_off > kMaxL3Len) return Reason::Ipv6ExtensionsTooLong;
    VO_TRY(b.need(off, ext->length(), Reason::Ipv6ExtensionTruncated));
    next = ext->next_header;
    off += ext->length();
  }
  if (next != kIpProtoTcp && next != kIpProtoUdp) return Reason::Ipv6UnsupportedNextHeader;
  return Reason::Ok;
}

Reason parse_ipv6(const rte_mbuf* m, const Bounds& b, uint32_t off, bool exact, L3& l3) {
  VO_TRY(b.need(off, sizeof(Ipv6Hdr), Reason::TruncatedIpv6));
  const auto* ip = header_at<Ipv6Hdr>(m, off);
  if (ip->version() != 6) return Reason::Ipv6BadVersion;
  uint32_t payload = ip->payload_length.get();
  uint32_t present = b.end - off - sizeof(Ipv6Hdr);
  if (payload > present || (exact && payload != present)) return Reason::Ipv6LengthMismatch;
  const uint32_t end = uint32_t(off + sizeof(Ipv6Hdr) + payload);
  uint8_t next = ip->next_header;
  uint32_t l4_off = off + sizeof(Ipv6Hdr);
  VO_TRY(walk_ipv6_extensions(m, Bounds{end, b.first}, off, next, l4_off));
  l3 = {IpVer::V6, l4_off - off, end, next};
  return Reason::Ok;
}

Reason parse_ip(const rte_mbuf* m, const Bounds& b, uint16_t type, uint32_t off, bool exact,
                L3& l3) {
  return type == kEtherTypeIpv4 ? parse_ipv4(m, b, off, exact, l3)
                                : parse_ipv6(m, b, off, exact, l3);
}

Reason parse_tcp(const rte_mbuf* m, const Bounds& b, uint32_t off, uint32_t& len) {
  VO_TRY(b.need(off, sizeof(TcpHdr), Reason::TruncatedTcp));
  const auto* tcp = header_at<TcpHdr>(m, off);
  if (tcp->header_len() < sizeof(TcpHdr)) return Reason::TcpDoffTooSmall;
  VO_TRY(b.need(off, tcp->header_len(), Reason::TcpOptionsTruncated));
  len = tcp->header_len();
  return Reason::Ok;
}

// Whether the UDP datagram at `off` carries VXLAN; checks its length.
Reason parse_udp(const rte_mbuf* m, const Bounds& b, uint32_t off, bool& is_vxlan) {
  VO_TRY(b.need(off, sizeof(UdpHdr), Reason::TruncatedUdp));
  const auto* udp = header_at<UdpHdr>(m, off);
  if (udp->length.get() != b.end - off) return Reason::UdpLengthMismatch;
  is_vxlan = udp->dst_port.get() == kVxlanPort;
  return Reason::Ok;
}

bool chain_matches_pkt_len(const rte_mbuf* m) {
  uint64_t sum = 0;
  uint32_t n = 0;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next, ++n) sum += s->data_len;
  return sum == m->pkt_len && n == m->nb_segs;
}

}  // namespace

Reason parse(const rte_mbuf* m, Layout& out, ParseOptions opts) {
  if (!chain_matches_pkt_len(m)) return Reason::ChainLengthMismatch;
  out = Layout{};
  Bounds b{m->pkt_len, m->data_len};
  uint16_t type;
  uint32_t l3_off;
  VO_TRY(parse_l2(m, b, 0, type, l3_off, &out.has_vlan, &out.vlan_tci));
  L3 l3;
  VO_TRY(parse_ip(m, b, type, l3_off, opts.exact_length, l3));

  if (l3.proto == kIpProtoUdp && opts.decap_vxlan) {
    Bounds outer{l3.end, b.first};
    uint32_t udp_off = l3_off + l3.len;
    bool is_vxlan = false;
    VO_TRY(parse_udp(m, outer, udp_off, is_vxlan));
    if (is_vxlan) {
      uint32_t vx_off = udp_off + sizeof(UdpHdr);
      VO_TRY(outer.need(vx_off, sizeof(VxlanHdr), Reason::TruncatedVxlan));
      if (!(header_at<VxlanHdr>(m, vx_off)->flags & VxlanHdr::kVniValid))
        return Reason::VxlanBadFlags;
      out.tunnel = true;
      out.outer_ip = l3.ver;
      out.outer_l3_off = l3_off;
      out.outer_l3_len = l3.len;
      out.outer_l4_off = udp_off;
      out.outer_ip_end = l3.end;
      out.inner_l2_off = vx_off + sizeof(VxlanHdr);
      VO_TRY(parse_l2(m, outer, out.inner_l2_off, type, l3_off, nullptr, nullptr));
      // The inner datagram must fit the outer exactly: VXLAN carries no padding.
      VO_TRY(parse_ip(m, outer, type, l3_off, true, l3));
    }
  }
  out.ip = l3.ver;
  out.l3_off = l3_off;
  out.l3_len = l3.len;
  out.l4_off = l3_off + l3.len;
  out.l4_proto = l3.proto;
  out.ip_end = l3.end;
  if (l3.proto != kIpProtoTcp) return Reason::NotTcp;
  uint32_t tcp_len;
  VO_TRY(parse_tcp(m, Bounds{l3.end, b.first}, out.l4_off, tcp_len));
  out.l4_len = tcp_len;
  return Reason::Ok;
}

uint64_t tx_ip_flags(const Layout& l) {
  uint64_t f = l.ip == IpVer::V4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
  if (l.tunnel)
    f |= RTE_MBUF_F_TX_TUNNEL_VXLAN |
         (l.outer_ip == IpVer::V4 ? RTE_MBUF_F_TX_OUTER_IPV4 : RTE_MBUF_F_TX_OUTER_IPV6);
  return f;
}

void apply_lengths(rte_mbuf* m, const Layout& l) {
  if (l.tunnel) {
    m->outer_l2_len = l.outer_l3_off;
    m->outer_l3_len = l.outer_l3_len;
    m->l2_len = l.l3_off - l.outer_l4_off;  // outer UDP + VXLAN + inner Ethernet
  } else {
    m->outer_l2_len = 0;
    m->outer_l3_len = 0;
    m->l2_len = l.l3_off;
  }
  m->l3_len = l.l3_len;
  m->l4_len = l.l4_len;
}

}  // namespace vo
