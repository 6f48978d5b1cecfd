// The engine against DPDK's own software offloads, rte_gso and rte_gro
// (DPDK 22.11: TCPv4 and VXLAN-TCPv4 only, no TCPv6), on the same inputs.
//
// GSO: rte_gso computes no checksums (it leaves them to the NIC through the
// input's TX flags, which it copies to every segment), so its segments are
// finished here the way a NIC would, with this file's own arithmetic, and must
// then be byte for byte what gso_segment() builds in ChecksumMode::Full.
//
// GRO: rte_gro_reassemble_burst() (a fresh table per burst, merging only mbufs
// whose packet_type says IPv4/TCP and whose l2/l3/l4 lengths are set) against a
// GroTable flushed at the end of every burst, on the same segment streams.
//
// Every difference in policy has its own test below, asserting what each side
// does, so that the test fails as soon as either side changes.
#include <gtest/gtest.h>
#include <rte_ethdev.h>  // RTE_ETH_TX_OFFLOAD_*_TSO for rte_gso_ctx::gso_types
#include <rte_gro.h>
#include <rte_gso.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::Decoded;
using testing::DecodedIp;
using testing::TcpSpec;
using testing::VxlanSpec;

using namespace testing::tcp_flag;
constexpr uint16_t kMaxOut = 128;

// ---------------------------------------------------------------------------
// Independent checksum finishing, as a NIC does it for the TX flags a segment
// carries (plain offsets from decode(), plain RFC 1071 sums).

void put16(Bytes& f, size_t off, uint16_t v) {
  f[off] = uint8_t(v >> 8);
  f[off + 1] = uint8_t(v);
}

void finish_ipv4(Bytes& f, const DecodedIp& ip) {
  ASSERT_EQ(ip.version, 4);
  put16(f, ip.off + 10, 0);
  put16(f, ip.off + 10, uint16_t(~testing::naive_sum(f.data() + ip.off, ip.hdr_len)));
}

void finish_tcp(Bytes& f, const Decoded& d) {
  size_t len = d.ip.off + d.ip.total_len - d.tcp_off;
  size_t alen = d.ip.version == 4 ? 4 : 16;
  size_t addrs = d.ip.off + (d.ip.version == 4 ? 12 : 8);
  uint32_t pseudo = testing::naive_sum(f.data() + addrs, 2 * alen) + 6u + uint32_t(len >> 16) +
                    uint32_t(len & 0xffff);
  put16(f, d.tcp_off + 16, 0);
  put16(f, d.tcp_off + 16, uint16_t(~testing::naive_sum(f.data() + d.tcp_off, len, pseudo)));
}

