// virtio_net_hdr <-> offload metadata (ports/tap/virtio_net_hdr.h).
//
// From the kernel: one row per way a header can be wrong, each refused with
// its own fault (or the parser's Reason), and good rows that must produce the
// exact ol_flags, lengths and tso_segsz. Offsets in the rows come from header
// sizes in the standards (Ethernet 14, 802.1Q 4, IPv4 20, IPv6 40, TCP 20 + 12
// of timestamps), not from the code under test.
// To the kernel: every field of the header written for each kind of metadata.
// Every row ends with the pool back at its baseline.
#include "virtio_net_hdr.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstring>
#include <optional>
#include <string>

#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;

constexpr uint8_t kNeeds = VirtioNetHdr::kNeedsCsum;
constexpr uint64_t kV4Tso = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4 |
                            RTE_MBUF_F_TX_IP_CKSUM;
constexpr uint64_t kV6Tso = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6;

VirtioNetHdr hdr(uint8_t flags, uint8_t gso_type, uint16_t gso_size, uint16_t csum_start,
                 uint16_t csum_offset, uint16_t hdr_len) {
  VirtioNetHdr h;
  h.flags = flags;
  h.gso_type = gso_type;
  h.gso_size.set(gso_size);
  h.csum_start.set(csum_start);
  h.csum_offset.set(csum_offset);
  h.hdr_len.set(hdr_len);
  return h;
}

TcpSpec spec(IpVer ip, uint32_t payload, bool vlan = false) {
  TcpSpec s;
  s.ip = ip;
  if (ip == IpVer::V6) {
    s.src = "fd00::1";
    s.dst = "fd00::2";
  }
  if (vlan) s.vlan = 7;
  s.tcp_options = testing::tcp_timestamp_option(1, 2);
  s.payload_len = payload;
  s.checksum = testing::L4Checksum::Partial;
  return s;
}

struct Want {
  uint64_t ol_flags;  // TX metadata bits
  uint8_t l2, l3, l4;
  uint16_t tso_segsz;
};

struct Row {
  const char* what;
  TcpSpec spec;
  VirtioNetHdr h;
  Reason verdict;
  std::optional<Want> want;  // for good rows
  uint32_t cut_to = 0;       // truncate the frame to this many bytes
  uint32_t seg_size = 0;     // chain of mbufs of this size
};

