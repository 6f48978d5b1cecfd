#include "packet_copy.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "headers.h"
#include "metadata.h"

namespace vo {
namespace {

// Below this, a whole copy is one mbuf and cheaper than a header plus clones.
constexpr uint32_t kCopyWholeBelow = 2048;

uint32_t header_bytes(const rte_mbuf* m) {
  return std::max<uint32_t>(headers_len(m), sizeof(EthHdr));
}

}  // namespace

rte_mbuf* copy_headers_share_payload(rte_mbuf* m, rte_mempool* pool, rte_mempool* indirect) {
  const uint32_t h = header_bytes(m);
  if (m->pkt_len < kCopyWholeBelow || h >= m->data_len)
    return rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
  rte_mbuf* head = rte_pktmbuf_copy(m, pool, 0, h);
  if (head == nullptr) return nullptr;
  rte_mbuf* payload = rte_pktmbuf_clone(m, indirect);
  if (payload == nullptr) {
    rte_pktmbuf_free(head);
    return nullptr;
  }
  rte_pktmbuf_adj(payload, uint16_t(h));  // h < data_len: succeeds, leaves bytes
  if (rte_pktmbuf_chain(head, payload) != 0) {  // too many segments for one chain
    rte_pktmbuf_free(head);
    rte_pktmbuf_free(payload);
    return rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
  }
  return head;
}

}  // namespace vo
