#include "egress.h"

#include <rte_mbuf.h>

#include "offload/metadata.h"

namespace vo {
namespace {

// Segments a large segment is cut into at its MSS.
uint32_t segments_of(const rte_mbuf* m) {
  uint32_t headers = segment_frame_len(m) - m->tso_segsz;
  uint32_t payload = m->pkt_len > headers ? m->pkt_len - headers : 0;
  return (payload + m->tso_segsz - 1) / m->tso_segsz;
}

bool takes_whole(const TxCaps& caps, const rte_mbuf* m) {
  bool v4 = m->ol_flags & RTE_MBUF_F_TX_IPV4;
  bool tunnel = m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK;
  return (v4 ? caps.tso4 : caps.tso6) && (!tunnel || caps.tunnel_tso) &&
         m->pkt_len <= caps.max_large &&
         segment_frame_len(m) <= caps.max_tso_frame &&
         (caps.max_tso_segments == 0 || segments_of(m) <= caps.max_tso_segments);
}

uint16_t drop(PortStats& stats, rte_mbuf* m, Reason r) {
  stats.tx_invalid.add(r);
  rte_pktmbuf_free(m);
  return 0;
}

uint16_t segment(const GsoConfig& base, const TxCaps& caps, PortStats& stats, rte_mbuf* pkt,
                 rte_mbuf** out) {
  GsoConfig cfg = base;
  cfg.checksum = caps.l4_csum ? ChecksumMode::PseudoForNic : ChecksumMode::Full;
  GsoResult r = gso_segment(cfg, pkt, out, kMaxEgressSegments);
  if (r.reason != Reason::Ok) return drop(stats, pkt, r.reason);
  stats.gso_packets++;
  stats.gso_segments += r.segments;
  uint16_t kept = 0;
  for (uint16_t i = 0; i < r.segments; ++i) {
    if (out[i]->pkt_len > caps.max_frame) {  // the sender's MSS does not fit this port
      stats.too_big_dropped++;
      rte_pktmbuf_free(out[i]);
      continue;
    }
    out[kept++] = out[i];
  }
  return kept;
}

}  // namespace

uint16_t prepare_egress(const GsoConfig& gso, const TxCaps& caps, PortStats& stats, rte_mbuf* pkt,
                        rte_mbuf** out) {
  if (is_large_segment(pkt)) {
    if (takes_whole(caps, pkt)) {
      out[0] = pkt;
      return 1;
    }
    return segment(gso, caps, stats, pkt, out);
  }
  if (pkt->pkt_len > caps.max_frame) {
    stats.too_big_dropped++;
    rte_pktmbuf_free(pkt);
    return 0;
  }
  if (has_partial_checksum(pkt) && !caps.l4_csum) {
    if (Reason r = finish_checksum(pkt); r != Reason::Ok) return drop(stats, pkt, r);
    stats.csum_completed++;
  }
  out[0] = pkt;
  return 1;
}

}  // namespace vo
