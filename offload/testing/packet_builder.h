// Packets from readable specs, for tests and benchmarks. The builder writes
// bytes with its own plain arithmetic (no engine code), so that tests compare
// the engine against an independent model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "offload/parse.h"

struct rte_mbuf;
struct rte_mempool;

namespace vo::testing {

using Bytes = std::vector<uint8_t>;

struct VxlanSpec {
  IpVer outer_ip = IpVer::V4;
  std::string src = "192.0.2.1";  // or an IPv6 address when outer_ip is V6
  std::string dst = "192.0.2.2";
  std::optional<uint16_t> vlan;   // 802.1Q tag on the outer Ethernet
  uint32_t vni = 42;
  uint16_t src_port = 49152;
  uint16_t ip_id = 0x0100;
  uint8_t ttl = 64;
  bool udp_checksum = false;  // compute the outer UDP checksum (else zero)
};

// An IPv6 extension header: its type (the next-header value naming it) and
// its option bytes, padded with PadN to a multiple of 8 with its first two bytes.
struct Ipv6Ext {
  uint8_t type = 0;  // 0 hop-by-hop, 60 destination options, 43 routing...
  Bytes options;
};

enum class L4Checksum : uint8_t {
  Full,     // a finished TCP checksum, as on the wire
  Partial,  // the pseudo-header sum, as a guest hands a TSO/NEEDS_CSUM packet
  Zero,
};

struct TcpSpec {
  std::optional<uint16_t> vlan;
  IpVer ip = IpVer::V4;
  std::string src = "10.0.0.1";  // dotted quad, or an IPv6 address for V6
  std::string dst = "10.0.0.2";
  uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class (ECN in the low two bits)
  uint8_t ttl = 64;
  uint16_t ip_id = 0x1000;
  bool dont_fragment = true;
  Bytes ip_options;  // IPv4 only; padded to 4 bytes
  std::vector<Ipv6Ext> ipv6_ext;  // IPv6 only: between the IPv6 and TCP headers
  uint16_t src_port = 40000;
  uint16_t dst_port = 5201;
  uint32_t seq = 1000;
  uint32_t ack = 5000;
  uint8_t flags = 0x18;  // ACK|PSH
  uint16_t window = 512;
  Bytes tcp_options;  // padded to 4 bytes
  uint32_t payload_len = 0;
  uint32_t payload_seed = 1;  // payload byte i = pattern(seed, i)
  L4Checksum checksum = L4Checksum::Full;
  std::optional<VxlanSpec> vxlan;
};

// The payload byte at stream offset i for a seed: a pattern that makes a
// misplaced or repeated byte visible.
uint8_t payload_byte(uint32_t seed, uint64_t i);
Bytes payload_bytes(uint32_t seed, uint64_t from, uint32_t len);

// TCP options: timestamps (kind 8) padded with two NOPs, as Linux sends them.
Bytes tcp_timestamp_option(uint32_t tsval, uint32_t tsecr);

Bytes build_frame(const TcpSpec& spec);

// A packet from bytes: one mbuf when seg_size and first_seg are 0 (the pool
// must be large enough), else a chain: first_seg bytes in the first mbuf (0:
// as for the others), at most seg_size in each later one (0: as many as fit).
// nullptr when the pool runs dry.
rte_mbuf* make_mbuf(rte_mempool* pool, const Bytes& frame, uint32_t seg_size = 0,
                    uint32_t first_seg = 0);
// A frame built from spec, marked for TCP segmentation with the given MSS.
rte_mbuf* make_tso_mbuf(rte_mempool* pool, const TcpSpec& spec, uint16_t mss,
                        uint32_t seg_size = 0);

// All bytes of a packet (following its chain).
Bytes flatten(const rte_mbuf* m);

// TCP flag bits (RFC 793 section 3.1, RFC 3168 section 6.1), written out for the
// tests rather than taken from offload/headers.h, so that a wrong constant there
// cannot hide behind the same constant here.
namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                         kUrg = 0x20, kEce = 0x40, kCwr = 0x80;
}  // namespace tcp_flag

}  // namespace vo::testing
