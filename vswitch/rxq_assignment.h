// Which datapath thread polls which receive queue, decided from the load
// each queue brought (the rebalance): plain arithmetic, apart from the
// datapath that measures the loads and moves the queues.
#pragma once

#include <cstdint>
#include <vector>

namespace vo {

struct QueueLoad {
  uint64_t cycles = 0;  // work it brought in the last measurement
  uint16_t thread = 0;  // where it is polled now
};

// The thread for each queue: the busiest queue first, each to the thread
// with the least load so far (as Open vSwitch's "cycles" assignment), the
// queue's own thread on a tie so that nothing moves for nothing. Queues
// that brought no work stay where they are and count for nothing.
std::vector<uint16_t> assign_by_load(const std::vector<QueueLoad>& queues, uint16_t threads);

// Each thread's load when queue i is on thread_of[i], for a report.
std::vector<uint64_t> thread_loads(const std::vector<QueueLoad>& queues,
                                   const std::vector<uint16_t>& thread_of, uint16_t threads);

}  // namespace vo
