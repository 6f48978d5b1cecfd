// The offload metadata a packet carries between ports, on the mbuf itself.
// Every port translates its wire format (virtio_net_hdr, NIC flags) to and
// from exactly this, and the egress stage reads nothing else:
//
//  * Large segment: RTE_MBUF_F_TX_TCP_SEG, tso_segsz = MSS, TX_IPV4/TX_IPV6,
//    l2/l3/l4 lengths (and outer ones for VXLAN). Checked by mark_tso().
//  * Partial checksum: RTE_MBUF_F_TX_TCP_CKSUM or TX_UDP_CKSUM with l2/l3
//    lengths; the L4 checksum field holds the pseudo-header sum
//    (virtio NEEDS_CSUM, Linux CHECKSUM_PARTIAL). A large segment always has it.
//  * Neither: every checksum in the packet is final.
#pragma once

#include <cstdint>

#include "gso.h"
#include "reason.h"

struct rte_mbuf;

namespace vo {

[[nodiscard]] bool is_large_segment(const rte_mbuf* m);
[[nodiscard]] bool has_partial_checksum(const rte_mbuf* m);

// Where the (innermost) L4 header starts, and where the headers end, as the
// metadata's lengths say (outer ones included).
[[nodiscard]] uint32_t l4_offset(const rte_mbuf* m);
[[nodiscard]] uint32_t headers_len(const rte_mbuf* m);

// Validates a packet that claims to be a TCP segment to be cut at `mss`
// (parse with exact lengths) and sets the large-segment metadata. A packet
// whose payload fits one MSS is not large: it keeps (or gets) only the partial
// checksum metadata and Reason::Ok. Any refusal leaves the packet unchanged.
[[nodiscard]] Reason mark_tso(rte_mbuf* m, uint16_t mss);

// The smallest MSS a peer may ask a large segment to be cut at: TCP's
// minimum (Linux's TCP_MIN_MSS). Below it a 64 KB segment would become
// thousands of packets; no stack sends such a segment but a hostile one.
constexpr uint16_t kMinPeerMss = 88;

// mark_tso() for a large segment a port received (from a guest, a kernel, a
// NIC's LRO): an MSS below kMinPeerMss is refused too.
[[nodiscard]] Reason mark_tso_from_peer(rte_mbuf* m, uint16_t mss);

// Marks a TCP or UDP packet whose L4 checksum field holds the pseudo-header sum.
[[nodiscard]] Reason mark_partial_checksum(rte_mbuf* m);

// Completes a partial checksum in software and clears the metadata.
[[nodiscard]] Reason finish_checksum(rte_mbuf* m);

// Largest L2 frame a segment of `m` would be (headers + MSS).
[[nodiscard]] uint32_t segment_frame_len(const rte_mbuf* m);

}  // namespace vo
