// How many frames one port may have flooded (broadcast, multicast, unknown
// unicast: copied to every other port) per second. A flood costs every port
// a copy, so without a bound one port's random destinations take the
// others' share of the core and of their links. A token bucket, in TSC
// cycles: `per_second` frames a second on average, up to a tenth of a
// second's worth at once (ARP after an idle spell, a burst of ND).
#pragma once

#include <algorithm>
#include <cstdint>

namespace vo {

class FloodBudget {
 public:
  FloodBudget() = default;
  // per_second 0: no bound.
  FloodBudget(uint32_t per_second, uint64_t tsc_hz)
      : rate_(per_second), hz_(tsc_hz),
        cap_(std::max<uint64_t>(per_second / 10, 32) * tsc_hz), tokens_(cap_) {}

  // Whether one more frame may be flooded at `now`; each yes spends a frame.
  bool take(uint64_t now) {
    if (rate_ == 0) return true;
    if (now > last_) {
      // Capped before multiplying: a long idle spell must not overflow.
      uint64_t dt = std::min<uint64_t>(now - last_, cap_ / rate_ + 1);
      tokens_ = std::min(cap_, tokens_ + dt * rate_);
      last_ = now;
    }
    if (tokens_ < hz_) return false;
    tokens_ -= hz_;
    return true;
  }

 private:
  uint64_t rate_ = 0;
  uint64_t hz_ = 1;
  uint64_t cap_ = 0;
  uint64_t tokens_ = 0;  // frames, in units of 1/hz_
  uint64_t last_ = 0;
};

}  // namespace vo
