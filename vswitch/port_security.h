// Port security: the addresses a port may send from. Without it any peer
// takes over another's traffic with one frame (a forged ARP reply, a frame
// from the victim's MAC). With it, a port sends only from its MAC (given,
// or the first one it sends from after it comes up) and, when configured,
// only from its IP addresses; ARP and neighbour discovery are held to the
// same addresses. Checked at ingress, before learning.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "offload/headers.h"
#include "frame_l2.h"
#include "offload/reason.h"

struct rte_mbuf;

namespace vo {

struct PortSecurityConfig {
  bool enabled = false;
  // The port's MAC. Unset: the first unicast source MAC the port sends from
  // after it comes up (a guest announces itself), until it goes down.
  std::optional<MacAddr> mac;
  // Source addresses the port may use; empty: any. 0.0.0.0 (DHCP, ARP
  // probes), :: (duplicate address detection) and IPv6 link-local
  // addresses are always allowed as sources.
  std::vector<uint32_t> ipv4;
  std::vector<Ipv6Addr> ipv6;
};

// "02:00:00:00:00:01" -> MacAddr; "10.0.0.1,fd00::1" -> the two lists.
// False, with `error` saying what is wrong, on anything else.
bool parse_mac(const std::string& s, MacAddr& out, std::string& error);
bool parse_ip_list(const std::string& s, PortSecurityConfig& c, std::string& error);
std::string describe(const PortSecurityConfig& c);

class PortSecurity {
 public:
  PortSecurity() = default;
  explicit PortSecurity(PortSecurityConfig c) : cfg_(std::move(c)) { reset(); }
  PortSecurity(const PortSecurity& o) : cfg_(o.cfg_), mac_(o.mac_.load()) {}
  PortSecurity& operator=(const PortSecurity& o) {
    cfg_ = o.cfg_;
    mac_.store(o.mac_.load());
    return *this;
  }
  // Reason::Ok, SpoofedMac or SpoofedIp for a frame the port received,
  // whose Ethernet layer `l2` the caller has read (frame_l2). Datapath
  // lcores polling different queues of the port may call it at once.
  [[nodiscard]] Reason check(const rte_mbuf* m, const FrameL2& l2);
  // The port went down: a MAC it announced is forgotten.
  void reset() { mac_.store(cfg_.mac ? word_of(*cfg_.mac) : 0); }
  [[nodiscard]] bool enabled() const { return cfg_.enabled; }
  [[nodiscard]] std::optional<MacAddr> mac() const;

 private:
  bool ipv4_ok(uint32_t a) const;
  // The MAC as one word (bit 48 set: 0 is "none yet"), so that the first
  // frame on any queue announces it with one compare-and-swap.
  static uint64_t word_of(const MacAddr& mac);
  static MacAddr mac_of(uint64_t word);
  bool ipv6_ok(const Ipv6Addr& a, const MacAddr& mac) const;
  [[nodiscard]] bool holds_addresses() const { return !cfg_.ipv4.empty() || !cfg_.ipv6.empty(); }
  Reason check_arp(const rte_mbuf* m, uint32_t off, const MacAddr& mac) const;
  Reason check_ipv4(const rte_mbuf* m, uint32_t off) const;
  Reason check_ipv6(const rte_mbuf* m, uint32_t off, const MacAddr& mac) const;
  Reason check_nd(const rte_mbuf* m, uint32_t off, uint32_t end, const MacAddr& mac) const;

  PortSecurityConfig cfg_;
  std::atomic<uint64_t> mac_{0};
};

}  // namespace vo
