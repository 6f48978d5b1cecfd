#include "telemetry.h"

#include <rte_mempool.h>
#include <rte_telemetry.h>

#include <cctype>
#include <string>

#include "datapath.h"

namespace vo {
namespace {

// Telemetry callbacks take no user data: the one switch of this process.
struct Registered {
  const Datapath* dp = nullptr;
  const rte_mempool* pool = nullptr;
  const rte_mempool* indirect = nullptr;
};
Registered g_registered;

void add_u64(rte_tel_data* d, const char* name, uint64_t v) {
  rte_tel_data_add_dict_u64(d, name, v);
}

void add_reasons(rte_tel_data* d, const char* prefix, const ReasonCounters& c) {
  for (size_t i = 1; i < kReasonCount; ++i) {
    if (c.count[i] == 0) continue;
    std::string key = std::string(prefix) + std::string(name(Reason(i)));
    add_u64(d, key.c_str(), c.count[i]);
  }
}

rte_tel_data* port_dict(Port* p) {
  rte_tel_data* d = rte_tel_data_alloc();
  rte_tel_data_start_dict(d);
  const PortStats& s = p->stats;
  rte_tel_data_add_dict_string(d, "kind", p->kind());
  add_u64(d, "ready", p->ready());
  add_u64(d, "rx_packets", s.rx_packets);
  add_u64(d, "rx_bytes", s.rx_bytes);
  add_u64(d, "tx_packets", s.tx_packets);
  add_u64(d, "tx_bytes", s.tx_bytes);
  add_u64(d, "rx_large", s.rx_large);
  add_u64(d, "tx_large", s.tx_large);
  add_u64(d, "gso_packets", s.gso_packets);
  add_u64(d, "gso_segments", s.gso_segments);
  add_u64(d, "gro_merged", s.gro_merged);
  add_u64(d, "gro_absorbed", s.gro_absorbed);
  add_u64(d, "gro_passed", s.gro_passed);
  add_u64(d, "gro_out_of_order", s.gro_out_of_order);
  add_u64(d, "gro_table_full", s.gro_table_full);
  add_u64(d, "gro_checksum_bad", s.gro_checksum_bad);
  add_u64(d, "csum_completed", s.csum_completed);
  add_u64(d, "tx_retries", s.tx_retries);
  add_u64(d, "tx_dropped", s.tx_dropped);
  add_u64(d, "tx_expired", s.tx_expired);
  add_u64(d, "too_big_dropped", s.too_big_dropped);
  add_u64(d, "mac_refused", s.mac_refused);
  add_u64(d, "flood_dropped", s.flood_dropped);
  add_u64(d, "no_destination", s.no_destination);
  add_reasons(d, "rx_drop_", s.rx_invalid);
  add_reasons(d, "tx_drop_", s.tx_invalid);
  TxCaps c = p->tx_caps();
  add_u64(d, "tx_tso4", c.tso4);
  add_u64(d, "tx_tso6", c.tso6);
  add_u64(d, "tx_csum", c.l4_csum);
  Port::Details details = p->details();
  for (const auto& [k, v] : details.text) rte_tel_data_add_dict_string(d, k.c_str(), v.c_str());
  for (const auto& [k, v] : details.numbers) add_u64(d, k.c_str(), v);
  return d;
}

// Telemetry accepts only [A-Za-z0-9_/] in names.
std::string telemetry_name(const std::string& s) {
  std::string out = s;
  for (char& ch : out)
    if (!isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
  return out;
}

int stats_cmd(const char*, const char*, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  rte_tel_data* ports = rte_tel_data_alloc();
  rte_tel_data_start_dict(ports);
  for (Port* p : g_registered.dp->ports())
    rte_tel_data_add_dict_container(ports, telemetry_name(p->name()).c_str(), port_dict(p), 0);
  rte_tel_data_add_dict_container(d, "ports", ports, 0);
  add_u64(d, "mempool_in_use", rte_mempool_in_use_count(g_registered.pool));
  add_u64(d, "mempool_size", g_registered.pool->size);
  add_u64(d, "indirect_in_use", rte_mempool_in_use_count(g_registered.indirect));
  add_u64(d, "mac_entries", g_registered.dp->mac_entries());
  const MacCounters& m = g_registered.dp->mac_counters();
  add_u64(d, "mac_learned", m.learned);
  add_u64(d, "mac_moved", m.moved);
  add_u64(d, "mac_aged", m.aged);
  add_u64(d, "mac_refused_table_full", m.refused_full);
  add_u64(d, "mac_refused_port_full", m.refused_port_full);
  add_u64(d, "mac_refused_vlan_full", m.refused_vlan_full);
  add_u64(d, "mac_refused_pinned", m.refused_pinned);
  return 0;
}

}  // namespace

void register_telemetry(const Datapath* dp, const rte_mempool* pool, const rte_mempool* indirect) {
  g_registered = {dp, pool, indirect};
  rte_telemetry_register_cmd("/vhost_offload/stats", stats_cmd,
                             "Every port's counters, mempool use and MAC table size. No parameters.");
}

}  // namespace vo
