// What a guest may ask for per packet, against what it negotiated.
#include "features.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"

namespace vo::vhost {
namespace {

enum class Asks { Nothing, PartialChecksum, Tso };

struct Row {
  const char* what;
  IpVer ip;
  Asks asks;
  uint64_t features;
  Reason want;
};

constexpr uint64_t kAll = kOffloadMask;
const Row kRows[] = {
    {"plain packet, nothing negotiated", IpVer::V4, Asks::Nothing, 0, Reason::Ok},
    {"partial checksum with CSUM", IpVer::V4, Asks::PartialChecksum, bit(kCsum), Reason::Ok},
    {"partial checksum without CSUM", IpVer::V6, Asks::PartialChecksum, kAll & ~bit(kCsum),
     Reason::CsumNotNegotiated},
    {"v4 large segment with HOST_TSO4", IpVer::V4, Asks::Tso, bit(kCsum) | bit(kHostTso4),
     Reason::Ok},
    {"v4 large segment with HOST_TSO6 only", IpVer::V4, Asks::Tso, bit(kCsum) | bit(kHostTso6),
     Reason::TsoNotNegotiated},
    {"v6 large segment with HOST_TSO6", IpVer::V6, Asks::Tso, bit(kCsum) | bit(kHostTso6),
     Reason::Ok},
    {"v6 large segment, TSO switched off", IpVer::V6, Asks::Tso,
     kAll & ~(bit(kHostTso4) | bit(kHostTso6)), Reason::TsoNotNegotiated},
    {"large segment without CSUM", IpVer::V4, Asks::Tso, bit(kHostTso4), Reason::CsumNotNegotiated},
};

TEST(CheckNegotiated, AGuestGetsOnlyWhatItNegotiated) {
  testing::Pool pool("feat_pkts", 16, 16384);
  for (const Row& r : kRows) {
    SCOPED_TRACE(r.what);
    testing::TcpSpec s;
    s.ip = r.ip;
    if (r.ip == IpVer::V6) s.src = "fd00::1", s.dst = "fd00::2";
    s.payload_len = r.asks == Asks::Tso ? 8000 : 500;
    s.checksum = r.asks == Asks::Nothing ? testing::L4Checksum::Full : testing::L4Checksum::Partial;
    rte_mbuf* m = testing::make_mbuf(pool, testing::build_frame(s));
    Reason marked = r.asks == Asks::Tso              ? mark_tso(m, 1400)
                    : r.asks == Asks::PartialChecksum ? mark_partial_checksum(m)
                                                      : Reason::Ok;
    ASSERT_EQ(marked, Reason::Ok);
    EXPECT_EQ(check_negotiated(r.features, m), r.want);
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace vo::vhost
