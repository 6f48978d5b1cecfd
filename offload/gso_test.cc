// Software GSO (offload/gso.h). Every test builds its input from a readable
// TcpSpec, segments it, and checks every header field and checksum of every
// segment with the independent decoder of testing/packet_check.h, against
// values worked out from the spec (SegmentChecker). Each test then frees the
// segments and checks that every pool is back where it started.
#include "offload/gso.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstring>
#include <memory>
#include <ostream>
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
using testing::TcpSpec;
using testing::VxlanSpec;

using namespace testing::tcp_flag;
constexpr uint16_t kOutCap = 512;

uint16_t get16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }
uint32_t get32(const Bytes& b, size_t off) { return uint32_t(get16(b, off)) << 16 | get16(b, off + 2); }
uint32_t padded(const Bytes& b) { return uint32_t((b.size() + 3) / 4 * 4); }
Bytes slice(const Bytes& b, size_t off, size_t len) {
  return Bytes(b.begin() + off, b.begin() + off + len);
}

// Header offsets of a packet built from a spec, from the standard header sizes.
struct Offsets {
  bool tunnel = false;
  uint32_t l2_len = 0;  // (outer) Ethernet and 802.1Q tag
  uint32_t outer_l3 = 0, outer_l3_len = 0, udp = 0;
  uint32_t l3 = 0, l3_len = 0, l4 = 0, l4_len = 0;
  [[nodiscard]] uint32_t hdr_len() const { return l4 + l4_len; }
};

Offsets offsets_of(const TcpSpec& s) {
  Offsets o;
  o.l2_len = 14 + ((s.vxlan ? s.vxlan->vlan : s.vlan) ? 4 : 0);
  uint32_t off = o.l2_len;
  if (s.vxlan) {
    o.tunnel = true;
    o.outer_l3 = off;
    o.outer_l3_len = s.vxlan->outer_ip == IpVer::V4 ? 20 : 40;
    o.udp = o.outer_l3 + o.outer_l3_len;
    off = o.udp + 8 + 8 + 14;  // UDP, VXLAN, inner Ethernet
  }
  o.l3 = off;
  o.l3_len = s.ip == IpVer::V4 ? 20 + padded(s.ip_options) : 40;
  if (s.ip == IpVer::V6)
    for (const auto& e : s.ipv6_ext) o.l3_len += uint32_t((2 + e.options.size() + 7) / 8 * 8);
  o.l4 = o.l3 + o.l3_len;
  o.l4_len = 20 + padded(s.tcp_options);
  return o;
}

struct Mode {
  PayloadMode payload;
  ChecksumMode checksum;
};

// ---------------------------------------------------------------------------
// The checker: every field of every segment.

class SegmentChecker {
 public:
  SegmentChecker(const TcpSpec& s, uint16_t mss, Mode mode)
      : s_(s), orig_(testing::build_frame(s)), in_(testing::decode(orig_)), o_(offsets_of(s)),
        mss_(mss), mode_(mode), count_((s.payload_len + mss - 1) / mss) {
    // When the outer UDP checksum is set it covers the inner TCP checksum, so the
    // engine finishes both in software and leaves nothing to the NIC.
    nic_ = mode.checksum == ChecksumMode::PseudoForNic && !(s.vxlan && s.vxlan->udp_checksum);
  }

