// L2 learning: which port a source MAC (per VLAN) was last seen on, aged out
// after a configurable time. Touched only by the datapath lcore.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace vo {

class MacTable {
 public:
  static constexpr uint16_t kNone = 0xffff;
  MacTable(uint64_t tsc_hz, uint32_t max_age_s = 300, size_t max_entries = 8192);

  void learn(const uint8_t mac[6], uint16_t vlan, uint16_t port, uint64_t now);
  // The port for a unicast destination, or kNone (flood) if unknown or aged.
  uint16_t lookup(const uint8_t mac[6], uint16_t vlan, uint64_t now);
  // Forgets every entry pointing at `port` (it went down).
  void forget_port(uint16_t port);
  [[nodiscard]] size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint16_t port;
    uint64_t seen;
  };
  static uint64_t key(const uint8_t mac[6], uint16_t vlan);
  uint64_t max_age_tsc_;
  size_t max_entries_;
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace vo