Bytes nic_finish(Bytes f, uint64_t ol_flags) {
  Decoded d = testing::decode(f);
  EXPECT_TRUE(d.error.empty()) << d.error;
  if (!d.error.empty()) return f;
  if (ol_flags & RTE_MBUF_F_TX_OUTER_IP_CKSUM) finish_ipv4(f, d.outer);
  if (ol_flags & RTE_MBUF_F_TX_IP_CKSUM) finish_ipv4(f, d.ip);
  if ((ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM ||
      (ol_flags & RTE_MBUF_F_TX_TCP_SEG))
    finish_tcp(f, d);
  return f;
}

// ---------------------------------------------------------------------------
// Pools. Every test checks in TearDown that all of them are back to empty.

class Reference : public ::testing::Test {
 protected:
  testing::Pool big{"ref_big", 16, 65535};  // whole 64 KB inputs in one mbuf
  testing::Pool small{"ref_small", 2048, RTE_MBUF_DEFAULT_BUF_SIZE};  // chains, GRO input
  testing::Pool hdr{"ref_hdr", 1024, RTE_MBUF_DEFAULT_BUF_SIZE};      // segment headers
  testing::Pool ind{"ref_ind", 2048, 0};                               // indirect mbufs

  void TearDown() override {
    EXPECT_EQ(big.in_use(), 0u);
    EXPECT_EQ(small.in_use(), 0u);
    EXPECT_EQ(hdr.in_use(), 0u);
    EXPECT_EQ(ind.in_use(), 0u);
  }
};

// ---------------------------------------------------------------------------
// GSO

struct GsoCase {
  std::string name;
  TcpSpec spec;
  uint16_t mss;
  uint32_t seg_size = 0;  // 0: input in one mbuf; else a chain of mbufs of this size
};
void PrintTo(const GsoCase& c, std::ostream* os) { *os << c.name; }

// What a segment looks like on the wire and in the mbuf.
struct SegOut {
  Bytes frame;
  uint32_t pkt_len;
  uint16_t nb_segs;
  uint64_t ol_flags;
  uint32_t packet_type;
  uint8_t l2_len, outer_l2_len;
  uint16_t l3_len, l4_len, outer_l3_len;
};

std::vector<SegOut> take_segments(rte_mbuf** out, int n) {
  std::vector<SegOut> v;
  for (int i = 0; i < n; ++i) {
    rte_mbuf* m = out[i];
    v.push_back({testing::flatten(m), m->pkt_len, m->nb_segs, m->ol_flags, m->packet_type,
                 uint8_t(m->l2_len), uint8_t(m->outer_l2_len), uint16_t(m->l3_len),
                 uint16_t(m->l4_len), uint16_t(m->outer_l3_len)});
  }
  rte_pktmbuf_free_bulk(out, unsigned(n));
  return v;
}

uint16_t header_len_of(const rte_mbuf* m) {
  return uint16_t(m->outer_l2_len + m->outer_l3_len + m->l2_len + m->l3_len + m->l4_len);
}

class GsoRef : public Reference {
 protected:
  rte_mempool* input_pool(const GsoCase& c) { return c.seg_size ? small.get() : big.get(); }

  rte_mbuf* input(const GsoCase& c) {
    rte_mbuf* m = testing::make_tso_mbuf(input_pool(c), c.spec, c.mss, c.seg_size);
    EXPECT_NE(m, nullptr);
    m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L4_TCP |
                     (c.spec.ip == IpVer::V4 ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV6);
    return m;
  }

  rte_gso_ctx ctx(const rte_mbuf* m, uint16_t mss, uint64_t flag = 0) {
    rte_gso_ctx c{};
    c.direct_pool = hdr;
    c.indirect_pool = ind;
    c.flag = flag;
    c.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO;
    c.gso_size = uint16_t(header_len_of(m) + mss);  // rte_gso counts headers in
    return c;
  }

  // rte_gso's return value; `segs` gets the segments. The input is freed
  // here, as rte_gso requires of its caller.
  int run_rte(const GsoCase& c, std::vector<SegOut>& segs, uint64_t flag = 0) {
    rte_mbuf* m = input(c);
    rte_gso_ctx g = ctx(m, c.mss, flag);
    rte_mbuf* out[kMaxOut];
    int n = rte_gso_segment(m, &g, out, kMaxOut);
    rte_pktmbuf_free(m);
    if (n > 0) segs = take_segments(out, n);
    return n;
  }

  Reason run_ours(const GsoCase& c, ChecksumMode cm, PayloadMode pm, std::vector<SegOut>& segs) {
    rte_mbuf* m = input(c);
    GsoConfig cfg{hdr, ind, cm, pm};
    rte_mbuf* out[kMaxOut];
    GsoResult r = gso_segment(cfg, m, out, kMaxOut);
    if (r.reason != Reason::Ok) {
      rte_pktmbuf_free(m);
      return r.reason;
    }
    segs = take_segments(out, r.segments);
    return Reason::Ok;
  }
};

TcpSpec tso_spec(uint32_t payload) {
  TcpSpec s;
  s.payload_len = payload;
  s.tcp_options = testing::tcp_timestamp_option(0x01020304, 0x0a0b0c0d);
  s.checksum = testing::L4Checksum::Partial;  // as a guest hands a TSO packet over
  return s;
}

TcpSpec vxlan_spec(uint32_t payload) {
  TcpSpec s = tso_spec(payload);
  s.vxlan = VxlanSpec{};
  return s;
}

std::vector<GsoCase> gso_cases() {
  std::vector<GsoCase> v;
  auto add = [&](std::string name, uint16_t mss, uint32_t seg_size, TcpSpec s) {
    v.push_back({std::move(name), std::move(s), mss, seg_size});
  };
  add("Tcp4_64k", 1448, 0, tso_spec(45 * 1448));
  add("Tcp4_ShortTail", 1448, 0, tso_spec(10000));
  add("Tcp4_OddMss", 999, 0, tso_spec(5001));
  add("Tcp4_AckOnly", 1448, 0, [] { auto s = tso_spec(8000); s.flags = kAck; return s; }());
  add("Tcp4_PshFin", 1448, 0,
      [] { auto s = tso_spec(8000); s.flags = kAck | kPsh | kFin; return s; }());
  add("Tcp4_EceUrg", 1448, 0,
      [] { auto s = tso_spec(8000); s.flags = kAck | kEce | kUrg; return s; }());
  add("Tcp4_NoTcpOptions", 1460, 0, [] { auto s = tso_spec(30000); s.tcp_options.clear(); return s; }());
  add("Tcp4_IpOptionsVlan", 1400, 0, [] {
    auto s = tso_spec(12000);
    s.vlan = 100;
    s.ip_options = {0x94, 0x04, 0x00, 0x00};  // router alert
    return s;
  }());
  add("Tcp4_IpIdWraps", 1448, 0, [] { auto s = tso_spec(8000); s.ip_id = 0xfffd; return s; }());
  add("Tcp4_NoDf", 1448, 0, [] { auto s = tso_spec(8000); s.dont_fragment = false; return s; }());
  add("Tcp4_SeqWraps", 1448, 0, [] { auto s = tso_spec(8000); s.seq = 0xfffff000u; return s; }());
  add("Tcp4_Chain1000", 1448, 1000, tso_spec(20000));
  add("Tcp4_Chain2048", 1448, 2048, tso_spec(45 * 1448));
  add("Vxlan4_64k", 1448, 0, vxlan_spec(45 * 1448));
  add("Vxlan4_ShortTail", 1400, 0, vxlan_spec(10001));
  add("Vxlan4_OuterVlanChain", 1448, 1500, [] {
    auto s = vxlan_spec(20000);
    s.vxlan->vlan = 7;
    return s;
  }());
  add("Vxlan4_IdsWrap", 1448, 0, [] {
    auto s = vxlan_spec(8000);
    s.ip_id = 0xfffe;
    s.vxlan->ip_id = 0xffff;
    s.flags = kAck | kPsh | kFin;
    return s;
  }());
  return v;
}

class GsoTable : public GsoRef, public ::testing::WithParamInterface<GsoCase> {};

// Same wire bytes: rte_gso's segments, finished by the "NIC", equal ours in
// ChecksumMode::Full (Attach and Copy), and ours in PseudoForNic finished by
// the same NIC. Same count, sizes and (Attach) mbuf structure. Shared policy,
// pinned here by the cases: IPv4 IDs original + n (wrapping), sequence
// numbers advanced (wrapping), PSH and FIN on the last segment only, ECE and
// URG on every one, a zero outer UDP checksum left zero.
TEST_P(GsoTable, SameWireBytesAsRteGso) {
  const GsoCase& c = GetParam();
  std::vector<SegOut> rte, full, copy, pseudo;
  int n = run_rte(c, rte);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, full), Reason::Ok);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Copy, copy), Reason::Ok);
  ASSERT_EQ(run_ours(c, ChecksumMode::PseudoForNic, PayloadMode::Attach, pseudo), Reason::Ok);

  uint32_t expected = (c.spec.payload_len + c.mss - 1) / c.mss;
  ASSERT_EQ(n, int(expected));
  ASSERT_EQ(full.size(), expected);
  ASSERT_EQ(copy.size(), expected);
  ASSERT_EQ(pseudo.size(), expected);

  Bytes payload;
  for (size_t i = 0; i < expected; ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    EXPECT_EQ(rte[i].pkt_len, full[i].pkt_len);
    EXPECT_EQ(rte[i].frame.size(), rte[i].pkt_len);
    // Attach builds what rte_gso builds: a header mbuf, then one indirect mbuf
    // per piece of input mbuf the segment's payload spans. Copy: one mbuf.
    EXPECT_EQ(rte[i].nb_segs, full[i].nb_segs);
    EXPECT_EQ(copy[i].nb_segs, 1);

    Bytes finished = nic_finish(rte[i].frame, rte[i].ol_flags);
    EXPECT_EQ(finished, full[i].frame);
    EXPECT_EQ(copy[i].frame, full[i].frame);
    EXPECT_EQ(nic_finish(pseudo[i].frame, pseudo[i].ol_flags), full[i].frame);

    // Independent sanity of the common result.
    Decoded d = testing::decode(full[i].frame);
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_TRUE(d.ip.checksum_ok);
    EXPECT_TRUE(d.tcp_checksum_ok);
    if (d.tunnel) {
      EXPECT_TRUE(d.outer.checksum_ok);
    }
    EXPECT_EQ(d.payload.size(), std::min<uint32_t>(c.mss, c.spec.payload_len - i * c.mss));
    payload.insert(payload.end(), d.payload.begin(), d.payload.end());
    // PseudoForNic leaves the pseudo-header sum for the NIC.
    EXPECT_TRUE(testing::decode(pseudo[i].frame).tcp_checksum_pseudo);
  }
  EXPECT_EQ(payload, testing::payload_bytes(c.spec.payload_seed, 0, c.spec.payload_len));
}

