// Shared between the GSO splitter and the per-protocol header fix-ups.
#pragma once

#include <cstdint>

#include "checksum.h"
#include "gso.h"
#include "parse.h"

struct rte_mbuf;

namespace vo::gso {

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
  [[nodiscard]] bool needs_payload_sum() const {
    return checksum == ChecksumMode::Full || outer_udp_checksum;
  }
  [[nodiscard]] uint32_t segment_payload(uint16_t index) const {
    return index + 1 < count ? mss : payload_len - uint32_t(mss) * (count - 1);
  }
};

// Rewrites the headers of segment `index` (already copied to the start of
// `seg`) for a segment carrying `payload_len` bytes whose sum is `payload_sum`
// (unused unless plan.needs_payload_sum()). One function per layer, outer last.
void fix_segment_headers(rte_mbuf* seg, const Plan& plan, uint16_t index, uint32_t payload_len,
                         const Checksum& payload_sum);

// Splitters: build plan.count segments into out[]. Ok, or NoMemory / TooManySegments
// with nothing allocated and the input untouched. On Ok they consume the input.
Reason split_attach(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& plan, rte_mbuf** out);
Reason split_copy(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& plan, rte_mbuf** out);

// Copies the header bytes and metadata of `pkt` into a fresh segment `seg`.
void start_segment(rte_mbuf* seg, const rte_mbuf* pkt, const Plan& plan);

}  // namespace vo::gso
