#include "nic_port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "log/log.h"
#include "offload/flow_hash.h"
#include "offload/metadata.h"
#include "ports/queue_runs.h"
#include "ports/shared_lock.h"
#include "tx_copies.h"

namespace vo {
namespace {

// The ethdev port a devargs string names, probing the device if needed.
bool find_or_probe(const std::string& devargs, uint16_t& port_id, std::string& error) {
  rte_dev_iterator it;
  uint16_t id;
  RTE_ETH_FOREACH_MATCHING_DEV(id, devargs.c_str(), &it) {
    port_id = id;
    rte_eth_iterator_cleanup(&it);
    return true;
  }
  if (int rc = rte_dev_probe(devargs.c_str()); rc != 0) {
    error = "cannot probe device '" + devargs + "': " + rte_strerror(-rc) +
            " (check the driver name and its options; a PCI NIC must be bound to vfio-pci)";
    return false;
  }
  RTE_ETH_FOREACH_MATCHING_DEV(id, devargs.c_str(), &it) {
    port_id = id;
    rte_eth_iterator_cleanup(&it);
    return true;
  }
  error = "device '" + devargs + "' was probed but is no ethdev port";
  return false;
}

std::string tx_offload_names(uint64_t offloads) {
  std::string s;
  for (uint64_t b = 1; b; b <<= 1)
    if (offloads & b) {
      if (!s.empty()) s += ' ';
      s += rte_eth_dev_tx_offload_name(b);
    }
  return s;
}

}  // namespace

std::unique_ptr<NicPort> NicPort::open(const NicOptions& opts, rte_mempool* pool,
                                       std::string& error) {
  uint16_t id;
  if (!find_or_probe(opts.devargs, id, error)) return nullptr;
  rte_eth_dev_info info;
  if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
    error = "cannot read device info of '" + opts.devargs + "': " + rte_strerror(-rc);
    return nullptr;
  }
  char dev_name[RTE_ETH_NAME_MAX_LEN];
  rte_eth_dev_get_name_by_port(id, dev_name);
  std::unique_ptr<NicPort> port(new NicPort(opts.name.empty() ? dev_name : opts.name, id));

  uint64_t want_tx = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  if (opts.csum) want_tx |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                            RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  if (opts.tso) want_tx |= RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO |
                           RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM;
  uint64_t tx = want_tx & info.tx_offload_capa;
  uint64_t rx = (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
                 RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) & info.rx_offload_capa;
  rte_eth_conf conf{};
  conf.txmode.offloads = tx;
  conf.rxmode.offloads = rx;
  const uint16_t queues = opts.queues;
  if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
    error = "device '" + opts.devargs + "' has " + std::to_string(info.max_rx_queues) +
            " receive and " + std::to_string(info.max_tx_queues) + " transmit queues, not " +
            std::to_string(queues) + ": give --queues at most that (net_af_packet: qpairs=N)";
    return nullptr;
  }
  // RSS over addresses and ports, where the device hashes them: each flow to
  // one queue, in order.
  const uint64_t rss = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  if (queues > 1 && rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss;
  }
  port->rss_ = queues == 1 ? "one queue"
               : rss      ? "RSS over addresses and ports"
                          : "no RSS: the device spreads flows its own way";
  // As many transmit queues as datapath threads where the device has them
  // (and at least as many as receive queues), for the flows to spread over.
  const uint16_t tx_queues = std::max<uint16_t>(
      queues, std::min<uint16_t>(datapath_threads(), uint16_t(info.max_tx_queues)));
  int rc = rte_eth_dev_configure(id, queues, tx_queues, &conf);
  for (uint16_t q = 0; rc == 0 && q < queues; ++q)
    rc = rte_eth_rx_queue_setup(id, q, opts.rx_desc, rte_eth_dev_socket_id(id), nullptr, pool);
  for (uint16_t q = 0; rc == 0 && q < tx_queues; ++q)
    rc = rte_eth_tx_queue_setup(id, q, opts.tx_desc, rte_eth_dev_socket_id(id), nullptr);
  if (rc == 0) rc = rte_eth_dev_start(id);
  port->queues_ = queues;
  port->rx_per_queue_.assign(queues, 0);
  port->tx_queues_ = std::vector<TxQueue>(tx_queues);
  if (rc != 0) {
    error = "cannot start device '" + opts.devargs + "': " + rte_strerror(-rc);
    return nullptr;
  }
  rte_eth_promiscuous_enable(id);  // a switch port hears every MAC

  uint16_t mtu = RTE_ETHER_MTU;
  rte_eth_dev_get_mtu(id, &mtu);
  TxCaps& c = port->caps_;
  c.l4_csum = (tx & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) && (tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
  c.tso4 = c.tso6 = (tx & RTE_ETH_TX_OFFLOAD_TCP_TSO) && c.l4_csum;
  c.tunnel_tso = c.tso4 && (tx & RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO) &&
                 (tx & RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM);
  // A segment the device cuts, and any frame it sends, must fit its MTU (net_tap drops
  // a TSO packet whose MSS plus headers exceeds it).
  c.max_frame = std::min<uint32_t>(mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN,
                                   info.max_rx_pktlen ? info.max_rx_pktlen : UINT32_MAX);
  c.max_frame = std::max<uint32_t>(c.max_frame, mtu + RTE_ETHER_HDR_LEN);
  // net_tap compares MSS plus *all* headers, Ethernet included, with its MTU
  // and drops the packet when they exceed it; other devices cut to MTU-sized
  // IP packets.
  bool tap = std::string(info.driver_name) == "net_tap";
  c.max_tso_frame = tap ? mtu : c.max_frame;
  // net_tap's TSO is rte_gso's, which cuts TCP over IPv4 only: it writes an
  // IPv6 large segment whole to a kernel that then drops it as oversized.
  // And it makes at most MAX_GSO_MBUFS (64, drivers/net/tap/rte_eth_tap.h)
  // segments of a packet: one that needs more (64 KB at MSS 536) it refuses.
  if (tap) c.tso6 = false;
  if (tap) c.max_tso_segments = 64;
  port->tso_by_rte_gso_ = tap && c.tso4;
  port->pool_ = pool;
  port->offload_names_ = tx_offload_names(tx) + (c.tso4 && !c.tso6 ? " (TSO for IPv4 only)" : "");
  port->set_gro_enabled(opts.gro);
  VO_LOG(INFO, "port %s: ethdev %u (%s), MTU %u, %u queue(s) (%s), TX offloads: %s%s",
         port->name().c_str(), id, info.driver_name, mtu, queues, port->rss_.c_str(),
         port->offload_names_.empty() ? "none" : port->offload_names_.c_str(),
         c.tso4 ? "" : "; large segments are cut in software");
  return port;
}

