#include "rxq_assignment.h"

#include <algorithm>
#include <numeric>

namespace vo {

std::vector<uint16_t> assign_by_load(const std::vector<QueueLoad>& queues, uint16_t threads) {
  std::vector<uint16_t> out(queues.size());
  std::vector<size_t> order(queues.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return queues[a].cycles > queues[b].cycles; });
  std::vector<uint64_t> load(threads, 0);
  for (size_t i : order) {
    const QueueLoad& q = queues[i];
    uint16_t pick = q.thread < threads ? q.thread : 0;
    if (q.cycles == 0) {
      out[i] = pick;
      continue;
    }
    for (uint16_t t = 0; t < threads; ++t)
      if (load[t] < load[pick]) pick = t;
    load[pick] += q.cycles;
    out[i] = pick;
  }
  return out;
}

std::vector<uint64_t> thread_loads(const std::vector<QueueLoad>& queues,
                                   const std::vector<uint16_t>& thread_of, uint16_t threads) {
  std::vector<uint64_t> load(threads, 0);
  for (size_t i = 0; i < queues.size(); ++i) load[thread_of[i] % threads] += queues[i].cycles;
  return load;
}

}  // namespace vo
