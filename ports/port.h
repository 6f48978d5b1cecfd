// What the switch core sees of a port: bursts of packets carrying offload
// metadata (offload/metadata.h) in and out, and what the port can take.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "offload/reason.h"

struct rte_mbuf;

namespace vo {

// What a port accepts on transmit, decided from the port itself (negotiated
// virtio features, ethdev capabilities) and the user's per-port switches.
struct TxCaps {
  bool tso4 = false;       // takes IPv4 large segments whole
  bool tso6 = false;       // takes IPv6 large segments whole
  bool l4_csum = false;    // takes packets with a partial TCP/UDP checksum
  // Takes VXLAN large segments whole (a NIC with VXLAN_TNL_TSO); a virtio_net_hdr
  // has no tunnel GSO type, so guests and kernel ports get them cut.
  bool tunnel_tso = false;
  uint32_t max_frame = 1514;  // largest L2 frame it can send (no FCS)
  uint32_t max_large = 65535 + 18 + 40;  // largest large segment it takes whole
  // Largest frame of a segment the port cuts itself (headers + MSS).
  uint32_t max_tso_frame = 1514;
  // Most segments the port cuts one large segment into; 0: no limit.
  uint16_t max_tso_segments = 0;
};

// Datapath threads (lcores) the switch runs, and which one the calling
// thread is (0 outside the datapath: tests, the control thread). Each writes
// its own copy of a port's counters; a port with per-thread resources (a
// NIC's transmit queues) picks them by it. The count is set once, before
// any port opens.
constexpr uint16_t kMaxDatapathThreads = 8;
[[nodiscard]] uint16_t datapath_thread();
void set_datapath_thread(uint16_t index);
[[nodiscard]] uint16_t datapath_threads();
void set_datapath_threads(uint16_t count);

// Counters a port keeps; each copy written by one datapath thread only, read
// by the telemetry thread (64-bit aligned loads and stores do not tear on
// x86-64). Every member is a uint64_t counter: PortStats::operator+= sums
// them as such.
struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_large = 0;         // large segments received (guest TSO, kernel GSO, NIC LRO)
  uint64_t tx_large = 0;         // large segments handed to the port whole
  uint64_t gso_packets = 0;      // large segments cut in software on the way out
  uint64_t gso_segments = 0;     // segments those produced
  uint64_t gro_merged = 0;       // packets this port's GRO emitted that merged >1 segment
  uint64_t gro_absorbed = 0;     // segments absorbed into those
  // The rest of the GRO table's own counters (offload/gro.h GroStats):
  uint64_t gro_passed = 0;       // not mergeable (flags, size, not TCP): sent on unchanged
  uint64_t gro_out_of_order = 0; // segments that did not follow their flow (flushed it)
  uint64_t gro_table_full = 0;   // new flows passed through: every slot held
  uint64_t gro_checksum_bad = 0; // failed checksum verification: never merged
  uint64_t csum_completed = 0;   // partial checksums finished in software
  uint64_t tx_retries = 0;       // rounds on which a full port left packets waiting
  uint64_t tx_dropped = 0;       // not queued (queue full) or given up on (port went down)
  uint64_t tx_expired = 0;       // waited longer than --tx-hold-us for a full port
  uint64_t too_big_dropped = 0;  // frames larger than the port can send
  uint64_t flood_dropped = 0;    // received frames to flood beyond the port's --flood-pps
  // Received frames with nowhere to go: for a MAC behind this same port, or
  // flooded with no other port up in their VLAN.
  uint64_t no_destination = 0;
  uint64_t mac_refused = 0;      // source MACs not learned: share or table full, or pinned elsewhere
  ReasonCounters rx_invalid;     // received packets refused by validation, by reason
  ReasonCounters tx_invalid;     // packets the egress stage could not prepare, by reason

  PortStats& operator+=(const PortStats& o);
};

class Port {
 public:
  virtual ~Port() = default;
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] virtual const char* kind() const = 0;

  // False while the port cannot move packets (guest not connected, link gone).
  [[nodiscard]] virtual bool ready() const = 0;
  // Receive queues the datapath polls, each from one datapath thread at a
  // time (fixed for the port's life; a queue not in use receives nothing).
  [[nodiscard]] virtual uint16_t rx_queues() const { return 1; }
  // Whether receive queue `q` is in use now (a guest enabled it), for
  // statistics and the rebalance.
  [[nodiscard]] virtual bool rx_queue_active(uint16_t /*q*/) const { return true; }
  // Receives up to n packets from `queue`, with offload metadata set and
  // validated.
  virtual uint16_t rx_burst(uint16_t queue, rte_mbuf** pkts, uint16_t n) = 0;
  // Device-specific last checks and fix-ups of one packet prepared for
  // tx_caps() (rte_eth_tx_prepare for an ethdev). Reason::Ok, or why the
  // device refuses it (the caller drops and counts it).
  [[nodiscard]] virtual Reason tx_prepare(rte_mbuf*) { return Reason::Ok; }
  // Sends packets that passed tx_prepare(); returns how many it took (the
  // rest stay the caller's). Called from any datapath thread, concurrently:
  // each port kind says how it keeps that safe.
  virtual uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) = 0;
  [[nodiscard]] virtual TxCaps tx_caps() const = 0;
  // Called once per round of each datapath thread (concurrently from
  // several), after the thread's ports were polled and
  // flushed: where a port that notifies its peer (a guest's interrupt)
  // decides to, once for the round's work. A notification it holds back
  // waits for a later round; the datapath does not stay awake for it (a
  // nap is shorter than any hold worth making, and polling faster would
  // only shrink the bursts GRO merges).
  virtual void end_of_round(uint64_t /*now*/) {}

  // Port-specific facts for statistics (negotiated features, the device's
  // offloads, library counters); called from the telemetry thread.
  struct Details {
    std::vector<std::pair<std::string, std::string>> text;
    std::vector<std::pair<std::string, uint64_t>> numbers;
  };
  [[nodiscard]] virtual Details details() const { return {}; }
  // A per-queue counter's name in details(): "q1_rx_packets".
  [[nodiscard]] static std::string queue_counter(uint16_t queue, const std::string& what);
  // The operator deleted the port (not the switch stopping): let go of what
  // was made to outlive the switch (a persistent TAP). Called once the
  // datapath no longer uses the port, before it is destroyed.
  virtual void retire() {}
  // Whether packets received here go through GRO (per-port switch).
  // Read by the datapath, switched by the control thread at run time.
  [[nodiscard]] bool gro_enabled() const { return gro_enabled_.load(std::memory_order_relaxed); }
  void set_gro_enabled(bool on) { gro_enabled_.store(on, std::memory_order_relaxed); }

  // The calling datapath thread's counters.
  [[nodiscard]] PortStats& stats() { return stats_[datapath_thread()]; }
  // Every thread's counters summed (any thread).
  [[nodiscard]] PortStats stats_total() const;

 protected:
  explicit Port(std::string name) : name_(std::move(name)) {}
  // Counts a received packet whose validation gave `r`: kept (true) when Ok,
  // otherwise freed, counted by reason and logged (rate-limited) as coming
  // from `source`, with `detail` after the reason.
  bool admit_rx(rte_mbuf* m, Reason r, const char* source, const char* detail = "");

 private:
  std::string name_;
  std::atomic<bool> gro_enabled_{true};
  PortStats stats_[kMaxDatapathThreads];
};

}  // namespace vo
