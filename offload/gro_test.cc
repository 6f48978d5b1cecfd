// Software GRO against the rules it must follow, with packets built from
// readable specs and checked by an independent decoder (packet_check.h): the
// expected merged packet is computed here with plain byte arithmetic.
#include "offload/gro.h"
#include "offload/metadata.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::Decoded;
using testing::DecodedIp;
using testing::decode;
using testing::naive_sum;
using testing::TcpSpec;
using testing::VxlanSpec;

constexpr uint16_t kMss = 1448;
using namespace testing::tcp_flag;
constexpr uint32_t kMaxIpLen = 65535;

// ---- Frames ---------------------------------------------------------------

void put16(Bytes& b, size_t off, uint32_t v) {
  b[off] = uint8_t(v >> 8);
  b[off + 1] = uint8_t(v);
}

uint32_t pseudo_sum(const Bytes& f, const DecodedIp& ip, uint8_t proto, uint32_t len) {
  size_t alen = ip.version == 4 ? 4 : 16;
  size_t src = ip.off + (ip.version == 4 ? 12 : 8);
  return naive_sum(f.data() + src, 2 * alen) + proto + (len >> 16) + (len & 0xffff);
}

void fill_ipv4_checksum(Bytes& f, const DecodedIp& ip) {
  put16(f, ip.off + 10, 0);
  put16(f, ip.off + 10, uint16_t(~naive_sum(f.data() + ip.off, ip.hdr_len)));
}

void fill_tcp_checksum(Bytes& f, const Decoded& d, bool partial) {
  uint32_t len = uint32_t(d.ip.off + d.ip.total_len - d.tcp_off);
  uint32_t ps = pseudo_sum(f, d.ip, 6, len);
  put16(f, d.tcp_off + 16, partial ? naive_sum(nullptr, 0, ps) : 0);
  if (!partial) put16(f, d.tcp_off + 16, uint16_t(~naive_sum(f.data() + d.tcp_off, len, ps)));
}

void fill_udp_checksum(Bytes& f, const Decoded& d) {
  size_t udp = d.outer.off + d.outer.hdr_len;
  uint32_t len = uint32_t(f.size() - udp);
  put16(f, udp + 6, 0);
  uint16_t c = uint16_t(~naive_sum(f.data() + udp, len, pseudo_sum(f, d.outer, 17, len)));
  put16(f, udp + 6, c == 0 ? 0xffff : c);
}

// `s` as a frame whose payload is the stream's bytes at offset seq - base_seq
// (TcpSpec alone would give every segment the stream's first bytes).
Bytes stream_frame(const TcpSpec& s, uint32_t base_seq) {
  Bytes f = testing::build_frame(s);
  Decoded d = decode(f);
  Bytes p = testing::payload_bytes(s.payload_seed, uint32_t(s.seq - base_seq), s.payload_len);
  std::copy(p.begin(), p.end(), f.begin() + long(d.tcp_off + d.tcp_hdr_len));
  if (s.checksum == testing::L4Checksum::Full) fill_tcp_checksum(f, d, false);
  if (s.vxlan && s.vxlan->udp_checksum) fill_udp_checksum(f, d);
  return f;
}

// Segment i of a stream cut at `mss`: seq and IP IDs (inner and outer) advance
// as a sender's do.
TcpSpec nth(const TcpSpec& base, uint32_t i, uint32_t mss = kMss) {
  TcpSpec s = base;
  s.seq = base.seq + i * mss;
  s.ip_id = uint16_t(base.ip_id + i);
  s.payload_len = mss;
  if (s.vxlan) s.vxlan->ip_id = uint16_t(s.vxlan->ip_id + i);
  return s;
}

std::vector<Bytes> stream_frames(const TcpSpec& base, uint32_t n, uint32_t mss = kMss) {
  std::vector<Bytes> v;
  for (uint32_t i = 0; i < n; ++i) v.push_back(stream_frame(nth(base, i, mss), base.seq));
  return v;
}

enum Variant : uint8_t { kV4 = 1, kV6 = 2, kVx4 = 4, kVx6 = 8 };
constexpr uint8_t kPlain = kV4 | kV6, kTunnel = kVx4 | kVx6, kAll = 15, kInner4 = kV4 | kVx4,
                  kInner6 = kV6 | kVx6;
const char* variant_name(uint8_t v) {
  return v == kV4 ? "Ipv4" : v == kV6 ? "Ipv6" : v == kVx4 ? "VxlanOverIpv4" : "VxlanOverIpv6";
}

// A bulk-data sender's stream: plain ACKs with timestamps, DF, checksums complete.
TcpSpec base_spec(uint8_t v) {
  TcpSpec s;
  s.flags = kAck;
  s.seq = 100000;
  s.ack = 777;
  s.tcp_options = testing::tcp_timestamp_option(1000, 2000);
  s.payload_seed = 7;
  if (v & kInner6) s.ip = IpVer::V6, s.src = "fd00::1", s.dst = "fd00::2";
  if (v & kTunnel) {
    VxlanSpec x;
    if (v == kVx6) x.outer_ip = IpVer::V6, x.src = "2001:db8::1", x.dst = "2001:db8::2";
    s.vxlan = x;
  }
  return s;
}

// The one packet that `frames` (in-order segments of one flow) must become:
// the first one's headers with the lengths of the whole, the IPv4 header
// checksum redone, PSH if any segment had it, the newest window, and the TCP
// checksum field holding the pseudo-header sum over the merged length
// (CHECKSUM_PARTIAL); complete instead when the outer UDP checksum is in use.
Bytes expected_merge(const std::vector<Bytes>& frames) {
  Decoded d0 = decode(frames.front());
  Bytes f(frames.front().begin(), frames.front().begin() + long(d0.tcp_off + d0.tcp_hdr_len));
  uint8_t psh = 0;
  for (const Bytes& fr : frames) {
    Decoded d = decode(fr);
    f.insert(f.end(), d.payload.begin(), d.payload.end());
    psh |= d.flags & kPsh;
  }
  f[d0.tcp_off + 13] |= psh;
  put16(f, d0.tcp_off + 14, decode(frames.back()).window);
  auto set_len = [&](const DecodedIp& ip) {
    if (ip.version == 6) return put16(f, ip.off + 4, uint32_t(f.size() - ip.off - 40));
    put16(f, ip.off + 2, uint32_t(f.size() - ip.off));
    fill_ipv4_checksum(f, ip);
  };
  set_len(d0.ip);
  if (d0.tunnel) {
    set_len(d0.outer);
    size_t udp = d0.outer.off + d0.outer.hdr_len;
    put16(f, udp + 4, uint32_t(f.size() - udp));
  }
  Decoded d = decode(f);
  bool full = d0.tunnel && d0.udp_checksum != 0;
  fill_tcp_checksum(f, d, !full);
  if (full) fill_udp_checksum(f, d);
  return f;
}