// The device is detached too, so that the same devargs can be added again
// (a probed device is not probed twice) and a PCI NIC is free for others.
NicPort::~NicPort() {
  rte_eth_dev_info info;
  bool have_device = rte_eth_dev_info_get(port_id_, &info) == 0 && info.device != nullptr;
  rte_eth_dev_stop(port_id_);
  rte_eth_dev_close(port_id_);
  if (have_device) {
    if (int rc = rte_dev_remove(info.device); rc != 0)
      VO_LOG(WARNING, "port %s: device not detached: %s", name().c_str(), rte_strerror(-rc));
  }
}

void NicPort::normalize_rx(rte_mbuf** pkts, uint16_t& n) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;  // an RX mbuf carries no TX intent
    // A packet the NIC merged (LRO) is validated like a guest's large segment.
    Reason r = (m->ol_flags & RTE_MBUF_F_RX_LRO) ? mark_tso_from_peer(m, m->tso_segsz) : Reason::Ok;
    if (admit_rx(m, r, "device")) pkts[kept++] = m;
  }
  n = kept;
}

uint16_t NicPort::rx_burst(uint16_t queue, rte_mbuf** pkts, uint16_t n) {
  if (queue >= queues_) return 0;
  uint16_t got = rte_eth_rx_burst(port_id_, queue, pkts, n);
  rx_per_queue_[queue] += got;
  normalize_rx(pkts, got);
  return got;
}

Port::Details NicPort::details() const {
  Details d{{{"features", offload_names_}, {"rss", rss_}},
            {{"queues", queues_}, {"tx_queues", tx_queues_.size()}}};
  for (uint16_t q = 0; q < queues_; ++q)
    d.numbers.emplace_back(queue_counter(q, "rx_packets"), rx_per_queue_[q]);
  return d;
}

Reason NicPort::tx_prepare(rte_mbuf* m) {
  // Rewrites pseudo-header sums into the form this device wants (some want it
  // without the length for TSO) and checks the device's limits.
  if (rte_eth_tx_prepare(port_id_, tx_queue_of(m), &m, 1) == 1) return Reason::Ok;
  VO_LOG_RL(WARNING, "port %s: the device refused a packet in tx_prepare: %s", name().c_str(),
            rte_strerror(rte_errno));
  return Reason::DeviceRefused;
}

uint16_t NicPort::tx_queue_of(const rte_mbuf* m) const {
  return flow_queue(m, uint16_t(tx_queues_.size()));
}

// Each flow to one transmit queue by its hash, whichever datapath thread
// sends it: a queue moved to another thread by a rebalance cannot reorder a
// flow on the wire (two queues of a NIC drain in no set order). The threads
// take turns on a queue (an ethdev queue is not thread-safe), for one run of
// packets at a time.
uint16_t NicPort::tx_burst(rte_mbuf** pkts, uint16_t n) {
  return send_in_runs(
      pkts, n, [this](const rte_mbuf* m) { return tx_queue_of(m); },
      [this](uint16_t qid, rte_mbuf** p, uint16_t k) {
        TxQueue& q = tx_queues_[qid];
        SharedLock turn(q.lock);
        return send_to(qid, q, p, k);
      },
      nullptr);
}

// net_tap's TSO is rte_gso in software, and it breaks (a crash freeing the
// segments) on an input in an external buffer, which is how a guest's large
// segment arrives (vhost_port.cc). Such a packet is handed over as a copy in a
// chain of pool mbufs: 64 KB copied costs less than the write per segment the
// PMD then makes.
uint16_t NicPort::send_to(uint16_t qid, TxQueue& q, rte_mbuf** pkts, uint16_t n) {
  auto send = [this, qid](rte_mbuf** p, uint16_t k) { return rte_eth_tx_burst(port_id_, qid, p, k); };
  if (!tso_by_rte_gso_) return send(pkts, n);
  if (q.scratch.size() < n) q.scratch.resize(n);
  return send_with_copies(
      pkts, n, q.scratch.data(), pool_,
      [](const rte_mbuf* m) { return RTE_MBUF_HAS_EXTBUF(m) && (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG); },
      send);
}

}  // namespace vo
