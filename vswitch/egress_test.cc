// The egress decision, one row per (packet kind, port capabilities): whole,
// cut, checksum finished or dropped, with bytes checked by the independent
// decoder and pools back where they started.
#include "egress.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::TcpSpec;

enum class Kind { Large4, Large6, LargeVxlan, Partial, Final };
enum class Outcome { Whole, Cut, Finished, Untouched, TooBig };

struct Row {
  const char* name;
  Kind kind;
  TxCaps caps;
  Outcome outcome;
};

TxCaps caps(bool tso4, bool tso6, bool csum, uint32_t max_frame = 1514, uint32_t max_tso = 1514,
            bool tunnel_tso = false, uint16_t max_tso_segments = 0) {
  TxCaps c;
  c.max_tso_segments = max_tso_segments;
  c.tunnel_tso = tunnel_tso;
  c.tso4 = tso4;
  c.tso6 = tso6;
  c.l4_csum = csum;
  c.max_frame = max_frame;
  c.max_tso_frame = max_tso;
  return c;
}

class Egress : public ::testing::Test {
 protected:
  testing::Pool big{"eg_big", 16, 65535};
  testing::Pool hdr{"eg_hdr", 512, 2048};
  testing::Pool ind{"eg_ind", 512, 0};

  // The largest MSS whose segments fit a 1514-byte frame (timestamps included;
  // VXLAN adds 50 bytes of outer headers).
  static uint16_t mss(Kind k) { return k == Kind::Large6 ? 1428 : k == Kind::LargeVxlan ? 1398 : 1448; }

  rte_mbuf* make(Kind k) {
    TcpSpec s;
    s.tcp_options = testing::tcp_timestamp_option(7, 9);
    if (k == Kind::Large6) s.ip = IpVer::V6, s.src = "fd00::1", s.dst = "fd00::2";
    if (k == Kind::LargeVxlan) s.vxlan = testing::VxlanSpec{};
    bool large = k == Kind::Large4 || k == Kind::Large6 || k == Kind::LargeVxlan;
    s.payload_len = large ? 20000 : 1000;
    s.checksum = k == Kind::Final ? testing::L4Checksum::Full : testing::L4Checksum::Partial;
    rte_mbuf* m = testing::make_mbuf(big, testing::build_frame(s));
    Reason r = large ? mark_tso(m, mss(k)) : k == Kind::Partial ? mark_partial_checksum(m) : Reason::Ok;
    EXPECT_EQ(r, Reason::Ok);
    return m;
  }
};

TEST_F(Egress, DecidesFromThePortsCapabilities) {
  const Row rows[] = {
      {"large v4 to a TSO port leaves whole", Kind::Large4, caps(true, true, true), Outcome::Whole},
      {"large v6 to an IPv4-only TSO port is cut", Kind::Large6, caps(true, false, true), Outcome::Cut},
      {"large v4 to a port without TSO is cut", Kind::Large4, caps(false, false, false), Outcome::Cut},
      {"large VXLAN to a TSO port without tunnel TSO is cut", Kind::LargeVxlan,
       caps(true, true, false), Outcome::Cut},
      {"large VXLAN to a port with tunnel TSO leaves whole", Kind::LargeVxlan,
       caps(true, true, true, 1514, 1514, true), Outcome::Whole},
      {"large v4 whose MSS exceeds the port's cut size is cut", Kind::Large4,
       caps(true, true, true, 1514, 1500), Outcome::Cut},
      {"large v4 that would need more segments than the port makes is cut (net_tap: 64)",
       Kind::Large4, caps(true, true, true, 1514, 1514, false, 13), Outcome::Cut},
      {"large v4 within the port's segment limit leaves whole", Kind::Large4,
       caps(true, true, true, 1514, 1514, false, 14), Outcome::Whole},
      {"large v4 whose segments exceed the port's frame is dropped", Kind::Large4,
       caps(false, false, true, 1200), Outcome::TooBig},
      {"partial checksum to a port that finishes it", Kind::Partial, caps(false, false, true), Outcome::Untouched},
      {"partial checksum to a port that cannot", Kind::Partial, caps(false, false, false), Outcome::Finished},
      {"final checksum passes", Kind::Final, caps(false, false, false), Outcome::Untouched},
      {"frame over the port's MTU is dropped", Kind::Final, caps(false, false, false, 900), Outcome::TooBig},
  };
  GsoConfig gso{hdr, ind, ChecksumMode::Full, PayloadMode::Attach};
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    PortStats st;
    rte_mbuf* m = make(r.kind);
    testing::Bytes before = testing::flatten(m);
    rte_mbuf* out[kMaxEgressSegments];
    uint16_t n = prepare_egress(gso, r.caps, st, m, out);
    switch (r.outcome) {
      case Outcome::Whole:
        ASSERT_EQ(n, 1);
        EXPECT_TRUE(is_large_segment(out[0]));
        EXPECT_EQ(testing::flatten(out[0]), before);
        break;
      case Outcome::Cut: {
        uint16_t want = (20000 + mss(r.kind) - 1) / mss(r.kind);
        ASSERT_EQ(n, want);
        EXPECT_EQ(st.gso_packets, 1u);
        EXPECT_EQ(st.gso_segments, want);
        for (uint16_t i = 0; i < n; ++i) {
          testing::Decoded d = testing::decode(testing::flatten(out[i]));
          EXPECT_FALSE(is_large_segment(out[i]));
          if (r.caps.l4_csum)  // the port finishes: it gets the pseudo-header sum and the flag
            EXPECT_TRUE(d.tcp_checksum_pseudo && (out[i]->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM));
          else
            EXPECT_TRUE(d.tcp_checksum_ok);
        }
        break;
      }
      case Outcome::Finished: {
        ASSERT_EQ(n, 1);
        EXPECT_EQ(st.csum_completed, 1u);
        EXPECT_TRUE(testing::decode(testing::flatten(out[0])).tcp_checksum_ok);
        EXPECT_FALSE(has_partial_checksum(out[0]));
        break;
      }
      case Outcome::Untouched:
        ASSERT_EQ(n, 1);
        EXPECT_EQ(testing::flatten(out[0]), before);
        break;
      case Outcome::TooBig:
        EXPECT_EQ(n, 0);
        EXPECT_GE(st.too_big_dropped, 1u);
        break;
    }
    rte_pktmbuf_free_bulk(out, n);
    EXPECT_EQ(big.in_use(), 0u);
    EXPECT_EQ(hdr.in_use(), 0u);
    EXPECT_EQ(ind.in_use(), 0u);
  }
}

}  // namespace
}  // namespace vo
