// Parsing: where each header of a packet starts, checked against the bytes that
// are really there. Input is untrusted: every length a header claims is
// compared with the buffer before anything reads past it.
#pragma once

#include <cstdint>

#include "headers.h"
#include "reason.h"

struct rte_mbuf;

namespace vo {

enum class IpVer : uint8_t { V4, V6 };

// Offsets are from the start of the packet (rte_pktmbuf_mtod). All headers lie
// in the first mbuf of a chain; the payload may run on through the chain.
struct Layout {
  // L2: the (outer, for a tunnel) Ethernet header and its optional 802.1Q tag.
  bool has_vlan = false;
  uint16_t vlan_tci = 0;

  // VXLAN tunnel: outer IP, UDP and VXLAN; the fields below are then the inner packet's.
  bool tunnel = false;
  IpVer outer_ip = IpVer::V4;
  uint16_t outer_l3_off = 0;
  uint16_t outer_l3_len = 0;
  uint16_t outer_l4_off = 0;   // UDP
  uint16_t inner_l2_off = 0;   // inner Ethernet
  uint32_t outer_ip_end = 0;   // outer_l3_off + outer IP datagram length

  // The (inner) IP and L4 headers.
  IpVer ip = IpVer::V4;
  uint16_t l3_off = 0;
  uint16_t l3_len = 0;
  uint16_t l4_off = 0;
  uint16_t l4_len = 0;
  uint8_t l4_proto = 0;
  uint32_t ip_end = 0;  // l3_off + IP datagram length; bytes past it are link padding

  [[nodiscard]] uint16_t header_len() const { return l4_off + l4_len; }
  [[nodiscard]] uint32_t payload_len() const { return ip_end - header_len(); }
};

struct ParseOptions {
  // The IP length must equal the bytes present (no link padding): true for a
  // packet handed over for segmentation, which a sender builds exactly.
  bool exact_length = false;
  bool decap_vxlan = true;
};

// Parses an Ethernet/[802.1Q]/IPv4|IPv6/TCP packet, or one VXLAN-encapsulated in
// UDP over IPv4|IPv6. Reason::Ok means `out` describes a TCP packet whose headers
// are all present in the first mbuf. Reason::NotTcp still fills L2/L3.
[[nodiscard]] Reason parse(const rte_mbuf* m, Layout& out, ParseOptions opts = {});

// Writes the layout into the mbuf's l2/l3/l4 (and outer) lengths, DPDK's convention.
void apply_lengths(rte_mbuf* m, const Layout& l);
// The mbuf flags naming the layout's IP versions and tunnel (RTE_MBUF_F_TX_IPV4/6,
// and TX_TUNNEL_VXLAN with TX_OUTER_IPV4/6), which go with those lengths.
[[nodiscard]] uint64_t tx_ip_flags(const Layout& l);

// Typed access to a header at an offset the parser has checked.
template <typename H>
[[nodiscard]] H* header_at(rte_mbuf* m, uint32_t off);
template <typename H>
[[nodiscard]] const H* header_at(const rte_mbuf* m, uint32_t off);

}  // namespace vo

#include "parse_inl.h"