  void check_all(rte_mbuf* const* segs, uint16_t n) const {
    ASSERT_TRUE(in_.error.empty()) << in_.error;
    ASSERT_EQ(n, count_) << "ceil(" << s_.payload_len << " / " << mss_ << ")";
    Bytes stream;
    for (uint16_t i = 0; i < n; ++i) {
      SCOPED_TRACE("segment " + std::to_string(i) + " of " + std::to_string(n));
      check_one(segs[i], i, stream);
      if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_EQ(stream.size(), s_.payload_len);
    EXPECT_TRUE(stream == testing::payload_bytes(s_.payload_seed, 0, s_.payload_len))
        << "segment payloads do not concatenate back to the original stream";
  }

 private:
  uint32_t payload_of(uint16_t i) const {
    return i + 1u < count_ ? mss_ : s_.payload_len - uint32_t(mss_) * (count_ - 1);
  }

  void check_one(const rte_mbuf* seg, uint16_t i, Bytes& stream) const {
    const uint32_t plen = payload_of(i);
    ASSERT_GT(plen, 0u);
    Bytes f = testing::flatten(seg);
    ASSERT_EQ(f.size(), o_.hdr_len() + plen);
    Decoded d = testing::decode(f);
    ASSERT_TRUE(d.error.empty()) << d.error;
    check_chain(seg, f.size());
    check_unchanged_header(f);
    EXPECT_EQ(d.vlan, s_.vxlan ? s_.vxlan->vlan : s_.vlan);
    if (o_.tunnel) check_outer(d, f, i);
    check_ip(d.ip, in_.ip, f, o_.l3, s_.ip_id, i);
    EXPECT_EQ(d.ip.total_len, o_.l3_len + o_.l4_len + plen) << "IP length";
    EXPECT_EQ(slice(f, o_.l3 + 20, o_.l3_len - 20), slice(orig_, o_.l3 + 20, o_.l3_len - 20))
        << "IPv4 options";
    check_tcp(d, f, i);
    check_metadata(seg);
    stream.insert(stream.end(), d.payload.begin(), d.payload.end());
  }

  // Chain bookkeeping, and the payload placement each mode promises.
  void check_chain(const rte_mbuf* seg, size_t len) const {
    uint32_t n = 0;
    for (const rte_mbuf* m = seg; m != nullptr; m = m->next, ++n) {
      if (mode_.payload == PayloadMode::Attach && m != seg) {
        EXPECT_FALSE(RTE_MBUF_DIRECT(m)) << "Attach must reference the input's payload";
      }
    }
    EXPECT_EQ(seg->nb_segs, n);
    EXPECT_EQ(seg->pkt_len, len);
    EXPECT_TRUE(RTE_MBUF_DIRECT(seg));
    if (mode_.payload == PayloadMode::Copy) {
      EXPECT_EQ(n, 1u);
    } else {
      EXPECT_EQ(seg->data_len, o_.hdr_len()) << "Attach: the first mbuf holds the headers";
    }
  }

  // Every header byte but the per-segment fields is the input's byte: Ethernet
  // and tag, addresses, TOS/traffic class, flow label, TTL, ports, ack, window,
  // urgent pointer, options, VXLAN header, inner Ethernet.
  void check_unchanged_header(const Bytes& f) const {
    std::vector<bool> may_change(o_.hdr_len());
    auto mark = [&](uint32_t off, uint32_t n) {
      for (uint32_t k = 0; k < n; ++k) may_change[off + k] = true;
    };
    auto mark_ip = [&](IpVer v, uint32_t off) {
      if (v == IpVer::V4) mark(off + 2, 4), mark(off + 10, 2);  // total length, ID, checksum
      else mark(off + 4, 2);                                    // payload length
    };
    mark_ip(s_.ip, o_.l3);
    mark(o_.l4 + 4, 4);   // sequence number
    mark(o_.l4 + 13, 1);  // flags
    mark(o_.l4 + 16, 2);  // checksum
    if (o_.tunnel) {
      mark_ip(s_.vxlan->outer_ip, o_.outer_l3);
      mark(o_.udp + 4, 4);  // UDP length and checksum
    }
    for (uint32_t b = 0; b < o_.hdr_len(); ++b) {
      if (may_change[b]) continue;
      ASSERT_EQ(f[b], orig_[b]) << "header byte " << b << " changed";
    }
  }

  // Fields of one IP header (inner or outer) at `off`; `id0` is the input's IPv4 ID.
  void check_ip(const DecodedIp& got, const DecodedIp& in, const Bytes& f, uint32_t off,
                uint16_t id0, uint16_t i) const {
    EXPECT_EQ(got.version, in.version);
    EXPECT_EQ(got.hdr_len, in.hdr_len);
    EXPECT_EQ(got.tos, in.tos) << "TOS / traffic class";
    EXPECT_EQ(got.ttl, in.ttl) << "TTL / hop limit";
    EXPECT_EQ(got.proto, in.proto) << "protocol / next header";
    if (got.version == 4) {
      EXPECT_EQ(got.id, uint16_t(id0 + i)) << "IPv4 ID";
      EXPECT_EQ(got.df, in.df) << "DF";
      EXPECT_EQ(get16(f, off + 6) & 0x3fff, 0) << "MF / fragment offset";
      EXPECT_TRUE(got.checksum_ok) << "IPv4 header checksum " << std::hex << got.checksum;
    } else {
      EXPECT_EQ(get32(f, off) & 0xfffff, get32(orig_, off) & 0xfffff) << "flow label";
    }
  }

  void check_tcp(const Decoded& d, const Bytes& f, uint16_t i) const {
    EXPECT_EQ(d.src_port, s_.src_port);
    EXPECT_EQ(d.dst_port, s_.dst_port);
    EXPECT_EQ(d.seq, uint32_t(s_.seq + uint32_t(i) * mss_)) << "sequence number";
    EXPECT_EQ(d.ack, s_.ack);
    EXPECT_EQ(d.tcp_hdr_len, o_.l4_len) << "data offset";
    EXPECT_EQ(d.window, s_.window);
    EXPECT_EQ(get16(f, o_.l4 + 18), get16(orig_, o_.l4 + 18)) << "urgent pointer";
    EXPECT_EQ(d.tcp_options, slice(orig_, o_.l4 + 20, o_.l4_len - 20));
    uint8_t flags = s_.flags;
    if (i != 0) flags &= uint8_t(~kCwr);                  // CWR on the first segment only
    if (i + 1u != count_) flags &= uint8_t(~(kFin | kPsh));  // FIN and PSH on the last only
    EXPECT_EQ(d.flags, flags) << std::hex << "flags 0x" << int(d.flags) << " want 0x" << int(flags);
    if (nic_) {
      EXPECT_TRUE(d.tcp_checksum_pseudo) << "TCP field must hold the pseudo-header sum";
    } else {
      EXPECT_TRUE(d.tcp_checksum_ok) << "TCP checksum " << std::hex << d.tcp_checksum;
    }
  }

  void check_outer(const Decoded& d, const Bytes& f, uint16_t i) const {
    const VxlanSpec& v = *s_.vxlan;
    check_ip(d.outer, in_.outer, f, o_.outer_l3, v.ip_id, i);
    EXPECT_EQ(d.outer.total_len, f.size() - o_.outer_l3) << "outer IP length";
    EXPECT_EQ(d.udp_len, f.size() - o_.udp) << "UDP length";
    EXPECT_EQ(get16(f, o_.udp), v.src_port);
    EXPECT_EQ(get16(f, o_.udp + 2), 4789);
    EXPECT_EQ(d.vni, v.vni);
    if (v.udp_checksum) {
      EXPECT_NE(d.udp_checksum, 0) << "a set UDP checksum must stay set";
      EXPECT_TRUE(d.udp_checksum_ok) << "UDP checksum " << std::hex << d.udp_checksum;
    } else {
      EXPECT_EQ(d.udp_checksum, 0) << "a zero UDP checksum stays zero";
    }
  }

  void check_metadata(const rte_mbuf* seg) const {
    const uint64_t f = seg->ol_flags;
    EXPECT_FALSE(f & RTE_MBUF_F_TX_TCP_SEG) << "segments are not for TSO any more";
    if (nic_) {
      EXPECT_EQ(f & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_TCP_CKSUM);
      uint64_t ipv = s_.ip == IpVer::V4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
      EXPECT_EQ(f & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6), ipv);
      if (o_.tunnel) {
        EXPECT_EQ(f & RTE_MBUF_F_TX_TUNNEL_MASK, RTE_MBUF_F_TX_TUNNEL_VXLAN);
        uint64_t outer = s_.vxlan->outer_ip == IpVer::V4 ? RTE_MBUF_F_TX_OUTER_IPV4
                                                          : RTE_MBUF_F_TX_OUTER_IPV6;
        EXPECT_EQ(f & (RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IPV6), outer);
      }
    } else {
      // Everything is final: no flag may make a NIC rewrite a checksum.
      EXPECT_EQ(f & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IP_CKSUM |
                     RTE_MBUF_F_TX_OUTER_IP_CKSUM | RTE_MBUF_F_TX_OUTER_UDP_CKSUM),
                0u);
    }
    if (o_.tunnel) {
      EXPECT_EQ(seg->outer_l2_len, o_.l2_len);
      EXPECT_EQ(seg->outer_l3_len, o_.outer_l3_len);
      EXPECT_EQ(seg->l2_len, o_.l3 - o_.udp) << "UDP + VXLAN + inner Ethernet";
    } else {
      EXPECT_EQ(seg->l2_len, o_.l2_len);
    }
    EXPECT_EQ(seg->l3_len, o_.l3_len);
    EXPECT_EQ(seg->l4_len, o_.l4_len);
  }

  const TcpSpec& s_;
  Bytes orig_;
  Decoded in_;
  Offsets o_;
  uint16_t mss_;
  Mode mode_;
  uint32_t count_;
  bool nic_;
};

