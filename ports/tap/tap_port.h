// A kernel port: a TAP device with virtio-net headers (IFF_VNET_HDR), through
// which the host's own TCP stack (or a network namespace's) sends and takes
// 64 KB segments whole, with the same offload metadata a guest's carry.
//
// Threads: the datapath lcore calls rx_burst/tx_burst/ready and is the only
// one to touch the file descriptors and the receive mbufs; it also takes the
// port down when the device or its namespace goes away. The telemetry thread
// reads details(), which uses only what is fixed at open and atomics.
#pragma once

#include <rte_spinlock.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ports/port.h"

#include "virtio_net_hdr.h"

struct rte_mempool;

namespace vo {

struct TapOptions {
  std::string ifname;  // the TAP's name: created, or attached to if it exists
  std::string name;    // port name in logs and stats; defaults to ifname
  std::string netns;   // a namespace under /var/run/netns to put it in; empty: ours
  uint32_t mtu = 0;    // 0: keep the device's (1500 for a new TAP)
  uint16_t queues = 1;  // >1: IFF_MULTI_QUEUE, one file descriptor per queue
  bool csum = true;    // TUN_F_CSUM both ways: partial checksums cross whole
  bool tso4 = true;    // TUN_F_TSO4 both ways: IPv4 large segments cross whole
  bool tso6 = true;    // TUN_F_TSO6
  bool ecn = true;     // TUN_F_TSO_ECN: the kernel hands us CWR-marked segments whole
  bool gro = true;     // merge segments received here toward ports that take them
  // The TAP outlives the port (TUNSETPERSIST) until retire(): a switch that
  // restarts finds it with the host's addresses and routes on it, and the
  // host's connections through it go on.
  bool persist = false;
};

class TapReadiness;

class TapPort final : public Port {
 public:
  // nullptr, with `error` saying what went wrong and what to do, when the
  // device cannot be created or attached. `readiness` is shared by every
  // kernel port of the switch (see TapReadiness).
  static std::unique_ptr<TapPort> open(const TapOptions& opts, rte_mempool* pool,
                                       std::shared_ptr<TapReadiness> readiness,
                                       std::string& error);
  ~TapPort() override;
  void retire() override;  // a persistent TAP goes with the port

  const char* kind() const override { return "kernel"; }
  bool ready() const override { return ready_.load(std::memory_order_acquire); }
  // One receive queue for the datapath: a kernel port's descriptors share
  // its liveness and readiness state, so one lcore reads them all.
  uint16_t rx_burst(uint16_t queue, rte_mbuf** pkts, uint16_t n) override;
  Reason tx_prepare(rte_mbuf* m) override;
  uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) override;
  TxCaps tx_caps() const override;
  Details details() const override;

  // The kernel's offload flags set with TUNSETOFFLOAD, by name ("CSUM TSO4 ...").
  std::string offloads() const;
  // Sets the kernel's offloads as `o` says (csum, tso4, tso6, ecn) while the
  // port runs (any thread): the kernel hands over and takes large segments
  // accordingly from its next frame, and the switch cuts what the port no
  // longer takes from the next packet it prepares. False, with `error`, when
  // the kernel refuses them (the port keeps its offloads).
  bool set_offloads(const TapOptions& o, std::string& error);

  // One receive queue: its descriptor and the mbufs its next read lands in.
  struct Queue {
    int fd = -1;
    uint64_t rx_frames = 0;  // read from it (datapath; telemetry reads)
    uint64_t tx_frames = 0;  // written to it
    bool quiet = false;     // the last read found nothing: wait for readiness
    bool readable = false;  // readiness saw data (or an error) since
    std::vector<rte_mbuf*> spare;  // chain the next frame is read into
  };

 private:
  TapPort(const TapOptions& opts, rte_mempool* pool, std::shared_ptr<TapReadiness> readiness);
  bool setup(std::string& error);
  bool refill(Queue& q);
  uint16_t read_queue(Queue& q, rte_mbuf** pkts, uint16_t n);
  rte_mbuf* take_frame(Queue& q, uint32_t len);
  void admit_frame(const VirtioNetHdr& h, rte_mbuf* m, rte_mbuf** pkts, uint16_t& got);
  void check_alive(uint64_t now);
  void go_down(const std::string& why);
  void release();

  // Reading and writing take turns when several datapath lcores run (one
  // reads, any writes, and either may close the descriptors in go_down):
  // each frame is a system call, next to which the lock costs nothing.
  rte_spinlock_t io_lock_ = RTE_SPINLOCK_INITIALIZER;

  TapOptions opts_;
  rte_mempool* pool_;
  std::shared_ptr<TapReadiness> readiness_;
  std::vector<Queue> queues_;
  uint16_t segs_per_frame_ = 0;  // mbufs a read needs to hold the largest frame
  uint32_t seg_room_ = 0;        // data room of one of them
  uint16_t next_queue_ = 0;
  uint64_t next_check_ = 0;       // TSC of the next liveness check
  uint64_t netns_dev_ = 0, netns_ino_ = 0;  // identity of the namespace we are in
  TxCaps caps_;  // but for the offload bits, which come from tun_flags_
  std::atomic<unsigned> tun_flags_{0};  // TUN_F_* as the kernel has them
  uint32_t mtu_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> down_events_{0};
  std::string down_reason_;  // written before down_events_ is incremented
  uint64_t rx_reads_ = 0, rx_empty_reads_ = 0, rx_no_mbufs_ = 0, tx_refused_ = 0;
};

// Finds out cheaply which quiet kernel ports have data again. A TAP has no
// ring we could peek at: asking the kernel costs a system call, and a read per
// empty poll per port would cost one every few hundred nanoseconds. Instead, a
// port reads in batches while frames flow; once a read finds nothing it stops
// reading, and one epoll_wait(0) over every kernel port, at most every
// kPollInterval, tells them all at once when to start again. We chose this over
// a reader thread handing packets over an rte_ring because the machine has two
// cores: the datapath owns lcore 1, and QEMU and the kernel's TCP (which does
// the real work of a kernel peer) need lcore 0, where a reader thread would
// compete with them; and it keeps a frame's path to one thread, with no ring in
// between. The cost is up to kPollInterval of added latency after a quiet spell.
class TapReadiness {
 public:
  static constexpr uint32_t kPollIntervalUs = 20;

  static std::shared_ptr<TapReadiness> create(std::string& error);
  ~TapReadiness();
  bool add(TapPort::Queue* q, std::string& error);
  void remove(TapPort::Queue* q);
  // Marks readable the queues that have data; one system call per interval
  // whatever the number of ports and callers.
  void poll();
  [[nodiscard]] uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }

 private:
  TapReadiness(int epfd, uint64_t interval_tsc) : epfd_(epfd), interval_tsc_(interval_tsc) {}
  int epfd_;
  uint64_t interval_tsc_;
  std::atomic<uint64_t> next_{0};
  // Held by poll() while it marks queues, and waited for by remove(), so
  // that a queue is never marked after its port freed it.
  std::mutex polling_;
  std::atomic<uint64_t> waits_{0};
};

}  // namespace vo