long first_difference(const Bytes& a, const Bytes& b) {
  auto [x, y] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return x == a.end() && y == b.end() ? -1 : long(x - a.begin());
}

// `m` is `frames` merged into one GSO packet a guest can take: bytes, chain and metadata.
void expect_merged(const rte_mbuf* m, const std::vector<Bytes>& frames) {
  SCOPED_TRACE(std::to_string(frames.size()) + " segments merged");
  uint32_t n = 0, len = 0;
  for (const rte_mbuf* s = m; s; s = s->next) ++n, len += s->data_len;
  EXPECT_EQ(n, m->nb_segs);
  EXPECT_EQ(len, m->pkt_len);
  Bytes got = testing::flatten(m), want = expected_merge(frames);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(first_difference(got, want), -1) << "first differing byte";
  Decoded d = decode(got), d0 = decode(frames.front());
  ASSERT_TRUE(d.error.empty()) << d.error;
  EXPECT_EQ(got.size(), d.ip.off + d.ip.total_len);
  EXPECT_TRUE(d.ip.checksum_ok && d.outer.checksum_ok && d.udp_checksum_ok);
  bool full = d.tunnel && d.udp_checksum != 0;
  EXPECT_TRUE(full ? d.tcp_checksum_ok : d.tcp_checksum_pseudo);
  EXPECT_EQ(d.seq, d0.seq);
  EXPECT_EQ(m->tso_segsz, d0.payload.size());
  uint64_t f = m->ol_flags;
  auto ipv = d.ip.version == 4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
  for (uint64_t bit : {RTE_MBUF_F_RX_LRO, RTE_MBUF_F_TX_TCP_SEG, RTE_MBUF_F_TX_TCP_CKSUM, ipv})
    EXPECT_TRUE(f & bit) << "ol_flags " << std::hex << f << " lack " << bit;
  EXPECT_FALSE(f & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6) & ~ipv);
  EXPECT_EQ(f & RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD);
  uint64_t l4 = f & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (full)
    EXPECT_TRUE(l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE);
  else  // the field is not a valid checksum, the data is
    EXPECT_EQ(l4, RTE_MBUF_F_RX_L4_CKSUM_NONE);
  EXPECT_EQ(m->l3_len, d.ip.hdr_len);
  EXPECT_EQ(m->l4_len, d.tcp_hdr_len);
  if (d.tunnel) {
    EXPECT_TRUE(f & RTE_MBUF_F_TX_TUNNEL_VXLAN);
    EXPECT_TRUE(f & (d.outer.version == 4 ? RTE_MBUF_F_TX_OUTER_IPV4 : RTE_MBUF_F_TX_OUTER_IPV6));
    EXPECT_EQ(m->outer_l2_len, d.outer.off);
    EXPECT_EQ(m->outer_l3_len, d.outer.hdr_len);
    EXPECT_EQ(m->l2_len, d.ip.off - d.outer.off - d.outer.hdr_len);
  } else {
    EXPECT_EQ(m->l2_len, d.ip.off);
  }
}

void expect_unchanged(const rte_mbuf* m, const rte_mbuf* sent, const Bytes& frame) {
  EXPECT_EQ(m, sent);
  EXPECT_EQ(first_difference(testing::flatten(m), frame), -1);
}

// ---- Table driving --------------------------------------------------------

struct Burst {
  std::vector<rte_mbuf*> out;  // input()'s output, then flush_all()'s
  size_t by_input = 0;         // how many input() emitted
};

// One receive burst: input() with room for everything, then flush_all().
Burst run(GroTable& t, const std::vector<rte_mbuf*>& pkts, uint64_t now = 0) {
  Burst b;
  b.out.assign(pkts.size() + t.held(), nullptr);
  GroCounts c = t.input(pkts, now, b.out);
  EXPECT_EQ(c.consumed, pkts.size());
  b.by_input = c.emitted;
  b.out.resize(c.emitted);
  std::vector<rte_mbuf*> rest(t.held() + 1u);
  uint16_t n = t.flush_all(rest);
  EXPECT_EQ(t.held(), 0);
  b.out.insert(b.out.end(), rest.begin(), rest.begin() + n);
  return b;
}

void free_all(std::vector<rte_mbuf*>& v) {
  for (rte_mbuf* m : v) rte_pktmbuf_free(m);
  v.clear();
}

using Counter = uint64_t GroStats::*;
const std::pair<const char*, Counter> kCounters[] = {
    {"merged_packets", &GroStats::merged_packets},
    {"segments_absorbed", &GroStats::segments_absorbed},
    {"passed_through", &GroStats::passed_through},
    {"out_of_order", &GroStats::out_of_order},
    {"table_full", &GroStats::table_full},
    {"checksum_bad", &GroStats::checksum_bad}};

using Counts = std::vector<std::pair<Counter, uint64_t>>;

// The counters in `want` have their values, every other one (but packets_in) is 0.
void expect_counts(const GroStats& s, uint64_t packets_in, const Counts& want) {
  EXPECT_EQ(s.packets_in, packets_in);
  for (auto [name, c] : kCounters) {
    uint64_t v = 0;
    for (auto [wc, wv] : want) v = wc == c ? wv : v;
    EXPECT_EQ(s.*c, v) << name;
  }
}

class GroTest : public ::testing::Test {
 public:
  testing::Pool pool{"gro", 4096, RTE_MBUF_DEFAULT_BUF_SIZE};
  void TearDown() override { EXPECT_EQ(pool.in_use(), 0u) << "mbufs leaked or freed twice"; }
  rte_mbuf* mbuf(const Bytes& f, uint64_t ol_flags = 0, uint32_t seg_size = 0) {
    rte_mbuf* m = testing::make_mbuf(pool, f, seg_size);
    m->ol_flags = ol_flags;
    return m;
  }
  std::vector<rte_mbuf*> mbufs(const std::vector<Bytes>& frames, uint32_t seg_size = 0) {
    std::vector<rte_mbuf*> v;
    for (const Bytes& f : frames) v.push_back(mbuf(f, 0, seg_size));
    return v;
  }
};