INSTANTIATE_TEST_SUITE_P(Cases, GsoTable, ::testing::ValuesIn(gso_cases()),
                         [](const auto& info) { return info.param.name; });

// Policy: CWR. rte_gso leaves CWR on every segment; we keep it on the first
// only, as Linux tcp_gso_segment() does (RFC 3168: CWR answers ECE once).
TEST_F(GsoRef, CwrOnFirstSegmentOnlyWhereRteGsoRepeatsIt) {
  GsoCase c{"cwr", tso_spec(6000), 1448};
  c.spec.flags = kAck | kPsh | kCwr;
  std::vector<SegOut> rte, ours;
  ASSERT_EQ(run_rte(c, rte), 5);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, ours), Reason::Ok);
  ASSERT_EQ(ours.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    Bytes r = nic_finish(rte[i].frame, rte[i].ol_flags);
    Decoded dr = testing::decode(r), dour = testing::decode(ours[i].frame);
    uint8_t psh = i == 4 ? kPsh : 0;
    EXPECT_EQ(dr.flags, kAck | kCwr | psh);
    EXPECT_EQ(dour.flags, kAck | (i == 0 ? kCwr : 0) | psh);
    // Apart from that flag, the same segment.
    r[dr.tcp_off + 13] = dour.flags;
    finish_tcp(r, dr);
    EXPECT_EQ(r, ours[i].frame);
  }
}

// Policy: IP IDs. Both number the inner (or only) IPv4 ID original + n, and
// the outer one of a VXLAN packet original + n. rte_gso also offers
// RTE_GSO_FLAG_IPID_FIXED (inner ID unchanged, outer still + n); we have no
// such option and always increment.
TEST_F(GsoRef, IpIdIncrementsWhereRteGsoCanAlsoKeepItFixed) {
  GsoCase c{"ids", vxlan_spec(5000), 1448};
  c.spec.ip_id = 0x2000;
  c.spec.vxlan->ip_id = 0x3000;
  std::vector<SegOut> inc, fixed, ours;
  ASSERT_EQ(run_rte(c, inc), 4);
  ASSERT_EQ(run_rte(c, fixed, RTE_GSO_FLAG_IPID_FIXED), 4);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, ours), Reason::Ok);
  for (uint16_t i = 0; i < 4; ++i) {
    Decoded di = testing::decode(inc[i].frame), df = testing::decode(fixed[i].frame),
            dour = testing::decode(ours[i].frame);
    EXPECT_EQ(di.ip.id, 0x2000 + i);
    EXPECT_EQ(di.outer.id, 0x3000 + i);
    EXPECT_EQ(dour.ip.id, 0x2000 + i);
    EXPECT_EQ(dour.outer.id, 0x3000 + i);
    EXPECT_EQ(df.ip.id, 0x2000);
    EXPECT_EQ(df.outer.id, 0x3000 + i);
  }
}

