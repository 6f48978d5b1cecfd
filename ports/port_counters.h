// Every counter of a port under the name statistics show it by (telemetry,
// vo-stats, the control socket): one list, so that no reader misses one.
#pragma once

#include <string>

#include "port.h"

namespace vo {

// Calls f(name, value) for each counter of `s`, drop reasons included (those
// only when not zero: rx_drop_<Reason>, tx_drop_<Reason>).
template <typename F>
void for_each_counter(const PortStats& s, F f) {
  f("rx_packets", s.rx_packets);
  f("rx_bytes", s.rx_bytes);
  f("tx_packets", s.tx_packets);
  f("tx_bytes", s.tx_bytes);
  f("rx_large", s.rx_large);
  f("tx_large", s.tx_large);
  f("gso_packets", s.gso_packets);
  f("gso_segments", s.gso_segments);
  f("gro_merged", s.gro_merged);
  f("gro_absorbed", s.gro_absorbed);
  f("gro_passed", s.gro_passed);
  f("gro_out_of_order", s.gro_out_of_order);
  f("gro_table_full", s.gro_table_full);
  f("gro_checksum_bad", s.gro_checksum_bad);
  f("csum_completed", s.csum_completed);
  f("tx_retries", s.tx_retries);
  f("tx_dropped", s.tx_dropped);
  f("tx_expired", s.tx_expired);
  f("too_big_dropped", s.too_big_dropped);
  f("mac_refused", s.mac_refused);
  f("flood_dropped", s.flood_dropped);
  f("no_destination", s.no_destination);
  for (size_t i = 1; i < kReasonCount; ++i) {
    const std::string reason(name(Reason(i)));
    if (s.rx_invalid.count[i]) f(("rx_drop_" + reason).c_str(), s.rx_invalid.count[i]);
    if (s.tx_invalid.count[i]) f(("tx_drop_" + reason).c_str(), s.tx_invalid.count[i]);
  }
}

}  // namespace vo
