#include "virtio_net_hdr.h"

#include <rte_mbuf.h>

#include "offload/gso.h"
#include "offload/headers.h"
#include "offload/metadata.h"
#include "offload/parse.h"

namespace vo {
namespace {

// The header fields alone, before the bytes are parsed. Bounds follow what
// the kernel's own virtio_net_hdr_to_skb() refuses (include/linux/virtio_net.h)
// and virtio 1.2 section 5.1.6.2: GSO needs NEEDS_CSUM and a non-zero
// gso_size; ECN is a modifier of a TCP gso_type, never a type of its own.
Reason check_fields(const VirtioNetHdr& h, uint32_t pkt_len) {
  if (pkt_len > kMaxGsoPacketLen) return Reason::TooLarge;
  uint8_t kind = h.gso_kind();
  if (kind == VirtioNetHdr::kGsoUdp || kind == VirtioNetHdr::kGsoUdpL4)
    return Reason::HdrUnsupportedGso;
  if (kind != VirtioNetHdr::kGsoNone && kind != VirtioNetHdr::kGsoTcpv4 &&
      kind != VirtioNetHdr::kGsoTcpv6)
    return Reason::HdrBadGsoType;
  if (kind == VirtioNetHdr::kGsoNone && h.gso_ecn()) return Reason::HdrBadGsoType;
  if (kind != VirtioNetHdr::kGsoNone) {
    if (h.gso_size.get() == 0) return Reason::MssZero;
    if (!h.needs_csum()) return Reason::HdrGsoWithoutCsum;
  }
  // hdr_len is only a hint (5.1.6.2.2), but one past the packet is a lie
  // that tun itself refuses (tun_vnet_hdr_get()).
  if (h.hdr_len.get() > pkt_len) return Reason::HdrLenPastPacket;
  if (h.needs_csum()) {
    uint32_t start = h.csum_start.get(), off = h.csum_offset.get();
    if (start >= pkt_len) return Reason::CsumStartPastPacket;
    if (start + off + sizeof(uint16_t) > pkt_len) return Reason::CsumOffsetOutOfRange;
  }
  return Reason::Ok;
}

// The checksum the header asks for must be the one the parser found: the L4
// header's start and its checksum field (for GSO, TCP's, as the kernel demands).
Reason check_csum_place(const VirtioNetHdr& h, const rte_mbuf* m) {
  if (h.csum_start.get() != l4_offset(m)) return Reason::CsumStartNotL4;
  bool tcp = (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM;
  uint16_t want = tcp ? kTcpChecksumOffset : kUdpChecksumOffset;
  if (h.csum_offset.get() != want) return Reason::CsumOffsetNotChecksum;
  return Reason::Ok;
}

}  // namespace

Reason metadata_from_hdr(const VirtioNetHdr& h, rte_mbuf* m) {
  m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
  m->tso_segsz = 0;
  if (Reason f = check_fields(h, m->pkt_len); f != Reason::Ok) return f;
  uint8_t kind = h.gso_kind();
  if (kind != VirtioNetHdr::kGsoNone) {
    if (Reason r = mark_tso_from_peer(m, h.gso_size.get()); r != Reason::Ok) return r;
    bool v4 = m->ol_flags & RTE_MBUF_F_TX_IPV4;
    if (v4 != (kind == VirtioNetHdr::kGsoTcpv4) || (m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK))
      return Reason::HdrGsoTypeMismatch;
    return check_csum_place(h, m);
  }
  if (h.needs_csum()) {
    if (Reason r = mark_partial_checksum(m); r != Reason::Ok) return r;
    return check_csum_place(h, m);
  }
  // Every checksum is final (or, with DATA_VALID, verified by the kernel):
  // nothing to mark, and the egress stage reads no metadata.
  return Reason::Ok;
}

VirtioNetHdr hdr_from_metadata(const rte_mbuf* m) {
  VirtioNetHdr h;
  if (!has_partial_checksum(m)) return h;
  uint32_t start = l4_offset(m);
  h.flags = VirtioNetHdr::kNeedsCsum;
  h.csum_start.set(uint16_t(start));
  bool tcp = is_large_segment(m) ||
             (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM;
  h.csum_offset.set(tcp ? kTcpChecksumOffset : kUdpChecksumOffset);
  if (!is_large_segment(m)) return h;
  h.gso_type = (m->ol_flags & RTE_MBUF_F_TX_IPV4) ? VirtioNetHdr::kGsoTcpv4
                                                   : VirtioNetHdr::kGsoTcpv6;
  // virtio 1.2 section 5.1.6.2: GSO_ECN says the segment has CWR set, so that
  // whoever cuts it puts CWR on the first segment only.
  if (header_at<TcpHdr>(m, start)->flags & TcpHdr::kCwr) h.gso_type |= VirtioNetHdr::kGsoEcn;
  h.gso_size.set(m->tso_segsz);
  h.hdr_len.set(uint16_t(start + m->l4_len));
  return h;
}

}  // namespace vo