// Policy: metadata. rte_gso copies the input's ol_flags (less TX_TCP_SEG) and
// tx_offload lengths to every segment: the NIC must finish every checksum.
// Ours in Full sets no TX checksum request; in PseudoForNic only the TCP one
// (IPv4 header checksums are final); both keep packet_type and set the lengths.
TEST_F(GsoRef, SegmentMetadata) {
  for (bool tunnel : {false, true}) {
    SCOPED_TRACE(tunnel ? "vxlan" : "tcp4");
    GsoCase c{"meta", tunnel ? vxlan_spec(4000) : tso_spec(4000), 1448};
    rte_mbuf* probe = input(c);
    uint64_t in_flags = probe->ol_flags;
    rte_pktmbuf_free(probe);
    std::vector<SegOut> rte, full, pseudo;
    ASSERT_EQ(run_rte(c, rte), 3);
    ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, full), Reason::Ok);
    ASSERT_EQ(run_ours(c, ChecksumMode::PseudoForNic, PayloadMode::Attach, pseudo), Reason::Ok);
    uint64_t nic = RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4 |
                   (tunnel ? RTE_MBUF_F_TX_TUNNEL_VXLAN | RTE_MBUF_F_TX_OUTER_IPV4 : 0);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(rte[i].ol_flags, in_flags & ~RTE_MBUF_F_TX_TCP_SEG);
      EXPECT_TRUE(rte[i].ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
      EXPECT_EQ(full[i].ol_flags, 0u);
      EXPECT_EQ(pseudo[i].ol_flags, nic);
      for (const SegOut* s : {&rte[i], &full[i], &pseudo[i]}) {
        EXPECT_EQ(s->packet_type, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L4_TCP | RTE_PTYPE_L3_IPV4);
        EXPECT_EQ(s->l2_len, rte[i].l2_len);
        EXPECT_EQ(s->l3_len, rte[i].l3_len);
        EXPECT_EQ(s->l4_len, rte[i].l4_len);
        EXPECT_EQ(s->outer_l2_len, rte[i].outer_l2_len);
        EXPECT_EQ(s->outer_l3_len, rte[i].outer_l3_len);
      }
    }
  }
}

// Policy: ownership. rte_gso takes one reference on the input per payload
// piece and leaves the caller's own reference with the caller (who must free
// the input); gso_segment() takes the pieces' references and consumes the
// caller's.
TEST_F(GsoRef, InputOwnership) {
  GsoCase c{"own", tso_spec(4000), 1448};
  rte_mbuf* out[kMaxOut];

  rte_mbuf* m = input(c);
  rte_gso_ctx g = ctx(m, c.mss);
  ASSERT_EQ(rte_gso_segment(m, &g, out, kMaxOut), 3);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1 + 3);
  EXPECT_FALSE(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG);  // rte_gso clears it on the input
  rte_pktmbuf_free(m);
  rte_pktmbuf_free_bulk(out, 3);

  m = input(c);
  rte_mbuf_refcnt_update(m, 1);  // to look at it afterwards
  GsoConfig cfg{hdr, ind, ChecksumMode::Full, PayloadMode::Attach};
  GsoResult r = gso_segment(cfg, m, out, kMaxOut);
  ASSERT_EQ(r.reason, Reason::Ok);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1 + 3);  // ours, plus the pieces': the caller's is gone
  rte_pktmbuf_free_bulk(out, r.segments);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  rte_pktmbuf_free(m);
}

// Policy: nothing to cut. With payload <= MSS rte_gso returns 0 and clears
// TX_TCP_SEG on the input; we refuse with MssExceedsPayload and leave the
// packet exactly as it was (flags included).
TEST_F(GsoRef, PayloadNotAboveMss) {
  GsoCase c{"small", tso_spec(1448), 1448};
  rte_mbuf* out[kMaxOut];
  rte_mbuf* m = input(c);
  rte_gso_ctx g = ctx(m, c.mss);
  EXPECT_EQ(rte_gso_segment(m, &g, out, kMaxOut), 0);
  EXPECT_FALSE(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG);
  rte_pktmbuf_free(m);

  m = input(c);
  uint64_t flags = m->ol_flags;
  Bytes before = testing::flatten(m);
  GsoConfig cfg{hdr, ind, ChecksumMode::Full, PayloadMode::Attach};
  EXPECT_EQ(gso_segment(cfg, m, out, kMaxOut).reason, Reason::MssExceedsPayload);
  EXPECT_EQ(m->ol_flags, flags);
  EXPECT_EQ(testing::flatten(m), before);
  rte_pktmbuf_free(m);
}

// Policy: VXLAN outer UDP checksum. rte_gso rewrites the UDP length and leaves
// the checksum field as the input had it (wrong for every segment); we
// recompute it when the input had one (a zero one stays zero: see the table).
TEST_F(GsoRef, OuterUdpChecksum) {
  GsoCase c{"udpsum", vxlan_spec(4000), 1448};
  c.spec.vxlan->udp_checksum = true;
  Decoded in = testing::decode(testing::build_frame(c.spec));
  ASSERT_NE(in.udp_checksum, 0);
  std::vector<SegOut> rte, ours;
  ASSERT_EQ(run_rte(c, rte), 3);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, ours), Reason::Ok);
  for (size_t i = 0; i < 3; ++i) {
    Decoded dr = testing::decode(nic_finish(rte[i].frame, rte[i].ol_flags));
    Decoded dour = testing::decode(ours[i].frame);
    EXPECT_EQ(dr.udp_checksum, in.udp_checksum);
    EXPECT_FALSE(dr.udp_checksum_ok);
    EXPECT_NE(dour.udp_checksum, 0);
    EXPECT_TRUE(dour.udp_checksum_ok);
    EXPECT_TRUE(dour.tcp_checksum_ok);
  }
}

// Coverage: rte_gso has no TCPv6 (it returns 0: "nothing to do"); we segment it.
TEST_F(GsoRef, Tcp6OnlyOurs) {
  GsoCase c{"v6", tso_spec(10000), 1448};
  c.spec.ip = IpVer::V6;
  c.spec.src = "2001:db8::1";
  c.spec.dst = "2001:db8::2";
  std::vector<SegOut> rte, ours;
  EXPECT_EQ(run_rte(c, rte), 0);
  ASSERT_EQ(run_ours(c, ChecksumMode::Full, PayloadMode::Attach, ours), Reason::Ok);
  ASSERT_EQ(ours.size(), 7u);
  for (const SegOut& s : ours) EXPECT_TRUE(testing::decode(s.frame).tcp_checksum_ok);
}

// ---------------------------------------------------------------------------
// GRO

constexpr uint64_t kGroPtypeV4 = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;

