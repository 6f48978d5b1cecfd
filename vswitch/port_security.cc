#include "port_security.h"

#include <arpa/inet.h>
#include <rte_mbuf.h>

#include "offload/parse.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace vo {
namespace {

// A header of type T at `off` in the first segment, or nullptr when the
// frame is too short for it (such a frame cannot claim anything).
template <typename T>
const T* at(const rte_mbuf* m, uint32_t off) {
  return off + sizeof(T) <= m->data_len ? header_at<T>(m, off) : nullptr;
}

// The link-local address a host derives from its MAC (RFC 4291 appendix A,
// modified EUI-64): what Linux uses unless told to pick a private one.
Ipv6Addr link_local_of(const MacAddr& mac) {
  Ipv6Addr a{};
  a.b[0] = 0xfe;
  a.b[1] = 0x80;
  a.b[8] = mac.b[0] ^ 0x02;
  a.b[9] = mac.b[1];
  a.b[10] = mac.b[2];
  a.b[11] = 0xff;
  a.b[12] = 0xfe;
  a.b[13] = mac.b[3];
  a.b[14] = mac.b[4];
  a.b[15] = mac.b[5];
  return a;
}
bool is_unspecified(const Ipv6Addr& a) { return a == Ipv6Addr{}; }

}  // namespace

bool parse_mac(const std::string& s, MacAddr& out, std::string& error) {
  unsigned v[6];
  char tail;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6 ||
      (v[0] & 1)) {
    error = "'" + s + "' is not a unicast MAC address such as 02:00:00:00:00:01";
    return false;
  }
  for (int i = 0; i < 6; ++i) out.b[i] = uint8_t(v[i]);
  return true;
}

bool parse_ip_list(const std::string& s, PortSecurityConfig& c, std::string& error) {
  size_t from = 0;
  while (from <= s.size()) {
    size_t comma = s.find(',', from);
    std::string a = s.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    in_addr v4;
    Ipv6Addr v6;
    if (inet_pton(AF_INET, a.c_str(), &v4) == 1)
      c.ipv4.push_back(ntohl(v4.s_addr));
    else if (inet_pton(AF_INET6, a.c_str(), v6.b) == 1)
      c.ipv6.push_back(v6);
    else {
      error = "'" + a + "' is not an IPv4 or IPv6 address (give them comma-separated)";
      return false;
    }
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return true;
}

std::string describe(const PortSecurityConfig& c) {
  if (!c.enabled) return "off";
  std::string out = "MAC ";
  if (c.mac) {
    char b[18];
    std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", c.mac->b[0], c.mac->b[1],
                  c.mac->b[2], c.mac->b[3], c.mac->b[4], c.mac->b[5]);
    out += b;
  } else {
    out += "as announced";
  }
  if (!c.ipv4.empty() || !c.ipv6.empty())
    out += ", " + std::to_string(c.ipv4.size() + c.ipv6.size()) + " IP address(es)";
  return out;
}

// With addresses given, both families are held: a port listed with IPv4
// addresses alone may use IPv6 only from its MAC's link-local address (as
// OpenStack's port security), and one listed with IPv6 alone no IPv4 but
// DHCP's 0.0.0.0. Link-local addresses are held too: another guest's would
// let it take over that guest's neighbour entries on the link.
bool PortSecurity::ipv4_ok(uint32_t a) const {
  return !holds_addresses() || a == 0 ||
         std::find(cfg_.ipv4.begin(), cfg_.ipv4.end(), a) != cfg_.ipv4.end();
}

uint64_t PortSecurity::word_of(const MacAddr& mac) {
  uint64_t w = 1ull << 48;
  for (int i = 0; i < 6; ++i) w |= uint64_t(mac.b[i]) << (8 * (5 - i));
  return w;
}

MacAddr PortSecurity::mac_of(uint64_t word) {
  MacAddr mac;
  for (int i = 0; i < 6; ++i) mac.b[i] = uint8_t(word >> (8 * (5 - i)));
  return mac;
}

std::optional<MacAddr> PortSecurity::mac() const {
  const uint64_t w = mac_.load(std::memory_order_relaxed);
  return w ? std::optional<MacAddr>(mac_of(w)) : std::nullopt;
}

