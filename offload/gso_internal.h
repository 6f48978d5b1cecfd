// Shared between the GSO splitter and the per-protocol header fix-ups.
#pragma once

#include <cstdint>
#include <cstring>

#include "checksum.h"
#include "gso.h"
#include "parse.h"

struct rte_mbuf;

namespace vo::gso {

// An IPv4 header's part of the template: every segment's header is the
// input's with the total length and ID changed, so its checksum is this sum
// plus the two new fields.
struct Ipv4Template {
  uint32_t sum = 0;  // raw sum of the input's header without total length, ID and checksum
  uint16_t id = 0;   // the input's ID, host order
};

// The per-input constants from which each segment's headers are written: the
// input's header bytes, copied as they are, and the partial sums of the fields
// that change. Every changed field and checksum is then computed in registers;
// nothing is read back from the segment being written (such reads stalled on
// the wide stores of the copy).
struct HeaderTemplate {
  const uint8_t* bytes = nullptr;  // the input's headers: Layout::header_len() bytes
  Ipv4Template ip;                 // the (inner) IP header, if IPv4
  Ipv4Template outer_ip;           // the outer IP header of a tunnel, if IPv4
  uint16_t pseudo_sum = 0;         // TCP pseudo-header with a zero length: addresses and protocol
  uint16_t tcp_sum = 0;            // TCP header without seq, offset+flags word and checksum
  uint32_t seq = 0;                // the input's sequence number
  uint8_t data_off = 0;            // TCP data offset byte
  uint8_t flags = 0;               // the input's TCP flags
};

// What gso_segment() decided about one input, before it builds anything.
struct Plan {
  Layout layout;
  uint16_t mss = 0;
  uint16_t count = 0;         // segments
  uint32_t payload_len = 0;   // TCP payload of the whole input
  ChecksumMode checksum = ChecksumMode::Full;
  bool outer_udp_checksum = false;  // tunnel whose UDP checksum was set: recompute it
  // The same for every segment, so worked out once per input:
  uint64_t segment_ol_flags = 0;
  uint64_t segment_tx_offload = 0;  // the l2/l3/l4 (and outer) lengths, packed as the mbuf holds them
  HeaderTemplate tmpl;
  [[nodiscard]] bool needs_payload_sum() const {
    return checksum == ChecksumMode::Full || outer_udp_checksum;
  }
  [[nodiscard]] uint32_t segment_payload(uint16_t index) const {
    return index + 1 < count ? mss : payload_len - uint32_t(mss) * (count - 1);
  }
};

// Fills plan.tmpl from the headers of `pkt` (parsed into plan.layout).
void make_header_template(const rte_mbuf* pkt, Plan& plan);

// The tunnel's outer UDP checksum of a segment whose headers are final at
// `hdr` (only when plan.outer_udp_checksum): a sum over all its headers, rare
// enough to be read back.
void fix_outer_udp_checksum(uint8_t* hdr, const Plan& plan, uint32_t payload_len,
                            const Checksum& payload_sum);

// Splitters: build plan.count segments into out[]. Ok, or NoMemory / TooManySegments
// with nothing allocated and the input untouched. On Ok they consume the input.
Reason split_attach(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& plan, rte_mbuf** out);
Reason split_copy(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& plan, rte_mbuf** out);

// Per-segment header writes: inline, as the splitters' loops run them once per
// segment (model: DPDK lib/gso update_*_header, OVS dp_packet_gso_update_segment).
namespace detail {

template <typename H>
H* at(uint8_t* hdr, uint32_t off) {
  return reinterpret_cast<H*>(hdr + off);
}

// Copies `len` bytes (at least 16: a parsed packet has Ethernet, IP and TCP
// headers) in 16-byte moves, the last one overlapping the one before: no call
// to memcpy for a length known only at run time, and no byte outside [0, len)
// read or written.
inline void copy_headers(uint8_t* dst, const uint8_t* src, uint32_t len) {
  for (uint32_t i = 0; i + 16 < len; i += 16) std::memcpy(dst + i, src + i, 16);
  std::memcpy(dst + len - 16, src + len - 16, 16);
}

// IP header at `off` for a datagram of `ip_len` bytes (header included).
inline void write_ip(uint8_t* hdr, IpVer ver, const Ipv4Template& t, uint32_t off,
                     uint32_t ip_len, uint16_t index) {
  if (ver == IpVer::V6) {
    at<Ipv6Hdr>(hdr, off)->payload_length.set(uint16_t(ip_len - sizeof(Ipv6Hdr)));
    return;
  }
  auto* ip = at<Ipv4Hdr>(hdr, off);
  // Linux and rte_gso both number segments from the original ID (RFC 6864
  // lets an atomic datagram's ID be anything; incrementing suits both kinds).
  const be16 len = be16::from_host(uint16_t(ip_len));
  const be16 id = be16::from_host(uint16_t(t.id + index));
  ip->total_length = len;
  ip->id = id;
  ip->checksum.set_raw(uint16_t(~fold_sum32(t.sum + len.raw() + id.raw())));
}

inline void write_tcp(uint8_t* hdr, const Plan& p, uint16_t index, uint32_t payload_len,
                      const Checksum& payload_sum) {
  const HeaderTemplate& t = p.tmpl;
  auto* tcp = at<TcpHdr>(hdr, p.layout.l4_off);
  const TcpSeq seq = TcpSeq(t.seq) + uint32_t(index) * p.mss;
  // As the kernel's tcp_gso_segment: CWR belongs to the first segment, FIN and
  // PSH to the last.
  uint8_t flags = t.flags;
  if (index != 0) flags &= uint8_t(~TcpHdr::kCwr);
  if (index + 1 != p.count) flags &= uint8_t(~(TcpHdr::kFin | TcpHdr::kPsh));
  tcp->set_seq(seq);
  tcp->flags = flags;
  const be16 l4_len = be16::from_host(uint16_t(p.layout.l4_len + payload_len));
  if (!p.needs_payload_sum()) {  // PseudoForNic: the NIC sums header and payload
    tcp->checksum.set_raw(fold_sum32(t.pseudo_sum + l4_len.raw()));
    return;
  }
  const uint32_t seq_raw = be32::from_host(seq.value()).raw();
  const uint16_t off_flags = be16::from_host(uint16_t(t.data_off << 8 | flags)).raw();
  Checksum c;
  c.add_raw16(fold_sum32(t.pseudo_sum + l4_len.raw() + t.tcp_sum + (seq_raw & 0xffff) +
                         (seq_raw >> 16) + off_flags));
  c.add(payload_sum);
  tcp->checksum.set_raw(c.finish());
}

inline void write_outer(uint8_t* hdr, const Plan& p, uint16_t index, uint32_t payload_len,
                        const Checksum& payload_sum) {
  const Layout& l = p.layout;
  const uint32_t seg_end = l.header_len() + payload_len;
  write_ip(hdr, l.outer_ip, p.tmpl.outer_ip, l.outer_l3_off, seg_end - l.outer_l3_off, index);
  at<UdpHdr>(hdr, l.outer_l4_off)->length.set(uint16_t(seg_end - l.outer_l4_off));
  // A zero checksum stays zero (RFC 7348 section 5, RFC 6935).
  if (p.outer_udp_checksum) fix_outer_udp_checksum(hdr, p, payload_len, payload_sum);
}

}  // namespace detail

// Writes the headers of segment `index` to `hdr`: the input's, with the fields
// that differ per segment for one carrying `payload_len` bytes whose sum is
// `payload_sum` (unused unless plan.needs_payload_sum()). Outer last, as its
// UDP checksum covers the inner headers.
inline void write_segment_headers(uint8_t* hdr, const Plan& p, uint16_t index,
                                  uint32_t payload_len, const Checksum& payload_sum) {
  const Layout& l = p.layout;
  detail::copy_headers(hdr, p.tmpl.bytes, l.header_len());
  detail::write_ip(hdr, l.ip, p.tmpl.ip, l.l3_off, l.l3_len + l.l4_len + payload_len, index);
  detail::write_tcp(hdr, p, index, payload_len, payload_sum);
  if (l.tunnel) detail::write_outer(hdr, p, index, payload_len, payload_sum);
}

}  // namespace vo::gso