// A flow's in-order segments: seq advancing, IPv4 ID + 1 each, ACK only, a
// payload seed of its own per segment.
std::vector<TcpSpec> flow(const TcpSpec& base, const std::vector<uint32_t>& sizes,
                          uint32_t seed_base) {
  std::vector<TcpSpec> v;
  uint32_t seq = base.seq;
  for (size_t i = 0; i < sizes.size(); ++i) {
    TcpSpec s = base;
    s.seq = seq;
    s.ip_id = uint16_t(base.ip_id + i);
    s.payload_len = sizes[i];
    s.payload_seed = seed_base + uint32_t(i);
    v.push_back(s);
    seq += sizes[i];
  }
  return v;
}

std::vector<uint32_t> sizes(size_t n, uint32_t each = 1448) { return std::vector<uint32_t>(n, each); }

TcpSpec gro_base(uint16_t src_port = 40000) {
  TcpSpec s;
  s.flags = kAck;
  s.src_port = src_port;
  s.tcp_options = testing::tcp_timestamp_option(77, 88);
  return s;
}

// Round robin over flows.
std::vector<TcpSpec> interleave(const std::vector<std::vector<TcpSpec>>& flows) {
  std::vector<TcpSpec> v;
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (const auto& f : flows)
      if (i < f.size()) {
        v.push_back(f[i]);
        any = true;
      }
    if (!any) return v;
  }
}

struct GroOut {
  Bytes frame;
  Decoded d;
  uint16_t nb_segs;
  uint64_t ol_flags;
  uint16_t tso_segsz;
};

class GroRef : public Reference {
 protected:
  // A received segment as rte_gro needs it: l2/l3/l4 lengths and packet_type.
  rte_mbuf* rx(const TcpSpec& s) {
    rte_mbuf* m = testing::make_mbuf(small, testing::build_frame(s));
    EXPECT_NE(m, nullptr);
    m->l2_len = 14 + (s.vlan ? 4 : 0);
    m->l3_len = s.ip == IpVer::V4 ? 20 + ((s.ip_options.size() + 3) & ~size_t(3)) : 40;
    m->l4_len = 20 + ((s.tcp_options.size() + 3) & ~size_t(3));
    m->packet_type = s.ip == IpVer::V4
                         ? kGroPtypeV4
                         : RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_TCP;
    return m;
  }

  static std::vector<GroOut> take(std::vector<rte_mbuf*>& ms) {
    std::vector<GroOut> v;
    for (rte_mbuf* m : ms) {
      Bytes f = testing::flatten(m);
      EXPECT_EQ(f.size(), m->pkt_len);
      v.push_back({f, testing::decode(f), m->nb_segs, m->ol_flags, uint16_t(m->tso_segsz)});
      rte_pktmbuf_free(m);
    }
    ms.clear();
    return v;
  }

  // rte_gro_reassemble_burst(), a fresh table per burst; output in its order.
  std::vector<GroOut> run_rte(const std::vector<TcpSpec>& stream, size_t burst) {
    std::vector<rte_mbuf*> all;
    for (size_t i = 0; i < stream.size(); i += burst) {
      std::vector<rte_mbuf*> b;
      for (size_t j = i; j < std::min(stream.size(), i + burst); ++j) b.push_back(rx(stream[j]));
      rte_gro_param p{};
      p.gro_types = RTE_GRO_TCP_IPV4;
      p.max_flow_num = 64;
      p.max_item_per_flow = 32;
      uint16_t n = rte_gro_reassemble_burst(b.data(), uint16_t(b.size()), &p);
      all.insert(all.end(), b.begin(), b.begin() + n);
    }
    return take(all);
  }

  // GroTable flushed at the end of every burst; output in its order.
  std::vector<GroOut> run_ours(const std::vector<TcpSpec>& stream, size_t burst,
                               GroStats* stats = nullptr) {
    GroTable t(GroConfig{.max_flows = 64});
    std::vector<rte_mbuf*> all;
    std::vector<rte_mbuf*> out(2 * burst + 64);
    for (size_t i = 0; i < stream.size(); i += burst) {
      std::vector<rte_mbuf*> b;
      for (size_t j = i; j < std::min(stream.size(), i + burst); ++j) b.push_back(rx(stream[j]));
      size_t done = 0;
      while (done < b.size()) {
        GroCounts c = t.input(std::span<rte_mbuf* const>(b).subspan(done), 0, out);
        EXPECT_GT(c.consumed, 0);
        done += c.consumed;
        all.insert(all.end(), out.begin(), out.begin() + c.emitted);
      }
      uint16_t n = t.flush_all(out);
      all.insert(all.end(), out.begin(), out.begin() + n);
      EXPECT_EQ(t.held(), 0);
    }
    if (stats) *stats = t.stats();
    return take(all);
  }
};

// Sorted by flow (source port) then sequence number, for comparing grouping
// independently of emission order.
std::vector<GroOut> by_flow(std::vector<GroOut> v) {
  std::stable_sort(v.begin(), v.end(), [](const GroOut& a, const GroOut& b) {
    return a.d.src_port != b.d.src_port ? a.d.src_port < b.d.src_port
                                        : int32_t(a.d.seq - b.d.seq) < 0;
  });
  return v;
}

// The input segments an output carries: those of its flow whose sequence
// range tiles [seq, seq + payload); checks the payload is their concatenation.
std::vector<size_t> members(const GroOut& o, const std::vector<TcpSpec>& stream) {
  std::vector<size_t> idx;
  Bytes expect;
  uint32_t seq = o.d.seq;
  uint32_t end = o.d.seq + uint32_t(o.d.payload.size());
  while (seq != end) {
    size_t k = stream.size();
    for (size_t i = 0; i < stream.size(); ++i)
      if (stream[i].src_port == o.d.src_port && stream[i].seq == seq && stream[i].ack == o.d.ack)
        k = i;
    if (k == stream.size()) {
      ADD_FAILURE() << "no input segment at seq " << seq;
      return idx;
    }
    idx.push_back(k);
    Bytes p = testing::payload_bytes(stream[k].payload_seed, 0, stream[k].payload_len);
    expect.insert(expect.end(), p.begin(), p.end());
    seq += stream[k].payload_len;
  }
  EXPECT_EQ(o.d.payload, expect);
  return idx;
}