// IPv4: 14 + 20, TCP header 32: csum_start 34, hdr_len 66. IPv6: 54, 86.
const Row kRows[] = {
    {"v4 gso", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 34, 16, 66), {},
     Want{kV4Tso, 14, 20, 32, 1448}},
    {"v6 gso ecn chained", spec(IpVer::V6, 9000), hdr(kNeeds, 4 | 0x80, 1428, 54, 16, 86), {},
     Want{kV6Tso, 14, 40, 32, 1428}, 0, 1000},
    {"v4 gso vlan", spec(IpVer::V4, 3000, true), hdr(kNeeds, 1, 1000, 38, 16, 70), {},
     Want{kV4Tso, 18, 20, 32, 1000}},
    {"hdr_len a short hint", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 34, 16, 10), {},
     Want{kV4Tso, 14, 20, 32, 1448}},
    {"gso of one segment", spec(IpVer::V4, 1000), hdr(kNeeds, 1, 1448, 34, 16, 66), {},
     Want{RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4, 14, 20, 32, 0}},
    {"partial checksum", spec(IpVer::V6, 500), hdr(kNeeds, 0, 0, 54, 16, 0), {},
     Want{RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6, 14, 40, 32, 0}},
    {"no offload", spec(IpVer::V4, 500), hdr(0, 0, 0, 0, 0, 0), {}, Want{0, 0, 0, 0, 0}},
    {"data valid", spec(IpVer::V4, 500), hdr(VirtioNetHdr::kDataValid, 0, 0, 0, 0, 0), {},
     Want{0, 0, 0, 0, 0}},

    {"unknown gso_type", spec(IpVer::V4, 4000), hdr(kNeeds, 2, 1448, 34, 16, 66),
     Reason::HdrBadGsoType},
    {"ecn bit alone", spec(IpVer::V4, 4000), hdr(kNeeds, 0x80, 1448, 34, 16, 66),
     Reason::HdrBadGsoType},
    {"udp gso", spec(IpVer::V4, 4000), hdr(kNeeds, 3, 1448, 34, 6, 42),
     Reason::HdrUnsupportedGso},
    {"udp_l4 gso", spec(IpVer::V4, 4000), hdr(kNeeds, 5, 1448, 34, 6, 42),
     Reason::HdrUnsupportedGso},
    {"gso_size 0", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 0, 34, 16, 66),
     Reason::MssZero},
    {"gso_size below TCP's minimum MSS", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 87, 34, 16, 66),
     Reason::MssTooSmall},
    {"gso_size 1", spec(IpVer::V6, 4000), hdr(kNeeds, 4, 1, 54, 16, 86),
     Reason::MssTooSmall},
    {"gso_size at TCP's minimum MSS", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 88, 34, 16, 66), {},
     Want{kV4Tso, 14, 20, 32, 88}},
    {"gso without needs_csum", spec(IpVer::V4, 4000), hdr(0, 1, 1448, 34, 16, 66),
     Reason::HdrGsoWithoutCsum},
    {"gso type v6 on v4", spec(IpVer::V4, 4000), hdr(kNeeds, 4, 1448, 34, 16, 66),
     Reason::HdrGsoTypeMismatch},
    {"gso type v4 on v6", spec(IpVer::V6, 4000), hdr(kNeeds, 1, 1448, 54, 16, 86),
     Reason::HdrGsoTypeMismatch},
    {"hdr_len past the packet", spec(IpVer::V4, 100), hdr(kNeeds, 0, 0, 34, 16, 60000),
     Reason::HdrLenPastPacket},
    {"csum_start past the packet", spec(IpVer::V4, 100), hdr(kNeeds, 0, 0, 166, 16, 0),
     Reason::CsumStartPastPacket},
    {"csum_start far past", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 0xffff, 16, 66),
     Reason::CsumStartPastPacket},
    {"csum_offset out of range", spec(IpVer::V4, 100), hdr(kNeeds, 0, 0, 34, 0xfff0, 0),
     Reason::CsumOffsetOutOfRange},
    {"csum field in the last byte", spec(IpVer::V4, 100), hdr(kNeeds, 0, 0, 34, 131, 0),
     Reason::CsumOffsetOutOfRange},
    {"csum_start at the IP header", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 14, 16, 66),
     Reason::CsumStartNotL4},
    {"csum_offset not tcp's", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 34, 6, 66),
     Reason::CsumOffsetNotChecksum},
    {"partial csum_offset not tcp's", spec(IpVer::V4, 100), hdr(kNeeds, 0, 0, 34, 6, 0),
     Reason::CsumOffsetNotChecksum},
    {"truncated gso", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 34, 16, 66),
     Reason::Ipv4LengthMismatch, {}, 1000},
    {"truncated v6 partial", spec(IpVer::V6, 500), hdr(kNeeds, 0, 0, 54, 16, 0),
     Reason::Ipv6LengthMismatch, {}, 300},
    {"truncated inside the headers", spec(IpVer::V4, 4000), hdr(kNeeds, 1, 1448, 34, 16, 30),
     Reason::CsumOffsetOutOfRange, {}, 40},
};

class VirtioNetHdrTest : public ::testing::Test {
 protected:
  testing::Pool pool{"vnh", 512, 12000};  // room for a row's frame in one mbuf
};

rte_mbuf* packet(rte_mempool* pool, const Row& r) {
  Bytes f = testing::build_frame(r.spec);
  if (r.cut_to) f.resize(r.cut_to);
  return testing::make_mbuf(pool, f, r.seg_size);
}

TEST_F(VirtioNetHdrTest, FromTheKernelEachRowAsExpected) {
  uint32_t baseline = pool.in_use();
  for (const Row& r : kRows) {
    SCOPED_TRACE(r.what);
    rte_mbuf* m = packet(pool, r);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(name(metadata_from_hdr(r.h, m)), name(r.verdict));
    if (r.want) {
      EXPECT_EQ(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, r.want->ol_flags);
      if (r.want->ol_flags) {
        EXPECT_EQ(m->l2_len, r.want->l2);
        EXPECT_EQ(m->l3_len, r.want->l3);
        EXPECT_EQ(m->l4_len, r.want->l4);
      }
      EXPECT_EQ(m->tso_segsz, r.want->tso_segsz);
      EXPECT_EQ(m->outer_l2_len + m->outer_l3_len, 0u);
    }
    rte_pktmbuf_free(m);
    EXPECT_EQ(pool.in_use(), baseline);
  }
}

