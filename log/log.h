// Logging through DPDK's log (so EAL's --log-level applies), with a
// rate-limited form for the datapath: a flood of bad packets must not turn
// into a flood of log lines.
#pragma once

#include <rte_cycles.h>
#include <rte_log.h>

#include <cstdint>

namespace vo {

int log_type();

// At most one line per second per call site; says how many it held back.
class LogLimiter {
 public:
  bool allow(uint64_t& suppressed) {
    uint64_t now = rte_get_tsc_cycles();
    if (next_ != 0 && now < next_) {
      ++held_;
      return false;
    }
    next_ = now + rte_get_tsc_hz();
    suppressed = held_;
    held_ = 0;
    return true;
  }

 private:
  uint64_t next_ = 0;
  uint64_t held_ = 0;
};

}  // namespace vo

#define VO_LOG(level, fmt, ...) \
  rte_log(RTE_LOG_##level, ::vo::log_type(), "vhost-offload: " fmt "\n", ##__VA_ARGS__)

#define VO_LOG_RL(level, fmt, ...)                                                     \
  do {                                                                                 \
    static ::vo::LogLimiter vo_limiter_;                                               \
    uint64_t vo_held_ = 0;                                                             \
    if (vo_limiter_.allow(vo_held_))                                                   \
      VO_LOG(level, fmt " (%lu similar lines suppressed)", ##__VA_ARGS__,              \
             (unsigned long)vo_held_);                                                 \
  } while (0)
