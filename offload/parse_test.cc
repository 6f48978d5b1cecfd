// Parser (offload/parse.h): the Layout of every packet kind the engine takes,
// with offsets worked out from the spec's header sizes; link padding; headers
// that do not fit the first mbuf.
#include "offload/parse.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <optional>
#include <string>
#include <vector>

#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;
using testing::VxlanSpec;

// Header sizes from the standards: Ethernet 14, 802.1Q tag 4, IPv4 20 + options,
// IPv6 40, UDP 8, VXLAN 8, TCP 20 + options; options padded to 4 bytes.
uint16_t padded(const Bytes& b) { return uint16_t((b.size() + 3) / 4 * 4); }
uint16_t eth_len(const std::optional<uint16_t>& vlan) { return 14 + (vlan ? 4 : 0); }
uint16_t ip_len(IpVer v, const Bytes& opts) { return v == IpVer::V4 ? 20 + padded(opts) : 40; }
// IPv6 extension headers: 2 bytes of type and length, options, padded to 8.
uint16_t ext_len(const TcpSpec& s) {
  uint16_t n = 0;
  for (const auto& e : s.ipv6_ext) n += uint16_t((2 + e.options.size() + 7) / 8 * 8);
  return n;
}

// What parse() must report for a packet built from `s` (plus `pad` bytes of link padding).
Layout expected_layout(const TcpSpec& s) {
  Layout l;
  const std::optional<uint16_t>& vlan = s.vxlan ? s.vxlan->vlan : s.vlan;
  l.has_vlan = vlan.has_value();
  l.vlan_tci = vlan.value_or(0);
  uint16_t off = eth_len(vlan);
  if (s.vxlan) {
    l.tunnel = true;
    l.outer_ip = s.vxlan->outer_ip;
    l.outer_l3_off = off;
    l.outer_l3_len = ip_len(s.vxlan->outer_ip, {});
    l.outer_l4_off = off + l.outer_l3_len;
    l.inner_l2_off = l.outer_l4_off + 8 + 8;
    off = l.inner_l2_off + 14;  // the builder puts no tag on the inner Ethernet
  }
  l.ip = s.ip;
  l.l3_off = off;
  l.l3_len = ip_len(s.ip, s.ip_options) + ext_len(s);
  l.l4_off = off + l.l3_len;
  l.l4_len = 20 + padded(s.tcp_options);
  l.l4_proto = 6;
  l.ip_end = l.l4_off + l.l4_len + s.payload_len;
  if (s.vxlan) l.outer_ip_end = l.ip_end;  // VXLAN carries no padding inside
  return l;
}

void expect_layout_eq(const Layout& got, const Layout& want) {
  EXPECT_EQ(got.has_vlan, want.has_vlan);
  EXPECT_EQ(got.vlan_tci, want.vlan_tci);
  EXPECT_EQ(got.tunnel, want.tunnel);
  if (want.tunnel) {
    EXPECT_EQ(got.outer_ip, want.outer_ip);
    EXPECT_EQ(got.outer_l3_off, want.outer_l3_off);
    EXPECT_EQ(got.outer_l3_len, want.outer_l3_len);
    EXPECT_EQ(got.outer_l4_off, want.outer_l4_off);
    EXPECT_EQ(got.inner_l2_off, want.inner_l2_off);
    EXPECT_EQ(got.outer_ip_end, want.outer_ip_end);
  }
  EXPECT_EQ(got.ip, want.ip);
  EXPECT_EQ(got.l3_off, want.l3_off);
  EXPECT_EQ(got.l3_len, want.l3_len);
  EXPECT_EQ(got.l4_off, want.l4_off);
  EXPECT_EQ(got.l4_len, want.l4_len);
  EXPECT_EQ(got.l4_proto, want.l4_proto);
  EXPECT_EQ(got.ip_end, want.ip_end);
  EXPECT_EQ(got.header_len(), want.l4_off + want.l4_len);
  EXPECT_EQ(got.payload_len(), want.ip_end - want.l4_off - want.l4_len);
}