TEST_F(VirtioNetHdrTest, FramesOver64KAreRefused) {
  testing::Pool big{"vnh_big", 64, 9000};
  Bytes f(kMaxGsoPacketLen + 1, 0x45);
  rte_mbuf* m = testing::make_mbuf(big, f, 8000);
  ASSERT_NE(m, nullptr);
  for (uint8_t gso : {uint8_t(0), VirtioNetHdr::kGsoTcpv4}) {
    EXPECT_EQ(metadata_from_hdr(hdr(kNeeds, gso, 1448, 34, 16, 66), m), Reason::TooLarge);
  }
  rte_pktmbuf_free(m);
  EXPECT_EQ(big.in_use(), 0u);
}

struct HdrWant {
  uint8_t flags, gso_type;
  uint16_t gso_size, csum_start, csum_offset, hdr_len;
};

void expect_hdr(const VirtioNetHdr& h, const HdrWant& w) {
  EXPECT_EQ(h.flags, w.flags);
  EXPECT_EQ(h.gso_type, w.gso_type);
  EXPECT_EQ(h.gso_size.get(), w.gso_size);
  EXPECT_EQ(h.csum_start.get(), w.csum_start);
  EXPECT_EQ(h.csum_offset.get(), w.csum_offset);
  EXPECT_EQ(h.hdr_len.get(), w.hdr_len);
  EXPECT_EQ(h.num_buffers.get(), 0);
}

TEST_F(VirtioNetHdrTest, ToTheKernelFieldByField) {
  struct Case {
    const char* what;
    TcpSpec s;
    uint16_t mss;  // 0: partial checksum only; UINT16_MAX: no metadata
    HdrWant want;
  };
  TcpSpec cwr = spec(IpVer::V4, 4000);
  cwr.flags = TcpHdr::kCwr | TcpHdr::kAck;
  const Case cases[] = {
      {"v4 large", spec(IpVer::V4, 4000), 1448, {kNeeds, 1, 1448, 34, 16, 66}},
      {"v6 large vlan", spec(IpVer::V6, 4000, true), 1428, {kNeeds, 4, 1428, 58, 16, 90}},
      {"v4 large cwr", cwr, 1448, {kNeeds, 1 | 0x80, 1448, 34, 16, 66}},
      {"v6 partial", spec(IpVer::V6, 200), 0, {kNeeds, 0, 0, 54, 16, 0}},
      {"complete", spec(IpVer::V4, 200), UINT16_MAX, {0, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    rte_mbuf* m = testing::make_mbuf(pool, testing::build_frame(c.s), 1024);
    ASSERT_NE(m, nullptr);
    if (c.mss == 0) {
      ASSERT_EQ(mark_partial_checksum(m), Reason::Ok);
    } else if (c.mss != UINT16_MAX) {
      ASSERT_EQ(mark_tso(m, c.mss), Reason::Ok);
    }
    VirtioNetHdr h = hdr_from_metadata(m);
    expect_hdr(h, c.want);
    // And back: the kernel's view of our header gives the same metadata.
    uint64_t flags = m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK;
    EXPECT_EQ(metadata_from_hdr(h, m), Reason::Ok);
    EXPECT_EQ(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, flags);
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(VirtioNetHdr, WireLayoutIsLittleEndianAsTunReadsIt) {
  VirtioNetHdr h = hdr(kNeeds, 1, 0x05a8, 0x0022, 0x0010, 0x0042);
  uint8_t raw[sizeof(h)];
  std::memcpy(raw, &h, sizeof(h));
  const uint8_t want[] = {1, 1, 0x42, 0, 0xa8, 0x05, 0x22, 0, 0x10, 0, 0, 0};
  EXPECT_EQ(0, std::memcmp(raw, want, sizeof(want)));
}

}  // namespace
}  // namespace vo
