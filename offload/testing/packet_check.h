// An independent decoder for test assertions: plain byte offsets and a naive
// RFC 1071 sum, sharing no code with the engine it checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "packet_builder.h"

namespace vo::testing {

struct DecodedIp {
  int version = 0;
  size_t off = 0;       // offset of the IP header in the frame
  size_t hdr_len = 0;
  uint32_t total_len = 0;  // IPv4 total length, or 40 + IPv6 payload length
  uint8_t tos = 0, ttl = 0, proto = 0;
  uint16_t id = 0;
  bool df = false;
  uint16_t checksum = 0;   // IPv4 header checksum as stored
  bool checksum_ok = true; // IPv4 header checksum verifies (always true for IPv6)
};

struct Decoded {
  std::optional<uint16_t> vlan;
  DecodedIp ip;  // innermost
  bool tunnel = false;
  DecodedIp outer;
  uint16_t udp_len = 0;
  uint16_t udp_checksum = 0;
  bool udp_checksum_ok = true;  // zero, or verifies
  uint32_t vni = 0;
  size_t tcp_off = 0;
  size_t tcp_hdr_len = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t tcp_checksum = 0;
  bool tcp_checksum_ok = false;      // the full checksum verifies
  bool tcp_checksum_pseudo = false;  // the field holds the pseudo-header sum
  Bytes tcp_options;
  Bytes payload;
  std::string error;  // non-empty when the frame does not decode
};

Decoded decode(const Bytes& frame);

// RFC 1071 one's complement sum of bytes, folded, not complemented.
uint16_t naive_sum(const uint8_t* p, size_t n, uint32_t initial = 0);

}  // namespace vo::testing