// ---------------------------------------------------------------------------
// Specs

TcpSpec v6(TcpSpec s) {
  s.ip = IpVer::V6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  return s;
}

VxlanSpec outer(IpVer ip, std::optional<uint16_t> vlan = std::nullopt, bool udp_csum = false) {
  VxlanSpec v;
  v.outer_ip = ip;
  if (ip == IpVer::V6) {
    v.src = "2001:db8:f::1";
    v.dst = "2001:db8:f::2";
  }
  v.vlan = vlan;
  v.vni = 0xabcdef;
  v.udp_checksum = udp_csum;
  return v;
}

TcpSpec spec(uint32_t payload, std::optional<uint16_t> vlan = std::nullopt,
             Bytes ip_opts = {}, Bytes tcp_opts = {}, std::optional<VxlanSpec> vx = std::nullopt) {
  TcpSpec s;
  s.payload_len = payload;
  s.vlan = vlan;
  s.ip_options = std::move(ip_opts);
  s.tcp_options = std::move(tcp_opts);
  s.vxlan = std::move(vx);
  return s;
}

// IPv4 options: Router Alert (RFC 2113, 4 bytes), and 40 bytes of NOPs (ihl 15).
const Bytes kRouterAlert = {0x94, 0x04, 0x00, 0x00};
const Bytes kNops40(40, 0x01);
const Bytes kTs = testing::tcp_timestamp_option(0x11223344, 0x55667788);
const Bytes kTcpOpts40 = [] {
  Bytes b = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x04, 0x02};  // MSS, WS, SACK-OK
  Bytes ts = testing::tcp_timestamp_option(1, 2);
  b.insert(b.end(), ts.begin(), ts.end());
  b.resize(40, 0x01);
  return b;
}();

