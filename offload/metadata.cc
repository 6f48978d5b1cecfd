#include "metadata.h"

#include <rte_mbuf.h>

#include "checksum.h"
#include "parse.h"

namespace vo {
namespace {

constexpr uint64_t kTxMeta = RTE_MBUF_F_TX_OFFLOAD_MASK;

// Sets partial-checksum metadata for the L4 header the layout found.
void set_partial(rte_mbuf* m, const Layout& l) {
  apply_lengths(m, l);
  uint64_t l4 = l.l4_proto == kIpProtoTcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
  m->ol_flags = (m->ol_flags & ~kTxMeta) | tx_ip_flags(l) | l4;
}

}  // namespace

bool is_large_segment(const rte_mbuf* m) { return m->ol_flags & RTE_MBUF_F_TX_TCP_SEG; }

bool has_partial_checksum(const rte_mbuf* m) {
  return (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0 || is_large_segment(m);
}

Reason mark_tso(rte_mbuf* m, uint16_t mss) {
  Layout l;
  if (Reason r = parse(m, l, ParseOptions{.exact_length = true}); r != Reason::Ok) return r;
  if (mss == 0) return Reason::MssZero;
  if (m->pkt_len > kMaxGsoPacketLen) return Reason::TooLarge;
  if (l.payload_len() <= mss) {  // one segment's worth: nothing to cut later
    set_partial(m, l);
    return Reason::Ok;
  }
  apply_lengths(m, l);
  m->tso_segsz = mss;
  m->ol_flags = (m->ol_flags & ~kTxMeta) | tx_ip_flags(l) | RTE_MBUF_F_TX_TCP_SEG |
                RTE_MBUF_F_TX_TCP_CKSUM | (l.ip == IpVer::V4 ? RTE_MBUF_F_TX_IP_CKSUM : 0);
  return Reason::Ok;
}

Reason mark_tso_from_peer(rte_mbuf* m, uint16_t mss) {
  if (mss != 0 && mss < kMinPeerMss) return Reason::MssTooSmall;
  return mark_tso(m, mss);
}

Reason mark_partial_checksum(rte_mbuf* m) {
  Layout l;
  Reason r = parse(m, l);
  if (r == Reason::NotTcp && l.l4_proto == kIpProtoUdp &&
      l.l4_off + sizeof(UdpHdr) <= std::min<uint32_t>(l.ip_end, m->data_len))
    r = Reason::Ok;
  if (r != Reason::Ok) return r;
  set_partial(m, l);
  return Reason::Ok;
}

uint32_t l4_offset(const rte_mbuf* m) {
  return m->outer_l2_len + m->outer_l3_len + m->l2_len + m->l3_len;
}

uint32_t headers_len(const rte_mbuf* m) { return l4_offset(m) + m->l4_len; }

Reason finish_checksum(rte_mbuf* m) {
  uint64_t l4 = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;
  if (l4 != RTE_MBUF_F_TX_TCP_CKSUM && l4 != RTE_MBUF_F_TX_UDP_CKSUM) return Reason::Ok;
  uint32_t start = l4_offset(m);
  bool tcp = l4 == RTE_MBUF_F_TX_TCP_CKSUM;
  uint32_t offset = tcp ? kTcpChecksumOffset : kUdpChecksumOffset;
  if (!complete_partial_checksum(m, start, offset)) return Reason::ChainLengthMismatch;
  if (!tcp) {  // RFC 768: a computed zero is sent as all ones
    auto* udp = rte_pktmbuf_mtod_offset(m, UdpHdr*, start);
    if (start + sizeof(UdpHdr) <= m->data_len && udp->checksum.raw() == 0)
      udp->checksum.set_raw(0xffff);
  }
  m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
  return Reason::Ok;
}

uint32_t segment_frame_len(const rte_mbuf* m) {
  return headers_len(m) + m->tso_segsz;
}

}  // namespace vo
