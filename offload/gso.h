// Software GSO: one TCP segment of up to 64 KB, marked for segmentation, becomes
// MSS-sized packets that a receiver takes as if a kernel had sent them.
//
// Supported: Ethernet [+802.1Q] / IPv4 (with options) | IPv6 / TCP (with
// options), and the same inside VXLAN over UDP over IPv4 | IPv6.
#pragma once

#include <cstdint>

#include "reason.h"

struct rte_mbuf;
struct rte_mempool;

namespace vo {

enum class ChecksumMode : uint8_t {
  Full,          // every checksum complete in software
  PseudoForNic,  // TCP field holds the pseudo-header sum; RTE_MBUF_F_TX_TCP_CKSUM set for the NIC
};

enum class PayloadMode : uint8_t {
  Attach,  // segments reference the input's payload through indirect/external mbufs
  Copy,    // payload copied (and checksummed in the same pass) into one mbuf per segment
};

struct GsoConfig {
  rte_mempool* header_pool = nullptr;    // direct mbufs: segment headers, or whole segments when copying
  rte_mempool* indirect_pool = nullptr;  // data-less mbufs attached to the input (Attach mode)
  ChecksumMode checksum = ChecksumMode::Full;
  // Attach measured faster on every case of `tools/bench engine` (see README).
  PayloadMode payload = PayloadMode::Attach;
};

struct GsoResult {
  Reason reason = Reason::Ok;
  uint16_t segments = 0;
};

// Segments `pkt`, which must carry RTE_MBUF_F_TX_TCP_SEG and tso_segsz (the MSS).
//
// On Reason::Ok, out[0..segments) hold the segments and the input has been
// consumed: its buffers belong to the segments now. On any other reason, `out`
// holds nothing, the input is unchanged and still the caller's, and nothing
// was allocated.
//
// Per segment: headers copied; TCP sequence advanced; FIN and PSH kept on the
// last segment only, CWR on the first only; IPv4 total length, ID (original + n)
// and header checksum; IPv6 payload length; for VXLAN, the outer IP length,
// ID, header checksum and UDP length (UDP checksum recomputed if it was set).
[[nodiscard]] GsoResult gso_segment(const GsoConfig& cfg, rte_mbuf* pkt, rte_mbuf** out,
                                    uint16_t out_cap);

// The largest packet gso_segment() takes: a 65,535-byte IPv6 payload behind
// its fixed header, 802.1Q-tagged Ethernet.
constexpr uint32_t kMaxGsoPacketLen = 65535 + 40 + 18;

}  // namespace vo
