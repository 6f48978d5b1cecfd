// An uplink: any DPDK ethdev named by its devargs (a PCI NIC, net_tap,
// net_af_packet, net_pcap, net_null). Its transmit offloads are read from the
// device and used where present and not switched off; the switch does in
// software what the device cannot.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_spinlock.h>

#include "ports/port.h"

struct rte_mempool;

namespace vo {

struct NicOptions {
  std::string devargs;
  std::string name;      // defaults to the device name
  bool tso = true;       // hand large segments to the device when it can cut them
  bool csum = true;      // let the device finish checksums
  bool gro = true;       // merge received segments toward ports that take them
  // Receive queues, spread by the device's RSS where it has it, each polled
  // by one datapath lcore; as many transmit queues (one per datapath lcore
  // where that is more and the device has them), each flow sent on one.
  uint16_t queues = 1;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
};

class NicPort final : public Port {
 public:
  static std::unique_ptr<NicPort> open(const NicOptions& opts, rte_mempool* pool,
                                       std::string& error);
  ~NicPort() override;

  const char* kind() const override { return "nic"; }
  bool ready() const override { return true; }
  uint16_t rx_queues() const override { return queues_; }
  uint16_t rx_burst(uint16_t queue, rte_mbuf** pkts, uint16_t n) override;
  Reason tx_prepare(rte_mbuf* m) override;
  uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) override;
  TxCaps tx_caps() const override { return caps_; }
  Details details() const override;
  uint16_t port_id() const { return port_id_; }
  // The device's offloads in use, by DPDK name, for stats.
  const std::string& offloads() const { return offload_names_; }

 private:
  NicPort(std::string name, uint16_t port_id) : Port(std::move(name)), port_id_(port_id) {}
  void normalize_rx(rte_mbuf** pkts, uint16_t& n);
  // A transmit queue; several datapath threads take turns on it.
  struct TxQueue {
    rte_spinlock_t lock = RTE_SPINLOCK_INITIALIZER;
    std::vector<rte_mbuf*> scratch;  // the burst as handed to the device (copies in it)
  };
  // The transmit queue of `m`'s flow.
  [[nodiscard]] uint16_t tx_queue_of(const rte_mbuf* m) const;
  uint16_t send_to(uint16_t qid, TxQueue& q, rte_mbuf** pkts, uint16_t n);

  uint16_t port_id_;
  uint16_t queues_ = 1;
  std::string rss_;          // how received flows are spread over the queues, for stats
  std::vector<uint64_t> rx_per_queue_;  // datapath writes, telemetry reads
  bool tso_by_rte_gso_ = false;  // the device's TSO is rte_gso in software (net_tap)
  rte_mempool* pool_ = nullptr;
  std::vector<TxQueue> tx_queues_;
  TxCaps caps_;
  std::string offload_names_;
};

}  // namespace vo
