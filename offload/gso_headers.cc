// Per-segment header fix-up, one function per header (model: DPDK lib/gso
// update_*_header, OVS dp_packet_gso_update_segment).
#include <rte_mbuf.h>

#include "gso_internal.h"

namespace vo::gso {
namespace {

// IP header at `off` for a datagram of `ip_len` bytes (header included).
void fix_ip(rte_mbuf* seg, IpVer ver, uint32_t off, uint32_t ip_len, uint16_t index) {
  if (ver == IpVer::V4) {
    auto* ip = header_at<Ipv4Hdr>(seg, off);
    ip->total_length.set(uint16_t(ip_len));
    // Linux and rte_gso both number segments from the original ID (RFC 6864
    // lets an atomic datagram's ID be anything; incrementing suits both kinds).
    ip->id.set(uint16_t(ip->id.get() + index));
    ip->checksum.set_raw(ipv4_header_checksum(*ip));
  } else {
    header_at<Ipv6Hdr>(seg, off)->payload_length.set(uint16_t(ip_len - sizeof(Ipv6Hdr)));
  }
}

void add_pseudo(Checksum& c, rte_mbuf* seg, IpVer ver, uint32_t l3_off, uint32_t l4_len,
                uint8_t proto) {
  if (ver == IpVer::V4)
    add_pseudo_header(c, *header_at<Ipv4Hdr>(seg, l3_off), l4_len, proto);
  else
    add_pseudo_header(c, *header_at<Ipv6Hdr>(seg, l3_off), l4_len, proto);
}

void fix_tcp(rte_mbuf* seg, const Plan& p, uint16_t index, uint32_t payload_len,
             const Checksum& payload_sum) {
  const Layout& l = p.layout;
  auto* tcp = header_at<TcpHdr>(seg, l.l4_off);
  tcp->set_seq(tcp->seq() + uint32_t(index) * p.mss);
  // As the kernel's tcp_gso_segment: CWR belongs to the first segment, FIN and
  // PSH to the last.
  if (index != 0) tcp->flags &= uint8_t(~TcpHdr::kCwr);
  if (index + 1 != p.count) tcp->flags &= uint8_t(~(TcpHdr::kFin | TcpHdr::kPsh));

  Checksum c;
  add_pseudo(c, seg, l.ip, l.l3_off, l.l4_len + payload_len, kIpProtoTcp);
  if (p.checksum == ChecksumMode::PseudoForNic && !p.outer_udp_checksum) {
    tcp->checksum.set_raw(c.folded());
    return;
  }
  tcp->checksum.set_raw(0);
  c.add(tcp, l.l4_len);
  c.add(payload_sum);
  tcp->checksum.set_raw(c.finish());
}

void fix_outer(rte_mbuf* seg, const Plan& p, uint16_t index, uint32_t payload_len,
               const Checksum& payload_sum) {
  const Layout& l = p.layout;
  uint32_t seg_end = l.header_len() + payload_len;
  fix_ip(seg, l.outer_ip, l.outer_l3_off, seg_end - l.outer_l3_off, index);
  auto* udp = header_at<UdpHdr>(seg, l.outer_l4_off);
  uint32_t udp_len = seg_end - l.outer_l4_off;
  udp->length.set(uint16_t(udp_len));
  if (!p.outer_udp_checksum) return;  // zero stays zero (RFC 7348 section 5, RFC 6935)
  udp->checksum.set_raw(0);
  Checksum c;
  add_pseudo(c, seg, l.outer_ip, l.outer_l3_off, udp_len, kIpProtoUdp);
  c.add(udp, l.header_len() - l.outer_l4_off);
  c.add(payload_sum);
  uint16_t sum = c.finish();
  udp->checksum.set_raw(sum == 0 ? 0xffff : sum);  // RFC 768: zero means "none"
}

}  // namespace

void fix_segment_headers(rte_mbuf* seg, const Plan& p, uint16_t index, uint32_t payload_len,
                         const Checksum& payload_sum) {
  const Layout& l = p.layout;
  fix_ip(seg, l.ip, l.l3_off, l.l3_len + l.l4_len + payload_len, index);
  fix_tcp(seg, p, index, payload_len, payload_sum);
  if (l.tunnel) fix_outer(seg, p, index, payload_len, payload_sum);
}

}  // namespace vo::gso