void check_segments(const TcpSpec& s, rte_mbuf* const* segs, uint16_t n, uint16_t mss, Mode mode) {
  SegmentChecker(s, mss, mode).check_all(segs, n);
}

// ---------------------------------------------------------------------------
// Inputs

enum class Shape {
  Single,       // one mbuf (pool with a 65,535-byte data room)
  Chain2048,    // 2048-byte mbufs
  Chain777,     // odd sizes: payload pieces split at odd offsets
  Chain1001,
  HeaderApart,  // headers alone in the first mbuf, payload in 2048-byte mbufs
  External,     // one mbuf whose buffer is external (rte_pktmbuf_attach_extbuf), as vhost hands 64 KB packets
};

const char* name(Shape s) {
  constexpr const char* names[] = {"Single", "Chain2048", "Chain777", "Chain1001", "HeaderApart",
                                   "External"};
  return names[int(s)];
}
const char* name(PayloadMode m) { return m == PayloadMode::Attach ? "Attach" : "Copy"; }
const char* name(ChecksumMode m) { return m == ChecksumMode::Full ? "Full" : "Pseudo"; }
const char* name(IpVer v) { return v == IpVer::V4 ? "V4" : "V6"; }

// A buffer outside any mempool, released through its callback as the vhost
// library's are.
struct ExtBuf {
  static constexpr uint16_t kSize = 65535;
  std::unique_ptr<uint8_t[]> mem{new uint8_t[kSize]};
  int released = 0;
  static void release(void*, void* opaque) { ++static_cast<ExtBuf*>(opaque)->released; }
};

