#include "mac_table.h"

#include <gtest/gtest.h>

namespace vo {
namespace {

constexpr uint64_t kHz = 1000;  // one tick per millisecond
const uint8_t kA[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t kB[6] = {0x02, 0, 0, 0, 0, 0xb};
const uint8_t kC[6] = {0x02, 0, 0, 0, 0, 0xc};
const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t kMulticast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};

TEST(MacTable, LearnsMovesAndAges) {
  MacTable t(kHz, /*max_age_s=*/2);
  EXPECT_EQ(t.lookup(kA, 0, 0), MacTable::kNone);  // unknown: flood
  EXPECT_EQ(t.learn(kA, 0, 3, 0), Learned::New);
  EXPECT_EQ(t.learn(kA, 0, 3, 50), Learned::Known);
  EXPECT_EQ(t.lookup(kA, 0, 100), 3);
  EXPECT_EQ(t.lookup(kA, 7, 100), MacTable::kNone);  // another VLAN is another table
  EXPECT_EQ(t.learn(kA, 0, 5, 1000), Learned::Moved);  // the host moved
  EXPECT_EQ(t.port_entries(3), 0u);
  EXPECT_EQ(t.port_entries(5), 1u);
  EXPECT_EQ(t.lookup(kA, 0, 1000), 5);
  EXPECT_EQ(t.lookup(kA, 0, 3000), 5);                // seen 2 s ago: still there
  EXPECT_EQ(t.lookup(kA, 0, 3001), MacTable::kNone);  // older: forgotten
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.port_entries(5), 0u);
  const MacCounters& c = t.counters();
  EXPECT_EQ(c.learned, 1u);
  EXPECT_EQ(c.moved, 1u);
  EXPECT_EQ(c.aged, 1u);
}

// Datapath threads each pass the time their round began: one may look up or
// sweep with a clock a little behind the time another learned an entry at.
// That entry was just seen, not seen 2^64 ticks ago.
TEST(MacTable, AClockBehindTheLastSightingAgesNothing) {
  MacTable t(kHz, /*max_age_s=*/2, {.entries = 8, .per_port = 8});
  EXPECT_EQ(t.learn(kA, 0, 3, 1000), Learned::New);
  EXPECT_EQ(t.lookup(kA, 0, 999), 3);
  t.age(998, 64);
  EXPECT_EQ(t.lookup(kA, 0, 1000), 3);
  EXPECT_EQ(t.counters().aged, 0u);
  EXPECT_EQ(t.lookup(kA, 0, 3001), MacTable::kNone);  // and still ages on time
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
  EXPECT_EQ(t.port_entries(1), 0u);
  EXPECT_EQ(t.learn(kA, 0, 1, 0), Learned::New);  // its share is free again
}

// A full table refuses at once, without looking for room on the packet's
// path: the round's sweep frees aged entries, and learning resumes.
TEST(MacTable, AFullTableRefusesUntilTheSweepAgesAnEntry) {
  MacTable t(kHz, 1, {.entries = 2, .per_port = 0});
  t.learn(kA, 0, 1, 0);
  t.learn(kB, 0, 2, 500);
  EXPECT_EQ(t.learn(kC, 0, 3, 1200), Learned::RefusedFull);  // A is stale, but still there
  EXPECT_EQ(t.lookup(kC, 0, 1200), MacTable::kNone);
  EXPECT_EQ(t.counters().refused_full, 1u);
  t.age(1200, 1 << 20);  // a whole sweep
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.counters().aged, 1u);
  EXPECT_EQ(t.learn(kC, 0, 3, 1200), Learned::New);
  EXPECT_EQ(t.lookup(kC, 0, 1200), 3);
  EXPECT_EQ(t.lookup(kB, 0, 1200), 2);
}

