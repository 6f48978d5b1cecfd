#include "port.h"

#include <rte_mbuf.h>

#include <atomic>
#include <cstring>
#include <string>
#include <type_traits>

#include "log/log.h"
#include "offload/metadata.h"

namespace vo {
namespace {

thread_local uint16_t t_datapath_thread = 0;
std::atomic<uint16_t> g_datapath_threads{1};

}  // namespace

uint16_t datapath_thread() { return t_datapath_thread; }
void set_datapath_thread(uint16_t index) { t_datapath_thread = index; }
uint16_t datapath_threads() { return g_datapath_threads.load(std::memory_order_relaxed); }
void set_datapath_threads(uint16_t count) { g_datapath_threads.store(count); }

// Every member a uint64_t counter (the static_asserts hold that layout), so
// the sum walks them as one array instead of a second list of names.
PortStats& PortStats::operator+=(const PortStats& o) {
  static_assert(std::is_trivially_copyable_v<PortStats> && sizeof(PortStats) % sizeof(uint64_t) == 0);
  static_assert(sizeof(ReasonCounters) == kReasonCount * sizeof(uint64_t));
  constexpr size_t kWords = sizeof(PortStats) / sizeof(uint64_t);
  uint64_t mine[kWords], theirs[kWords];
  std::memcpy(mine, this, sizeof(mine));
  std::memcpy(theirs, &o, sizeof(theirs));
  for (size_t i = 0; i < kWords; ++i) mine[i] += theirs[i];
  std::memcpy(static_cast<void*>(this), mine, sizeof(mine));
  return *this;
}

std::string Port::queue_counter(uint16_t queue, const std::string& what) {
  return std::string("q").append(std::to_string(queue)).append("_").append(what);
}

PortStats Port::stats_total() const {
  PortStats sum;
  for (const PortStats& s : stats_) sum += s;
  return sum;
}

bool Port::admit_rx(rte_mbuf* m, Reason r, const char* source, const char* detail) {
  PortStats& st = stats();
  st.rx_packets++;
  st.rx_bytes += m->pkt_len;
  if (r != Reason::Ok) {
    st.rx_invalid.add(r);
    VO_LOG_RL(WARNING, "port %s: dropped a packet from the %s: %s%s", name_.c_str(), source,
              std::string(describe(r)).c_str(), detail);
    rte_pktmbuf_free(m);
    return false;
  }
  if (is_large_segment(m)) st.rx_large++;
  return true;
}

}  // namespace vo
