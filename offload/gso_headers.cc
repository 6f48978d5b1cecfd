// Per-segment header fix-up: the template every segment's headers are written
// from (the writing itself is inline in gso_internal.h), and the rare outer UDP
// checksum.
#include <rte_mbuf.h>

#include "gso_internal.h"

namespace vo::gso {
namespace {

// One's complement subtraction (RFC 1624): adding the complement.
uint32_t minus(uint16_t raw) { return uint16_t(~raw); }

Ipv4Template ipv4_template(const Ipv4Hdr& ip) {
  // ipv4_header_checksum() takes the checksum field as zero; take the two
  // per-segment fields out too.
  uint32_t s = minus(ipv4_header_checksum(ip));
  s += minus(ip.total_length.raw()) + minus(ip.id.raw());
  return {fold_sum32(s), ip.id.get()};
}

void add_pseudo(Checksum& c, const rte_mbuf* pkt, IpVer ver, uint32_t l3_off, uint32_t l4_len,
                uint8_t proto) {
  if (ver == IpVer::V4)
    add_pseudo_header(c, *header_at<Ipv4Hdr>(pkt, l3_off), l4_len, proto);
  else
    add_pseudo_header(c, *header_at<Ipv6Hdr>(pkt, l3_off), l4_len, proto);
}

// The TCP header's sum without the fields a segment changes or recomputes.
uint16_t tcp_template_sum(const TcpHdr& tcp, uint32_t len) {
  Checksum c;
  c.add(&tcp, len);
  const uint32_t seq = tcp.seq_raw.raw();
  const uint16_t off_flags = be16::from_host(uint16_t(tcp.data_off << 8 | tcp.flags)).raw();
  uint32_t s = c.folded();
  s += minus(uint16_t(seq)) + minus(uint16_t(seq >> 16)) + minus(off_flags) +
       minus(tcp.checksum.raw());
  return fold_sum32(s);
}

}  // namespace

void make_header_template(const rte_mbuf* pkt, Plan& p) {
  const Layout& l = p.layout;
  HeaderTemplate& t = p.tmpl;
  t.bytes = rte_pktmbuf_mtod(pkt, const uint8_t*);
  if (l.ip == IpVer::V4) t.ip = ipv4_template(*header_at<Ipv4Hdr>(pkt, l.l3_off));
  if (l.tunnel && l.outer_ip == IpVer::V4)
    t.outer_ip = ipv4_template(*header_at<Ipv4Hdr>(pkt, l.outer_l3_off));
  // A zero length adds nothing: each segment adds its own.
  Checksum pseudo;
  add_pseudo(pseudo, pkt, l.ip, l.l3_off, 0, kIpProtoTcp);
  t.pseudo_sum = pseudo.folded();
  const auto* tcp = header_at<TcpHdr>(pkt, l.l4_off);
  t.tcp_sum = tcp_template_sum(*tcp, l.l4_len);
  t.seq = tcp->seq().value();
  t.data_off = tcp->data_off;
  t.flags = tcp->flags;
}

void fix_outer_udp_checksum(uint8_t* hdr, const Plan& p, uint32_t payload_len,
                            const Checksum& payload_sum) {
  const Layout& l = p.layout;
  const uint32_t hlen = l.header_len();
  auto* udp = detail::at<UdpHdr>(hdr, l.outer_l4_off);
  const uint32_t udp_len = hlen + payload_len - l.outer_l4_off;
  udp->checksum.set_raw(0);
  Checksum c;
  if (l.outer_ip == IpVer::V4)
    add_pseudo_header(c, *detail::at<Ipv4Hdr>(hdr, l.outer_l3_off), udp_len, kIpProtoUdp);
  else
    add_pseudo_header(c, *detail::at<Ipv6Hdr>(hdr, l.outer_l3_off), udp_len, kIpProtoUdp);
  c.add(udp, hlen - l.outer_l4_off);
  c.add(payload_sum);
  const uint16_t sum = c.finish();
  udp->checksum.set_raw(sum == 0 ? 0xffff : sum);  // RFC 768: zero means "none"
}

}  // namespace vo::gso