// Headers with the IPv4 and TCP checksum fields zeroed.
Bytes masked_headers(const GroOut& o) {
  Bytes h(o.frame.begin(), o.frame.begin() + o.d.tcp_off + o.d.tcp_hdr_len);
  if (o.d.ip.version == 4) put16(h, o.d.ip.off + 10, 0);
  put16(h, o.d.tcp_off + 16, 0);
  return h;
}

struct GroCase {
  std::string name;
  std::function<std::vector<TcpSpec>()> stream;
  size_t burst;
  std::vector<size_t> group_sizes;  // segments per output, sorted by flow then seq
};

std::vector<GroCase> gro_cases() {
  std::vector<GroCase> v;
  v.push_back({"OneFlow32", [] { return flow(gro_base(), sizes(32), 100); }, 32, {32}});
  v.push_back({"OneFlowTwoBursts", [] { return flow(gro_base(), sizes(40), 100); }, 32, {32, 8}});
  // 50 x 1448 exceeds one IPv4 datagram: both cut after 45 segments.
  v.push_back({"OneFlow64kLimit", [] { return flow(gro_base(), sizes(50), 100); }, 64, {45, 5}});
  v.push_back({"OneFlowShortTail",
               [] {
                 auto s = sizes(20);
                 s.back() = 600;
                 return flow(gro_base(), s, 100);
               },
               32, {20}});
  v.push_back({"FourFlowsInterleaved",
               [] {
                 std::vector<std::vector<TcpSpec>> f;
                 for (uint16_t i = 0; i < 4; ++i)
                   f.push_back(flow(gro_base(uint16_t(40000 + i)), sizes(8), 1000 * (i + 1)));
                 return interleave(f);
               },
               32, {8, 8, 8, 8}});
  v.push_back({"SixteenFlowsInterleaved",
               [] {
                 std::vector<std::vector<TcpSpec>> f;
                 for (uint16_t i = 0; i < 16; ++i)
                   f.push_back(flow(gro_base(uint16_t(40000 + i)), sizes(4), 1000 * (i + 1)));
                 return interleave(f);
               },
               32, std::vector<size_t>(32, 2)});
  v.push_back({"ThreeFlowsOddBursts",
               [] {
                 std::vector<std::vector<TcpSpec>> f;
                 for (uint16_t i = 0; i < 3; ++i)
                   f.push_back(flow(gro_base(uint16_t(40000 + i)), sizes(7), 1000 * (i + 1)));
                 return interleave(f);
               },
               // bursts of 7 over a round robin of 3: per flow 3+2+2 (flow 0),
               // 2+3+2 (flow 1), 2+2+3 (flow 2)
               7, {3, 2, 2, 2, 3, 2, 2, 2, 3}});
  v.push_back({"NoDfIdsIncrement",
               [] {
                 auto b = gro_base();
                 b.dont_fragment = false;
                 return flow(b, sizes(10), 100);
               },
               32, {10}});
  v.push_back({"NoTcpOptions",
               [] {
                 auto b = gro_base();
                 b.tcp_options.clear();
                 return flow(b, sizes(10, 1460), 100);
               },
               32, {10}});
  v.push_back({"OptionsChange",
               [] {
                 auto a = flow(gro_base(), sizes(10), 100);
                 for (size_t i = 5; i < 10; ++i) a[i].tcp_options = testing::tcp_timestamp_option(78, 88);
                 return a;
               },
               32, {5, 5}});
  v.push_back({"AckChanges",
               [] {
                 auto a = flow(gro_base(), sizes(10), 100);
                 for (size_t i = 6; i < 10; ++i) a[i].ack += 1000;
                 return a;
               },
               32, {6, 4}});
  v.push_back({"PureAckBetween",
               [] {
                 auto a = flow(gro_base(), sizes(6), 100);
                 TcpSpec ack = gro_base(50000);  // another flow's pure ACK: passes through
                 a.insert(a.begin() + 3, ack);
                 return a;
               },
               32, {6, 0}});  // the pure ACK carries no segment
  return v;
}

void PrintTo(const GroCase& c, std::ostream* os) { *os << c.name; }

class GroTableRef : public GroRef, public ::testing::WithParamInterface<GroCase> {};

