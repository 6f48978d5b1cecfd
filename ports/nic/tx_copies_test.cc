// send_with_copies: whatever the device takes, every packet is either sent
// once or still the caller's, and every mbuf comes back to its pool.
#include "tx_copies.h"

#include <gtest/gtest.h>

#include <vector>

#include "offload/testing/eal_env.h"

namespace vo {
namespace {

struct Row {
  const char* name;
  uint16_t packets;
  uint16_t device_takes;  // the device's room this call
  uint16_t copy_pool_size;
  std::vector<bool> copied;  // which packets need a copy
};

const Row kRows[] = {
    {"the device takes all, copies and originals", 4, 4, 8, {true, false, true, false}},
    {"the device takes part: the rest stay the caller's, unchanged", 4, 1, 8,
     {true, true, false, true}},
    {"the device takes nothing", 3, 0, 8, {true, true, true}},
    {"no copy to be had: stops before that packet", 4, 4, 1, {false, true, true, false}},
};

class TxCopies : public ::testing::TestWithParam<Row> {};

TEST_P(TxCopies, EveryPacketSentOnceOrStillTheCallers) {
  const Row& r = GetParam();
  testing::Pool pool("txc_pkts", 16, 2048), copies("txc_copies", r.copy_pool_size, 2048);
  std::vector<rte_mbuf*> pkts(r.packets), scratch(r.packets), device;
  for (uint16_t i = 0; i < r.packets; ++i) {
    pkts[i] = rte_pktmbuf_alloc(pool);
    char* d = rte_pktmbuf_append(pkts[i], 64);
    std::fill(d, d + 64, char('a' + i));
  }
  std::vector<rte_mbuf*> originals = pkts;
  uint16_t sent = send_with_copies(
      pkts.data(), r.packets, scratch.data(), copies,
      [&](rte_mbuf* m) { return r.copied[std::find(originals.begin(), originals.end(), m) -
                                         originals.begin()]; },
      [&](rte_mbuf** p, uint16_t n) {
        uint16_t k = std::min(n, r.device_takes);
        device.assign(p, p + k);
        return k;
      });
  uint16_t copyable = r.packets;  // the first packet whose copy the pool cannot give
  for (uint16_t i = 0, used = 0; i < r.packets; ++i)
    if (r.copied[i] && ++used > r.copy_pool_size) {
      copyable = i;
      break;
    }
  EXPECT_EQ(sent, std::min(r.device_takes, copyable));
  for (uint16_t i = 0; i < sent; ++i)  // what the device got carries each packet's bytes
    EXPECT_EQ(*rte_pktmbuf_mtod(device[i], char*), char('a' + i));
  for (uint16_t i = sent; i < r.packets; ++i) {  // the rest: the caller's originals, intact
    EXPECT_EQ(pkts[i], originals[i]);
    EXPECT_EQ(rte_mbuf_refcnt_read(pkts[i]), 1);
    EXPECT_EQ(*rte_pktmbuf_mtod(pkts[i], char*), char('a' + i));
  }
  // The device frees what it took, the caller frees the rest: nothing is left.
  rte_pktmbuf_free_bulk(device.data(), sent);
  rte_pktmbuf_free_bulk(pkts.data() + sent, r.packets - sent);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(copies.in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Rows, TxCopies, ::testing::ValuesIn(kRows));

}  // namespace
}  // namespace vo
