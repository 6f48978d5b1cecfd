// Software GRO: in-order TCP segments of one flow merged into one segment of
// at most 64 KB, delivered as an mbuf chain that carries the MSS and "checksum
// valid", so that a guest that negotiated GUEST_TSO takes it as one GSO packet.
//
// One GroTable per port and receive queue; it owns the packets it holds and
// frees them when destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "reason.h"

struct rte_mbuf;

namespace vo {

struct GroConfig {
  uint16_t max_flows = 64;
  // 0: the caller flushes at the end of every receive burst (flush_all()).
  // Otherwise flush(now) emits flows held at least this long.
  uint32_t flush_timeout_us = 0;
  // TSC ticks per second (rte_get_tsc_hz()), for flush_timeout_us.
  uint64_t tsc_hz = 0;
};

struct GroStats {
  uint64_t packets_in = 0;
  uint64_t merged_packets = 0;     // packets emitted that carry more than one segment
  uint64_t segments_absorbed = 0;  // segments that went into a merged packet after its first
  uint64_t passed_through = 0;     // packets not eligible for merging, emitted unchanged
  uint64_t out_of_order = 0;       // segments that did not follow their flow: flushed it
  uint64_t table_full = 0;         // new flows passed through because every slot was taken
  uint64_t checksum_bad = 0;       // failed checksum verification: never merged
};

struct GroCounts {
  uint16_t consumed = 0;  // input packets taken (the rest stay the caller's)
  uint16_t emitted = 0;   // packets written to `out`
};

class GroTable {
 public:
  explicit GroTable(const GroConfig& cfg);
  ~GroTable();  // frees every packet still held
  GroTable(const GroTable&) = delete;
  GroTable& operator=(const GroTable&) = delete;

  // Takes packets in order and writes to `out` the ones ready to go, in an
  // order that never puts a packet ahead of an earlier one of its flow. Takes
  // only as many as `out` can absorb (at most out.size() - held() packets), so
  // nothing is ever lost: call again with the rest.
  GroCounts input(std::span<rte_mbuf* const> pkts, uint64_t now_tsc, std::span<rte_mbuf*> out);
  // Emits flows held at least flush_timeout_us (all of them when the timeout is 0).
  uint16_t flush(uint64_t now_tsc, std::span<rte_mbuf*> out);
  // Emits every flow the caller does not want held longer: keep(head, since)
  // sees the flow's first packet (its headers are the merged packet's) and the
  // TSC it has been held since, and returns true to go on holding it.
  uint16_t flush_unless(const std::function<bool(const rte_mbuf*, uint64_t)>& keep,
                        std::span<rte_mbuf*> out);
  uint16_t flush_all(std::span<rte_mbuf*> out);
  // Frees every held packet, counting none of them as merged (they never
  // leave); returns how many were freed.
  uint32_t drop_all();

  [[nodiscard]] uint16_t held() const;
  [[nodiscard]] const GroStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vo
