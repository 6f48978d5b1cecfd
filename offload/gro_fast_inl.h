// GRO's fast path: the next in-order segment of a held flow, recognised by
// comparing its header bytes with the flow's head instead of parsing it. A
// stream of MSS segments is nearly all such segments; anything else (a new
// flow, a flag, a tunnel, a chain, a stripped VLAN tag) takes the full path.
// Inline: it runs once per segment, and as one function with the table's
// lookup it is a quarter faster than as a call.
#pragma once

#include <rte_mbuf.h>

#include <cstring>

#include "gro_flow.h"

namespace vo::gro {

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The checksum verdicts the fast path takes without looking further: the NIC's
// GOOD, or NONE ("data valid, field not filled", as a virtio NEEDS_CSUM packet
// arrives); an IPv6 header has no checksum. Anything else asks checksums_ok().
inline bool checksum_flags_good(uint64_t ol_flags, IpVer ip) {
  uint64_t l4 = ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  uint64_t l3 = ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  return (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE) &&
         (ip == IpVer::V6 || l3 == RTE_MBUF_F_RX_IP_CKSUM_GOOD ||
          l3 == RTE_MBUF_F_RX_IP_CKSUM_NONE);
}

// Whether the header bytes at `p` equal the template wherever its mask says:
// 16 bytes per step, in the vector registers every target has.
inline bool matches(const HeaderTemplate& t, const uint8_t* p) {
  using Block = HeaderTemplate::Block;
  Block diff = {0, 0};
  for (uint32_t i = 0; i < t.bytes_compared / sizeof(Block); ++i) {
    Block b;
    std::memcpy(&b, p + i * sizeof(Block), sizeof(Block));
    diff |= (b & t.mask[i]) ^ t.bytes[i];
  }
  return (diff[0] | diff[1]) == 0;
}

// Appends `m` to `f` when it is the flow's next segment and may join it, and
// returns its payload length; 0 decides nothing (`m` is untouched, the full
// path decides).
inline uint32_t fast_append(Flow& f, rte_mbuf* m) {
  const HeaderTemplate& t = f.tmpl;
  if (t.bytes_compared == 0 || m->nb_segs != 1 || m->data_len < t.bytes_compared) return 0;
  // A stripped tag is not in the bytes the template compares: the VLAN
  // (the switch carries every frame untagged) must equal the flow's.
  const bool stripped = m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED;
  if (stripped != (f.key.has_vlan == 2) || (stripped && (m->vlan_tci & 0x0fff) != f.key.vlan))
    return 0;
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const Layout& l = f.layout;
  // The ports first: a segment of another flow is most often told by them,
  // for less than the whole comparison.
  if (load32(p + l.l4_off) != load32(reinterpret_cast<const uint8_t*>(t.bytes) + l.l4_off) ||
      !matches(t, p))
    return 0;
  const uint16_t hlen = l.header_len();
  if (m->pkt_len <= hlen) return 0;
  // The IP length must cover exactly the bytes present, as the full path
  // requires of a segment it merges (after trimming link padding).
  const uint32_t ip_len = m->pkt_len - l.l3_off;
  uint16_t id = 0;
  if (l.ip == IpVer::V4) {
    const auto* ip = reinterpret_cast<const Ipv4Hdr*>(p + l.l3_off);
    id = ip->id.get();
    if (ip->total_length.get() != ip_len ||
        (id != uint16_t(f.last_ip_id + 1) && !(ip->dont_fragment() && id == f.last_ip_id)))
      return 0;
  } else {
    const auto* ip = reinterpret_cast<const Ipv6Hdr*>(p + l.l3_off);
    if (ip->payload_length.get() + sizeof(Ipv6Hdr) != ip_len) return 0;
  }
  const auto* tcp = reinterpret_cast<const TcpHdr*>(p + l.l4_off);
  const uint32_t payload = m->pkt_len - hlen;
  if (!(tcp->seq() == f.next_seq) || payload > f.mss || f.payload_len + payload > f.payload_max)
    return 0;
  if (!checksum_flags_good(m->ol_flags, l.ip)) {
    Layout exact = l;
    exact.ip_end = m->pkt_len;
    if (!checksums_ok(m, exact)) return 0;
  }
  // The template matched the flags byte: they equal the head's (a plain ACK),
  // so flags_seen stays as it is. The newest window is the receiver's best
  // information; finish() writes it.
  f.window = tcp->window;
  f.last_ip_id = id;
  m->data_off = uint16_t(m->data_off + hlen);
  m->data_len = uint16_t(payload);
  m->pkt_len = payload;
  f.tail->next = m;
  f.tail = m;
  f.head->nb_segs++;
  f.head->pkt_len += payload;
  f.next_seq = f.next_seq + payload;
  f.payload_len += payload;
  f.segments++;
  return payload;
}

}  // namespace vo::gro
