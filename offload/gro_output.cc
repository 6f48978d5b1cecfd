// The merged packet: headers rewritten for the whole payload, and metadata that
// lets the egress port send it as one GSO packet (a guest gets it with its
// virtio_net_hdr gso_type and gso_size) or segment it again.
#include <rte_mbuf.h>

#include "gro_flow.h"

namespace vo::gro {
namespace {

void set_ip_length(rte_mbuf* m, IpVer ver, uint32_t off, uint32_t datagram_len) {
  if (ver == IpVer::V4) {
    auto* ip = header_at<Ipv4Hdr>(m, off);
    ip->total_length.set(uint16_t(datagram_len));
    ip->checksum.set_raw(ipv4_header_checksum(*ip));
  } else {
    header_at<Ipv6Hdr>(m, off)->payload_length.set(uint16_t(datagram_len - sizeof(Ipv6Hdr)));
  }
}

void add_pseudo(Checksum& c, const rte_mbuf* m, IpVer ver, uint32_t off, uint32_t len,
                uint8_t proto) {
  if (ver == IpVer::V4)
    add_pseudo_header(c, *header_at<Ipv4Hdr>(m, off), len, proto);
  else
    add_pseudo_header(c, *header_at<Ipv6Hdr>(m, off), len, proto);
}

// Full checksum of the L4 datagram at `off` (its field zeroed first).
uint16_t full_l4_checksum(rte_mbuf* m, IpVer ver, uint32_t l3_off, uint32_t l4_off, be16& field,
                          uint8_t proto) {
  uint32_t len = m->pkt_len - l4_off;
  field.set_raw(0);
  Checksum c;
  add_pseudo(c, m, ver, l3_off, len, proto);
  (void)sum_mbuf(c, m, l4_off, len);  // the chain was built to pkt_len
  return c.finish();
}

}  // namespace

rte_mbuf* finish(Flow& f) {
  rte_mbuf* m = f.head;
  if (f.segments == 1) return m;  // never touched: leaves exactly as it came
  const Layout& l = f.layout;
  uint32_t end = l.header_len() + f.payload_len;
  set_ip_length(m, l.ip, l.l3_off, end - l.l3_off);
  auto* tcp = header_at<TcpHdr>(m, l.l4_off);
  tcp->flags |= f.flags_seen & TcpHdr::kPsh;
  tcp->window = f.window;
  bool outer_csum = l.tunnel && header_at<UdpHdr>(m, l.outer_l4_off)->checksum.raw() != 0;
  uint64_t l4_state = RTE_MBUF_F_RX_L4_CKSUM_NONE;
  if (outer_csum) {
    tcp->checksum.set_raw(full_l4_checksum(m, l.ip, l.l3_off, l.l4_off, tcp->checksum, kIpProtoTcp));
    l4_state = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  } else {
    // CHECKSUM_PARTIAL as Linux and virtio keep a GSO packet: the field holds
    // the pseudo-header sum over the merged length; whoever segments the
    // packet, or the guest, completes it. The data itself was verified.
    Checksum c;
    add_pseudo(c, m, l.ip, l.l3_off, end - l.l4_off, kIpProtoTcp);
    tcp->checksum.set_raw(c.folded());
  }
  if (l.tunnel) {
    set_ip_length(m, l.outer_ip, l.outer_l3_off, end - l.outer_l3_off);
    auto* udp = header_at<UdpHdr>(m, l.outer_l4_off);
    udp->length.set(uint16_t(end - l.outer_l4_off));
    if (outer_csum) {
      uint16_t s = full_l4_checksum(m, l.outer_ip, l.outer_l3_off, l.outer_l4_off, udp->checksum,
                                    kIpProtoUdp);
      udp->checksum.set_raw(s == 0 ? 0xffff : s);
    }
  }
  apply_lengths(m, l);
  m->tso_segsz = f.mss;
  constexpr uint64_t kCleared = RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_IP_CKSUM_MASK |
                                RTE_MBUF_F_TX_OFFLOAD_MASK;
  uint64_t flags = (m->ol_flags & ~kCleared) | RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_IP_CKSUM_GOOD |
                   l4_state | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | tx_ip_flags(l);
  m->ol_flags = flags | (m->ol_flags & (RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_TX_QINQ));
  return m;
}

}  // namespace vo::gro
