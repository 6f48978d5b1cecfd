// GSO then GRO: a 64 KB TSO packet as a guest hands it over (TCP checksum
// field holding the pseudo-header sum), cut into wire segments with complete
// checksums and merged again on receive, is byte for byte the packet it was;
// and the merged packet segments again into the very same wire segments.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;
using testing::VxlanSpec;

constexpr uint8_t kAckPsh = testing::tcp_flag::kAck | testing::tcp_flag::kPsh;
const Bytes kRouterAlert = {0x94, 0x04, 0x00, 0x00};

// The largest payload with every IP datagram (inner, and outer for VXLAN), its
// header included, at most 65,535 bytes.
uint32_t max_payload(TcpSpec s) {
  s.payload_len = 0;
  Bytes f = testing::build_frame(s);
  testing::Decoded d = testing::decode(f);
  auto room = [&](const testing::DecodedIp& ip) {
    return 65535u - uint32_t(f.size() - ip.off);
  };
  return d.tunnel ? std::min(room(d.ip), room(d.outer)) : room(d.ip);
}

struct Case {
  const char* name;
  TcpSpec spec;
  uint16_t mss = 1448;
  uint32_t seg_size = 16384;  // the input's mbufs (0: one mbuf)
};

Case make_case(const char* name, IpVer ip, std::optional<VxlanSpec> vx = std::nullopt,
               Bytes ip_options = {}) {
  Case c{name, {}};
  TcpSpec& s = c.spec;
  s.ip = ip;
  if (ip == IpVer::V6) s.src = "fd00::1", s.dst = "fd00::2";
  s.flags = kAckPsh;
  s.ip_options = ip_options;
  s.tcp_options = testing::tcp_timestamp_option(0x01020304, 0x0a0b0c0d);
  s.checksum = testing::L4Checksum::Partial;
  s.seq = 0xfffff000;  // wraps inside the packet
  s.payload_seed = 3;
  s.vxlan = vx;
  s.payload_len = max_payload(s);
  return c;
}

VxlanSpec outer6() {
  VxlanSpec v;
  v.outer_ip = IpVer::V6;
  v.src = "2001:db8::1";
  v.dst = "2001:db8::2";
  return v;
}

std::vector<Case> cases() {
  std::vector<Case> v = {
      make_case("Tcp4IpOptionsTimestamps", IpVer::V4, std::nullopt, kRouterAlert),
      make_case("Tcp6", IpVer::V6),
      make_case("VxlanOuterIpv4", IpVer::V4, VxlanSpec{}),
      make_case("VxlanOuterIpv6", IpVer::V6, outer6()),
      make_case("VxlanOuterIpv6InnerIpv4", IpVer::V4, outer6()),
      make_case("Tcp4VlanOneMbufOddMss", IpVer::V4),
  };
  v.back().spec.vlan = 7;
  v.back().spec.payload_len = 60001;
  v.back().mss = 1001;
  v.back().seg_size = 0;
  return v;
}

class GroRoundTrip : public ::testing::TestWithParam<std::tuple<Case, PayloadMode>> {};

TEST_P(GroRoundTrip, SegmentsMergeBackIntoTheOriginal) {
  const auto& [c, mode] = GetParam();
  testing::Pool big("rt_big", 16, 65535), hdr("rt_hdr", 512, RTE_MBUF_DEFAULT_BUF_SIZE),
      ind("rt_ind", 1024, 0);
  GsoConfig gso{hdr, ind, ChecksumMode::Full, mode};
  {
    rte_mbuf* m = testing::make_tso_mbuf(big, c.spec, c.mss, c.seg_size);
    ASSERT_NE(m, nullptr);
    const Bytes original = testing::flatten(m);
    const rte_mbuf meta = *m;  // lengths as the sender set them
    rte_mbuf* segs[128];
    GsoResult r = gso_segment(gso, m, segs, 128);
    ASSERT_EQ(r.reason, Reason::Ok) << describe(r.reason);
    ASSERT_EQ(r.segments, (c.spec.payload_len + c.mss - 1) / c.mss);
    std::vector<Bytes> wire;
    for (uint16_t i = 0; i < r.segments; ++i) wire.push_back(testing::flatten(segs[i]));

    GroTable t(GroConfig{});
    rte_mbuf* out[129];
    GroCounts n = t.input(std::span(segs, r.segments), 0, out);
    ASSERT_EQ(n.consumed, r.segments);
    uint16_t total = uint16_t(n.emitted + t.flush_all(std::span(out + n.emitted, 129 - n.emitted)));
    ASSERT_EQ(total, 1);
    EXPECT_EQ(t.stats().merged_packets, 1u);
    EXPECT_EQ(t.stats().segments_absorbed, r.segments - 1u);
    rte_mbuf* merged = out[0];
    Bytes got = testing::flatten(merged);
    EXPECT_EQ(got.size(), original.size());
    auto diff = std::mismatch(got.begin(), got.end(), original.begin(), original.end());
    EXPECT_TRUE(diff.first == got.end()) << "first differing byte " << diff.first - got.begin();
    EXPECT_EQ(merged->tso_segsz, c.mss);
    EXPECT_TRUE(merged->ol_flags & RTE_MBUF_F_TX_TCP_SEG);
    EXPECT_EQ(merged->l2_len, meta.l2_len);
    EXPECT_EQ(merged->l3_len, meta.l3_len);
    EXPECT_EQ(merged->l4_len, meta.l4_len);
    EXPECT_EQ(merged->outer_l2_len, meta.outer_l2_len);
    EXPECT_EQ(merged->outer_l3_len, meta.outer_l3_len);

    // The merged packet is a GSO packet like the original: it cuts into the same segments.
    GsoResult again = gso_segment(gso, merged, segs, 128);
    ASSERT_EQ(again.reason, Reason::Ok) << describe(again.reason);
    ASSERT_EQ(again.segments, wire.size());
    for (uint16_t i = 0; i < again.segments; ++i)
      EXPECT_TRUE(testing::flatten(segs[i]) == wire[i]) << "segment " << i;
    rte_pktmbuf_free_bulk(segs, again.segments);
  }
  EXPECT_EQ(big.in_use(), 0u);
  EXPECT_EQ(hdr.in_use(), 0u);
  EXPECT_EQ(ind.in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GroRoundTrip,
    ::testing::Combine(::testing::ValuesIn(cases()),
                       ::testing::Values(PayloadMode::Attach, PayloadMode::Copy)),
    [](const ::testing::TestParamInfo<std::tuple<Case, PayloadMode>>& i) {
      return std::string(std::get<0>(i.param).name) +
             (std::get<1>(i.param) == PayloadMode::Attach ? "_Attach" : "_Copy");
    });

}  // namespace
}  // namespace vo
