#include "vlan.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "metadata.h"
#include "testing/eal_env.h"
#include "testing/packet_builder.h"
#include "testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;
using testing::VxlanSpec;

enum class Meta { None, PartialCsum, Tso };

struct Case {
  const char* name;
  TcpSpec spec;
  Meta meta;
};

TcpSpec v6(uint32_t payload) {
  TcpSpec s;
  s.ip = IpVer::V6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  s.payload_len = payload;
  return s;
}

TcpSpec tunnelled(uint32_t payload) {
  TcpSpec s;
  s.payload_len = payload;
  s.vxlan = VxlanSpec{};
  return s;
}

TcpSpec plain(uint32_t payload) {
  TcpSpec s;
  s.payload_len = payload;
  return s;
}

const Case kCases[] = {
    {"plain_ipv4", plain(100), Meta::None},
    {"ipv4_partial_checksum", [] { auto s = plain(1000); s.checksum = testing::L4Checksum::Partial; return s; }(), Meta::PartialCsum},
    {"ipv6_large_segment", [] { auto s = v6(20000); s.checksum = testing::L4Checksum::Partial; return s; }(), Meta::Tso},
    {"vxlan_large_segment", [] { auto s = tunnelled(9000); s.checksum = testing::L4Checksum::Partial; return s; }(), Meta::Tso},
};

class VlanTagTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { testing::ensure_eal(); }
  // The packet with its metadata, as a port hands it to the switch.
  rte_mbuf* make(const TcpSpec& spec, Meta meta) {
    rte_mbuf* m = meta == Meta::Tso ? testing::make_tso_mbuf(pool_, spec, 1400)
                                    : testing::make_mbuf(pool_, testing::build_frame(spec));
    if (meta == Meta::PartialCsum) {
      EXPECT_EQ(mark_partial_checksum(m), Reason::Ok);
    }
    return m;
  }
  // The L2 length the metadata gives the tag's header (0: no metadata).
  static uint32_t tagged_l2_len(const rte_mbuf* m) {
    return (m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) ? m->outer_l2_len : m->l2_len;
  }
  testing::Pool pool_{"vlan", 32, 24576 + RTE_PKTMBUF_HEADROOM};
};

TEST_P(VlanTagTest, PushGivesTheTaggedFrameByteForByte) {
  const Case& c = GetParam();
  uint32_t before = pool_.in_use();
  rte_mbuf* m = make(c.spec, c.meta);
  const uint32_t l2 = tagged_l2_len(m);
  const uint64_t flags = m->ol_flags;
  ASSERT_EQ(vlan_push(m, 0xa00a), Reason::Ok);  // PCP 5, VID 10
  TcpSpec tagged = c.spec;
  if (tagged.vxlan) tagged.vxlan->vlan = 0xa00a; else tagged.vlan = 0xa00a;
  EXPECT_EQ(testing::flatten(m), testing::build_frame(tagged));
  EXPECT_EQ(tagged_l2_len(m), l2 == 0 ? 0 : l2 + 4);
  EXPECT_EQ(m->ol_flags, flags);
  rte_pktmbuf_free(m);
  EXPECT_EQ(pool_.in_use(), before);
}

TEST_P(VlanTagTest, PopGivesTheUntaggedFrameAndTheTci) {
  const Case& c = GetParam();
  TcpSpec tagged = c.spec;
  if (tagged.vxlan) tagged.vxlan->vlan = 0x2fff; else tagged.vlan = 0x2fff;
  rte_mbuf* m = make(tagged, c.meta);
  const uint32_t l2 = tagged_l2_len(m);
  uint16_t tci = 0;
  ASSERT_EQ(vlan_pop(m, tci), Reason::Ok);
  EXPECT_EQ(tci, 0x2fff);
  EXPECT_EQ(testing::flatten(m), testing::build_frame(c.spec));
  EXPECT_EQ(tagged_l2_len(m), l2 == 0 ? 0 : l2 - 4);
  if (c.meta != Meta::None) {
    // The metadata still points at the right headers: a packet checked
    // again from its bytes gets the same lengths.
    rte_mbuf* fresh = make(c.spec, c.meta);
    EXPECT_EQ(m->l2_len, fresh->l2_len);
    EXPECT_EQ(m->l3_len, fresh->l3_len);
    EXPECT_EQ(m->outer_l2_len, fresh->outer_l2_len);
    rte_pktmbuf_free(fresh);
  }
  rte_pktmbuf_free(m);
}

INSTANTIATE_TEST_SUITE_P(Frames, VlanTagTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

class VlanRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::ensure_eal(); }
  testing::Pool pool_{"vlan_refuse", 16, 2048 + RTE_PKTMBUF_HEADROOM};
};

TEST_F(VlanRefusalTest, NoHeadroomLeavesThePacketAsItWas) {
  rte_mbuf* m = testing::make_mbuf(pool_, testing::build_frame(plain(64)));
  rte_pktmbuf_prepend(m, rte_pktmbuf_headroom(m) - 2);  // 2 bytes left in front
  const Bytes before = testing::flatten(m);
  EXPECT_EQ(vlan_push(m, 10), Reason::NoHeadroom);
  EXPECT_EQ(testing::flatten(m), before);
  rte_pktmbuf_free(m);
}

TEST_F(VlanRefusalTest, SharedBufferIsNotRewritten) {
  TcpSpec s = plain(64);
  s.vlan = 10;
  rte_mbuf* m = testing::make_mbuf(pool_, testing::build_frame(s));
  rte_mbuf* clone = rte_pktmbuf_clone(m, pool_);
  ASSERT_NE(clone, nullptr);
  const Bytes before = testing::flatten(m);
  uint16_t tci = 0;
  EXPECT_EQ(vlan_pop(m, tci), Reason::NoHeadroom);  // refcnt 2
  EXPECT_EQ(vlan_pop(clone, tci), Reason::NoHeadroom);  // indirect
  EXPECT_EQ(vlan_push(clone, 20), Reason::NoHeadroom);
  EXPECT_EQ(testing::flatten(m), before);
  rte_pktmbuf_free(clone);
  rte_pktmbuf_free(m);
  EXPECT_EQ(pool_.in_use(), 0u);
}

TEST_F(VlanRefusalTest, PopNeedsAWholeTag) {
  Bytes untagged = testing::build_frame(plain(10));
  TcpSpec s = plain(10);
  s.vlan = 10;
  Bytes cut = testing::build_frame(s);
  cut.resize(16);  // Ethernet header and half a tag
  for (const Bytes& f : {untagged, cut}) {
    rte_mbuf* m = testing::make_mbuf(pool_, f);
    uint16_t tci = 0;
    EXPECT_EQ(vlan_pop(m, tci), Reason::TruncatedVlan);
    EXPECT_EQ(testing::flatten(m), f);
    rte_pktmbuf_free(m);
  }
}

}  // namespace
}  // namespace vo