enum class Outcome {
  Merged,        // one packet, held until the flush
  MergedClosed,  // one packet, emitted by input() at once: the second ended the flow
  SecondHeld,    // the first leaves unchanged when the second arrives; the second starts a flow
  SecondPassed,  // the first leaves unchanged, then the second, both from input()
  OtherFlow,     // a flow of its own: both held, both leave unchanged
  NotAFlow,      // not a TCP segment GRO can name the flow of: passes, in either order
};

struct Rule {
  const char* name;
  uint8_t variants;                       // where the rule applies
  std::function<void(TcpSpec&)> both;     // a change to every segment
  std::function<void(TcpSpec&)> second;   // how the second differs from a clean in-order one
  std::function<void(Bytes&)> patch;      // a byte-level change to the second's frame
  uint64_t rx_flags = 0;                  // the second's ol_flags (the first: verified in software)
  Outcome outcome;
  Counts moves;                           // counters that move; the others (but packets_in) stay 0
};

const Counts kMergedOnce = {{&GroStats::merged_packets, 1}, {&GroStats::segments_absorbed, 1}};
const Counts kPassed = {{&GroStats::passed_through, 1}};
const Counts kOutOfOrder = {{&GroStats::passed_through, 1}, {&GroStats::out_of_order, 1}};
const Counts kBad = {{&GroStats::passed_through, 1}, {&GroStats::checksum_bad, 1}};

bool v6(const TcpSpec& s) { return s.ip == IpVer::V6; }
void flip_tcp_checksum(Bytes& f) { f[decode(f).tcp_off + 17] ^= 0x01; }
void flip_payload_byte(Bytes& f) {
  Decoded d = decode(f);
  f[d.tcp_off + d.tcp_hdr_len + 9] ^= 0x40;
}
void zero_tcp_checksum(Bytes& f) { put16(f, decode(f).tcp_off + 16, 0); }
void flip_ipv4_checksum(Bytes& f) { f[decode(f).ip.off + 11] ^= 0x01; }
void flip_outer_ipv4_checksum(Bytes& f) { f[decode(f).outer.off + 11] ^= 0x01; }
void more_fragments(Bytes& f) {  // first fragment of a datagram: MF, offset 0
  Decoded d = decode(f);
  put16(f, d.ip.off + 6, 0x2000);
  fill_ipv4_checksum(f, d.ip);
}
void change_flow_label(Bytes& f) { f[decode(f).ip.off + 3] ^= 0x01; }
const Bytes kRouterAlert = {0x94, 0x04, 0x00, 0x00};
// A hop-by-hop and a destination options header, each with an option of an
// experimental type (RFC 4727) that a receiver skips.
void with_ipv6_options(TcpSpec& s) {
  s.ipv6_ext = {{0, {0x1e, 2, 0xaa, 0xbb}}, {60, {0x1e, 4, 1, 2, 3, 4}}};
}

