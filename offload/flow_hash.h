// Which flow a packet belongs to, as one number: the same for every packet of
// a TCP or UDP flow (addresses, protocol, ports), different across flows as
// far as a hash can make it. Ports spread flows over a guest's queues with it,
// each flow on one queue, so that it stays in order.
#pragma once

#include <cstdint>

struct rte_mbuf;

namespace vo {

// The NIC's RSS hash where it gave one; otherwise read from the headers
// (IPv4 or IPv6, the outer ones of a tunnel, ports of TCP and UDP). 0 for
// what the parser refuses (not IP, a fragment): such packets share a queue.
[[nodiscard]] uint32_t flow_hash(const rte_mbuf* m);

// Which of `n` queues `m`'s flow goes to: the same for every packet of the
// flow, so that it stays in order (0 without hashing when there is one).
[[nodiscard]] inline uint16_t flow_queue(const rte_mbuf* m, uint16_t n) {
  return n <= 1 ? 0 : uint16_t(flow_hash(m) % n);
}

}  // namespace vo
