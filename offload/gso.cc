#include "gso.h"

#include <rte_mbuf.h>

#include "gso_internal.h"

namespace vo {
namespace gso {
namespace {

Reason make_plan(const GsoConfig& cfg, const rte_mbuf* pkt, uint16_t out_cap, Plan& p) {
  if (!(pkt->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) return Reason::NotMarkedForTso;
  if (pkt->pkt_len > kMaxGsoPacketLen) return Reason::TooLarge;
  if (Reason r = parse(pkt, p.layout, ParseOptions{.exact_length = true}); r != Reason::Ok)
    return r;
  p.mss = pkt->tso_segsz;
  if (p.mss == 0) return Reason::MssZero;
  p.payload_len = p.layout.payload_len();
  if (p.payload_len <= p.mss) return Reason::MssExceedsPayload;
  uint32_t count = (p.payload_len + p.mss - 1) / p.mss;
  if (count > out_cap) return Reason::TooManySegments;
  p.count = uint16_t(count);
  p.checksum = cfg.checksum;
  if (p.layout.tunnel)
    p.outer_udp_checksum =
        header_at<UdpHdr>(pkt, p.layout.outer_l4_off)->checksum.raw() != 0;
  return Reason::Ok;
}

uint64_t segment_ol_flags(const rte_mbuf* pkt, const Plan& p) {
  constexpr uint64_t kKeep = RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_TX_QINQ | RTE_MBUF_F_RX_VLAN |
                             RTE_MBUF_F_RX_VLAN_STRIPPED;
  uint64_t f = pkt->ol_flags & kKeep;
  if (p.checksum == ChecksumMode::Full || p.outer_udp_checksum) return f;
  // Every header is final but the TCP checksum, which the NIC completes from
  // the pseudo-header sum we left in it.
  return f | RTE_MBUF_F_TX_TCP_CKSUM | tx_ip_flags(p.layout);
}

// What every segment shares, computed once per input.
void finish_plan(const rte_mbuf* pkt, Plan& p) {
  p.segment_ol_flags = segment_ol_flags(pkt, p);
  rte_mbuf lengths;
  lengths.tx_offload = 0;
  apply_lengths(&lengths, p.layout);
  p.segment_tx_offload = lengths.tx_offload;
  make_header_template(pkt, p);
}

}  // namespace

}  // namespace gso

GsoResult gso_segment(const GsoConfig& cfg, rte_mbuf* pkt, rte_mbuf** out, uint16_t out_cap) {
  gso::Plan plan;
  if (Reason r = gso::make_plan(cfg, pkt, out_cap, plan); r != Reason::Ok) return {r, 0};
  gso::finish_plan(pkt, plan);
  Reason r = cfg.payload == PayloadMode::Attach ? gso::split_attach(cfg, pkt, plan, out)
                                                : gso::split_copy(cfg, pkt, plan, out);
  if (r != Reason::Ok) return {r, 0};
  return {Reason::Ok, plan.count};
}

}  // namespace vo