// Hop-by-hop (16 bytes) and destination options (8 bytes) before TCP.
TcpSpec with_ext(TcpSpec s) {
  s.ipv6_ext = {{0, {0x1e, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, {60, {}}};
  return s;
}

struct Kind {
  std::string name;
  TcpSpec spec;
  uint32_t seg_size = 0;  // 0: one mbuf; else a chain of mbufs this large
};

std::vector<Kind> kinds() {
  return {
      {"ipv4", spec(100)},
      {"ipv4_no_payload", spec(0)},
      {"ipv4_options", spec(100, {}, kRouterAlert)},
      {"ipv4_ihl15", spec(100, {}, kNops40)},
      {"ipv4_odd_options", spec(100, {}, {0x01, 0x01, 0x01, 0x01, 0x01, 0x00})},  // padded to 8
      {"ipv6", v6(spec(100))},
      {"ipv4_vlan", spec(100, 0xa07b)},
      {"ipv6_vlan", v6(spec(100, 0x0001))},
      {"ipv4_tcp_ts", spec(100, {}, {}, kTs)},
      {"ipv6_tcp_opts40", v6(spec(100, {}, {}, kTcpOpts40))},
      {"ipv4_everything", spec(100, 0x0fff, kNops40, kTcpOpts40)},
      {"vxlan4_in4", spec(100, {}, {}, kTs, outer(IpVer::V4))},
      {"vxlan4_in6", v6(spec(100, {}, {}, kTs, outer(IpVer::V4)))},
      {"vxlan6_in4", spec(100, {}, kRouterAlert, {}, outer(IpVer::V6))},
      {"vxlan6_in6", v6(spec(100, {}, {}, {}, outer(IpVer::V6)))},
      {"vxlan4_vlan_udpcsum", spec(100, {}, {}, kTs, outer(IpVer::V4, 0x2064, true))},
      {"vxlan6_vlan_in6_opts40", v6(spec(100, {}, {}, kTcpOpts40, outer(IpVer::V6, 7, true)))},
      {"chain_ipv4", spec(3000, {}, kRouterAlert, kTs), 1000},
      {"chain_ipv6_odd", v6(spec(2999, 5, {}, kTs)), 333},
      {"chain_vxlan6_in4", spec(4000, {}, {}, kTs, outer(IpVer::V6, 9)), 777},
      {"ipv6_hop_by_hop_dest_opts", with_ext(v6(spec(100)))},
      {"vxlan4_in6_ext_vlan", with_ext(v6(spec(100, {}, {}, kTs, outer(IpVer::V4, 3))))},
  };
}

class ParseKinds : public ::testing::TestWithParam<Kind> {
 protected:
  testing::Pool pool_{"parse", 256, 2048};
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }
};

TEST_P(ParseKinds, LayoutFromSpec) {
  const Kind& k = GetParam();
  Bytes frame = testing::build_frame(k.spec);
  rte_mbuf* m = testing::make_mbuf(pool_, frame, k.seg_size);
  ASSERT_NE(m, nullptr);
  if (k.seg_size) {
    ASSERT_GT(m->nb_segs, 1);
  }
  Layout want = expected_layout(k.spec);
  ASSERT_EQ(want.ip_end, frame.size());  // no padding: the (inner) datagram ends the frame
  for (ParseOptions opts : {ParseOptions{}, ParseOptions{.exact_length = true}}) {
    Layout got;
    ASSERT_EQ(parse(m, got, opts), Reason::Ok) << k.name;
    expect_layout_eq(got, want);
  }
  rte_pktmbuf_free(m);
}

TEST_P(ParseKinds, ApplyLengthsUsesDpdkConvention) {
  const Kind& k = GetParam();
  rte_mbuf* m = testing::make_mbuf(pool_, testing::build_frame(k.spec), k.seg_size);
  Layout l;
  ASSERT_EQ(parse(m, l), Reason::Ok);
  m->outer_l2_len = 99;  // stale values must be overwritten
  m->outer_l3_len = 99;
  apply_lengths(m, l);
  const TcpSpec& s = k.spec;
  if (s.vxlan) {
    EXPECT_EQ(m->outer_l2_len, eth_len(s.vxlan->vlan));
    EXPECT_EQ(m->outer_l3_len, ip_len(s.vxlan->outer_ip, {}));
    EXPECT_EQ(m->l2_len, 8 + 8 + 14);  // UDP + VXLAN + inner Ethernet
  } else {
    EXPECT_EQ(m->outer_l2_len, 0);
    EXPECT_EQ(m->outer_l3_len, 0);
    EXPECT_EQ(m->l2_len, eth_len(s.vlan));
  }
  EXPECT_EQ(m->l3_len, ip_len(s.ip, s.ip_options) + ext_len(s));
  EXPECT_EQ(m->l4_len, 20 + padded(s.tcp_options));
  rte_pktmbuf_free(m);
}

// Every first-mbuf length that cuts the headers short is refused as
// HeadersSplit, whatever header the cut falls in; the full header length parses.
TEST_P(ParseKinds, HeadersSplitAcrossTheFirstMbuf) {
  const Kind& k = GetParam();
  Bytes frame = testing::build_frame(k.spec);
  const uint32_t hlen = expected_layout(k.spec).header_len();
  for (uint32_t cut = 1; cut <= hlen && cut < frame.size(); ++cut) {
    rte_mbuf* m = testing::make_mbuf(pool_, Bytes(frame.begin(), frame.begin() + cut));
    rte_mbuf* rest = testing::make_mbuf(pool_, Bytes(frame.begin() + cut, frame.end()), 1000);
    ASSERT_EQ(rte_pktmbuf_chain(m, rest), 0);
    Layout l;
    EXPECT_EQ(parse(m, l), cut < hlen ? Reason::HeadersSplit : Reason::Ok) << "cut " << cut;
    rte_pktmbuf_free(m);
  }
}

INSTANTIATE_TEST_SUITE_P(All, ParseKinds, ::testing::ValuesIn(kinds()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Link padding: an Ethernet frame may carry bytes past the IP datagram (the
// 60-byte minimum frame, IEEE 802.3 clause 3.2.8). Parsing accepts them and
// says where the datagram ends; exact_length (a GSO input) refuses them.

struct Padding {
  std::string name;
  TcpSpec spec;
  uint32_t pad;
  Reason exact;  // what exact_length says
  uint32_t seg_size = 0;
};

class ParsePadding : public ::testing::TestWithParam<Padding> {
 protected:
  testing::Pool pool_{"parse_pad", 64, 2048};
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }
};

TEST_P(ParsePadding, AcceptedByDefaultRefusedWhenExact) {
  const Padding& p = GetParam();
  Bytes frame = testing::build_frame(p.spec);
  const size_t datagram_end = frame.size();
  frame.resize(frame.size() + p.pad, 0);
  rte_mbuf* m = testing::make_mbuf(pool_, frame, p.seg_size);
  Layout l;
  ASSERT_EQ(parse(m, l), Reason::Ok);
  Layout want = expected_layout(p.spec);
  expect_layout_eq(l, want);
  EXPECT_EQ(p.spec.vxlan ? l.outer_ip_end : l.ip_end, datagram_end);
  EXPECT_EQ(l.payload_len(), p.spec.payload_len);
  EXPECT_EQ(parse(m, l, {.exact_length = true}), p.exact);
  rte_pktmbuf_free(m);
}

INSTANTIATE_TEST_SUITE_P(
    All, ParsePadding,
    ::testing::Values(
        // 14 + 20 + 20 = 54 bytes, padded to the 60-byte minimum.
        Padding{"ipv4_min_frame", spec(0), 6, Reason::Ipv4LengthMismatch},
        Padding{"ipv4_vlan_one_byte", spec(1, 3), 1, Reason::Ipv4LengthMismatch},
        Padding{"ipv4_chain", spec(1500, {}, kRouterAlert, kTs), 20, Reason::Ipv4LengthMismatch,
                500},
        Padding{"ipv6", v6(spec(10)), 8, Reason::Ipv6LengthMismatch},
        Padding{"vxlan4_outer", spec(10, {}, {}, {}, outer(IpVer::V4)), 4,
                Reason::Ipv4LengthMismatch}),
    [](const auto& info) { return info.param.name; });

// The inner datagram of a VXLAN packet must fill the UDP payload exactly: a
// tunnel carries no link padding, so inner padding is a malformed packet.
TEST(ParseVxlan, InnerDatagramShorterThanTheTunnelIsRefused) {
  testing::Pool pool("parse_vx", 16, 2048);
  TcpSpec s = spec(20, {}, {}, {}, outer(IpVer::V4));
  Bytes frame = testing::build_frame(s);
  // Shrink the inner IPv4 total length by 2 (and fix its header checksum by hand).
  const size_t inner_ip = 14 + 20 + 8 + 8 + 14;
  uint16_t total = uint16_t(frame[inner_ip + 2] << 8 | frame[inner_ip + 3]) - 2;
  frame[inner_ip + 2] = uint8_t(total >> 8);
  frame[inner_ip + 3] = uint8_t(total);
  frame[inner_ip + 10] = frame[inner_ip + 11] = 0;
  uint16_t c = uint16_t(~testing::naive_sum(frame.data() + inner_ip, 20));
  frame[inner_ip + 10] = uint8_t(c >> 8);
  frame[inner_ip + 11] = uint8_t(c);
  rte_mbuf* m = testing::make_mbuf(pool, frame);
  Layout l;
  EXPECT_EQ(parse(m, l), Reason::Ipv4LengthMismatch);
  rte_pktmbuf_free(m);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ParseVxlan, NotDecapsulatedWhenAskedNot) {
  testing::Pool pool("parse_vx", 16, 2048);
  TcpSpec s = spec(20, {}, {}, {}, outer(IpVer::V6));
  rte_mbuf* m = testing::make_mbuf(pool, testing::build_frame(s));
  Layout l;
  EXPECT_EQ(parse(m, l, {.decap_vxlan = false}), Reason::NotTcp);
  EXPECT_FALSE(l.tunnel);
  EXPECT_EQ(l.l3_off, 14);
  EXPECT_EQ(l.l4_proto, 17);
  rte_pktmbuf_free(m);
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace vo
