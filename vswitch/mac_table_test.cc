#include "mac_table.h"

#include <gtest/gtest.h>

namespace vo {
namespace {

constexpr uint64_t kHz = 1000;  // one tick per millisecond
const uint8_t kA[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t kB[6] = {0x02, 0, 0, 0, 0, 0xb};
const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t kMulticast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};

TEST(MacTable, LearnsMovesAndAges) {
  MacTable t(kHz, /*max_age_s=*/2);
  EXPECT_EQ(t.lookup(kA, 0, 0), MacTable::kNone);  // unknown: flood
  t.learn(kA, 0, 3, 0);
  EXPECT_EQ(t.lookup(kA, 0, 100), 3);
  EXPECT_EQ(t.lookup(kA, 7, 100), MacTable::kNone);  // another VLAN is another table
  t.learn(kA, 0, 5, 1000);                            // the host moved
  EXPECT_EQ(t.lookup(kA, 0, 1000), 5);
  EXPECT_EQ(t.lookup(kA, 0, 3000), 5);                // seen 2 s ago: still there
  EXPECT_EQ(t.lookup(kA, 0, 3001), MacTable::kNone);  // older: forgotten
  EXPECT_EQ(t.size(), 0u);
}

TEST(MacTable, GroupAddressesNeverLearnedAlwaysFlooded) {
  MacTable t(kHz);
  t.learn(kBroadcast, 0, 1, 0);
  t.learn(kMulticast, 0, 1, 0);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup(kBroadcast, 0, 0), MacTable::kNone);
  EXPECT_EQ(t.lookup(kMulticast, 0, 0), MacTable::kNone);
}

TEST(MacTable, ForgetsAPortThatWentDown) {
  MacTable t(kHz);
  t.learn(kA, 0, 1, 0);
  t.learn(kB, 0, 2, 0);
  t.forget_port(1);
  EXPECT_EQ(t.lookup(kA, 0, 0), MacTable::kNone);
  EXPECT_EQ(t.lookup(kB, 0, 0), 2);
}

TEST(MacTable, FullTableMakesRoomFromAgedEntriesOnly) {
  MacTable t(kHz, 1, /*max_entries=*/2);
  t.learn(kA, 0, 1, 0);
  t.learn(kB, 0, 2, 500);
  uint8_t c[6] = {0x02, 0, 0, 0, 0, 0xc};
  t.learn(c, 0, 3, 600);  // nothing aged yet: not learned, c floods
  EXPECT_EQ(t.lookup(c, 0, 600), MacTable::kNone);
  t.learn(c, 0, 3, 1200);  // A is past its age now
  EXPECT_EQ(t.lookup(c, 0, 1200), 3);
  EXPECT_EQ(t.lookup(kB, 0, 1200), 2);
}

}  // namespace
}  // namespace vo
