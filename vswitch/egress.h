// The one place that decides, per packet and from the egress port's
// capabilities alone, whether a packet leaves as it is, has its checksum
// finished, or is cut into segments in software (model: OVS dp-packet-gso).
#pragma once

#include <cstdint>

#include "offload/gso.h"
#include "ports/port.h"

struct rte_mbuf;

namespace vo {

// Prepares `pkt` (taken) for a port with `caps`; writes the packets to send to
// out[0..returned). A packet that cannot be prepared is freed and counted in
// `stats`; out must hold kMaxEgressSegments.
uint16_t prepare_egress(const GsoConfig& gso, const TxCaps& caps, PortStats& stats, rte_mbuf* pkt,
                        rte_mbuf** out);

// Segments of a 64 KB payload at the smallest MSS we expect to cut to (536, RFC 879).
constexpr uint16_t kMaxEgressSegments = 128;

}  // namespace vo
