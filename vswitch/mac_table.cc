#include "mac_table.h"

#include <algorithm>

namespace vo {

MacTable::MacTable(uint64_t tsc_hz, uint32_t max_age_s, MacLimits limits)
    : max_age_tsc_(tsc_hz * max_age_s), limits_(limits) {
  if (limits_.per_port == 0 || limits_.per_port > limits_.entries)
    limits_.per_port = limits_.entries;
  if (limits_.per_vlan == 0 || limits_.per_vlan > limits_.entries)
    limits_.per_vlan = limits_.entries;
  per_vlan_.assign(4096, 0);
  // Reserved once, so that the table never rehashes on a packet's path.
  entries_.reserve(limits_.entries);
}

uint64_t MacTable::key(const uint8_t mac[6], uint16_t vlan) {
  uint64_t k = uint64_t(vlan & 0x0fff) << 48;
  for (int i = 0; i < 6; ++i) k |= uint64_t(mac[i]) << (8 * (5 - i));
  return k;
}

uint32_t& MacTable::count_of(uint16_t port) {
  if (port >= per_port_.size()) per_port_.resize(port + 1u, 0);
  return per_port_[port];
}

void MacTable::erase(std::unordered_map<uint64_t, Entry>::iterator it) {
  count_of(it->second.port)--;
  per_vlan_[vlan_of(it->first)]--;
  entries_.erase(it);
}

// Counted for the switch here; per port by the caller, from the result.
Learned MacTable::refuse(Learned why) {
  (why == Learned::RefusedFull       ? counters_.refused_full
   : why == Learned::RefusedPortFull ? counters_.refused_port_full
   : why == Learned::RefusedVlanFull ? counters_.refused_vlan_full
                                     : counters_.refused_pinned)++;
  return why;
}

// Datapath threads each pass the TSC their round began at, so `now` may be a
// little behind the time another thread saw the entry: that is no age.
bool MacTable::stale(const Entry& e, uint64_t now) const {
  return !e.pinned && now > e.seen && now - e.seen > max_age_tsc_;
}

Learned MacTable::learn(const uint8_t mac[6], uint16_t vlan, uint16_t port, uint64_t now,
                        bool pin) {
  if (mac[0] & 1) return Learned::Known;  // a group address is never a source
  auto it = entries_.find(key(mac, vlan));
  if (it != entries_.end() && it->second.port == port) {
    it->second.seen = now;
    it->second.pinned = pin;
    return Learned::Known;
  }
  if (it != entries_.end() && it->second.pinned) return refuse(Learned::RefusedPinned);
  uint32_t& mine = count_of(port);
  if (mine >= limits_.per_port) return refuse(Learned::RefusedPortFull);
  if (it != entries_.end()) {  // moves within the table: no room needed
    count_of(it->second.port)--;
    mine++;
    it->second = {port, pin, now};
    counters_.moved++;
    return Learned::Moved;
  }
  if (entries_.size() >= limits_.entries) return refuse(Learned::RefusedFull);
  vlan &= 0x0fff;
  if (per_vlan_[vlan] >= limits_.per_vlan) return refuse(Learned::RefusedVlanFull);
  entries_.emplace(key(mac, vlan), Entry{port, pin, now});
  mine++;
  per_vlan_[vlan]++;
  counters_.learned++;
  return Learned::New;
}

uint16_t MacTable::lookup(const uint8_t mac[6], uint16_t vlan, uint64_t now) {
  if (mac[0] & 1) return kNone;
  auto it = entries_.find(key(mac, vlan));
  if (it == entries_.end()) return kNone;
  if (stale(it->second, now)) {
    erase(it);
    counters_.aged++;
    return kNone;
  }
  return it->second.port;
}

void MacTable::age(uint64_t now, size_t buckets) {
  size_t n = entries_.bucket_count();
  uint64_t old[64];
  for (size_t b = 0; b < std::min(buckets, n); ++b) {
    sweep_bucket_ = (sweep_bucket_ + 1) % n;
    size_t k = 0;
    for (auto e = entries_.begin(sweep_bucket_); e != entries_.end(sweep_bucket_) && k < 64; ++e)
      if (stale(e->second, now)) old[k++] = e->first;
    for (size_t i = 0; i < k; ++i) {
      erase(entries_.find(old[i]));
      counters_.aged++;
    }
  }
}

void MacTable::forget_port(uint16_t port) {
  for (auto e = entries_.begin(); e != entries_.end();) {
    if (e->second.port != port) {
      ++e;
      continue;
    }
    per_vlan_[vlan_of(e->first)]--;
    e = entries_.erase(e);
  }
  count_of(port) = 0;
}

}  // namespace vo
