#include "offload/gso.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;

TEST(Gso, Smoke) {
  testing::Pool big("big", 64, 65535);
  testing::Pool hdr("hdr", 256, 2048);
  testing::Pool ind("ind", 512, 0);
  TcpSpec s;
  s.payload_len = 64000;
  s.tcp_options = testing::tcp_timestamp_option(1, 2);
  s.checksum = testing::L4Checksum::Partial;
  rte_mbuf* m = testing::make_tso_mbuf(big, s, 1448);
  rte_mbuf* out[64];
  GsoConfig cfg{hdr, ind, ChecksumMode::Full, PayloadMode::Attach};
  GsoResult r = gso_segment(cfg, m, out, 64);
  ASSERT_EQ(r.reason, Reason::Ok) << describe(r.reason);
  Bytes all;
  for (int i = 0; i < r.segments; ++i) {
    auto d = testing::decode(testing::flatten(out[i]));
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_TRUE(d.tcp_checksum_ok) << i;
    EXPECT_TRUE(d.ip.checksum_ok) << i;
    all.insert(all.end(), d.payload.begin(), d.payload.end());
  }
  EXPECT_EQ(all, testing::payload_bytes(1, 0, 64000));
  rte_pktmbuf_free_bulk(out, r.segments);
  EXPECT_EQ(big.in_use(), 0u);
  EXPECT_EQ(hdr.in_use(), 0u);
  EXPECT_EQ(ind.in_use(), 0u);
}

}  // namespace
}  // namespace vo