const std::vector<Rule>& rules() {
  using O = Outcome;
  static const std::vector<Rule> r = {
      {"Clean", kAll, {}, {}, {}, 0, O::Merged, kMergedOnce},
      {"SeqWrapsAround", kAll, [](TcpSpec& s) { s.seq = 0xffffffffu - 700; }, {}, {}, 0, O::Merged, kMergedOnce},
      {"WindowChanges", kAll, {}, [](TcpSpec& s) { s.window = 9000; }, {}, 0, O::Merged, kMergedOnce},
      {"Psh", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kPsh; }, {}, 0, O::MergedClosed, kMergedOnce},
      {"ShorterLast", kAll, {}, [](TcpSpec& s) { s.payload_len = 700; }, {}, 0, O::MergedClosed, kMergedOnce},
      {"LongerThanFirst", kAll, {}, [](TcpSpec& s) { s.payload_len = kMss + 1; }, {}, 0, O::SecondHeld, {}},
      {"SeqGap", kAll, {}, [](TcpSpec& s) { s.seq += 1; }, {}, 0, O::SecondPassed, kOutOfOrder},
      {"SeqOverlap", kAll, {}, [](TcpSpec& s) { s.seq -= 100; }, {}, 0, O::SecondPassed, kOutOfOrder},
      {"Duplicate", kAll, {}, [](TcpSpec& s) { s.seq -= kMss; }, {}, 0, O::SecondPassed, kOutOfOrder},
      {"AckDiffers", kAll, {}, [](TcpSpec& s) { s.ack += 1; }, {}, 0, O::SecondHeld, {}},
      {"TimestampDiffers", kAll, {}, [](TcpSpec& s) { s.tcp_options = testing::tcp_timestamp_option(1001, 2000); }, {}, 0, O::SecondHeld, {}},
      {"OptionsDropped", kAll, {}, [](TcpSpec& s) { s.tcp_options.clear(); }, {}, 0, O::SecondHeld, {}},
      {"Fin", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kFin; }, {}, 0, O::SecondPassed, kPassed},
      {"Syn", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kSyn; }, {}, 0, O::SecondPassed, kPassed},
      {"Rst", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kRst; }, {}, 0, O::SecondPassed, kPassed},
      {"Urg", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kUrg; }, {}, 0, O::SecondPassed, kPassed},
      {"Cwr", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kCwr; }, {}, 0, O::SecondPassed, kPassed},
      {"Ece", kAll, {}, [](TcpSpec& s) { s.flags = kAck | kEce; }, {}, 0, O::SecondPassed, kPassed},
      {"NoAck", kAll, {}, [](TcpSpec& s) { s.flags = 0; }, {}, 0, O::SecondPassed, kPassed},
      {"PureAck", kAll, {}, [](TcpSpec& s) { s.payload_len = 0; }, {}, 0, O::SecondPassed, kPassed},
      {"EcnCeOnSecond", kAll, [](TcpSpec& s) { s.tos = 0x02; }, [](TcpSpec& s) { s.tos = 0x03; }, {}, 0, O::SecondHeld, {}},
      {"EcnCeOnBoth", kAll, [](TcpSpec& s) { s.tos = 0x03; }, {}, {}, 0, O::Merged, kMergedOnce},
      {"EcnCapableDropped", kAll, [](TcpSpec& s) { s.tos = 0x02; }, [](TcpSpec& s) { s.tos = 0; }, {}, 0, O::SecondHeld, {}},
      {"DscpDiffers", kAll, {}, [](TcpSpec& s) { s.tos = 0x20; }, {}, 0, O::SecondHeld, {}},
      {"TtlDiffers", kAll, {}, [](TcpSpec& s) { s.ttl = 63; }, {}, 0, O::SecondHeld, {}},
      {"FlowLabelDiffers", kInner6, {}, {}, change_flow_label, 0, O::SecondHeld, {}},
      {"DfCleared", kInner4, {}, [](TcpSpec& s) { s.dont_fragment = false; }, {}, 0, O::SecondHeld, {}},
      {"IdFixedWithDf", kInner4, {}, [](TcpSpec& s) { s.ip_id -= 1; }, {}, 0, O::Merged, kMergedOnce},
      {"IdIncreasesWithoutDf", kInner4, [](TcpSpec& s) { s.dont_fragment = false; }, {}, {}, 0, O::Merged, kMergedOnce},
      {"IdFixedWithoutDf", kInner4, [](TcpSpec& s) { s.dont_fragment = false; }, [](TcpSpec& s) { s.ip_id -= 1; }, {}, 0, O::SecondHeld, {}},
      {"IdSkips", kInner4, {}, [](TcpSpec& s) { s.ip_id += 1; }, {}, 0, O::SecondHeld, {}},
      {"IdGoesBack", kInner4, {}, [](TcpSpec& s) { s.ip_id -= 2; }, {}, 0, O::SecondHeld, {}},
      {"IpOptionsOnBoth", kInner4, [](TcpSpec& s) { s.ip_options = kRouterAlert; }, {}, {}, 0, O::Merged, kMergedOnce},
      {"IpOptionsDiffer", kInner4, [](TcpSpec& s) { s.ip_options = kRouterAlert; }, [](TcpSpec& s) { s.ip_options[3] = 1; }, {}, 0, O::SecondHeld, {}},
      {"IpOptionsAdded", kInner4, {}, [](TcpSpec& s) { s.ip_options = kRouterAlert; }, {}, 0, O::SecondHeld, {}},
      {"Fragment", kInner4, {}, {}, more_fragments, 0, O::NotAFlow, kPassed},
      {"Ipv6ExtensionsOnBoth", kInner6, with_ipv6_options, {}, {}, 0, O::Merged, kMergedOnce},
      {"Ipv6ExtensionsDiffer", kInner6, with_ipv6_options, [](TcpSpec& s) { s.ipv6_ext[1].options[5] = 9; }, {}, 0, O::SecondHeld, {}},
      {"Ipv6ExtensionsAdded", kInner6, {}, with_ipv6_options, {}, 0, O::SecondHeld, {}},
      {"Ipv6RoutingHeader", kInner6, {}, [](TcpSpec& s) { s.ipv6_ext = {{43, {0, 0, 0, 0, 0, 0}}}; }, {}, 0, O::NotAFlow, kPassed},
      {"L4FlagGood", kAll, {}, {}, {}, RTE_MBUF_F_RX_L4_CKSUM_GOOD, O::Merged, kMergedOnce},
      {"L4FlagNoneFieldEmpty", kAll, {}, {}, zero_tcp_checksum, RTE_MBUF_F_RX_L4_CKSUM_NONE, O::Merged, kMergedOnce},
      {"L4FlagBad", kAll, {}, {}, {}, RTE_MBUF_F_RX_L4_CKSUM_BAD, O::SecondPassed, kBad},
      {"L4UnknownFieldWrong", kAll, {}, {}, flip_tcp_checksum, 0, O::SecondPassed, kBad},
      {"L4UnknownPayloadCorrupt", kAll, {}, {}, flip_payload_byte, 0, O::SecondPassed, kBad},
      {"IpFlagBad", kV4, {}, {}, {}, RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_GOOD, O::SecondPassed, kBad},
      {"Ipv4HeaderChecksumWrong", kInner4, {}, {}, flip_ipv4_checksum, 0, O::SecondPassed, kBad},
      {"OuterIpv4HeaderChecksumWrong", kVx4, {}, {}, flip_outer_ipv4_checksum, 0, O::SecondPassed, kBad},
      {"SrcPortDiffers", kAll, {}, [](TcpSpec& s) { s.src_port += 1; }, {}, 0, O::OtherFlow, {}},
      {"DstPortDiffers", kAll, {}, [](TcpSpec& s) { s.dst_port += 1; }, {}, 0, O::OtherFlow, {}},
      {"DstAddressDiffers", kAll, {}, [](TcpSpec& s) { s.dst = v6(s) ? "fd00::3" : "10.0.0.3"; }, {}, 0, O::OtherFlow, {}},
      {"VlanOnBoth", kPlain, [](TcpSpec& s) { s.vlan = 10; }, {}, {}, 0, O::Merged, kMergedOnce},
      {"VlanDiffers", kPlain, [](TcpSpec& s) { s.vlan = 10; }, [](TcpSpec& s) { s.vlan = 11; }, {}, 0, O::OtherFlow, {}},
      {"VlanAdded", kPlain, {}, [](TcpSpec& s) { s.vlan = 10; }, {}, 0, O::OtherFlow, {}},
      {"VniDiffers", kTunnel, {}, [](TcpSpec& s) { s.vxlan->vni = 43; }, {}, 0, O::OtherFlow, {}},
      {"OuterDstDiffers", kTunnel, {}, [](TcpSpec& s) { s.vxlan->dst = s.vxlan->outer_ip == IpVer::V6 ? "2001:db8::3" : "192.0.2.3"; }, {}, 0, O::OtherFlow, {}},
      {"OuterVlanDiffers", kTunnel, [](TcpSpec& s) { s.vxlan->vlan = 100; }, [](TcpSpec& s) { s.vxlan->vlan = 101; }, {}, 0, O::OtherFlow, {}},
      {"OuterTtlDiffers", kTunnel, {}, [](TcpSpec& s) { s.vxlan->ttl = 63; }, {}, 0, O::SecondHeld, {}},
      {"OuterUdpChecksum", kTunnel, [](TcpSpec& s) { s.vxlan->udp_checksum = true; }, {}, {}, 0, O::Merged, kMergedOnce},
  };
  return r;
}

struct RuleCase {
  const Rule* rule;
  uint8_t variant;
};

std::vector<RuleCase> rule_cases() {
  std::vector<RuleCase> v;
  for (const Rule& r : rules())
    for (uint8_t var : {kV4, kV6, kVx4, kVx6})
      if (r.variants & var) v.push_back({&r, var});
  return v;
}

class GroRule : public GroTest, public ::testing::WithParamInterface<RuleCase> {};

