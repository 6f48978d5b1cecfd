#include "port_security.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <string>
#include <vector>

#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"

namespace vo {
namespace {

using testing::Bytes;

const char* kOwn = "02:00:00:00:00:01";
const char* kOther = "02:00:00:00:00:02";
// Their link-local addresses as a host derives them from the MAC (RFC 4291
// appendix A: ff:fe in the middle, the universal/local bit flipped).
const char* kOwnLinkLocal = "fe80::ff:fe00:1";
const char* kOtherLinkLocal = "fe80::ff:fe00:2";

// Any MAC, group addresses too (parse_mac takes only a port's).
Bytes mac(const char* s) {
  unsigned v[6];
  EXPECT_EQ(std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
  return Bytes(v, v + 6);
}

Bytes ip4(const char* s) {
  uint8_t b[4];
  inet_pton(AF_INET, s, b);
  return Bytes(b, b + 4);
}

Bytes ip6(const char* s) {
  uint8_t b[16];
  inet_pton(AF_INET6, s, b);
  return Bytes(b, b + 16);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes u16(uint16_t v) { return {uint8_t(v >> 8), uint8_t(v)}; }

// Frames as a peer sends them; `vlan` puts an 802.1Q tag in.
Bytes eth(const char* src, uint16_t type, const Bytes& payload, bool vlan = false) {
  Bytes tag = vlan ? cat({u16(0x8100), u16(7)}) : Bytes{};
  return cat({mac("ff:ff:ff:ff:ff:fe"), mac(src), tag, u16(type), payload});
}

Bytes arp(const char* sender_mac, const char* sender_ip) {
  return cat({u16(1), u16(0x0800), {6, 4}, u16(2), mac(sender_mac), ip4(sender_ip),
              mac(kOther), ip4("10.0.0.9")});
}

Bytes ipv4(const char* src) {
  return cat({{0x45, 0}, u16(20), u16(0), u16(0), {64, 17}, u16(0), ip4(src), ip4("10.0.0.9")});
}

Bytes ipv6(const char* src, uint8_t next, const Bytes& payload) {
  return cat({{0x60, 0, 0, 0}, u16(uint16_t(payload.size())), {next, 255}, ip6(src),
              ip6("ff02::1"), payload});
}

// A neighbour solicitation (135) or advertisement (136) for `target`, with
// a link-layer address option (1: source, 2: target) naming `lladdr`.
Bytes nd(uint8_t type, const char* target, const char* lladdr) {
  Bytes opt = cat({{uint8_t(type == 135 ? 1 : 2), 1}, mac(lladdr)});
  return cat({{type, 0}, u16(0), {0x60, 0, 0, 0}, ip6(target), opt});
}

struct Case {
  const char* name;
  Bytes frame;
  Reason expect;
};

PortSecurityConfig fixed(const char* m, const std::string& ips = "") {
  PortSecurityConfig c;
  c.enabled = true;
  MacAddr a;
  std::string err;
  EXPECT_TRUE(parse_mac(m, a, err));
  c.mac = a;
  if (!ips.empty()) {
    EXPECT_TRUE(parse_ip_list(ips, c, err)) << err;
  }
  return c;
}

class PortSecurityTest : public ::testing::Test {
 protected:
  Reason run(PortSecurity& s, const Bytes& frame) {
    rte_mbuf* m = testing::make_mbuf(pool_, frame);
    Reason r = s.check(m, frame_l2(m));
    rte_pktmbuf_free(m);
    return r;
  }
  void run_table(PortSecurity& s, const std::vector<Case>& cases) {
    for (const Case& c : cases) EXPECT_EQ(run(s, c.frame), c.expect) << c.name;
    EXPECT_EQ(pool_.in_use(), 0u);
  }
  testing::Pool pool_{"portsec", 64, 2048};
};

TEST_F(PortSecurityTest, AFixedMacAndAddresses) {
  PortSecurity s(fixed(kOwn, "10.0.0.1,fd00::1"));
  run_table(s, {
      {"IPv4 from its MAC and address", eth(kOwn, 0x0800, ipv4("10.0.0.1")), Reason::Ok},
      {"from another's MAC", eth(kOther, 0x0800, ipv4("10.0.0.1")), Reason::SpoofedMac},
      {"from a group MAC", eth("03:00:00:00:00:01", 0x0800, ipv4("10.0.0.1")), Reason::SpoofedMac},
      {"IPv4 from another address", eth(kOwn, 0x0800, ipv4("10.0.0.2")), Reason::SpoofedIp},
      {"DHCP from 0.0.0.0", eth(kOwn, 0x0800, ipv4("0.0.0.0")), Reason::Ok},
      {"its own ARP reply", eth(kOwn, 0x0806, arp(kOwn, "10.0.0.1")), Reason::Ok},
      {"ARP naming another's MAC", eth(kOwn, 0x0806, arp(kOther, "10.0.0.1")), Reason::SpoofedMac},
      {"ARP for another's address", eth(kOwn, 0x0806, arp(kOwn, "10.0.0.2")), Reason::SpoofedIp},
      {"ARP probe from 0.0.0.0", eth(kOwn, 0x0806, arp(kOwn, "0.0.0.0")), Reason::Ok},
      {"tagged ARP naming another's MAC", eth(kOwn, 0x0806, arp(kOther, "10.0.0.1"), true),
       Reason::SpoofedMac},
      {"ARP too short to name a sender", eth(kOwn, 0x0806, Bytes(10, 0)), Reason::SpoofedMac},
      {"IPv6 from its address", eth(kOwn, 0x86dd, ipv6("fd00::1", 17, Bytes(8, 0))), Reason::Ok},
      {"IPv6 from another address", eth(kOwn, 0x86dd, ipv6("fd00::2", 17, Bytes(8, 0))),
       Reason::SpoofedIp},
      {"IPv6 from its MAC's link-local address (modified EUI-64)",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 17, Bytes(8, 0))), Reason::Ok},
      {"IPv6 from another link-local address", eth(kOwn, 0x86dd, ipv6("fe80::1", 17, Bytes(8, 0))),
       Reason::SpoofedIp},
      {"IPv6 from another's MAC's link-local address",
       eth(kOwn, 0x86dd, ipv6(kOtherLinkLocal, 17, Bytes(8, 0))), Reason::SpoofedIp},
      {"its own advertisement", eth(kOwn, 0x86dd, ipv6("fd00::1", 58, nd(136, "fd00::1", kOwn))),
       Reason::Ok},
      {"an advertisement for another's address",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 58, nd(136, "fd00::2", kOwn))), Reason::SpoofedIp},
      {"an advertisement for another's link-local address",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 58, nd(136, kOtherLinkLocal, kOwn))), Reason::SpoofedIp},
      {"its own link-local advertisement",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 58, nd(136, kOwnLinkLocal, kOwn))), Reason::Ok},
      {"an advertisement pointing at another's MAC",
       eth(kOwn, 0x86dd, ipv6("fd00::1", 58, nd(136, "fd00::1", kOther))), Reason::SpoofedMac},
      {"a solicitation with another's MAC as source",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 58, nd(135, "fd00::9", kOther))), Reason::SpoofedMac},
      {"a solicitation from duplicate address detection",
       eth(kOwn, 0x86dd, ipv6("::", 58, nd(135, "fd00::1", kOwn))), Reason::Ok},
      {"another protocol from its MAC", eth(kOwn, 0x88b5, Bytes(46, 0)), Reason::Ok},
  });
}

