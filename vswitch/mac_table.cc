#include "mac_table.h"

namespace vo {

MacTable::MacTable(uint64_t tsc_hz, uint32_t max_age_s, size_t max_entries)
    : max_age_tsc_(tsc_hz * max_age_s), max_entries_(max_entries) {
  entries_.reserve(max_entries);
}

uint64_t MacTable::key(const uint8_t mac[6], uint16_t vlan) {
  uint64_t k = uint64_t(vlan & 0x0fff) << 48;
  for (int i = 0; i < 6; ++i) k |= uint64_t(mac[i]) << (8 * (5 - i));
  return k;
}

void MacTable::learn(const uint8_t mac[6], uint16_t vlan, uint16_t port, uint64_t now) {
  if (mac[0] & 1) return;  // a group address is never a source
  auto it = entries_.find(key(mac, vlan));
  if (it != entries_.end()) {
    it->second = {port, now};
    return;
  }
  if (entries_.size() >= max_entries_) {
    // Full: make room from entries past their age; if none, do not learn
    // (unknown destinations flood, which stays correct).
    for (auto e = entries_.begin(); e != entries_.end();)
      e = now - e->second.seen > max_age_tsc_ ? entries_.erase(e) : std::next(e);
    if (entries_.size() >= max_entries_) return;
  }
  entries_.emplace(key(mac, vlan), Entry{port, now});
}

uint16_t MacTable::lookup(const uint8_t mac[6], uint16_t vlan, uint64_t now) {
  if (mac[0] & 1) return kNone;
  auto it = entries_.find(key(mac, vlan));
  if (it == entries_.end()) return kNone;
  if (now - it->second.seen > max_age_tsc_) {
    entries_.erase(it);
    return kNone;
  }
  return it->second.port;
}

void MacTable::forget_port(uint16_t port) {
  for (auto e = entries_.begin(); e != entries_.end();)
    e = e->second.port == port ? entries_.erase(e) : std::next(e);
}

}  // namespace vo