TEST_P(GroRule, SecondSegment) {
  const Rule& rule = *GetParam().rule;
  TcpSpec base = base_spec(GetParam().variant);
  if (rule.both) rule.both(base);
  TcpSpec s1 = nth(base, 1);
  if (rule.second) rule.second(s1);
  Bytes f0 = stream_frame(nth(base, 0), base.seq), f1 = stream_frame(s1, base.seq);
  if (rule.patch) rule.patch(f1);
  GroTable t(GroConfig{});
  rte_mbuf* m0 = mbuf(f0);
  rte_mbuf* m1 = mbuf(f1, rule.rx_flags);
  Burst b = run(t, {m0, m1});
  size_t want_out = 2, want_by_input = 0;
  switch (rule.outcome) {
    case Outcome::Merged: want_out = 1; break;
    case Outcome::MergedClosed: want_out = want_by_input = 1; break;
    case Outcome::SecondHeld: want_by_input = 1; break;
    case Outcome::SecondPassed: want_by_input = 2; break;
    case Outcome::OtherFlow: break;
    case Outcome::NotAFlow: want_by_input = b.by_input; break;
  }
  ASSERT_EQ(b.out.size(), want_out);
  EXPECT_EQ(b.by_input, want_by_input);
  if (want_out == 1) {
    expect_merged(b.out[0], {f0, f1});
  } else if (rule.outcome == Outcome::SecondHeld || rule.outcome == Outcome::SecondPassed) {
    expect_unchanged(b.out[0], m0, f0);
    expect_unchanged(b.out[1], m1, f1);
  } else {  // any order
    bool swapped = b.out[0] == m1;
    expect_unchanged(b.out[swapped], m0, f0);
    expect_unchanged(b.out[!swapped], m1, f1);
  }
  expect_counts(t.stats(), 2, rule.moves);
  free_all(b.out);
}

INSTANTIATE_TEST_SUITE_P(Rules, GroRule, ::testing::ValuesIn(rule_cases()),
                         [](const ::testing::TestParamInfo<RuleCase>& i) {
                           return std::string(i.param.rule->name) + "_" +
                                  variant_name(i.param.variant);
                         });

// ---- Per IP version and encapsulation -------------------------------------

// Largest payload one packet may carry: every IP datagram (inner, and outer
// for a tunnel), its header included, at most 65,535 bytes, IPv6 too (Linux's
// GRO_LEGACY_MAX_SIZE).
uint32_t max_payload(const Bytes& frame) {
  Decoded d = decode(frame);
  uint32_t hdr = uint32_t(d.tcp_off + d.tcp_hdr_len);
  auto room = [&](const DecodedIp& ip) {
    return kMaxIpLen - (hdr - uint32_t(ip.off));
  };
  return d.tunnel ? std::min(room(d.ip), room(d.outer)) : room(d.ip);
}

std::vector<Bytes> slice(const std::vector<Bytes>& v, size_t from, size_t to) {
  return {v.begin() + long(from), v.begin() + long(to)};
}

class GroVariant : public GroTest, public ::testing::WithParamInterface<uint8_t> {};

TEST_P(GroVariant, SixtyFullSegmentsSplitBelow64K) {
  TcpSpec base = base_spec(GetParam());
  std::vector<Bytes> f = stream_frames(base, 60);
  uint32_t fit = max_payload(f[0]) / kMss;
  EXPECT_TRUE(GetParam() != kV4 || fit == 45u) << fit;  // 20 + 32 + 45 * 1448 = 65,212
  GroTable t(GroConfig{});
  Burst b = run(t, mbufs(f));
  ASSERT_EQ(b.out.size(), 2u);
  EXPECT_EQ(b.by_input, 1u);
  expect_merged(b.out[0], slice(f, 0, fit));
  expect_merged(b.out[1], slice(f, fit, 60));
  expect_counts(t.stats(), 60,
                {{&GroStats::merged_packets, 2}, {&GroStats::segments_absorbed, 58}});
  free_all(b.out);
}

// Extension headers count toward the 65,535 bytes like the IPv6 header itself.
TEST_F(GroTest, Ipv6ExtensionsCountTowardThe64KLimit) {
  TcpSpec base = base_spec(kV6);
  with_ipv6_options(base);
  std::vector<Bytes> f = stream_frames(base, 60);
  uint32_t fit = max_payload(f[0]) / kMss;
  EXPECT_EQ(fit, 45u);  // 40 + 16 + 32 + 45 * 1448 = 65,248
  GroTable t(GroConfig{});
  Burst b = run(t, mbufs(f));
  ASSERT_EQ(b.out.size(), 2u);
  expect_merged(b.out[0], slice(f, 0, fit));
  expect_merged(b.out[1], slice(f, fit, 60));
  free_all(b.out);
}

TEST_P(GroVariant, TailThatFills64KExactlyMergesOneByteMoreDoesNot) {
  TcpSpec base = base_spec(GetParam());
  for (uint32_t over : {0u, 1u}) {
    SCOPED_TRACE(over ? "one byte over" : "exactly 65,535");
    std::vector<Bytes> f = stream_frames(base, 45);
    TcpSpec tail = nth(base, 45);
    tail.payload_len = max_payload(f[0]) - 45 * kMss + over;
    ASSERT_LT(tail.payload_len, kMss);
    f.push_back(stream_frame(tail, base.seq));
    std::vector<rte_mbuf*> in = mbufs(f);
    GroTable t(GroConfig{});
    Burst b = run(t, in);
    if (over == 0) {
      ASSERT_EQ(b.out.size(), 1u);
      expect_merged(b.out[0], f);
    } else {
      ASSERT_EQ(b.out.size(), 2u);
      expect_merged(b.out[0], slice(f, 0, 45));
      expect_unchanged(b.out[1], in[45], f[45]);
    }
    free_all(b.out);
  }
}

TEST_P(GroVariant, ChainedSegmentsMerge) {
  TcpSpec base = base_spec(GetParam());
  std::vector<Bytes> f = stream_frames(base, 6);
  Decoded d = decode(f[0]);
  uint32_t hlen = uint32_t(d.tcp_off + d.tcp_hdr_len);
  for (uint32_t seg : {hlen, hlen + 1, 300u, 777u}) {
    SCOPED_TRACE("mbufs of " + std::to_string(seg) + " bytes, headers " + std::to_string(hlen));
    GroTable t(GroConfig{});
    Burst b = run(t, mbufs(f, seg));
    ASSERT_EQ(b.out.size(), 1u);
    expect_merged(b.out[0], f);
    free_all(b.out);
  }
}

