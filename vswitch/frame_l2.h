// The Ethernet layer of a received frame, read once at ingress: what the
// switch core (learning, forwarding) and port security need of it.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "offload/headers.h"
#include "offload/parse.h"

namespace vo {

// The 802.1Q VID a frame is switched in (0 when untagged), the ether type
// behind its tag, and where that type's header starts.
struct FrameL2 {
  uint16_t vlan = 0;
  uint16_t ether_type = 0;
  uint32_t l3_off = sizeof(EthHdr);
  bool tagged = false;
  bool truncated_tag = false;  // TPID 0x8100 with less than a tag behind it
};

// The flags that say a frame's tag is in vlan_tci, not in its bytes.
constexpr uint64_t kStrippedVlanFlags = RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;

// The VLAN the switch carries a frame in: ports hand frames over tagged or
// not, and ingress moves the tag into vlan_tci (offload/vlan.h).
inline uint16_t switched_vlan(const rte_mbuf* m) {
  return (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) ? m->vlan_tci & 0x0fff : 0;
}

// The caller has checked that the Ethernet header is there.
inline FrameL2 frame_l2(const rte_mbuf* m) {
  FrameL2 f;
  f.ether_type = header_at<EthHdr>(m, 0)->ether_type.get();
  if (f.ether_type != kEtherTypeVlan) return f;
  if (m->data_len < sizeof(EthHdr) + sizeof(VlanTag)) {
    f.truncated_tag = true;
    return f;
  }
  const auto* tag = header_at<VlanTag>(m, sizeof(EthHdr));
  f.tagged = true;
  f.vlan = tag->vid();
  f.ether_type = tag->ether_type.get();
  f.l3_off += sizeof(VlanTag);
  return f;
}

}  // namespace vo