// Same number of packets, same payload grouping, same headers (checksum fields
// aside, and the mbuf metadata, which the policy tests below pin down).
TEST_P(GroTableRef, SameGroupingAndHeadersAsRteGro) {
  const GroCase& c = GetParam();
  std::vector<TcpSpec> stream = c.stream();
  std::vector<GroOut> rte = by_flow(run_rte(stream, c.burst));
  std::vector<GroOut> ours = by_flow(run_ours(stream, c.burst));
  ASSERT_EQ(rte.size(), c.group_sizes.size());
  ASSERT_EQ(ours.size(), c.group_sizes.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    const GroOut& r = rte[i];
    const GroOut& o = ours[i];
    ASSERT_TRUE(r.d.error.empty()) << r.d.error;
    ASSERT_TRUE(o.d.error.empty()) << o.d.error;
    std::vector<size_t> mr = members(r, stream), mo = members(o, stream);
    EXPECT_EQ(mr, mo);
    EXPECT_EQ(mo.size(), c.group_sizes[i]);
    EXPECT_EQ(masked_headers(r), masked_headers(o));
    EXPECT_EQ(r.frame.size(), o.frame.size());
    EXPECT_EQ(r.nb_segs, o.nb_segs);
    if (mo.size() <= 1) {
      // Never merged: both leave the packet exactly as it came.
      EXPECT_EQ(r.frame, o.frame);
      continue;
    }
    // Merged. Ours: IPv4 header checksum final, TCP field the pseudo-header
    // sum over the merged length (CHECKSUM_PARTIAL, completed by whoever
    // segments it or by the guest), metadata of a large segment.
    Decoded first = testing::decode(testing::build_frame(stream[mo[0]]));
    EXPECT_TRUE(o.d.ip.checksum_ok);
    EXPECT_TRUE(o.d.tcp_checksum_pseudo);
    EXPECT_TRUE(o.ol_flags & RTE_MBUF_F_RX_LRO);
    EXPECT_TRUE(o.ol_flags & RTE_MBUF_F_TX_TCP_SEG);
    EXPECT_EQ(o.tso_segsz, stream[mo[0]].payload_len);
    // rte_gro: only the IPv4 total length is rewritten; both checksum fields
    // keep the first segment's values (stale), the mbuf metadata is untouched.
    EXPECT_EQ(r.d.ip.checksum, first.ip.checksum);
    EXPECT_FALSE(r.d.ip.checksum_ok);
    EXPECT_EQ(r.d.tcp_checksum, first.tcp_checksum);
    EXPECT_FALSE(r.d.tcp_checksum_ok);
    EXPECT_EQ(r.ol_flags, 0u);
    EXPECT_EQ(r.tso_segsz, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GroTableRef, ::testing::ValuesIn(gro_cases()),
                         [](const auto& info) { return info.param.name; });

std::vector<size_t> group_sizes(const std::vector<GroOut>& out, const std::vector<TcpSpec>& stream) {
  std::vector<size_t> v;
  for (const GroOut& o : out) v.push_back(members(o, stream).size());
  return v;
}

// Policy: PSH. A sender ends each burst (each TSO packet) with PSH. We merge
// the PSH segment, end the merged packet with it and carry PSH; rte_gro (22.11)
// merges nothing but plain ACK segments: it returns the PSH segment unmerged,
// after everything its table held at the end of the burst, so behind later
// segments of its own flow: the flow is reordered.
TEST_F(GroRef, PshEndsOurMergeWhereRteGroLeavesItOutAndReorders) {
  auto s = flow(gro_base(), sizes(8), 100);
  s[3].flags = kAck | kPsh;
  std::vector<GroOut> rte = run_rte(s, 32), ours = run_ours(s, 32);
  EXPECT_EQ(group_sizes(ours, s), (std::vector<size_t>{4, 4}));
  EXPECT_EQ(ours[0].d.flags, kAck | kPsh);
  EXPECT_EQ(ours[0].d.seq, s[0].seq);
  EXPECT_EQ(ours[1].d.flags, kAck);
  EXPECT_EQ(ours[1].d.seq, s[4].seq);
  // rte_gro: [0..2] [4..7] [3] in that order.
  EXPECT_EQ(group_sizes(rte, s), (std::vector<size_t>{3, 4, 1}));
  ASSERT_EQ(rte.size(), 3u);
  EXPECT_EQ(rte[0].d.seq, s[0].seq);
  EXPECT_EQ(rte[1].d.seq, s[4].seq);
  EXPECT_EQ(rte[2].d.seq, s[3].seq);
  EXPECT_EQ(rte[2].d.flags, kAck | kPsh);
}

// Flow-breaking segments (FIN here) at the end of a flow: both pass it through
// unmerged after the data the flow held (rte_gro because it returns unmerged
// packets after the table's; we because we emit what the flow held first).
TEST_F(GroRef, FinAfterTheDataInBoth) {
  auto s = flow(gro_base(), sizes(5), 100);
  s[4].flags = kAck | kFin;
  std::vector<GroOut> rte = run_rte(s, 32), ours = run_ours(s, 32);
  EXPECT_EQ(group_sizes(ours, s), (std::vector<size_t>{4, 1}));
  EXPECT_EQ(group_sizes(rte, s), (std::vector<size_t>{4, 1}));
  ASSERT_EQ(rte.size(), 2u);
  ASSERT_EQ(ours.size(), 2u);
  EXPECT_EQ(ours[1].d.flags, kAck | kFin);
  EXPECT_EQ(rte[1].d.flags, kAck | kFin);
}

// Policy: reordering. rte_gro keeps several packets per flow and joins a late
// segment to the one it continues (0+1, then 2 alone); we never merge across a
// gap nor hold an out-of-order segment: 0, 2, 1 leave as three packets, in
// arrival order.
TEST_F(GroRef, OutOfOrderNotMergedByUsMergedByRteGro) {
  auto f = flow(gro_base(), sizes(3), 100);
  std::vector<TcpSpec> s = {f[0], f[2], f[1]};
  GroStats st;
  std::vector<GroOut> rte = by_flow(run_rte(s, 32)), ours = run_ours(s, 32, &st);
  EXPECT_EQ(group_sizes(ours, s), (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(ours[0].d.seq, f[0].seq);
  EXPECT_EQ(ours[1].d.seq, f[2].seq);
  EXPECT_EQ(ours[2].d.seq, f[1].seq);
  EXPECT_EQ(st.out_of_order, 1u);
  EXPECT_EQ(group_sizes(rte, s), (std::vector<size_t>{2, 1}));
  EXPECT_EQ(rte[0].d.seq, f[0].seq);
}

// Policy: IPv4 ID with DF set. rte_gro ignores the ID of a DF packet; we take
// it incrementing or fixed (what senders do, RFC 6864) but not arbitrary.
TEST_F(GroRef, DfIdsArbitraryMergedByRteGroOnly) {
  auto fixed = flow(gro_base(), sizes(6), 100);
  for (auto& x : fixed) x.ip_id = 0x4444;
  EXPECT_EQ(group_sizes(run_ours(fixed, 32), fixed), (std::vector<size_t>{6}));
  EXPECT_EQ(group_sizes(run_rte(fixed, 32), fixed), (std::vector<size_t>{6}));

  auto random = flow(gro_base(), sizes(6), 100);
  const uint16_t ids[] = {7, 900, 3, 12000, 5, 40000};
  for (size_t i = 0; i < 6; ++i) random[i].ip_id = ids[i];
  EXPECT_EQ(group_sizes(run_ours(random, 32), random), std::vector<size_t>(6, 1));
  EXPECT_EQ(group_sizes(run_rte(random, 32), random), (std::vector<size_t>{6}));
}

// Policy: IP fields. rte_gro's flow key has no TOS/TTL: it merges a segment
// with a different ECN mark (CE) or TTL into the flow; we keep them apart
// (a CE mark must reach the receiver).
TEST_F(GroRef, TosAndTtlChangesSplitOursNotRteGro) {
  auto ce = flow(gro_base(), sizes(6), 100);
  ce[3].tos = 0x03;
  EXPECT_EQ(group_sizes(by_flow(run_ours(ce, 32)), ce), (std::vector<size_t>{3, 1, 2}));
  auto rte_ce = run_rte(ce, 32);
  EXPECT_EQ(group_sizes(rte_ce, ce), (std::vector<size_t>{6}));
  EXPECT_EQ(rte_ce[0].d.ip.tos, 0);  // the CE mark is lost

  auto ttl = flow(gro_base(), sizes(6), 100);
  for (size_t i = 3; i < 6; ++i) ttl[i].ttl = 63;
  EXPECT_EQ(group_sizes(by_flow(run_ours(ttl, 32)), ttl), (std::vector<size_t>{3, 3}));
  EXPECT_EQ(group_sizes(run_rte(ttl, 32), ttl), (std::vector<size_t>{6}));
}

// Policy: window. Both merge across window updates; the merged packet carries
// the newest window with us, the first segment's with rte_gro.
TEST_F(GroRef, WindowNewestOursFirstRteGro) {
  auto s = flow(gro_base(), sizes(5), 100);
  for (size_t i = 0; i < 5; ++i) s[i].window = uint16_t(1000 + i);
  std::vector<GroOut> rte = run_rte(s, 32), ours = run_ours(s, 32);
  ASSERT_EQ(rte.size(), 1u);
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_EQ(ours[0].d.window, 1004);
  EXPECT_EQ(rte[0].d.window, 1000);
}

// Policy: segment sizes. We take the first segment's payload as the MSS: a
// shorter one ends the merged packet, a longer one starts another. rte_gro
// merges any sizes in sequence.
TEST_F(GroRef, ShortSegmentEndsOurMergeNotRteGros) {
  auto s = flow(gro_base(), {1448, 1448, 1000, 1448, 1448}, 100);
  EXPECT_EQ(group_sizes(by_flow(run_ours(s, 32)), s), (std::vector<size_t>{3, 2}));
  EXPECT_EQ(group_sizes(run_rte(s, 32), s), (std::vector<size_t>{5}));

  auto grow = flow(gro_base(), {1000, 1000, 1448, 1448}, 100);
  EXPECT_EQ(group_sizes(by_flow(run_ours(grow, 32)), grow), (std::vector<size_t>{2, 2}));
  EXPECT_EQ(group_sizes(run_rte(grow, 32), grow), (std::vector<size_t>{4}));
}

// Policy: checksums. rte_gro verifies nothing and merges a corrupt segment
// into the flow; we verify in software when the NIC has not (ol_flags say
// UNKNOWN here) and pass a bad segment through unmerged.
TEST_F(GroRef, BadChecksumMergedByRteGroOnly) {
  auto s = flow(gro_base(), sizes(5), 100);
  s[2].checksum = testing::L4Checksum::Zero;
  GroStats st;
  EXPECT_EQ(group_sizes(by_flow(run_ours(s, 32, &st)), s), (std::vector<size_t>{2, 1, 2}));
  EXPECT_EQ(st.checksum_bad, 1u);
  EXPECT_EQ(group_sizes(run_rte(s, 32), s), (std::vector<size_t>{5}));
}

// Coverage: rte_gro (22.11) has no TCPv6 GRO; we merge it.
TEST_F(GroRef, Tcp6OnlyOurs) {
  auto b = gro_base();
  b.ip = IpVer::V6;
  b.src = "2001:db8::1";
  b.dst = "2001:db8::2";
  auto s = flow(b, sizes(10), 100);
  EXPECT_EQ(group_sizes(run_ours(s, 32), s), (std::vector<size_t>{10}));
  EXPECT_EQ(group_sizes(run_rte(s, 32), s), std::vector<size_t>(10, 1));
}

// rte_gro only looks at packets whose packet_type says IPv4/TCP: without it
// nothing merges. We parse the bytes and ignore packet_type.
TEST_F(GroRef, PacketTypeRequiredByRteGroOnly) {
  auto s = flow(gro_base(), sizes(6), 100);
  std::vector<rte_mbuf*> b;
  for (const auto& x : s) {
    b.push_back(rx(x));
    b.back()->packet_type = 0;
  }
  rte_gro_param p{};
  p.gro_types = RTE_GRO_TCP_IPV4;
  p.max_flow_num = 64;
  p.max_item_per_flow = 32;
  EXPECT_EQ(rte_gro_reassemble_burst(b.data(), uint16_t(b.size()), &p), 6);
  GroTable t(GroConfig{});
  std::vector<rte_mbuf*> out(64);
  GroCounts c = t.input(b, 0, out);
  EXPECT_EQ(c.consumed, 6);
  EXPECT_EQ(c.emitted, 0);
  EXPECT_EQ(t.flush_all(out), 1);
  rte_pktmbuf_free(out[0]);
}

}  // namespace
}  // namespace vo
