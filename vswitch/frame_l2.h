// The Ethernet layer of a received frame, read once at ingress: what the
// switch core (learning, forwarding) and port security need of it.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "offload/headers.h"
#include "offload/parse.h"

namespace vo {

// The 802.1Q VID a frame is switched in (0 when untagged), the ether type
// behind its tag, and where that type's header starts. A tag cut short
// leaves ether_type 0x8100 with l3_off right after the Ethernet header.
struct FrameL2 {
  uint16_t vlan = 0;
  uint16_t ether_type = 0;
  uint32_t l3_off = sizeof(EthHdr);
  [[nodiscard]] bool tag_truncated() const {
    return ether_type == kEtherTypeVlan && l3_off == sizeof(EthHdr);
  }
};

// The caller has checked that the Ethernet header is there.
inline FrameL2 frame_l2(const rte_mbuf* m) {
  FrameL2 f;
  f.ether_type = header_at<EthHdr>(m, 0)->ether_type.get();
  if (f.ether_type == kEtherTypeVlan && m->data_len >= sizeof(EthHdr) + sizeof(VlanTag)) {
    const auto* tag = header_at<VlanTag>(m, sizeof(EthHdr));
    f.vlan = tag->vid();
    f.ether_type = tag->ether_type.get();
    f.l3_off += sizeof(VlanTag);
  }
  return f;
}

}  // namespace vo
