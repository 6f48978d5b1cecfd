#include "to_guest.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"

namespace vo::vhost {
namespace {

using testing::L4Checksum;
using testing::TcpSpec;
using testing::VxlanSpec;

struct FoldCase {
  const char* name;
  TcpSpec spec;
  uint32_t inner_l4;  // where the inner TCP header starts, counted by hand
  bool large;
};

TcpSpec vxlan(IpVer outer, IpVer inner, std::optional<uint16_t> outer_vlan = {}) {
  TcpSpec s;
  s.ip = inner;
  if (inner == IpVer::V6) s.src = "fd00::1", s.dst = "fd00::2";
  s.payload_len = 1000;
  s.checksum = L4Checksum::Partial;
  VxlanSpec v;
  v.outer_ip = outer;
  if (outer == IpVer::V6) v.src = "2001:db8::1", v.dst = "2001:db8::2";
  v.vlan = outer_vlan;
  s.vxlan = v;
  return s;
}

// Outer Ethernet 14 (+4 tagged), outer IP 20/40, UDP 8, VXLAN 8, inner
// Ethernet 14, inner IP 20/40.
const FoldCase kCases[] = {
    {"IPv4 in IPv4", vxlan(IpVer::V4, IpVer::V4), 14 + 20 + 8 + 8 + 14 + 20, false},
    {"IPv6 in IPv6", vxlan(IpVer::V6, IpVer::V6), 14 + 40 + 8 + 8 + 14 + 40, false},
    {"IPv4 in IPv6, the outer frame tagged", vxlan(IpVer::V6, IpVer::V4, 100),
     18 + 40 + 8 + 8 + 14 + 20, false},
    {"IPv4 in IPv4, a segment cut from a large one", vxlan(IpVer::V4, IpVer::V4),
     14 + 20 + 8 + 8 + 14 + 20, true},
};

class FoldTest : public ::testing::TestWithParam<FoldCase> {
 protected:
  testing::Pool pool_{"fold", 64, 9000 + 128};
};

// What librte_vhost writes into the guest's header from the metadata
// (virtio_enqueue_offload): csum_start = l2_len + l3_len, hdr_len adds l4_len.
TEST_P(FoldTest, TheGuestsCsumStartIsTheInnerTcpHeader) {
  const FoldCase& c = GetParam();
  rte_mbuf* m = c.large ? testing::make_tso_mbuf(pool_, [&] {
    TcpSpec s = c.spec;
    s.payload_len = 8000;
    return s;
  }(), 1400)
                        : testing::make_mbuf(pool_, testing::build_frame(c.spec));
  ASSERT_NE(m, nullptr);
  if (!c.large) {
    ASSERT_EQ(mark_partial_checksum(m), Reason::Ok);
  }
  ASSERT_TRUE(m->ol_flags & RTE_MBUF_F_TX_TUNNEL_VXLAN) << "the parser saw no tunnel";
  const uint64_t l4_flags = m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG);
  const uint16_t mss = m->tso_segsz;
  fold_tunnel_headers(m);
  EXPECT_EQ(uint32_t(m->l2_len + m->l3_len), c.inner_l4) << c.name;
  EXPECT_EQ(uint32_t(m->l2_len + m->l3_len + m->l4_len), c.inner_l4 + 20) << c.name;
  EXPECT_EQ(m->outer_l2_len, 0);
  EXPECT_EQ(m->outer_l3_len, 0);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_TUNNEL_MASK | RTE_MBUF_F_TX_OUTER_IPV4 |
                           RTE_MBUF_F_TX_OUTER_IPV6 | RTE_MBUF_F_TX_OUTER_UDP_CKSUM), 0u);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG), l4_flags)
      << "the inner offload stays";
  EXPECT_EQ(m->tso_segsz, mss);
  fold_tunnel_headers(m);  // a packet retried on a full ring comes through again
  EXPECT_EQ(uint32_t(m->l2_len + m->l3_len), c.inner_l4) << "folded twice";
  rte_pktmbuf_free(m);
  EXPECT_EQ(pool_.in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, FoldTest, ::testing::ValuesIn(kCases));

TEST(Fold, APacketWithoutATunnelIsLeftAlone) {
  testing::Pool pool("fold_plain", 8, 4096);
  TcpSpec s;
  s.payload_len = 100;
  s.checksum = L4Checksum::Partial;
  rte_mbuf* m = testing::make_mbuf(pool, testing::build_frame(s));
  ASSERT_EQ(mark_partial_checksum(m), Reason::Ok);
  const uint64_t flags = m->ol_flags;
  const uint64_t lens = m->tx_offload;
  fold_tunnel_headers(m);
  EXPECT_EQ(m->ol_flags, flags);
  EXPECT_EQ(m->tx_offload, lens);
  rte_pktmbuf_free(m);
}

}  // namespace
}  // namespace vo::vhost
