#include "port_vlan.h"

#include <gtest/gtest.h>

namespace vo {
namespace {

using E = PortVlan::Egress;
constexpr int kNo = PortVlan::kRefused;

PortVlanConfig access(uint16_t tag) { return PortVlanConfig{tag, {}, 0}; }
PortVlanConfig trunk(std::vector<uint16_t> vids, uint16_t native = 0) {
  return PortVlanConfig{0, std::move(vids), native};
}

struct Row {
  const char* port;
  PortVlanConfig cfg;
  // Frames received: untagged, priority-tagged (VID 0), tagged 10, 20, 30, 4095.
  int untagged, prio, t10, t20, t30, t4095;
  // How VLAN 0, 10, 20 and 30 leave.
  E e0, e10, e20, e30;
};

const Row kRows[] = {
    {"trunk all", {}, 0, 0, 10, 20, 30, kNo, E::Untagged, E::Tagged, E::Tagged, E::Tagged},
    {"access 10", access(10), 10, 10, kNo, kNo, kNo, kNo, E::Drop, E::Untagged, E::Drop, E::Drop},
    {"trunk 10,20", trunk({10, 20}), kNo, kNo, 10, 20, kNo, kNo, E::Drop, E::Tagged, E::Tagged, E::Drop},
    {"trunk 10 native 30", trunk({10}, 30), 30, 30, 10, kNo, 30, kNo, E::Drop, E::Tagged, E::Drop, E::Untagged},
    {"trunk 10,20 native 20", trunk({10, 20}, 20), 20, 20, 10, 20, kNo, kNo, E::Drop, E::Tagged, E::Untagged, E::Drop},
};

class PortVlanRow : public ::testing::TestWithParam<Row> {};

TEST_P(PortVlanRow, IngressAndEgress) {
  const Row& r = GetParam();
  PortVlan v(r.cfg);
  EXPECT_EQ(v.ingress(false, 0), r.untagged);
  EXPECT_EQ(v.ingress(true, 0), r.prio);
  EXPECT_EQ(v.ingress(true, 10), r.t10);
  EXPECT_EQ(v.ingress(true, 20), r.t20);
  EXPECT_EQ(v.ingress(true, 30), r.t30);
  EXPECT_EQ(v.ingress(true, 4095), r.t4095);
  EXPECT_EQ(v.egress(0), r.e0);
  EXPECT_EQ(v.egress(10), r.e10);
  EXPECT_EQ(v.egress(20), r.e20);
  EXPECT_EQ(v.egress(30), r.e30);
  EXPECT_EQ(describe(r.cfg), r.port);
}

INSTANTIATE_TEST_SUITE_P(Ports, PortVlanRow, ::testing::ValuesIn(kRows), [](const auto& info) {
  std::string n = info.param.port;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

// Every VLAN a port takes in, it sends out; none it refuses: a frame can
// never reach a port in a VLAN that port would not have accepted from it.
TEST(PortVlan, EgressMatchesIngressForEveryVid) {
  for (const Row& r : kRows) {
    PortVlan v(r.cfg);
    for (uint16_t vid = 1; vid <= kMaxVid; ++vid) {
      bool in = v.ingress(true, vid) == vid || v.ingress(false, 0) == vid;
      EXPECT_EQ(in, v.egress(vid) != E::Drop) << r.port << " vid " << vid;
    }
  }
}

struct ListCase {
  const char* text;
  std::vector<uint16_t> want;  // empty: refused
};

TEST(PortVlan, ParsesLists) {
  const ListCase cases[] = {
      {"10", {10}},
      {"20,10,10", {10, 20}},
      {"100-103,1", {1, 100, 101, 102, 103}},
      {"4094", {4094}},
      {"0", {}},
      {"4095", {}},
      {"5-3", {}},
      {"10,", {}},
      {"ten", {}},
      {"", {}},
  };
  for (const ListCase& c : cases) {
    std::vector<uint16_t> got;
    std::string error;
    bool ok = parse_vlan_list(c.text, got, error);
    EXPECT_EQ(ok, !c.want.empty()) << c.text;
    if (ok) EXPECT_EQ(got, c.want) << c.text;
    else EXPECT_FALSE(error.empty()) << c.text;
  }
  EXPECT_EQ(describe(trunk({1, 2, 3, 7, 9, 10})), "trunk 1-3,7,9-10");
}

TEST(PortVlan, RefusesAccessAndTrunkTogether) {
  std::string error;
  EXPECT_FALSE(check_vlan_config(PortVlanConfig{10, {20}, 0}, error));
  EXPECT_NE(error.find("not both"), std::string::npos);
  EXPECT_FALSE(check_vlan_config(PortVlanConfig{0, {}, 5}, error));
  EXPECT_NE(error.find("--trunks"), std::string::npos);
  EXPECT_TRUE(check_vlan_config(trunk({10}, 5), error));
  EXPECT_TRUE(check_vlan_config(access(7), error));
}

}  // namespace
}  // namespace vo
