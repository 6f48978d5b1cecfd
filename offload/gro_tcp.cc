// GRO protocol rules for TCP over IPv4/IPv6, plain or inside VXLAN
// (model: Linux tcp_gro_receive / inet_gro_receive, DPDK lib/gro).
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "gro_flow.h"

namespace vo::gro {
namespace {

constexpr uint8_t kBreakingFlags = TcpHdr::kSyn | TcpHdr::kRst | TcpHdr::kUrg | TcpHdr::kFin |
                                   TcpHdr::kCwr | TcpHdr::kEce;

void copy_addrs(const rte_mbuf* m, IpVer ver, uint32_t off, uint8_t* src, uint8_t* dst) {
  if (ver == IpVer::V4) {
    const auto* ip = header_at<Ipv4Hdr>(m, off);
    std::memcpy(src, &ip->src, 4);
    std::memcpy(dst, &ip->dst, 4);
  } else {
    const auto* ip = header_at<Ipv6Hdr>(m, off);
    std::memcpy(src, &ip->src, 16);
    std::memcpy(dst, &ip->dst, 16);
  }
}

void fill_key(const rte_mbuf* m, const Layout& l, FlowKey& k) {
  std::memset(&k, 0, sizeof(k));
  const auto* eth = header_at<EthHdr>(m, 0);
  k.eth_src = eth->src;
  k.eth_dst = eth->dst;
  if (l.has_vlan) {
    k.has_vlan = 1;
    k.vlan = l.vlan_tci & 0x0fff;
  } else if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
    k.has_vlan = 2;
    k.vlan = m->vlan_tci & 0x0fff;
  }
  k.ip_ver = uint8_t(l.ip);
  copy_addrs(m, l.ip, l.l3_off, k.src, k.dst);
  const auto* tcp = header_at<TcpHdr>(m, l.l4_off);
  k.src_port = tcp->src_port;
  k.dst_port = tcp->dst_port;
  if (l.tunnel) {
    k.tunnel = 1;
    k.outer_ip_ver = uint8_t(l.outer_ip);
    copy_addrs(m, l.outer_ip, l.outer_l3_off, k.outer_src, k.outer_dst);
    k.vni = header_at<VxlanHdr>(m, l.outer_l4_off + sizeof(UdpHdr))->vni();
    const auto* inner = header_at<EthHdr>(m, l.inner_l2_off);
    k.inner_eth_src = inner->src;
    k.inner_eth_dst = inner->dst;
  }
}

bool ipv4_header_ok(const rte_mbuf* m, uint32_t off, bool trust_flags) {
  if (trust_flags) {
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD) return false;
    if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD || f == RTE_MBUF_F_RX_IP_CKSUM_NONE) return true;
  }
  const auto* ip = header_at<Ipv4Hdr>(m, off);
  return ipv4_header_checksum(*ip) == ip->checksum.raw();
}

}  // namespace

// Known good: the NIC said so (GOOD, or NONE: "data valid, field not filled",
// as a virtio NEEDS_CSUM packet arrives), or it verifies in software.
bool checksums_ok(const rte_mbuf* m, const Layout& l) {
  if (l.tunnel && l.outer_ip == IpVer::V4 && !ipv4_header_ok(m, l.outer_l3_off, false))
    return false;
  if (l.ip == IpVer::V4 && !ipv4_header_ok(m, l.l3_off, !l.tunnel)) return false;
  uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD) return false;
  if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD || f == RTE_MBUF_F_RX_L4_CKSUM_NONE) return true;
  Checksum c;
  uint32_t l4_bytes = l.ip_end - l.l4_off;
  if (l.ip == IpVer::V4)
    add_pseudo_header(c, *header_at<Ipv4Hdr>(m, l.l3_off), l4_bytes, kIpProtoTcp);
  else
    add_pseudo_header(c, *header_at<Ipv6Hdr>(m, l.l3_off), l4_bytes, kIpProtoTcp);
  return sum_mbuf(c, m, l.l4_off, l4_bytes) && c.finish() == 0;
}

namespace {

// IP fields that must be equal in every merged segment: TOS/traffic class
// (and so ECN: a CE mark is never folded into a flow without it), TTL, DF,
// IPv4 options and IPv6 extension headers (byte for byte, as Linux's
// ipv6_gro_receive compares them). `len` is the header's length with its
// options or extensions, the same in both (the callers compared the offsets).
bool ip_fields_match(const rte_mbuf* a, const rte_mbuf* b, IpVer ver, uint32_t off, uint32_t len) {
  if (ver == IpVer::V4) {
    const auto* x = header_at<Ipv4Hdr>(a, off);
    const auto* y = header_at<Ipv4Hdr>(b, off);
    return x->tos == y->tos && x->ttl == y->ttl && x->dont_fragment() == y->dont_fragment() &&
           x->header_len() == y->header_len() &&
           std::memcmp(x + 1, y + 1, x->header_len() - sizeof(Ipv4Hdr)) == 0;
  }
  const auto* x = header_at<Ipv6Hdr>(a, off);
  const auto* y = header_at<Ipv6Hdr>(b, off);
  return x->vtc_flow == y->vtc_flow && x->hop_limit == y->hop_limit &&
         x->next_header == y->next_header && std::memcmp(x + 1, y + 1, len - sizeof(Ipv6Hdr)) == 0;
}

}  // namespace

// Largest TCP payload the merged packet may carry without an IP datagram
// (inner or outer, its header included) exceeding 65,535 bytes: Linux's GRO
// keeps to that for IPv6 too (GRO_LEGACY_MAX_SIZE), although IPv6's
// payload_length alone would allow 40 bytes more.
uint32_t payload_limit(const Layout& l) {
  auto room = [](uint32_t from, uint32_t to) { return kMaxIpLength - (to - from); };
  uint32_t limit = room(l.l3_off, l.header_len());
  if (l.tunnel) limit = std::min(limit, room(l.outer_l3_off, l.header_len()));
  return limit;
}

