#include "flow_hash.h"

#include <rte_mbuf.h>

#include "gro_flow.h"
#include "parse.h"

namespace vo {

uint32_t flow_hash(const rte_mbuf* m) {
  if (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) return m->hash.rss;
  Layout l;
  const Reason r = parse(m, l, ParseOptions{.exact_length = false, .decap_vxlan = false});
  if (r != Reason::Ok && r != Reason::NotTcp) return 0;
  const uint8_t *src, *dst;
  if (l.ip == IpVer::V4) {
    const auto* ip = header_at<Ipv4Hdr>(m, l.l3_off);
    src = reinterpret_cast<const uint8_t*>(&ip->src);
    dst = reinterpret_cast<const uint8_t*>(&ip->dst);
  } else {
    const auto* ip = header_at<Ipv6Hdr>(m, l.l3_off);
    src = ip->src.b;
    dst = ip->dst.b;
  }
  // Ports as on the wire, where the first mbuf holds them; the protocol in
  // place of them otherwise (a fragment, ICMP), so that one host pair's
  // other traffic still has a flow of its own.
  uint32_t ports = l.l4_proto;
  const bool has_ports = l.l4_proto == kIpProtoTcp || l.l4_proto == kIpProtoUdp;
  if (has_ports && l.l4_off + 4u <= m->data_len && l.l4_off + 4u <= l.ip_end) {
    const auto* udp = header_at<UdpHdr>(m, l.l4_off);  // TCP's ports sit where UDP's do
    ports = uint32_t(udp->src_port.raw()) | uint32_t(udp->dst_port.raw()) << 16;
  }
  return gro::flow_hash(src, dst, l.ip, ports, l.l4_proto);
}

}  // namespace vo
