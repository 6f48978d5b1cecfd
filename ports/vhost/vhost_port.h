// A guest port: one vhost-user socket served by librte_vhost.
//
// The vhost library calls new_device/destroy_device on its own thread; the
// datapath lcore calls rx_burst/tx_burst. `vid_` and `ready_` are the only
// state they share; destroy_device clears `ready_` and then waits for the
// datapath to pass a quiescent point before the vid may be reused.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "guest_call.h"
#include "socket_access.h"
#include "ports/port.h"

struct rte_mempool;

namespace vo::vhost {

// Queue pairs a guest port serves at most (VIRTIO_NET_F_MQ): a guest's rings
// 2i (to it) and 2i+1 (from it).
constexpr uint16_t kMaxQueuePairs = 16;

struct VhostOptions {
  std::string path;
  std::string name;            // defaults to the socket's file name
  bool client = false;         // QEMU is the server; reconnect when it restarts
  uint64_t disabled = 0;       // virtio feature bits withdrawn from the offer
  NotifyConfig notify;         // when the switch interrupts the guest
  SocketAccess access;         // server sockets: who may connect (be the guest)
  // Queue pairs the guest may use; MQ is offered up to it, 1 withdraws it.
  uint16_t max_queue_pairs = kMaxQueuePairs;
};

class VhostPort final : public Port {
 public:
  // Registers the socket and starts serving it. nullptr, with `error` saying
  // what went wrong and what to do, when the library refuses.
  static std::unique_ptr<VhostPort> create(const VhostOptions& opts, rte_mempool* pool,
                                           std::function<void()> quiesce, std::string& error);
  ~VhostPort() override;

  const char* kind() const override { return "vhost"; }
  bool ready() const override { return ready_.load(std::memory_order_acquire); }
  // A queue pair each: polled by one datapath lcore, sent to from any (the
  // library locks each ring to the guest).
  uint16_t rx_queues() const override { return opts_.max_queue_pairs; }
  bool rx_queue_active(uint16_t pair) const override {
    return ready() && (ready_rings_.load(std::memory_order_relaxed) >> (2 * pair + 1)) & 1u;
  }
  uint16_t rx_burst(uint16_t pair, rte_mbuf** pkts, uint16_t n) override;
  Reason tx_prepare(rte_mbuf* m) override;
  uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) override;
  void end_of_round(uint64_t now) override;
  TxCaps tx_caps() const override;
  Details details() const override;

  const std::string& path() const { return opts_.path; }
  uint64_t offered() const { return offered_.load(); }
  // Offers the offloads again but `disabled` (virtio feature bits, as
  // parse_disabled gives them): the guest sees the change at its next
  // negotiation (it reconnects, or its driver resets the device). False,
  // with `error`, when the library refuses.
  bool set_disabled(uint64_t disabled, std::string& error);
  uint64_t negotiated() const { return negotiated_.load(std::memory_order_acquire); }
  // The vhost library's per-virtqueue counters (guest notifications among
  // them), summed over both queues; empty while no guest is connected.
  std::vector<std::pair<std::string, uint64_t>> vring_stats() const;
  uint64_t connects() const { return connects_.load(); }
  // Connections refused because a guest was already connected.
  uint64_t refused_connections() const { return refused_connections_.load(); }

 private:
  VhostPort(const VhostOptions& opts, rte_mempool* pool, std::function<void()> quiesce);
  // Registers the socket with the library, with the offer and callbacks
  // (registration_mutex_ held). False, with `error`, when the library refuses.
  bool register_socket(std::string& error);
  // A client port's connection, made and remade by the port itself (see
  // the .cc); runs on connector_ until ~VhostPort. `up`: the first attempt,
  // made by create(), connected.
  void keep_connected(bool up);
  bool try_connect(std::unique_lock<std::mutex>& lock, bool quiet);
  void attach(int vid);
  void detach(int vid);
  void normalize_from_guest(rte_mbuf** pkts, uint16_t& n);

  static int on_new_connection(int vid);
  static void on_destroy_connection(int vid);
  static int on_new_device(int vid);
  static void on_destroy_device(int vid);
  static int on_vring_state_changed(int vid, uint16_t queue, int enable);
  void take_over_calls(int vid, uint16_t queue);
  // Datapath: pair's rings that are ready stop asking the guest for kicks.
  void quiet_new_rings(int vid, uint16_t pair, uint32_t ready);
  // Datapath: the calls of queue pair `pair` this round.
  void pace_calls(uint16_t pair, uint64_t now);
  // Interrupts raised into the guest on vring q (ours, or the library's when
  // it keeps the call) and kicks the guest made on it, over the port's life.
  uint64_t interrupts(uint16_t q) const;
  uint64_t kicks(uint16_t q) const;
  static VhostPort* by_vid(int vid);

  VhostOptions opts_;
  rte_mempool* pool_;
  std::function<void()> quiesce_;
  std::atomic<uint64_t> offered_{0};
  uint64_t supported_ = 0;  // what the library can offer
  std::atomic<int> vid_{-1};
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> negotiated_{0};
  std::atomic<uint64_t> connects_{0};
  // The one vhost-user connection the port serves (library thread only).
  int connection_vid_ = -1;
  std::atomic<uint64_t> refused_connections_{0};
  TxCaps caps_;  // rewritten only while !ready_
  // The socket's registration with the library: the connector of a client
  // port drops and remakes it; set_disabled() changes the offer within it.
  std::mutex registration_mutex_;
  bool registered_ = false;
  // A client port's connector: connected_ turns false when the library
  // closes the connection, stopping_ when the port goes.
  std::condition_variable connection_cv_;
  bool connected_ = false;
  bool stopping_ = false;
  std::thread connector_;
  mutable std::mutex stats_mutex_;
  // Each ring's calls (2i: to the guest, 2i+1: from it). Their own mutex:
  // vring_state_changed runs with the library's vring locks held, which
  // vring_stats() waits for while holding stats_mutex_.
  GuestCall calls_[2 * kMaxQueuePairs];
  // The guest's rings the library has ready (bit i: ring i), as its
  // vring_state_changed says: the datapath reads from and writes to these.
  std::atomic<uint32_t> ready_rings_{0};
  std::atomic<uint32_t> quiet_rings_{0};  // datapath: rings told not to ask for kicks
  // This round the ring to the guest took less than given.
  std::atomic<bool> rx_ring_full_[kMaxQueuePairs] = {};
  std::atomic_flag pacing_ = ATOMIC_FLAG_INIT;  // a datapath lcore paces the calls
  std::atomic<uint64_t> refused_rings_{0};  // rings beyond max_queue_pairs the guest set up
  mutable std::mutex calls_mutex_;
};

}  // namespace vo::vhost
