// The forwarding loop: datapath threads (lcores), each polling its share of
// the ports' receive queues, learn and look up MACs, merge toward ports that
// take large segments (GRO), prepare each packet for its egress port
// (egress.h) and transmit with bounded retries.
//
// What the threads share and how: the MAC table, behind one lock taken once
// per received burst (learning and looking up the whole burst) and once per
// flow GRO lets go; each port's policy (VLANs, port security, the flood
// budget, which is the one to take turns); the ports themselves, each kind
// safe to send to from several threads (ports/port.h). What each thread has
// of its own: an egress queue and a GRO table per port, and its counters
// (Port::stats()). A flow enters through one receive queue, so one thread
// carries it, in order, from end to end.
#pragma once

#include <rte_spinlock.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
  // Datapath threads (kMaxDatapathThreads at most), each polling its share
  // of the receive queues: queue q of the port in slot s starts on thread
  // (s + q) % threads, so ports' first queues spread too. Each thread's
  // egress queues take tx_queue_mbufs / threads (at least what one cut
  // 64 KB segment needs), so that a port's bound holds whatever thread
  // fills it.
  uint16_t threads = 1;
};

// One receive queue as the datapath polls it: the thread it is on and the
// work it brought since the last rebalance (cycles from its poll to the end
// of forwarding what it received; rounds that found nothing are not counted).
struct RxqLoad {
  std::string port;
  uint16_t queue = 0;
  uint16_t thread = 0;
  bool active = false;  // the port uses it now (a guest enabled it)
  uint64_t cycles = 0;
  uint64_t packets = 0;
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
  // Ports come and go while the threads run, at the call of one control
  // thread at a time (the calls serialize). A port is handed over fully
  // built; once remove_port() returns, the datapath holds no reference to it
  // and has freed (and counted) what it held for it, so the caller may
  // destroy it.
  //
  // Why a hand-off and not rte_rcu_qsbr: each thread alone owns its state of
  // every port (egress queue, GRO table), so a change each applies itself
  // between two rounds needs no reader-side scheme at all; the control thread
  // waits until every thread acknowledged, which is the quiescent state RCU
  // would report, at the cost of one relaxed load per round. A thread that
  // is not running has the change applied on the caller's thread.
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
  // The loop of datapath thread `thread`, on its lcore; returns when stop()
  // is called.
  void run(uint16_t thread = 0);
  void stop() { stop_.store(true); }
  [[nodiscard]] uint16_t threads() const { return uint16_t(workers_.size()); }
  // One round of thread `thread` at TSC `now`: poll its receive queues,
  // transmit, let ports notify. Returns the work done and waiting (0: idle).
  // Tests call it with a clock of their own.
  uint32_t round(uint16_t thread, uint64_t now);
  uint32_t round(uint64_t now) { return round(0, now); }
  // Returns once no port call that started before it is still in flight, so
  // that a port being torn down (a guest disconnecting) is no longer touched.
  void quiesce() const;
  [[nodiscard]] size_t mac_entries() const { return macs_.size(); }
  // Read by telemetry while the datapath runs: each counter is one aligned
  // word, written under the MAC table's lock.
  [[nodiscard]] const MacCounters& mac_counters() const { return macs_.counters(); }
  // Where a datapath thread's time goes (as OVS's pmd-stats-show): cycles
  // of rounds that found work, of rounds that found none and of naps, and
  // the packets it received. Written by the thread alone, one aligned word
  // each; read by telemetry.
  struct Load {
    uint64_t busy_cycles = 0;
    uint64_t idle_cycles = 0;
    uint64_t rounds = 0;
    uint64_t packets = 0;
  };
  [[nodiscard]] Load load(uint16_t thread) const;
  // The lcore thread `thread` runs on (-1 before it started).
  [[nodiscard]] int lcore(uint16_t thread) const { return workers_[thread]->lcore.load(); }
  [[nodiscard]] Load load() const;  // every thread's, summed
  // Every port's receive queues, where they are polled and their load.
  [[nodiscard]] std::vector<RxqLoad> rx_queues() const;
  // Moves receive queues between threads by the load each brought since the
  // last rebalance (as Open vSwitch's pmd-rxq-rebalance): the busiest first,
  // each to the thread with the least so far. A queue leaves its thread only
  // after the packets that thread queued from it are gone, so nothing is
  // reordered or lost. Returns the queues that moved (with their old load).
  std::vector<RxqLoad> rebalance();

