#include "flow_hash.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <functional>
#include <set>

#include "testing/eal_env.h"
#include "testing/packet_builder.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;

TcpSpec base(IpVer ip = IpVer::V4) {
  TcpSpec s;
  s.ip = ip;
  if (ip == IpVer::V6) {
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
  }
  s.payload_len = 100;
  return s;
}

class FlowHashTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::ensure_eal(); }
  uint32_t hash_of(const Bytes& frame) {
    rte_mbuf* m = testing::make_mbuf(pool_, frame);
    const uint32_t h = flow_hash(m);
    rte_pktmbuf_free(m);
    return h;
  }
  uint32_t hash_of(const TcpSpec& s) { return hash_of(testing::build_frame(s)); }
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }

  testing::Pool pool_{"fh_pkts", 256, 2048 + RTE_PKTMBUF_HEADROOM};
};

struct Change {
  const char* name;
  std::function<void(TcpSpec&)> apply;
};

// What differs between packets of one flow: none of it moves the flow.
const Change kSameFlow[] = {
    {"next_segment", [](TcpSpec& s) { s.seq += 100; }},
    {"other_ack_and_window", [](TcpSpec& s) { s.ack += 7, s.window = 1000; }},
    {"other_payload", [](TcpSpec& s) { s.payload_len = 1448, s.payload_seed = 9; }},
    {"fin", [](TcpSpec& s) { s.flags = testing::tcp_flag::kFin | testing::tcp_flag::kAck; }},
    {"ecn_and_ttl", [](TcpSpec& s) { s.tos = 0x2, s.ttl = 3; }},
    {"vlan_tag", [](TcpSpec& s) { s.vlan = 100; }},
};

// What makes another flow.
const Change kOtherFlow[] = {
    {"src_port", [](TcpSpec& s) { s.src_port = 40001; }},
    {"dst_port", [](TcpSpec& s) { s.dst_port = 5202; }},
    {"ports_swapped", [](TcpSpec& s) { std::swap(s.src_port, s.dst_port); }},
    {"src_address", [](TcpSpec& s) { s.src = s.ip == IpVer::V4 ? "10.0.0.3" : "2001:db8::3"; }},
    {"dst_address", [](TcpSpec& s) { s.dst = s.ip == IpVer::V4 ? "10.0.0.4" : "2001:db8::4"; }},
};

TEST_F(FlowHashTest, EveryPacketOfAFlowHashesAlike) {
  for (IpVer ip : {IpVer::V4, IpVer::V6})
    for (const Change& c : kSameFlow) {
      TcpSpec s = base(ip);
      c.apply(s);
      EXPECT_EQ(hash_of(s), hash_of(base(ip))) << c.name;
      EXPECT_NE(hash_of(s), 0u) << c.name;
    }
}

TEST_F(FlowHashTest, AnotherFlowHashesOtherwise) {
  for (IpVer ip : {IpVer::V4, IpVer::V6})
    for (const Change& c : kOtherFlow) {
      TcpSpec s = base(ip);
      c.apply(s);
      EXPECT_NE(hash_of(s), hash_of(base(ip))) << c.name;
    }
}

// A VXLAN packet goes by its outer flow, whose UDP source port carries the
// inner flow's entropy (RFC 7348 section 5).
TEST_F(FlowHashTest, TunnelsGoByTheirOuterFlow) {
  TcpSpec a = base(), b = base(), c = base();
  a.vxlan = b.vxlan = c.vxlan = testing::VxlanSpec{};
  b.src_port = 41000;  // another inner flow, same outer one
  c.vxlan->src_port = 50000;
  EXPECT_EQ(hash_of(a), hash_of(b));
  EXPECT_NE(hash_of(a), hash_of(c));
}

TEST_F(FlowHashTest, TheNicsRssHashWins) {
  rte_mbuf* m = testing::make_mbuf(pool_, testing::build_frame(base()));
  m->hash.rss = 0x1234567;
  m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
  EXPECT_EQ(flow_hash(m), 0x1234567u);
  rte_pktmbuf_free(m);
}

TEST_F(FlowHashTest, WhatIsNotAnIpFlowHashesToZero) {
  Bytes arp(60, 0);
  std::fill_n(arp.begin(), 6, 0xff);
  arp[12] = 0x08, arp[13] = 0x06;
  EXPECT_EQ(hash_of(arp), 0u);
  Bytes fragment = testing::build_frame(base());
  fragment[14 + 6] = 0x20;  // IPv4 more-fragments (the header checksum goes stale: not read)
  EXPECT_EQ(hash_of(fragment), 0u);
}

// 64 connections to one server port: each of 4 queues gets some.
TEST_F(FlowHashTest, ConnectionsSpreadOverQueues) {
  std::multiset<uint32_t> queues;
  for (uint16_t port = 40000; port < 40064; ++port) {
    TcpSpec s = base();
    s.src_port = port;
    queues.insert(hash_of(s) % 4);
  }
  for (uint32_t q = 0; q < 4; ++q) EXPECT_GE(queues.count(q), 8u) << "queue " << q;
}

}  // namespace
}  // namespace vo