struct Pools {
  testing::Pool big{"gso_big", 4, 65535};
  testing::Pool small{"gso_small", 512, RTE_MBUF_DEFAULT_BUF_SIZE};  // 2048 bytes of data each
  testing::Pool hdr{"gso_hdr", 512, 2048};
  testing::Pool ind{"gso_ind", 1024, 0};
  void expect_empty() const {
    EXPECT_EQ(big.in_use(), 0u);
    EXPECT_EQ(small.in_use(), 0u);
    EXPECT_EQ(hdr.in_use(), 0u);
    EXPECT_EQ(ind.in_use(), 0u);
  }
};

// Gives `m` the TSO metadata make_tso_mbuf() put on `tmpl`, and frees `tmpl`.
rte_mbuf* with_metadata_of(rte_mbuf* m, rte_mbuf* tmpl) {
  if (m == nullptr || tmpl == nullptr) {
    rte_pktmbuf_free(m);
    rte_pktmbuf_free(tmpl);
    return nullptr;
  }
  m->ol_flags |= tmpl->ol_flags;
  m->tx_offload = tmpl->tx_offload;
  rte_pktmbuf_free(tmpl);
  return m;
}

rte_mbuf* make_external(rte_mempool* pool, const Bytes& frame, ExtBuf& ext) {
  uint16_t len = ExtBuf::kSize;
  auto* shinfo = rte_pktmbuf_ext_shinfo_init_helper(ext.mem.get(), &len, ExtBuf::release, &ext);
  if (shinfo == nullptr || frame.size() > UINT16_MAX) return nullptr;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  rte_pktmbuf_attach_extbuf(m, ext.mem.get(), rte_iova_t(uintptr_t(ext.mem.get())), len, shinfo);
  char* p = rte_pktmbuf_append(m, uint16_t(frame.size()));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, frame.data(), frame.size());
  return m;
}

