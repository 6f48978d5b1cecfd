// Port statistics through DPDK's telemetry library, so that dpdk-telemetry.py
// and tools/vo-stats read them from the process's telemetry socket:
//   /vhost_offload/stats   every port's counters, the mempool, the MAC table
#pragma once

struct rte_mempool;

namespace vo {

class Datapath;

// Registers the commands; the datapath and pools must outlive the process's
// telemetry thread (they live until rte_eal_cleanup()).
void register_telemetry(const Datapath* dp, const rte_mempool* pool, const rte_mempool* indirect);

}  // namespace vo
