#include "telemetry.h"

#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "datapath.h"
#include "ports/port_counters.h"

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

rte_tel_data* port_dict(Port* p) {
  rte_tel_data* d = rte_tel_data_alloc();
  rte_tel_data_start_dict(d);
  const PortStats s = p->stats_total();
  rte_tel_data_add_dict_string(d, "kind", p->kind());
  add_u64(d, "ready", p->ready());
  for_each_counter(s, [&](const char* name, uint64_t v) { add_u64(d, name, v); });
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
  g_registered.dp->for_each_port([&](Port& p) {
    rte_tel_data_add_dict_container(ports, telemetry_name(p.name()).c_str(), port_dict(&p), 0);
  });
  rte_tel_data_add_dict_container(d, "ports", ports, 0);
  add_u64(d, "mempool_in_use", rte_mempool_in_use_count(g_registered.pool));
  add_u64(d, "mempool_size", g_registered.pool->size);
  add_u64(d, "indirect_in_use", rte_mempool_in_use_count(g_registered.indirect));
  add_u64(d, "mac_entries", g_registered.dp->mac_entries());
  const Datapath& dp = *g_registered.dp;
  const Datapath::Load load = dp.load();
  add_u64(d, "datapath_busy_cycles", load.busy_cycles);
  add_u64(d, "datapath_idle_cycles", load.idle_cycles);
  add_u64(d, "datapath_rounds", load.rounds);
  add_u64(d, "datapath_packets", load.packets);
  add_u64(d, "tsc_hz", rte_get_tsc_hz());
  add_u64(d, "datapath_threads", dp.threads());
  // Each datapath thread's own (as OVS's pmd-stats-show), and the receive
  // queues it polls ("vm1:0 nic0:1").
  const std::vector<RxqLoad> rxqs = dp.rx_queues();
  for (uint16_t t = 0; t < dp.threads(); ++t) {
    const Datapath::Load l = dp.load(t);
    const std::string p = "thread" + std::to_string(t) + "_";
    add_u64(d, (p + "lcore").c_str(), uint64_t(std::max(dp.lcore(t), 0)));
    add_u64(d, (p + "busy_cycles").c_str(), l.busy_cycles);
    add_u64(d, (p + "idle_cycles").c_str(), l.idle_cycles);
    add_u64(d, (p + "packets").c_str(), l.packets);
    std::string queues;
    for (const RxqLoad& q : rxqs)
      if (q.thread == t && q.active)
        queues += (queues.empty() ? "" : " ") + q.port + ":" + std::to_string(q.queue);
    // A telemetry string holds 128 bytes: the control socket's "queues" lists them all.
    if (queues.size() > 120) queues = queues.substr(0, 116) + " ...";
    rte_tel_data_add_dict_string(d, (p + "queues").c_str(), queues.c_str());
  }
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