rte_mbuf* make_input(Pools& p, const TcpSpec& s, uint16_t mss, Shape shape, ExtBuf& ext) {
  switch (shape) {
    case Shape::Single: return testing::make_tso_mbuf(p.big, s, mss);
    case Shape::Chain2048: return testing::make_tso_mbuf(p.small, s, mss, 2048);
    case Shape::Chain777: return testing::make_tso_mbuf(p.small, s, mss, 777);
    case Shape::Chain1001: return testing::make_tso_mbuf(p.small, s, mss, 1001);
    case Shape::HeaderApart: {
      Bytes f = testing::build_frame(s);
      uint32_t h = offsets_of(s).hdr_len();
      rte_mbuf* m = testing::make_mbuf(p.small, slice(f, 0, h));
      if (rte_pktmbuf_chain(m, testing::make_mbuf(p.small, slice(f, h, f.size() - h), 2048)) != 0)
        return nullptr;
      return with_metadata_of(m, testing::make_tso_mbuf(p.small, s, mss, 2048));
    }
    case Shape::External:
      return with_metadata_of(make_external(p.small, testing::build_frame(s), ext),
                              testing::make_tso_mbuf(p.small, s, mss, 2048));
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// The common flow: build, segment, check, free, check for leaks.

class GsoTest : public ::testing::Test {
 protected:
  Pools pools_;
  ExtBuf ext_;

  void run(const TcpSpec& s, uint16_t mss, Mode mode, Shape shape) {
    rte_mbuf* in = make_input(pools_, s, mss, shape, ext_);
    ASSERT_NE(in, nullptr);
    ASSERT_EQ(in->pkt_len, testing::build_frame(s).size());
    GsoConfig cfg{pools_.hdr, pools_.ind, mode.checksum, mode.payload};
    std::vector<rte_mbuf*> out(kOutCap);
    GsoResult r = gso_segment(cfg, in, out.data(), kOutCap);
    ASSERT_EQ(r.reason, Reason::Ok) << describe(r.reason);
    if (mode.payload == PayloadMode::Copy) {
      // The input was consumed: nothing of it is left once the copies exist.
      EXPECT_EQ(pools_.big.in_use(), 0u);
      EXPECT_EQ(pools_.small.in_use(), 0u);
      EXPECT_EQ(pools_.ind.in_use(), 0u);
    }
    check_segments(s, out.data(), r.segments, mss, mode);
    free_segments(out.data(), r.segments, mode, shape == Shape::External);
    pools_.expect_empty();
  }

  // Frees the segments; an external buffer must be released exactly when the
  // last reference to it goes (for Attach, with the last segment).
  void free_segments(rte_mbuf** segs, uint16_t n, Mode mode, bool external) {
    if (!external) {
      rte_pktmbuf_free_bulk(segs, n);
      return;
    }
    const int early = mode.payload == PayloadMode::Copy ? 1 : 0;
    EXPECT_EQ(ext_.released, early) << "external buffer released too early or too late";
    rte_pktmbuf_free_bulk(segs, n - 1);
    EXPECT_EQ(ext_.released, early) << "released while a segment still references it";
    rte_pktmbuf_free(segs[n - 1]);
    EXPECT_EQ(ext_.released, 1) << "external buffer not released after the last segment";
  }
};

struct Named {
  std::string name;
  TcpSpec spec;
};
void PrintTo(const Named& n, std::ostream* os) { *os << n.name; }

TcpSpec as_v6(TcpSpec s) {
  s.ip = IpVer::V6;
  s.src = "2001:db8:1::a";
  s.dst = "2001:db8:2::b";
  s.ip_options.clear();
  return s;
}

// ---------------------------------------------------------------------------
// Golden: 64 KB TCPv4 (IPv4 options, TCP timestamps; with a VLAN tag) and
// TCPv6, MSS 1448, input flags ACK|PSH|FIN|CWR.

TcpSpec golden_v4() {
  TcpSpec s;
  s.payload_len = 65000;
  s.payload_seed = 7;
  s.tos = 0x2a;  // DSCP 10, ECT(0)
  s.ttl = 63;
  s.ip_id = 0x1234;
  s.ip_options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // Router Alert, NOPs, EOL
  s.src_port = 40001;
  s.dst_port = 5201;
  s.seq = 0x10000000;
  s.ack = 0x87654321;
  s.window = 0x1fe0;
  s.flags = kAck | kPsh | kFin | kCwr;
  s.tcp_options = testing::tcp_timestamp_option(0x01020304, 0x0a0b0c0d);
  return s;
}

std::vector<Named> golden_specs() {
  TcpSpec v4_vlan = golden_v4();
  v4_vlan.vlan = 0x6005;       // PCP 3, VID 5
  v4_vlan.ip_id = 0xfff0;      // the ID wraps during the burst
  v4_vlan.seq = 0xffffc000;    // and so does the sequence number
  v4_vlan.dont_fragment = false;
  TcpSpec v6 = as_v6(golden_v4());
  v6.tos = 0xb9;  // traffic class: DSCP 46, ECT(1)
  v6.ttl = 255;
  TcpSpec v6_vlan = v6;
  v6_vlan.vlan = 0x0abc;
  v6_vlan.seq = 0xfffff000;
  TcpSpec v6_ext = v6;  // hop-by-hop and destination options, copied into every segment
  v6_ext.ipv6_ext = {{0, {0x1e, 2, 0xaa, 0xbb}}, {60, {0x1e, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}};
  return {{"V4", golden_v4()}, {"V4Vlan", v4_vlan}, {"V6", v6}, {"V6Vlan", v6_vlan},
          {"V6Extensions", v6_ext}};
}

using GoldenParam = std::tuple<Named, PayloadMode, ChecksumMode, Shape>;
std::string spec_mode_shape_name(const ::testing::TestParamInfo<GoldenParam>& info) {
  const auto& [n, p, c, s] = info.param;
  return n.name + "_" + name(p) + "_" + name(c) + "_" + name(s);
}
class GsoGolden : public GsoTest, public ::testing::WithParamInterface<GoldenParam> {};

TEST_P(GsoGolden, EveryFieldOfEverySegment) {
  auto [named, payload, checksum, shape] = GetParam();
  run(named.spec, 1448, {payload, checksum}, shape);
}

INSTANTIATE_TEST_SUITE_P(
    All, GsoGolden,
    ::testing::Combine(::testing::ValuesIn(golden_specs()),
                       ::testing::Values(PayloadMode::Attach, PayloadMode::Copy),
                       ::testing::Values(ChecksumMode::Full, ChecksumMode::PseudoForNic),
                       ::testing::Values(Shape::Single, Shape::Chain2048, Shape::Chain777,
                                         Shape::Chain1001, Shape::HeaderApart, Shape::External)),
    spec_mode_shape_name);

// ---------------------------------------------------------------------------
// The largest inputs: IPv4 total length 65,535 (40 bytes of IP options, 40 of
// TCP options) and IPv6 payload length 65,535 with a VLAN tag (kMaxGsoPacketLen).

std::vector<Named> largest_specs() {
  TcpSpec v4 = golden_v4();
  v4.ip_options = Bytes(40, 0x01);
  v4.tcp_options = Bytes(40, 0x01);
  v4.payload_len = 65535 - 60 - 60;
  TcpSpec v6 = as_v6(golden_v4());
  v6.vlan = 100;
  v6.tcp_options = Bytes(40, 0x01);
  v6.payload_len = 65535 - 60;
  return {{"V4", v4}, {"V6Vlan", v6}};
}

class GsoLargest : public GsoTest, public ::testing::WithParamInterface<GoldenParam> {};

TEST_P(GsoLargest, SegmentsTheLargestPacket) {
  auto [named, payload, checksum, shape] = GetParam();
  if (named.spec.ip == IpVer::V6) {
    ASSERT_EQ(testing::build_frame(named.spec).size(), kMaxGsoPacketLen);
  }
  run(named.spec, 1448, {payload, checksum}, shape);
}

INSTANTIATE_TEST_SUITE_P(
    All, GsoLargest,
    ::testing::Combine(::testing::ValuesIn(largest_specs()),
                       ::testing::Values(PayloadMode::Attach, PayloadMode::Copy),
                       ::testing::Values(ChecksumMode::Full, ChecksumMode::PseudoForNic),
                       ::testing::Values(Shape::Chain2048, Shape::Chain777, Shape::HeaderApart)),
    spec_mode_shape_name);

// ---------------------------------------------------------------------------
// Odd sizes: segment boundaries and mbuf boundaries on odd bytes.

struct OddSize {
  uint16_t mss;
  uint32_t payload;
};
void PrintTo(const OddSize& o, std::ostream* os) { *os << o.mss << "/" << o.payload; }

const OddSize kOddSizes[] = {
    {1447, 65001}, {1447, 12345}, {1447, 14470},  // 14470: ten full segments, no remainder
    {537, 65001},  {537, 12345},  {1448, 1449},   // last segment of one byte
    {7, 1001},                                    // 143 tiny segments
};

using OddParam = std::tuple<OddSize, IpVer, Shape, PayloadMode>;
std::string odd_name(const ::testing::TestParamInfo<OddParam>& info) {
  const auto& [o, ip, s, p] = info.param;
  return "mss" + std::to_string(o.mss) + "_len" + std::to_string(o.payload) + "_" + name(ip) + "_" +
         name(s) + "_" + name(p);
}
class GsoOddSizes : public GsoTest, public ::testing::WithParamInterface<OddParam> {};

TEST_P(GsoOddSizes, EveryChecksumValid) {
  auto [size, ip, shape, payload] = GetParam();
  TcpSpec s = ip == IpVer::V4 ? golden_v4() : as_v6(golden_v4());
  s.payload_len = size.payload;
  s.payload_seed = size.payload;
  s.flags = kAck | kPsh | kEce;  // ECE is copied to every segment
  run(s, size.mss, {payload, ChecksumMode::Full}, shape);
}

INSTANTIATE_TEST_SUITE_P(
    All, GsoOddSizes,
    ::testing::Combine(::testing::ValuesIn(kOddSizes), ::testing::Values(IpVer::V4, IpVer::V6),
                       ::testing::Values(Shape::Single, Shape::Chain777, Shape::Chain1001),
                       ::testing::Values(PayloadMode::Attach, PayloadMode::Copy)),
    odd_name);

// ---------------------------------------------------------------------------
// VXLAN: outer IPv4/IPv6 x inner IPv4/IPv6 x outer UDP checksum zero/set.

TcpSpec vxlan_spec(IpVer outer, IpVer inner, bool udp_csum) {
  TcpSpec s = inner == IpVer::V4 ? golden_v4() : as_v6(golden_v4());
  s.payload_len = 60000;
  VxlanSpec v;
  v.outer_ip = outer;
  if (outer == IpVer::V6) {
    v.src = "2001:db8:ff::1";
    v.dst = "2001:db8:ff::2";
    v.vlan = 0x0123;
  }
  v.vni = 0xfedcba;
  v.src_port = 51234;
  v.ip_id = 0xfffe;  // the outer ID wraps too
  v.ttl = 17;
  v.udp_checksum = udp_csum;
  s.vxlan = v;
  return s;
}

using VxlanParam = std::tuple<IpVer, IpVer, bool, PayloadMode, ChecksumMode, Shape>;
std::string vxlan_name(const ::testing::TestParamInfo<VxlanParam>& info) {
  const auto& [o, i, u, p, c, s] = info.param;
  return std::string("out") + name(o) + "_in" + name(i) + (u ? "_udpcsum_" : "_udp0_") + name(p) +
         "_" + name(c) + "_" + name(s);
}
class GsoVxlan : public GsoTest, public ::testing::WithParamInterface<VxlanParam> {};

TEST_P(GsoVxlan, EveryOuterAndInnerField) {
  auto [outer, inner, udp_csum, payload, checksum, shape] = GetParam();
  run(vxlan_spec(outer, inner, udp_csum), 1448, {payload, checksum}, shape);
}

INSTANTIATE_TEST_SUITE_P(
    All, GsoVxlan,
    ::testing::Combine(::testing::Values(IpVer::V4, IpVer::V6), ::testing::Values(IpVer::V4, IpVer::V6),
                       ::testing::Bool(), ::testing::Values(PayloadMode::Attach, PayloadMode::Copy),
                       ::testing::Values(ChecksumMode::Full, ChecksumMode::PseudoForNic),
                       ::testing::Values(Shape::Single, Shape::Chain1001)),
    vxlan_name);

// ---------------------------------------------------------------------------
// Headroom: the largest encapsulation (outer Ethernet + 802.1Q, outer IPv6, UDP,
// VXLAN, inner Ethernet, inner IPv6, TCP with 40 bytes of options: 188 bytes of
// headers) fits the 2048-byte header pool.

using HeadroomParam = std::tuple<PayloadMode, ChecksumMode, bool>;
class GsoHeadroom : public GsoTest, public ::testing::WithParamInterface<HeadroomParam> {};

TEST_P(GsoHeadroom, LargestEncapsulation) {
  auto [payload, checksum, udp_csum] = GetParam();
  TcpSpec s = vxlan_spec(IpVer::V6, IpVer::V6, udp_csum);
  s.tcp_options = Bytes(40, 0x01);
  s.payload_len = 65000;
  ASSERT_EQ(offsets_of(s).hdr_len(), 18u + 40 + 8 + 8 + 14 + 40 + 60);
  run(s, 1448, {payload, checksum}, Shape::Single);
}

INSTANTIATE_TEST_SUITE_P(All, GsoHeadroom,
                         ::testing::Combine(::testing::Values(PayloadMode::Attach, PayloadMode::Copy),
                                            ::testing::Values(ChecksumMode::Full,
                                                              ChecksumMode::PseudoForNic),
                                            ::testing::Bool()));

// ---------------------------------------------------------------------------
// Refusals and resource limits: on anything but Ok the input is unchanged and
// still the caller's, and nothing stays allocated. The Ok rows are the exact
// boundaries of the same limits.

struct Limit {
  std::string name;
  PayloadMode payload;
  uint16_t mss = 1448;
  uint16_t out_cap = kOutCap;
  uint32_t hdr_count = 64, hdr_room = 2048, ind_count = 256;
  bool clear_tso_flag = false;
  Reason want;
};
void PrintTo(const Limit& l, std::ostream* os) { *os << l.name; }

// 14480 bytes: ten segments at MSS 1448. Headers: 14 + 28 + 32 = 74 bytes.
TcpSpec limit_spec() {
  TcpSpec s = golden_v4();
  s.payload_len = 14480;
  return s;
}
constexpr uint32_t kLimitHdr = 14 + 28 + 32;

std::vector<Limit> limits() {
  constexpr auto A = PayloadMode::Attach;
  constexpr auto C = PayloadMode::Copy;
  const uint16_t room = RTE_PKTMBUF_HEADROOM;
  std::vector<Limit> v = {
      {.name = "NotMarked", .payload = A, .clear_tso_flag = true, .want = Reason::NotMarkedForTso},
      {.name = "MssZero", .payload = A, .mss = 0, .want = Reason::MssZero},
      {.name = "MssEqualsPayload", .payload = C, .mss = 14480, .want = Reason::MssExceedsPayload},
      {.name = "MssAbovePayload", .payload = A, .mss = 20000, .want = Reason::MssExceedsPayload},
      {.name = "OneSegmentShort", .payload = A, .out_cap = 9, .want = Reason::TooManySegments},
      {.name = "OutCapExact", .payload = C, .out_cap = 10, .want = Reason::Ok},
      {.name = "HeaderPoolShortAttach", .payload = A, .hdr_count = 9, .want = Reason::NoMemory},
      {.name = "HeaderPoolShortCopy", .payload = C, .hdr_count = 9, .want = Reason::NoMemory},
      {.name = "HeaderPoolExact", .payload = C, .hdr_count = 10, .want = Reason::Ok},
      {.name = "IndirectPoolShort", .payload = A, .ind_count = 10, .want = Reason::NoMemory},
      {.name = "NoHeadroomAttach", .payload = A, .hdr_room = room + kLimitHdr - 1,
       .want = Reason::NoHeadroom},
      {.name = "HeadroomExactAttach", .payload = A, .hdr_room = room + kLimitHdr, .want = Reason::Ok},
      {.name = "NoHeadroomCopy", .payload = C, .hdr_room = room + kLimitHdr + 1448 - 1,
       .want = Reason::NoHeadroom},
      {.name = "HeadroomExactCopy", .payload = C, .hdr_room = room + kLimitHdr + 1448,
       .want = Reason::Ok},
  };
  return v;
}

class GsoLimits : public ::testing::TestWithParam<Limit> {};

TEST_P(GsoLimits, RefusalLeavesInputAndPoolsUntouched) {
  const Limit& l = GetParam();
  TcpSpec s = limit_spec();
  ASSERT_EQ(offsets_of(s).hdr_len(), kLimitHdr);
  testing::Pool in_pool("lim_in", 64, RTE_MBUF_DEFAULT_BUF_SIZE);
  testing::Pool hdr("lim_hdr", l.hdr_count, uint16_t(l.hdr_room));
  testing::Pool ind("lim_ind", l.ind_count, 0);
  rte_mbuf* in = testing::make_tso_mbuf(in_pool, s, l.mss, 1001);
  ASSERT_NE(in, nullptr);
  if (l.clear_tso_flag) in->ol_flags &= ~RTE_MBUF_F_TX_TCP_SEG;
  const Bytes before = testing::flatten(in);
  const uint64_t flags = in->ol_flags;
  const uint32_t in_use = in_pool.in_use();
  std::vector<rte_mbuf*> out(kOutCap);
  GsoResult r = gso_segment({hdr, ind, ChecksumMode::Full, l.payload}, in, out.data(), l.out_cap);
  ASSERT_EQ(r.reason, l.want) << describe(r.reason);
  if (r.reason == Reason::Ok) {
    check_segments(s, out.data(), r.segments, l.mss, {l.payload, ChecksumMode::Full});
    rte_pktmbuf_free_bulk(out.data(), r.segments);
  } else {
    EXPECT_EQ(r.segments, 0);
    EXPECT_EQ(testing::flatten(in), before);
    EXPECT_EQ(in->ol_flags, flags);
    EXPECT_EQ(in_pool.in_use(), in_use);
    EXPECT_EQ(hdr.in_use(), 0u);
    EXPECT_EQ(ind.in_use(), 0u);
    rte_pktmbuf_free(in);
  }
  EXPECT_EQ(in_pool.in_use(), 0u);
  EXPECT_EQ(hdr.in_use(), 0u);
  EXPECT_EQ(ind.in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(All, GsoLimits, ::testing::ValuesIn(limits()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace vo