// One port cannot take more than its share, neither with new addresses nor
// by moving others' to itself; the other ports keep learning.
TEST(MacTable, APortHoldsNoMoreThanItsShare) {
  MacTable t(kHz, 300, {.entries = 100, .per_port = 2});
  uint8_t mac[6] = {0x02, 0, 0, 0, 1, 0};
  int refused = 0;  // what the datapath counts as the port's mac_refused
  for (uint8_t i = 0; i < 10; ++i) {
    mac[5] = i;
    refused += t.learn(mac, 0, 1, i) == Learned::RefusedPortFull;
  }
  EXPECT_EQ(t.port_entries(1), 2u);
  EXPECT_EQ(t.counters().refused_port_full, 8u);
  EXPECT_EQ(refused, 8);
  EXPECT_EQ(t.learn(kA, 0, 2, 20), Learned::New);
  EXPECT_EQ(t.learn(kA, 0, 1, 21), Learned::RefusedPortFull);  // no move into a full share
  EXPECT_EQ(t.lookup(kA, 0, 22), 2);
}

// One VLAN (a tenant) cannot take more than its share of the table either;
// the others keep learning, and the share frees up as its entries go.
TEST(MacTable, AVlanHoldsNoMoreThanItsShare) {
  MacTable t(kHz, 300, {.entries = 100, .per_port = 0, .per_vlan = 3});
  uint8_t mac[6] = {0x02, 0, 0, 0, 2, 0};
  for (uint8_t i = 0; i < 5; ++i) {
    mac[5] = i;
    t.learn(mac, 10, uint16_t(1 + i % 2), i);  // two ports, one VLAN
  }
  EXPECT_EQ(t.vlan_entries(10), 3u);
  EXPECT_EQ(t.counters().refused_vlan_full, 2u);
  EXPECT_EQ(t.learn(kA, 20, 1, 10), Learned::New);  // another VLAN still learns
  EXPECT_EQ(t.learn(kA, 10, 1, 11), Learned::RefusedVlanFull);
  EXPECT_EQ(t.lookup(kA, 10, 12), MacTable::kNone);
  t.forget_port(1);  // two of VLAN 10's three, and VLAN 20's one
  EXPECT_EQ(t.vlan_entries(10), 1u);
  EXPECT_EQ(t.vlan_entries(20), 0u);
  EXPECT_EQ(t.learn(kA, 10, 1, 13), Learned::New);
  // A move between ports stays within the VLAN's count.
  EXPECT_EQ(t.learn(kA, 10, 2, 14), Learned::Moved);
  EXPECT_EQ(t.vlan_entries(10), 2u);
}

// Port security pins a port's MAC: no other port's frame moves it, and it
// stays while the port is up, however long it is quiet.
TEST(MacTable, APinnedAddressNeitherMovesNorAges) {
  MacTable t(kHz, 1);
  EXPECT_EQ(t.learn(kA, 0, 1, 0, /*pin=*/true), Learned::New);
  EXPECT_EQ(t.learn(kA, 0, 2, 10), Learned::RefusedPinned);
  EXPECT_EQ(t.counters().refused_pinned, 1u);
  EXPECT_EQ(t.lookup(kA, 0, 5000), 1);
  t.age(5000, 1 << 20);
  EXPECT_EQ(t.lookup(kA, 0, 5000), 1);
  t.forget_port(1);  // the port went down: the address is free
  EXPECT_EQ(t.learn(kA, 0, 2, 6000), Learned::New);
}

// Ageing costs a bounded slice per round, and a whole sweep of the table
// takes bucket_count / slice rounds.
TEST(MacTable, TheSweepCoversTheTableSliceBySlice) {
  MacTable t(kHz, 1, {.entries = 4096, .per_port = 0});
  uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4096; ++i) {
    mac[4] = uint8_t(i >> 8);
    mac[5] = uint8_t(i);
    ASSERT_EQ(t.learn(mac, 0, 1, 0), Learned::New);
  }
  t.age(5000, 64);
  EXPECT_GT(t.size(), 0u) << "one slice must not sweep the whole table";
  int rounds = 1;
  while (t.size() > 0 && rounds < 100000) {
    t.age(5000, 64);
    ++rounds;
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.counters().aged, 4096u);
  EXPECT_EQ(t.port_entries(1), 0u);
}

}  // namespace
}  // namespace vo
