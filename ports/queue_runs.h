// A burst sent over several queues of one port (a multi-queue guest's
// receive rings), each packet to the queue its flow goes to. Packets go in
// runs of consecutive ones bound to the same queue; the first run a queue
// takes only in part ends the burst, so that what is left is a tail of the
// burst, in order, for the caller to send again: no packet overtakes an
// earlier one of its flow.
#pragma once

#include <cstdint>

struct rte_mbuf;

namespace vo {

// queue_of(m) -> queue; send(queue, pkts, k) -> how many of pkts[0..k) the
// queue took (from the front). Returns how many of pkts[0..n) were sent;
// `full`, when the burst ended early, is the queue that took less.
template <typename QueueOf, typename Send>
uint16_t send_in_runs(rte_mbuf** pkts, uint16_t n, QueueOf&& queue_of, Send&& send, int* full) {
  if (full) *full = -1;
  if (n == 0) return 0;
  uint16_t sent = 0;
  auto queue = queue_of(pkts[0]);
  while (sent < n) {
    uint16_t end = uint16_t(sent + 1);
    auto next = queue;
    while (end < n && (next = queue_of(pkts[end])) == queue) ++end;
    const uint16_t want = uint16_t(end - sent);
    const uint16_t took = send(queue, pkts + sent, want);
    sent = uint16_t(sent + took);
    if (took < want) {
      if (full) *full = int(queue);
      break;
    }
    queue = next;
  }
  return sent;
}

}  // namespace vo
