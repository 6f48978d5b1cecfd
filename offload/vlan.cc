#include "vlan.h"

#include <rte_mbuf.h>

#include <cstring>

#include "headers.h"
#include "parse.h"

namespace vo {
namespace {

// Whether the bytes of the first buffer are this packet's alone: rewriting
// them must not change a clone's or a flooded copy's frame.
bool head_writable(const rte_mbuf* m) {
  if (rte_mbuf_refcnt_read(m) != 1) return false;
  if (RTE_MBUF_HAS_EXTBUF(m)) return rte_mbuf_ext_refcnt_read(m->shinfo) == 1;
  return RTE_MBUF_DIRECT(m);
}

// The L2 length that holds the tag: the outer one of a tunnel packet. Zero
// (a packet without offload metadata) stays zero.
void adjust_l2_len(rte_mbuf* m, int delta) {
  bool tunnel = m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK;
  uint64_t len = tunnel ? m->outer_l2_len : m->l2_len;
  if (len == 0 || (delta < 0 && len < sizeof(EthHdr) + sizeof(VlanTag))) return;
  len = uint64_t(int64_t(len) + delta);
  if (tunnel)
    m->outer_l2_len = len;
  else
    m->l2_len = len;
}

constexpr uint32_t kMacBytes = 2 * sizeof(MacAddr);

}  // namespace

Reason vlan_pop(rte_mbuf* m, uint16_t& tci) {
  if (m->data_len < sizeof(EthHdr) + sizeof(VlanTag) ||
      header_at<EthHdr>(m, 0)->ether_type.get() != kEtherTypeVlan)
    return Reason::TruncatedVlan;
  if (!head_writable(m)) return Reason::NoHeadroom;
  tci = header_at<VlanTag>(m, sizeof(EthHdr))->tci.get();
  auto* p = rte_pktmbuf_mtod(m, uint8_t*);
  std::memmove(p + sizeof(VlanTag), p, kMacBytes);
  rte_pktmbuf_adj(m, sizeof(VlanTag));
  adjust_l2_len(m, -int(sizeof(VlanTag)));
  return Reason::Ok;
}

Reason vlan_push(rte_mbuf* m, uint16_t tci) {
  if (m->data_len < sizeof(EthHdr)) return Reason::TruncatedEthernet;
  if (!head_writable(m) || rte_pktmbuf_headroom(m) < sizeof(VlanTag)) return Reason::NoHeadroom;
  // The addresses move 4 bytes to the front; the ether type stays where it
  // is, which is where the tag's own ether type goes.
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, sizeof(VlanTag)));
  std::memmove(p, p + sizeof(VlanTag), kMacBytes);
  header_at<EthHdr>(m, 0)->ether_type.set(kEtherTypeVlan);
  header_at<VlanTag>(m, sizeof(EthHdr))->tci.set(tci);
  adjust_l2_len(m, int(sizeof(VlanTag)));
  return Reason::Ok;
}

}  // namespace vo