 private:
  static constexpr uint16_t kTxBufferSize = 512;
  struct TxEntry {
    rte_mbuf* m;
    uint64_t since;  // TSC when it was queued
    uint32_t len;
    uint16_t mbufs;
    bool large;
  };
  // A port as every thread sees it. Set by the control thread before the
  // threads are told of the port, cleared after they let go of it.
  struct SharedPort {
    SharedPort(Port* p, const PortPolicy& policy, const DatapathConfig& cfg, uint64_t tsc_hz);
    Port* port;
    PortSecurity security;
    PortVlan vlan;
    FloodBudget flood;
    rte_spinlock_t flood_lock = RTE_SPINLOCK_INITIALIZER;  // threads on the port's queues take turns
    // Whether one more frame may be flooded from the port.
    bool take_flood(uint64_t now);
  };
  // A port as one thread has it.
  struct PortState {
    std::unique_ptr<GroTable> gro;  // flows received here by this thread
    TxEntry tx[kTxBufferSize];
    uint16_t tx_count = 0;
    uint32_t tx_mbufs = 0;  // mbufs the queued packets hold
    bool was_ready = false;
  };
  struct Rxq {
    uint16_t slot;
    uint16_t queue;
    uint64_t cycles = 0;   // one aligned word each: rx_queues() reads them
    uint64_t packets = 0;
  };
  // Queue -> thread, for every receive queue of every port.
  struct Assignment {
    uint16_t slot;
    uint16_t queue;
    uint16_t thread;
  };
  struct Change {
    enum class Kind : uint8_t { Add, Remove, Release, Take };
    Kind kind;
    uint16_t slot = 0;
    std::atomic<uint16_t> acks{0};
    std::atomic<uint32_t> queued{0}, held{0};  // Remove: what the threads let go
  };
  struct Worker {
    uint16_t index = 0;
    std::vector<std::unique_ptr<PortState>> ports;  // by slot; null: not (yet) this thread's
    uint16_t slots = 0;                             // slots in use are below this
    std::vector<Rxq> rxqs;                          // the queues it polls
    mutable std::mutex rxqs_mutex;                  // held while rxqs changes, and by readers
    std::atomic<Change*> pending{nullptr};
    Change* draining = nullptr;  // a Release waiting until the queues it held left
    uint64_t drain_since = 0;
    std::mutex loop;             // held by run() from its first round to its last
    std::atomic<bool> running{false};
    std::atomic<int> lcore{-1};
    std::atomic<uint64_t> epoch{0};  // odd while a round is in flight
    Load load;
  };

  // Control thread: hands `c` to every thread and waits for each to apply it.
  void post(Change& c);
  void apply(Worker& w, Change& c, uint64_t now);  // the thread, or the caller while it does not run
  void take_change(Worker& w, uint64_t now);
  void finish_drain(Worker& w, bool running);
  // Where a queue is polled: at first by start_thread (DatapathConfig::threads
  // says the rule), then where a rebalance put it.
  [[nodiscard]] uint16_t start_thread(uint16_t slot, uint16_t queue) const;
  [[nodiscard]] uint16_t thread_of(uint16_t slot, uint16_t queue) const;
  // The queues assignment_ gives `w` that it does not poll yet: of the port
  // in `slot`, or of every port (and then every queue's load starts again).
  void add_rxqs(Worker& w, std::optional<uint16_t> slot);
  Removed let_go(Worker& w, uint16_t slot);
  [[nodiscard]] std::unique_ptr<PortState> make_state() const;
  void warn_if_queues_exceed_pool() const;

  uint16_t poll(Worker& w, const Rxq& rxq, uint64_t now);
  void check_ready(Worker& w, uint16_t slot);
  void forward(Worker& w, uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now);
  [[nodiscard]] Reason admit(SharedPort& sp, rte_mbuf* m, FrameL2& l2) const;
  void run_gro(Worker& w, uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now);
  // `all`: every flow leaves now (its receive queue moves to another thread).
  void flush_gro(Worker& w, uint16_t in, uint64_t now, bool all = false);
  // Whether packets this thread queued wait for the port `m` is bound to.
  bool backlogged(Worker& w, const rte_mbuf* m, uint64_t now);
  [[nodiscard]] uint16_t lookup(const rte_mbuf* m, uint64_t now);
  void deliver(Worker& w, uint16_t in, uint16_t out, rte_mbuf* m, uint64_t now);
  void deliver_from(Worker& w, uint16_t in, rte_mbuf* m, uint64_t now);
  bool merge_toward(uint16_t out, uint16_t ether_type) const;
  void send(Worker& w, uint16_t out, rte_mbuf* m, uint64_t now);
  [[nodiscard]] bool queue_has_room(const PortState& ps, uint32_t entries, uint32_t mbufs) const;
  // Transmits what the port takes; the rest waits for the next call, each
  // packet at most tx_hold_us from when it was queued.
  void flush_tx(Worker& w, uint16_t out, uint64_t now);
  // Frees tx[0..n), counted in `counter`, and moves the rest to the front.
  void drop_queued(PortState& ps, uint16_t n, uint64_t& counter);
  void idle(uint32_t& sleep_us, uint32_t& idle_polls);

  DatapathConfig cfg_;
  GsoConfig gso_;
  rte_mempool* pool_;
  uint64_t tsc_hz_;
  uint64_t tx_hold_tsc_;
  uint64_t gro_timeout_tsc_;
  uint32_t tx_queue_mbufs_;  // per thread: cfg_.tx_queue_mbufs / threads
  MacTable macs_;
  rte_spinlock_t macs_lock_ = RTE_SPINLOCK_INITIALIZER;
  // Slots, indexed as the MAC table names ports; null when free. Sized once:
  // threads read them while the control thread fills and clears entries.
  std::vector<std::unique_ptr<SharedPort>> shared_;  // entries set and reset under list_mutex_ too
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Assignment> assignment_;  // control thread: where each queue is now
  std::mutex control_;                  // one change at a time
  mutable std::mutex list_mutex_;       // port_list_, read by telemetry
  std::vector<Port*> port_list_;
  std::atomic<bool> stop_{false};
};

}  // namespace vo
