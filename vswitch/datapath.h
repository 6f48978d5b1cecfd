// The forwarding loop: one lcore polls every port, learns and looks up MACs,
// merges toward ports that take large segments (GRO), prepares each packet
// for its egress port (egress.h) and transmits with bounded retries.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flood_budget.h"
#include "frame_l2.h"
#include "mac_table.h"
#include "offload/gro.h"
#include "offload/gso.h"
#include "port_security.h"
#include "port_vlan.h"
#include "ports/port.h"

struct rte_mempool;

namespace vo {

struct DatapathConfig {
  uint16_t burst = 32;
  uint16_t gro_max_flows = 64;
  // 0: a flow leaves at the end of its burst, or once the packets queued for
  // its destination have gone (it waits no longer than they would).
  uint32_t gro_timeout_us = 0;
  uint32_t idle_sleep_max_us = 200;  // longest nap when every port is idle
  uint32_t mac_age_s = 300;
  MacLimits mac_limits;
  // How long packets wait for a full port (a guest not draining its ring)
  // before they are dropped. They wait in the port's queue, not in a loop:
  // the other ports go on meanwhile.
  uint32_t tx_hold_us = 2000;
  // Mbufs the packets queued for one port may hold (a 64 KB segment can be a
  // chain of dozens): what a port that stops draining can take from the pool.
  uint32_t tx_queue_mbufs = 2048;
  // Frames one port may have flooded per second (flood_budget.h); 0: no bound.
  uint32_t flood_pps = 20000;
};

// What the switch core holds a port to, beside what the port checks itself.
struct PortPolicy {
  PortSecurityConfig security;
  PortVlanConfig vlan;
};

class Datapath {
 public:
  Datapath(const DatapathConfig& cfg, const GsoConfig& gso, rte_mempool* pool);
  ~Datapath();
  static constexpr uint16_t kMaxPorts = 256;
  // Ports come and go while run() runs, at the call of one control thread at
  // a time (the calls serialize). A port is handed over fully built; once
  // remove_port() returns, the datapath holds no reference to it and has freed
  // (and counted) what it held for it, so the caller may destroy it.
  //
  // Why a hand-off and not rte_rcu_qsbr: the datapath alone owns every port's
  // state (queues, GRO table, MAC entries, flood budget), so a change it
  // applies itself between two rounds needs no reader-side scheme at all; the
  // control thread waits for the acknowledgement, which is the quiescent state
  // RCU would report, at the cost of one relaxed load per round. Before run()
  // and after it returns, changes apply at once on the caller's thread.
  // add_port returns false (with `error`) when every slot is taken.
  bool add_port(Port* p, const PortPolicy& policy, std::string& error);
  struct Removed {
    uint32_t queued = 0;  // packets that were waiting to be sent to it
    uint32_t held = 0;    // packets it had sent that GRO held for merging
  };
  Removed remove_port(Port* p);
  // The ports, for statistics (any thread): `f` runs for each with the list
  // locked, so none is removed (and destroyed) meanwhile.
  void for_each_port(const std::function<void(Port&)>& f) const;
  [[nodiscard]] size_t port_count() const;
  // The loop; returns when stop() is called. Call on the datapath lcore.
  void run();
  void stop() { stop_.store(true); }
  // One round of run() at TSC `now`: poll every port, transmit, let ports
  // notify. Returns the work done and waiting (0: idle). Tests call it with a
  // clock of their own.
  uint32_t round(uint64_t now);
  // Returns once no port call that started before it is still in flight, so
  // that a port being torn down (a guest disconnecting) is no longer touched.
  void quiesce() const;
  [[nodiscard]] size_t mac_entries() const { return macs_.size(); }
  // Read by telemetry while the datapath runs: each counter is one aligned
  // word, written by the datapath alone.
  [[nodiscard]] const MacCounters& mac_counters() const { return macs_.counters(); }
  // Where the datapath lcore's time goes (as OVS's pmd-stats-show): cycles
  // of rounds that found work, of rounds that found none and of naps, and
  // the packets it received. Written by the datapath alone, one aligned word
  // each; read by telemetry.
  struct Load {
    uint64_t busy_cycles = 0;
    uint64_t idle_cycles = 0;
    uint64_t rounds = 0;
    uint64_t packets = 0;
  };
  [[nodiscard]] Load load() const;

 private:
  static constexpr uint16_t kTxBufferSize = 512;
  struct TxEntry {
    rte_mbuf* m;
    uint64_t since;  // TSC when it was queued
    uint32_t len;
    uint16_t mbufs;
    bool large;
  };
  struct PortState {
    Port* port;
    std::unique_ptr<GroTable> gro;
    PortSecurity security;
    PortVlan vlan;
    FloodBudget flood;
    TxEntry tx[kTxBufferSize];
    uint16_t tx_count = 0;
    uint32_t tx_mbufs = 0;  // mbufs the queued packets hold
    bool was_ready = false;
  };

  struct Change {
    Port* port;
    PortPolicy policy;
    bool add;
    std::atomic<bool> done{false};
    bool ok = false;
    Removed removed;
  };
  void post(Change& c);                 // control thread: hands c over, waits until applied
  void apply(Change& c);                // the datapath (or the caller while it does not run)
  void take_change();                   // datapath: applies a posted change, if any
  Removed let_go(uint16_t idx);
  Removed remove_slot(uint16_t idx);
  [[nodiscard]] std::unique_ptr<PortState> make_state(Port* p, const PortPolicy& policy) const;
  void warn_if_queues_exceed_pool() const;

  uint16_t poll(uint16_t in, uint64_t now);
  void went_down(uint16_t idx);
  void forward(uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now);
  [[nodiscard]] Reason admit(PortState& ps, rte_mbuf* m, FrameL2& l2) const;
  void run_gro(uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now);
  void flush_gro(uint16_t in, uint64_t now);
  // Whether packets wait for the port `m` is bound to.
  bool backlogged(const rte_mbuf* m, uint64_t now);
  void deliver(uint16_t in, uint16_t out, rte_mbuf* m, uint64_t now);
  void deliver_from(uint16_t in, rte_mbuf* m, uint64_t now);
  bool merge_toward(uint16_t out, uint16_t ether_type) const;
  void send(uint16_t out, rte_mbuf* m, uint64_t now);
  [[nodiscard]] bool queue_has_room(const PortState& ps, uint32_t entries, uint32_t mbufs) const;
  // Transmits what the port takes; the rest waits for the next call, each
  // packet at most tx_hold_us from when it was queued.
  void flush_tx(uint16_t out, uint64_t now);
  // Frees tx[0..n), counted in `counter`, and moves the rest to the front.
  void drop_queued(PortState& ps, uint16_t n, uint64_t& counter);
  void idle(uint32_t& sleep_us, uint32_t& idle_polls);

  DatapathConfig cfg_;
  GsoConfig gso_;
  rte_mempool* pool_;
  uint64_t tsc_hz_;
  uint64_t tx_hold_tsc_;
  uint64_t gro_timeout_tsc_;
  MacTable macs_;
  // Slots, indexed as the MAC table names ports; null when free. Only the
  // datapath (or the caller, while it does not run) changes them.
  std::vector<std::unique_ptr<PortState>> ports_;
  uint16_t slots_ = 0;  // slots in use are below this
  std::mutex control_;  // one change at a time
  std::mutex loop_;     // held by run() from its first round to its last
  std::atomic<Change*> pending_{nullptr};
  mutable std::mutex list_mutex_;  // port_list_, read by telemetry
  std::vector<Port*> port_list_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> epoch_{0};  // odd while an iteration is in flight
  Load load_;
};

}  // namespace vo
