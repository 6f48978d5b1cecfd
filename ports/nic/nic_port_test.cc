// A NIC's transmit queues under several datapath threads, on a real ethdev
// (net_null, which counts what each queue sends): each flow leaves on one
// queue whichever thread sends it, so that a receive queue moved to another
// thread (a rebalance) cannot reorder a flow on the wire.
#include "nic_port.h"

#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <set>
#include <vector>

#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"

namespace vo {
namespace {

std::vector<uint64_t> sent_per_queue(uint16_t port_id, uint16_t queues) {
  rte_eth_stats st{};
  EXPECT_EQ(rte_eth_stats_get(port_id, &st), 0);
  return std::vector<uint64_t>(st.q_opackets, st.q_opackets + queues);
}

TEST(NicPort, EachFlowLeavesOnOneQueueWhicheverThreadSendsIt) {
  set_datapath_threads(2);
  testing::Pool pool("nic_pkts", 1024, 2048 + RTE_PKTMBUF_HEADROOM);
  NicOptions o;
  o.devargs = "net_null0";
  o.queues = 2;
  std::string error;
  auto port = NicPort::open(o, pool, error);
  ASSERT_TRUE(port) << error;
  constexpr uint16_t kFlows = 8, kPerThread = 10;
  std::set<size_t> used;
  for (uint16_t flow = 0; flow < kFlows; ++flow) {
    testing::TcpSpec s;
    s.src_port = uint16_t(40000 + flow);
    s.payload_len = 100;
    const std::vector<uint64_t> before = sent_per_queue(port->port_id(), 2);
    for (uint16_t thread : {0, 1}) {
      set_datapath_thread(thread);
      rte_mbuf* pkts[kPerThread];
      for (auto& m : pkts) m = testing::make_mbuf(pool, testing::build_frame(s));
      ASSERT_EQ(port->tx_burst(pkts, kPerThread), kPerThread);
    }
    const std::vector<uint64_t> after = sent_per_queue(port->port_id(), 2);
    const std::vector<uint64_t> delta = {after[0] - before[0], after[1] - before[1]};
    EXPECT_TRUE((delta == std::vector<uint64_t>{2 * kPerThread, 0}) ||
                (delta == std::vector<uint64_t>{0, 2 * kPerThread}))
        << "flow " << flow << ": " << delta[0] << " on queue 0, " << delta[1] << " on queue 1";
    used.insert(delta[0] ? 0 : 1);
  }
  EXPECT_EQ(used.size(), 2u) << "the flows did not spread over the queues";
  set_datapath_thread(0);
  port.reset();
  EXPECT_EQ(pool.in_use(), 0u);
  set_datapath_threads(1);
}

}  // namespace
}  // namespace vo