bool PortSecurity::ipv6_ok(const Ipv6Addr& a, const MacAddr& mac) const {
  return !holds_addresses() || is_unspecified(a) || a == link_local_of(mac) ||
         std::find(cfg_.ipv6.begin(), cfg_.ipv6.end(), a) != cfg_.ipv6.end();
}

Reason PortSecurity::check(const rte_mbuf* m, const FrameL2& l2) {
  if (!cfg_.enabled) return Reason::Ok;
  const auto* eth = header_at<EthHdr>(m, 0);  // there: frame_l2 needed it
  if (eth->src.b[0] & 1) return Reason::SpoofedMac;  // a group address is no sender
  // Announced: the first frame after the port came up.
  const uint64_t sender = word_of(eth->src);
  uint64_t mine = mac_.load(std::memory_order_relaxed);
  if (mine == 0 && mac_.compare_exchange_strong(mine, sender)) mine = sender;
  if (mine != sender) return Reason::SpoofedMac;
  const MacAddr& mac = eth->src;
  if (l2.truncated_tag) return Reason::TruncatedVlan;
  switch (l2.ether_type) {
    case kEtherTypeArp: return check_arp(m, l2.l3_off, mac);
    case kEtherTypeIpv4: return check_ipv4(m, l2.l3_off);
    case kEtherTypeIpv6: return check_ipv6(m, l2.l3_off, mac);
    default: return Reason::Ok;
  }
}

Reason PortSecurity::check_arp(const rte_mbuf* m, uint32_t off, const MacAddr& mac) const {
  const auto* arp = at<ArpHdr>(m, off);
  if (arp == nullptr) return Reason::SpoofedMac;  // too short to say who sends it
  if (!(arp->sender_mac == mac)) return Reason::SpoofedMac;
  return ipv4_ok(arp->sender_ip.get()) ? Reason::Ok : Reason::SpoofedIp;
}

Reason PortSecurity::check_ipv4(const rte_mbuf* m, uint32_t off) const {
  if (!holds_addresses()) return Reason::Ok;
  const auto* ip = at<Ipv4Hdr>(m, off);
  if (ip == nullptr) return Reason::TruncatedIpv4;
  return ipv4_ok(ip->src.get()) ? Reason::Ok : Reason::SpoofedIp;
}

Reason PortSecurity::check_ipv6(const rte_mbuf* m, uint32_t off, const MacAddr& mac) const {
  const auto* ip = at<Ipv6Hdr>(m, off);
  if (ip == nullptr) return Reason::TruncatedIpv6;
  if (!ipv6_ok(ip->src, mac)) return Reason::SpoofedIp;
  if (ip->next_header != kIpProtoIcmpv6) return Reason::Ok;
  uint32_t l4 = off + sizeof(Ipv6Hdr);
  return check_nd(m, l4, std::min<uint32_t>(m->data_len, l4 + ip->payload_length.get()), mac);
}

// A neighbour advertisement names the address it speaks for (target) and
// both messages may carry a link-layer address option: those must be this
// port's, or the neighbour caches of others would point at it.
Reason PortSecurity::check_nd(const rte_mbuf* m, uint32_t off, uint32_t end, const MacAddr& mac) const {
  const auto* nd = at<NdMsg>(m, off);
  if (nd == nullptr || (nd->type != NdMsg::kSolicitation && nd->type != NdMsg::kAdvertisement))
    return Reason::Ok;
  if (nd->type == NdMsg::kAdvertisement && !ipv6_ok(nd->target, mac)) return Reason::SpoofedIp;
  for (uint32_t o = off + sizeof(NdMsg); o + sizeof(NdOption) <= end;) {
    const auto* opt = at<NdOption>(m, o);
    if (opt == nullptr || opt->len8 == 0) break;  // malformed: the receiver drops it
    bool link = opt->type == NdOption::kSourceLinkAddr || opt->type == NdOption::kTargetLinkAddr;
    if (link && opt->len8 == 1) {
      const auto* addr = at<MacAddr>(m, o + 2);
      if (addr == nullptr || !(*addr == mac)) return Reason::SpoofedMac;
    }
    o += opt->len8 * 8u;
  }
  return Reason::Ok;
}

}  // namespace vo