bool FlowKey::operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(o)) == 0; }

Eligibility classify(rte_mbuf* m, Segment& s) {
  s.m = m;
  if (parse(m, s.layout) != Reason::Ok) return Eligibility::NotTcp;
  const Layout& l = s.layout;
  fill_key(m, l, s.key);
  // Link padding past the IP datagram (short frames) must not end up inside a
  // merged payload; a chain whose padding cannot be trimmed is not merged, but
  // it still belongs to its flow: it flushes it rather than overtake it.
  if (m->pkt_len > l.ip_end && (m->pkt_len - l.ip_end > UINT16_MAX ||
                                rte_pktmbuf_trim(m, uint16_t(m->pkt_len - l.ip_end)) != 0))
    return Eligibility::FlowBreaking;
  const auto* tcp = header_at<TcpHdr>(m, l.l4_off);
  s.seq = tcp->seq();
  s.payload_len = l.payload_len();
  s.tcp_flags = tcp->flags;
  // A sender's large segment already is what GRO makes: it flushes its flow
  // and goes on whole, with its own MSS.
  if ((s.tcp_flags & kBreakingFlags) || !(s.tcp_flags & TcpHdr::kAck) || s.payload_len == 0 ||
      (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG))
    return Eligibility::FlowBreaking;
  if (!checksums_ok(m, l)) return Eligibility::BadChecksum;
  return Eligibility::Mergeable;
}

Join can_join(const Flow& f, const Segment& s) {
  if (!(s.seq == f.next_seq)) return Join::OutOfOrder;
  const Layout& l = f.layout;
  const Layout& n = s.layout;
  if (n.header_len() != l.header_len() || n.l4_off != l.l4_off || n.l3_off != l.l3_off)
    return Join::Mismatch;
  const auto* th = header_at<TcpHdr>(f.head, l.l4_off);
  const auto* ts = header_at<TcpHdr>(s.m, n.l4_off);
  if (th->ack_raw != ts->ack_raw || th->header_len() != ts->header_len() ||
      std::memcmp(th + 1, ts + 1, th->header_len() - sizeof(TcpHdr)) != 0)
    return Join::Mismatch;
  if (s.payload_len > f.mss || f.payload_len + s.payload_len > f.payload_max)
    return Join::Mismatch;
  if (!ip_fields_match(f.head, s.m, l.ip, l.l3_off, l.l3_len)) return Join::Mismatch;
  if (l.tunnel && (n.outer_l3_len != l.outer_l3_len ||
                   !ip_fields_match(f.head, s.m, l.outer_ip, l.outer_l3_off, l.outer_l3_len)))
    return Join::Mismatch;
  if (l.ip == IpVer::V4) {
    const auto* ip = header_at<Ipv4Hdr>(s.m, n.l3_off);
    uint16_t id = ip->id.get();
    // IDs increase by one per segment, or stay fixed where DF makes them
    // meaningless (RFC 6864), as Linux GRO accepts.
    bool id_ok = id == uint16_t(f.last_ip_id + 1) || (ip->dont_fragment() && id == f.last_ip_id);
    if (!id_ok) return Join::Mismatch;
  }
  return Join::Merge;
}

void start_flow(Flow& f, const Segment& s, uint32_t hash, uint64_t now) {
  f.key = s.key;
  f.hash = hash;
  f.head = s.m;
  f.tail = rte_pktmbuf_lastseg(s.m);
  f.layout = s.layout;
  f.next_seq = s.seq + s.payload_len;
  f.payload_len = s.payload_len;
  f.payload_max = payload_limit(s.layout);
  f.mss = uint16_t(s.payload_len);
  f.segments = 1;
  f.last_ip_id =
      s.layout.ip == IpVer::V4 ? header_at<Ipv4Hdr>(s.m, s.layout.l3_off)->id.get() : 0;
  f.flags_seen = s.tcp_flags;
  f.window = header_at<TcpHdr>(s.m, s.layout.l4_off)->window;
  f.start_tsc = now;
  make_template(f);
}

void append(Flow& f, Segment& s) {
  rte_mbuf* p = s.m;
  const Layout& l = s.layout;
  // The newest window is the receiver's best information; finish() writes it
  // (the head's header is cold by now, this segment's is not).
  f.window = header_at<TcpHdr>(p, l.l4_off)->window;
  if (l.ip == IpVer::V4) f.last_ip_id = header_at<Ipv4Hdr>(p, l.l3_off)->id.get();
  uint16_t hlen = l.header_len();
  if (p->data_len == hlen) {
    // Nothing but headers in the first mbuf: drop it rather than chain an empty one.
    rte_mbuf* rest = p->next;
    rest->pkt_len = p->pkt_len - hlen;
    rest->nb_segs = uint16_t(p->nb_segs - 1);
    p->next = nullptr;
    p->nb_segs = 1;
    rte_pktmbuf_free_seg(p);
    p = rest;
  } else {
    rte_pktmbuf_adj(p, hlen);
  }
  f.tail->next = p;
  f.head->nb_segs = uint16_t(f.head->nb_segs + p->nb_segs);
  f.head->pkt_len += p->pkt_len;
  f.tail = rte_pktmbuf_lastseg(p);
  f.next_seq = f.next_seq + s.payload_len;
  f.payload_len += s.payload_len;
  f.segments++;
  f.flags_seen |= s.tcp_flags;
}

}  // namespace vo::gro