TEST_P(GroVariant, LinkPaddingStaysOutOfTheMergedPayload) {
  for (bool timestamps : {true, false}) {
    TcpSpec base = base_spec(GetParam());
    if (!timestamps) base.tcp_options.clear();
    TcpSpec tiny = nth(base, 1);
    tiny.payload_len = 1;
    Bytes f0 = stream_frame(nth(base, 0), base.seq), f1 = stream_frame(tiny, base.seq);
    Bytes padded = f1;  // past the IP length: up to the 60-byte minimum, or 7 bytes
    padded.resize(std::max<size_t>(60, f1.size() + 7), 0xEE);
    GroTable t(GroConfig{});
    Burst b = run(t, {mbuf(f0), mbuf(padded)});
    ASSERT_EQ(b.out.size(), 1u);
    expect_merged(b.out[0], {f0, f1});
    EXPECT_EQ(decode(testing::flatten(b.out[0])).payload,
              testing::payload_bytes(base.payload_seed, 0, kMss + 1));
    free_all(b.out);
  }
}

TEST_P(GroVariant, PaddingThatCannotBeTrimmedNeverOvertakesTheFlow) {
  TcpSpec base = base_spec(GetParam());
  TcpSpec tiny = nth(base, 1);
  tiny.payload_len = 1;
  Bytes f0 = stream_frame(nth(base, 0), base.seq), f1 = stream_frame(tiny, base.seq);
  f1.insert(f1.end(), 7, 0xEE);
  rte_mbuf* m0 = mbuf(f0);
  rte_mbuf* m1 = mbuf(f1, 0, uint32_t(f1.size() - 3));  // padding split over two mbufs
  GroTable t(GroConfig{});
  Burst b = run(t, {m0, m1});
  ASSERT_FALSE(b.out.empty());
  if (b.out.size() == 1) {
    expect_merged(b.out[0], {f0, stream_frame(tiny, base.seq)});
  } else {
    ASSERT_EQ(b.out.size(), 2u);
    expect_unchanged(b.out[0], m0, f0);
    expect_unchanged(b.out[1], m1, f1);
  }
  free_all(b.out);
}

TEST_P(GroVariant, ShortSegmentEndsTheFlow) {
  TcpSpec base = base_spec(GetParam());
  TcpSpec s1 = nth(base, 1), s2 = nth(base, 2);
  s1.payload_len = 1000;
  s2.seq = base.seq + kMss + 1000;
  std::vector<Bytes> f = {stream_frame(nth(base, 0), base.seq), stream_frame(s1, base.seq),
                          stream_frame(s2, base.seq)};
  std::vector<rte_mbuf*> in = mbufs(f);
  GroTable t(GroConfig{});
  Burst b = run(t, in);
  ASSERT_EQ(b.out.size(), 2u);
  expect_merged(b.out[0], slice(f, 0, 2));
  expect_unchanged(b.out[1], in[2], f[2]);
  free_all(b.out);
}

// A large segment (a sender's TSO packet, marked for segmentation) is never
// merged, and never overtakes the segments of its flow held before it: they
// leave first, then it, unchanged and still marked with its own MSS.
TEST_P(GroVariant, LargeSegmentFlushesItsFlowAndPassesWhole) {
  TcpSpec base = base_spec(GetParam());
  TcpSpec big = nth(base, 2);
  big.payload_len = 20 * kMss;
  std::vector<Bytes> f = {stream_frame(nth(base, 0), base.seq), stream_frame(nth(base, 1), base.seq),
                          stream_frame(big, base.seq)};
  std::vector<rte_mbuf*> in = mbufs(slice(f, 0, 2));
  in.push_back(mbuf(f[2], 0, 1500));  // a chain, as a guest's 64 KB segment can arrive
  ASSERT_EQ(mark_tso(in[2], kMss), Reason::Ok);
  const uint64_t marked = in[2]->ol_flags;
  GroTable t(GroConfig{});
  Burst b = run(t, in);
  ASSERT_EQ(b.out.size(), 2u);
  EXPECT_EQ(b.by_input, 2u);
  expect_merged(b.out[0], slice(f, 0, 2));
  expect_unchanged(b.out[1], in[2], f[2]);
  EXPECT_EQ(b.out[1]->ol_flags, marked);
  EXPECT_EQ(b.out[1]->tso_segsz, kMss);
  free_all(b.out);
}

INSTANTIATE_TEST_SUITE_P(Variants, GroVariant, ::testing::Values(kV4, kV6, kVx4, kVx6),
                         [](const auto& i) { return variant_name(i.param); });

// ---- Order, many flows ----------------------------------------------------

// One flow's part in a burst: what it sends, and what must come out of it, in
// order: groups of indexes into `sent` (one: that packet unchanged; more: merged).
struct FlowPlan {
  std::vector<Bytes> sent;
  std::vector<std::vector<size_t>> expect;
  std::vector<rte_mbuf*> mbufs;
};

// Sends the flows' packets round-robin in one burst and checks each flow's output.
void run_flows(GroTest& g, std::vector<FlowPlan>& flows, GroTable& t) {
  std::vector<rte_mbuf*> in;
  std::map<uint16_t, size_t> by_port;  // every flow has its own TCP source port
  for (size_t k = 0; k < flows.size(); ++k) by_port[decode(flows[k].sent[0]).src_port] = k;
  for (size_t r = 0, more = 1; more; ++r) {
    more = 0;
    for (FlowPlan& p : flows) {
      if (r >= p.sent.size()) continue;
      p.mbufs.push_back(g.mbuf(p.sent[r]));
      in.push_back(p.mbufs.back());
      more = 1;
    }
  }
  Burst b = run(t, in);
  std::vector<std::vector<rte_mbuf*>> got(flows.size());
  for (rte_mbuf* m : b.out) got[by_port.at(decode(testing::flatten(m)).src_port)].push_back(m);
  for (size_t k = 0; k < flows.size(); ++k) {
    SCOPED_TRACE("flow " + std::to_string(k));
    const FlowPlan& p = flows[k];
    ASSERT_EQ(got[k].size(), p.expect.size());
    for (size_t i = 0; i < p.expect.size(); ++i) {
      std::vector<Bytes> group;
      for (size_t j : p.expect[i]) group.push_back(p.sent[j]);
      if (group.size() == 1)
        expect_unchanged(got[k][i], p.mbufs[p.expect[i][0]], group[0]);
      else
        expect_merged(got[k][i], group);
    }
  }
  free_all(b.out);
}