// Addresses of one family hold the other too: a port given only IPv4
// addresses may use IPv6 from its link-local address alone, as OpenStack's
// port security does; a guest with a link-local address of its own choosing
// (stable privacy, RFC 7217) gets it listed.
TEST_F(PortSecurityTest, AddressesOfOneFamilyHoldTheOther) {
  PortSecurity s(fixed(kOwn, "10.0.0.1,fe80::1234"));
  run_table(s, {
      {"IPv6 from a global address", eth(kOwn, 0x86dd, ipv6("fd00::1", 17, Bytes(8, 0))),
       Reason::SpoofedIp},
      {"IPv6 from its MAC's link-local address",
       eth(kOwn, 0x86dd, ipv6(kOwnLinkLocal, 17, Bytes(8, 0))), Reason::Ok},
      {"IPv6 from a listed link-local address",
       eth(kOwn, 0x86dd, ipv6("fe80::1234", 17, Bytes(8, 0))), Reason::Ok},
      {"IPv6 duplicate address detection", eth(kOwn, 0x86dd, ipv6("::", 58, nd(135, "fd00::1", kOwn))),
       Reason::Ok},
  });
  PortSecurity v6only(fixed(kOwn, "fd00::1"));
  run_table(v6only, {
      {"IPv4 from any address", eth(kOwn, 0x0800, ipv4("10.0.0.9")), Reason::SpoofedIp},
      {"ARP for any address", eth(kOwn, 0x0806, arp(kOwn, "10.0.0.9")), Reason::SpoofedIp},
      {"DHCP from 0.0.0.0", eth(kOwn, 0x0800, ipv4("0.0.0.0")), Reason::Ok},
  });
}

