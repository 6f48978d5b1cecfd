// Taking an 802.1Q tag out of a frame and putting one in, with the offload
// metadata kept right: a tag lies inside the L2 header (the outer one of a
// tunnel), so its length moves with it. The switch carries a frame untagged,
// its VLAN in vlan_tci with RTE_MBUF_F_RX_VLAN_STRIPPED (DPDK's convention
// for a NIC that strips tags), and tags it again where it leaves on a trunk.
#pragma once

#include <cstdint>

#include "reason.h"

struct rte_mbuf;

namespace vo {

// Removes the tag that follows the Ethernet header and returns its TCI in
// `tci`. Reason::TruncatedVlan when the frame has no whole tag there,
// NoHeadroom when the first buffer is shared (not ours to rewrite).
[[nodiscard]] Reason vlan_pop(rte_mbuf* m, uint16_t& tci);

// Inserts a tag with `tci` after the Ethernet header. NoHeadroom when the
// first buffer has no 4 bytes in front of the frame or is shared.
[[nodiscard]] Reason vlan_push(rte_mbuf* m, uint16_t tci);

}  // namespace vo