// Flow k of a mixed set: IPv4, IPv6 and VXLAN over both, each its own port and bytes.
TcpSpec flow_spec(size_t k) {
  TcpSpec s = base_spec(std::array{kV4, kV6, kVx4, kVx6}[k % 4]);
  s.src_port = uint16_t(10000 + k);
  s.payload_seed = uint32_t(100 + k);
  s.seq = uint32_t(k * 7919u * 1000u);
  return s;
}

class GroFlows : public GroTest, public ::testing::WithParamInterface<int> {};

TEST_P(GroFlows, InterleavedFlowsMergeSeparately) {
  size_t n = size_t(GetParam());
  std::vector<FlowPlan> flows(n);
  for (size_t k = 0; k < n; ++k) flows[k] = {stream_frames(flow_spec(k), 4), {{0, 1, 2, 3}}, {}};
  GroConfig cfg;
  cfg.max_flows = uint16_t(n);
  GroTable t(cfg);
  run_flows(*this, flows, t);
  expect_counts(t.stats(), 4 * n,
                {{&GroStats::merged_packets, n}, {&GroStats::segments_absorbed, 3 * n}});
}

// Flows close and open again in the middle of the burst (their table slots and
// index entries are reused) while the others keep merging.
TEST_P(GroFlows, FlowsEndingAndRestartingAmongOthers) {
  size_t n = size_t(GetParam());
  std::vector<FlowPlan> flows(n);
  for (size_t k = 0; k < n; ++k) {
    TcpSpec base = flow_spec(k);
    std::vector<TcpSpec> s;
    for (uint32_t i = 0; i < 6; ++i) s.push_back(nth(base, i));
    FlowPlan& p = flows[k];
    switch (k % 4) {
      case 0: p.expect = {{0, 1, 2, 3, 4, 5}}; break;
      case 1: s[2].flags |= kPsh, p.expect = {{0, 1, 2}, {3, 4, 5}}; break;
      case 2: s[5].flags |= kFin, p.expect = {{0, 1, 2, 3, 4}, {5}}; break;
      case 3: s.insert(s.begin() + 3, s[2]), p.expect = {{0, 1, 2}, {3}, {4, 5, 6}}; break;
    }
    for (const TcpSpec& x : s) p.sent.push_back(stream_frame(x, base.seq));
  }
  GroConfig cfg;
  cfg.max_flows = uint16_t(n);
  GroTable t(cfg);
  run_flows(*this, flows, t);
}

INSTANTIATE_TEST_SUITE_P(Counts, GroFlows, ::testing::Values(16, 256));

// Out-of-order and duplicate segments: the flow goes out, then they do, as they came.
TEST_F(GroTest, OutOfOrderAndDuplicateSegmentsKeepArrivalOrder) {
  struct Case {
    uint8_t variant;
    std::vector<size_t> order;                  // stream segments, as sent
    std::vector<std::vector<size_t>> expect;    // indexes into `order`, per output
    Counts counts;
  } cases[] = {
      {kV4, {0, 1, 2, 4, 3, 5}, {{0, 1, 2}, {3}, {4}, {5}},
       {{&GroStats::merged_packets, 1}, {&GroStats::segments_absorbed, 2},
        {&GroStats::passed_through, 2}, {&GroStats::out_of_order, 2}}},
      {kV6, {0, 1, 1, 2, 3}, {{0, 1}, {2}, {3, 4}},
       {{&GroStats::merged_packets, 2}, {&GroStats::segments_absorbed, 2},
        {&GroStats::passed_through, 1}, {&GroStats::out_of_order, 1}}},
  };
  for (const Case& c : cases) {
    std::vector<Bytes> f = stream_frames(base_spec(c.variant), 6);
    std::vector<FlowPlan> flows(1);
    for (size_t i : c.order) flows[0].sent.push_back(f[i]);
    flows[0].expect = c.expect;
    GroTable t(GroConfig{});
    run_flows(*this, flows, t);
    expect_counts(t.stats(), c.order.size(), c.counts);
  }
}

