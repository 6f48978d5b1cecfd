// L2 learning: which port a source MAC (per VLAN) was last seen on, aged out
// after a configurable time. Not thread-safe: the datapath's threads take
// turns on it under one lock.
//
// Nothing a port sends costs the others more than a lookup: the table and
// each port's share of it are bounded, a learn that does not fit is refused
// and counted (its frames still go out, flooded, which stays correct), and
// ageing sweeps a bounded slice of the table per datapath round instead of
// the whole table on a packet's path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace vo {

struct MacLimits {
  size_t entries = 8192;   // the whole table
  size_t per_port = 1024;  // addresses one port may hold (0: up to the whole table)
  size_t per_vlan = 0;     // addresses one VLAN may hold (0: up to the whole table)
};

// What learning did with a source address; the table counts every outcome
// except Known.
enum class Learned : uint8_t {
  Known,           // seen on the same port before: its age starts again
  New,
  Moved,           // seen on another port before: the host moved
  RefusedFull,     // the table has no room left
  RefusedPortFull, // the port holds its share already
  RefusedVlanFull, // the VLAN holds its share already
  RefusedPinned,   // the address is pinned to another port (port security)
};

[[nodiscard]] constexpr bool refused(Learned l) {
  return l == Learned::RefusedFull || l == Learned::RefusedPortFull ||
         l == Learned::RefusedVlanFull || l == Learned::RefusedPinned;
}

struct MacCounters {
  uint64_t learned = 0, moved = 0, aged = 0, refused_full = 0, refused_port_full = 0,
           refused_vlan_full = 0, refused_pinned = 0;
};

class MacTable {
 public:
  static constexpr uint16_t kNone = 0xffff;
  MacTable(uint64_t tsc_hz, uint32_t max_age_s = 300, MacLimits limits = {});

  // `pin`: the address belongs to `port` (port security): it never moves
  // to another port, and does not age while the port is up.
  Learned learn(const uint8_t mac[6], uint16_t vlan, uint16_t port, uint64_t now, bool pin = false);
  // The port for a unicast destination, or kNone (flood) if unknown or aged.
  uint16_t lookup(const uint8_t mac[6], uint16_t vlan, uint64_t now);
  // Forgets every entry pointing at `port` (it went down).
  void forget_port(uint16_t port);
  // Drops aged entries from the next `buckets` buckets of the table; call
  // once per round: a full sweep takes bucket_count()/buckets rounds.
  void age(uint64_t now, size_t buckets = 64);

  [[nodiscard]] size_t size() const { return entries_.size(); }
  [[nodiscard]] size_t port_entries(uint16_t port) const {
    return port < per_port_.size() ? per_port_[port] : 0;
  }
  [[nodiscard]] size_t vlan_entries(uint16_t vlan) const { return per_vlan_[vlan & 0x0fff]; }
  [[nodiscard]] const MacCounters& counters() const { return counters_; }

 private:
  struct Entry {
    uint16_t port;
    bool pinned;
    uint64_t seen;
  };
  static uint64_t key(const uint8_t mac[6], uint16_t vlan);
  [[nodiscard]] bool stale(const Entry& e, uint64_t now) const;
  static uint16_t vlan_of(uint64_t key) { return uint16_t(key >> 48); }
  uint32_t& count_of(uint16_t port);
  void erase(std::unordered_map<uint64_t, Entry>::iterator it);
  Learned refuse(Learned why);

  uint64_t max_age_tsc_;
  MacLimits limits_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::vector<uint32_t> per_port_;  // entries pointing at each port
  std::vector<uint32_t> per_vlan_;  // entries of each VLAN, 4096 of them
  size_t sweep_bucket_ = 0;
  MacCounters counters_;
};

}  // namespace vo
