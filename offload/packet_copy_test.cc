// Copies for flooding, one row per packet shape: same bytes and offload
// metadata as the original, headers of their own, payload shared (not taken
// from the packet pool again), pools back where they started.
#include "packet_copy.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "metadata.h"
#include "testing/eal_env.h"
#include "testing/packet_builder.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;

struct Row {
  const char* name;
  uint32_t payload;
  bool tso;
  bool vxlan;
  uint32_t seg_size;   // 0: one buffer
  uint32_t first_seg;  // bytes in the first buffer (0: as the others)
  bool shared;         // payload referenced, not copied
};

class PacketCopy : public ::testing::TestWithParam<Row> {
 protected:
  testing::Pool big_{"pc_big", 8, 65535};
  testing::Pool pool_{"pc_pool", 256, 2048 + RTE_PKTMBUF_HEADROOM};
  testing::Pool ind_{"pc_ind", 256, 0};
};

TEST_P(PacketCopy, SameBytesOwnHeadersSharedPayload) {
  const Row& r = GetParam();
  TcpSpec s;
  s.payload_len = r.payload;
  if (r.vxlan) s.vxlan = testing::VxlanSpec{};
  if (r.tso) s.checksum = testing::L4Checksum::Partial;
  const Bytes f = testing::build_frame(s);
  rte_mbuf* m = testing::make_mbuf(r.seg_size ? pool_.get() : big_.get(), f, r.seg_size, r.first_seg);
  ASSERT_NE(m, nullptr);
  if (r.tso) ASSERT_EQ(mark_tso(m, 1400), Reason::Ok);
  if (r.first_seg) m->l2_len = 14, m->l3_len = 20, m->l4_len = 20;  // as a parser would say
  const uint32_t base = pool_.in_use() + big_.in_use();

  rte_mbuf* c = copy_headers_share_payload(m, pool_, ind_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(testing::flatten(c), f);
  EXPECT_EQ(c->ol_flags, m->ol_flags);
  EXPECT_EQ(c->tx_offload, m->tx_offload);  // l2/l3/l4/outer lengths and tso_segsz
  EXPECT_TRUE(RTE_MBUF_DIRECT(c));
  EXPECT_EQ(rte_mbuf_refcnt_read(c), 1);
  EXPECT_GE(rte_pktmbuf_headroom(c), 4u);  // room for a VLAN tag
  const uint32_t taken = pool_.in_use() + big_.in_use() - base;
  if (r.shared)
    EXPECT_EQ(taken, 1u) << "the payload was copied";
  // The copy's headers are its own: rewriting them leaves the original alone.
  rte_pktmbuf_mtod(c, uint8_t*)[0] ^= 0xff;
  EXPECT_EQ(testing::flatten(m), f);
  rte_pktmbuf_free(m);  // the copy outlives the original
  Bytes changed = f;
  changed[0] ^= 0xff;
  EXPECT_EQ(testing::flatten(c), changed);
  rte_pktmbuf_free(c);
  EXPECT_EQ(pool_.in_use() + big_.in_use() + ind_.in_use(), 0u);
}

const Row kRows[] = {
    {"small frame, copied whole", 100, false, false, 0, 0, false},
    {"64 KB TSO segment in one buffer", 60000, true, false, 0, 0, true},
    {"64 KB TSO segment in a chain", 60000, true, false, 2048, 0, true},
    {"VXLAN TSO segment in a chain", 30000, true, true, 2048, 0, true},
    {"large frame without offload", 8000, false, false, 2048, 0, true},
    {"headers split over two buffers, copied whole", 30000, false, false, 2048, 40, false},
};

INSTANTIATE_TEST_SUITE_P(Rows, PacketCopy, ::testing::ValuesIn(kRows),
                         [](const auto& info) {
                           std::string n;
                           for (const char* p = info.param.name; *p; ++p)
                             n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           return n;
                         });

}  // namespace
}  // namespace vo