TEST_F(GroTest, StrippedVlanTagsSeparateFlows) {
  std::vector<Bytes> f = stream_frames(base_spec(kV4), 2);
  for (uint16_t tci1 : {10, 11}) {
    rte_mbuf* m0 = mbuf(f[0], RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
    rte_mbuf* m1 = mbuf(f[1], RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
    m0->vlan_tci = 10;
    m1->vlan_tci = tci1;
    GroTable t(GroConfig{});
    Burst b = run(t, {m0, m1});
    ASSERT_EQ(b.out.size(), tci1 == 10 ? 1u : 2u);
    for (rte_mbuf* m : b.out) EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED);
    if (tci1 == 10) {
      expect_merged(b.out[0], f);
      EXPECT_EQ(b.out[0]->vlan_tci, 10);
    }
    free_all(b.out);
  }
}

// ---- Table: timeout, capacity, ownership, room in `out` -------------------

TEST_F(GroTest, FlushEmitsFlowsHeldAtLeastTheTimeout) {
  GroConfig cfg;
  cfg.flush_timeout_us = 100;
  cfg.tsc_hz = 2'000'000'000;  // 100 us = 200,000 ticks
  GroTable t(cfg);
  TcpSpec a = flow_spec(0), c = flow_spec(4);
  std::vector<Bytes> fa = stream_frames(a, 2), fc = stream_frames(c, 1);
  rte_mbuf* out[4];
  EXPECT_EQ(t.input(std::vector{mbuf(fa[0])}, 1'000'000, out).emitted, 0);
  EXPECT_EQ(t.input(std::vector{mbuf(fc[0]), mbuf(fa[1])}, 1'100'000, out).emitted, 0);
  EXPECT_EQ(t.flush(1'199'999, out), 0);
  ASSERT_EQ(t.flush(1'200'000, out), 1);  // a: held since its first segment
  expect_merged(out[0], fa);
  rte_pktmbuf_free(out[0]);
  EXPECT_EQ(t.flush(1'299'999, out), 0);
  ASSERT_EQ(t.flush(1'300'000, out), 1);
  EXPECT_EQ(first_difference(testing::flatten(out[0]), fc[0]), -1);
  rte_pktmbuf_free(out[0]);
  EXPECT_EQ(t.held(), 0);
}

TEST_F(GroTest, FlushWithoutTimeoutEmitsEverythingOutHasRoomFor) {
  GroTable t(GroConfig{});
  rte_mbuf* out[3];
  for (size_t k = 0; k < 3; ++k)
    t.input(std::vector{mbuf(stream_frames(flow_spec(k), 1)[0])}, 0, out);
  ASSERT_EQ(t.held(), 3);
  EXPECT_EQ(t.flush(0, std::span(out, 2)), 2);
  EXPECT_EQ(t.held(), 1);
  EXPECT_EQ(t.flush(0, std::span(out + 2, 1)), 1);
  for (rte_mbuf* m : out) rte_pktmbuf_free(m);
}

TEST_F(GroTest, FullTablePassesNewFlowsThrough) {
  GroConfig cfg;
  cfg.max_flows = 2;
  GroTable t(cfg);
  std::vector<std::vector<Bytes>> f;
  for (size_t k = 0; k < 3; ++k) f.push_back(stream_frames(flow_spec(k), 4));
  std::vector<rte_mbuf*> in = {mbuf(f[0][0]), mbuf(f[1][0]), mbuf(f[2][0]),
                               mbuf(f[0][1]), mbuf(f[1][1]), mbuf(f[2][1])};
  Burst b = run(t, in);
  ASSERT_EQ(b.out.size(), 4u);
  ASSERT_EQ(b.by_input, 2u);
  expect_unchanged(b.out[0], in[2], f[2][0]);
  expect_unchanged(b.out[1], in[5], f[2][1]);
  for (rte_mbuf* m : {b.out[2], b.out[3]})
    expect_merged(m, slice(f[decode(testing::flatten(m)).src_port - 10000], 0, 2));
  expect_counts(t.stats(), 6, {{&GroStats::merged_packets, 2}, {&GroStats::segments_absorbed, 2},
                               {&GroStats::passed_through, 2}, {&GroStats::table_full, 2}});
  free_all(b.out);
  Burst again = run(t, {mbuf(f[2][2]), mbuf(f[2][3])});  // room again after the flush
  ASSERT_EQ(again.out.size(), 1u);
  expect_merged(again.out[0], slice(f[2], 2, 4));
  free_all(again.out);
}

TEST_F(GroTest, DropAllAndDestructionFreeEveryHeldPacketOnce) {
  for (bool destroy : {false, true}) {
    SCOPED_TRACE(destroy ? "destroyed" : "drop_all");
    {
      GroTable t(GroConfig{});
      std::vector<rte_mbuf*> in;
      for (size_t k = 0; k < 3; ++k)
        for (const Bytes& fr : stream_frames(flow_spec(k), uint32_t(k + 1)))
          in.push_back(mbuf(fr, 0, 400));  // chains
      std::vector<rte_mbuf*> out(in.size());
      GroCounts c = t.input(in, 0, out);
      ASSERT_EQ(c.consumed, in.size());
      ASSERT_EQ(c.emitted, 0);
      ASSERT_EQ(t.held(), 3);
      EXPECT_GT(pool.in_use(), 0u);
      if (!destroy) {
        EXPECT_EQ(t.drop_all(), 3u);
        EXPECT_EQ(t.held(), 0);
        // Dropped, not emitted: no merge is counted for the two merged flows.
        EXPECT_EQ(t.stats().merged_packets, 0u);
        EXPECT_EQ(t.stats().segments_absorbed, 0u);
        EXPECT_EQ(pool.in_use(), 0u);
        EXPECT_EQ(t.drop_all(), 0u);
      }
    }
    EXPECT_EQ(pool.in_use(), 0u);
  }
}

// Random bursts of clean, reordered, duplicated, PSH and FIN segments of a few
// flows into `out` spans of random size: input() never writes past the span,
// and every flow's bytes come out whole, once, in the order they went in.
TEST_F(GroTest, InputNeverOverflowsOutAndLosesNothing) {
  std::mt19937 rng(20221101);
  constexpr size_t kFlows = 5;
  std::vector<Bytes> sent_bytes(kFlows), got_bytes(kFlows);
  std::vector<uint32_t> next(kFlows, 0);
  std::vector<rte_mbuf*> pending;
  for (int i = 0; i < 400; ++i) {
    size_t k = rng() % kFlows;
    TcpSpec base = flow_spec(k);
    TcpSpec s = nth(base, next[k]);
    switch (rng() % 8) {
      case 0: s = nth(base, next[k] + 1); break;                 // ahead of the stream
      case 1: if (next[k] > 0) s = nth(base, next[k] - 1); break;  // duplicate
      case 2: s.flags |= kPsh; break;
      case 3: s.flags |= kFin; break;
      default: break;
    }
    next[k] = (s.seq - base.seq) / kMss + 1;
    Bytes f = stream_frame(s, base.seq);
    Bytes p = decode(f).payload;
    sent_bytes[k].insert(sent_bytes[k].end(), p.begin(), p.end());
    pending.push_back(mbuf(f));
  }
  GroTable t(GroConfig{});
  std::vector<rte_mbuf*> emitted;
  constexpr size_t kCap = 12;
  rte_mbuf* const kGuard = reinterpret_cast<rte_mbuf*>(uintptr_t(0xdead));
  for (size_t at = 0; at < pending.size();) {
    size_t span = 1 + rng() % 8, burst = 1 + rng() % 8;
    std::vector<rte_mbuf*> out(kCap, kGuard);
    size_t held = t.held();
    GroCounts c = t.input(std::span(pending).subspan(at, std::min(burst, pending.size() - at)),
                          0, std::span(out).first(span));
    ASSERT_LE(c.emitted, span);
    for (size_t j = span; j < kCap; ++j) ASSERT_EQ(out[j], kGuard) << "wrote past out";
    ASSERT_LE(c.consumed, span > held ? span - held : 0) << "took more than out can absorb";
    emitted.insert(emitted.end(), out.begin(), out.begin() + c.emitted);
    at += c.consumed;
    if (c.consumed == 0 || rng() % 3 == 0) {  // end of a receive burst
      out.assign(kCap, kGuard);
      size_t n = t.flush_all(out);
      emitted.insert(emitted.end(), out.begin(), out.begin() + long(n));
    }
  }
  std::vector<rte_mbuf*> rest(t.held());
  emitted.insert(emitted.end(), rest.begin(), rest.begin() + t.flush_all(rest));
  for (rte_mbuf* m : emitted) {
    Decoded d = decode(testing::flatten(m));
    ASSERT_TRUE(d.error.empty()) << d.error;
    Bytes& g = got_bytes[d.src_port - 10000];
    g.insert(g.end(), d.payload.begin(), d.payload.end());
  }
  for (size_t k = 0; k < kFlows; ++k) EXPECT_EQ(first_difference(got_bytes[k], sent_bytes[k]), -1);
  EXPECT_EQ(t.stats().packets_in, pending.size());
  free_all(emitted);
}
}  // namespace
}  // namespace vo
