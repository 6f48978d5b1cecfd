// Sending copies in place of some packets, for a device that cannot take them
// as they are (net_tap's TSO breaks on an external buffer), while keeping
// Port::tx_burst's contract: the packets the device did not take stay the
// caller's, unchanged.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace vo {

// Hands send() pkts[0..n), each one `needs_copy` picks replaced by a copy
// from `pool`; returns how many send() took. A copy taken frees its
// original; a copy not taken is freed and its original stays in pkts. Stops
// before a packet whose copy cannot be had (pool empty), as before a full
// ring. `scratch` holds n pointers.
template <typename NeedsCopy, typename Send>
uint16_t send_with_copies(rte_mbuf** pkts, uint16_t n, rte_mbuf** scratch, rte_mempool* pool,
                          NeedsCopy needs_copy, Send send) {
  uint16_t ready = 0;
  for (; ready < n; ++ready) {
    rte_mbuf* m = pkts[ready];
    scratch[ready] = needs_copy(m) ? rte_pktmbuf_copy(m, pool, 0, UINT32_MAX) : m;
    if (scratch[ready] == nullptr) break;
  }
  uint16_t sent = send(scratch, ready);
  for (uint16_t i = 0; i < ready; ++i) {
    if (scratch[i] == pkts[i]) continue;
    rte_pktmbuf_free(i < sent ? pkts[i] : scratch[i]);
  }
  return sent;
}

}  // namespace vo