TEST_F(PortSecurityTest, WithoutAddressesOnlyTheMacIsHeld) {
  PortSecurity s(fixed(kOwn));
  run_table(s, {
      {"IPv4 from any address", eth(kOwn, 0x0800, ipv4("192.0.2.7")), Reason::Ok},
      {"ARP for any address", eth(kOwn, 0x0806, arp(kOwn, "192.0.2.7")), Reason::Ok},
      {"ARP naming another's MAC", eth(kOwn, 0x0806, arp(kOther, "192.0.2.7")), Reason::SpoofedMac},
  });
}

TEST_F(PortSecurityTest, AnAnnouncedMacHoldsUntilThePortGoesDown) {
  PortSecurityConfig c;
  c.enabled = true;
  PortSecurity s(c);
  run_table(s, {
      {"the first frame announces", eth(kOther, 0x88b5, Bytes(46, 0)), Reason::Ok},
      {"then only that MAC", eth(kOwn, 0x88b5, Bytes(46, 0)), Reason::SpoofedMac},
  });
  s.reset();  // the guest went away; another may connect
  run_table(s, {
      {"a new guest announces", eth(kOwn, 0x88b5, Bytes(46, 0)), Reason::Ok},
      {"the old MAC is no longer its", eth(kOther, 0x88b5, Bytes(46, 0)), Reason::SpoofedMac},
  });
}

TEST_F(PortSecurityTest, OffLetsEverythingThrough) {
  PortSecurity s;
  run_table(s, {{"another's MAC", eth(kOther, 0x0806, arp(kOwn, "10.0.0.2")), Reason::Ok}});
}

TEST(PortSecurityConfig, ParsesAndRefusesWithAReason) {
  PortSecurityConfig c;
  std::string err;
  EXPECT_TRUE(parse_ip_list("10.0.0.1,fd00::1,10.0.0.2", c, err)) << err;
  EXPECT_EQ(c.ipv4.size(), 2u);
  EXPECT_EQ(c.ipv6.size(), 1u);
  EXPECT_FALSE(parse_ip_list("10.0.0.1,nope", c, err));
  EXPECT_NE(err.find("'nope' is not an IPv4 or IPv6 address"), std::string::npos) << err;
  MacAddr m;
  EXPECT_FALSE(parse_mac("01:00:5e:00:00:01", m, err)) << "a group address is no port's";
  EXPECT_FALSE(parse_mac("02:00:00:00:00", m, err));
  EXPECT_FALSE(parse_mac("02:00:00:00:00:01x", m, err));
  EXPECT_TRUE(parse_mac("02:00:00:00:00:0a", m, err));
  EXPECT_EQ(m.b[5], 0x0a);
}

}  // namespace
}  // namespace vo
