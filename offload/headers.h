// Wire headers: fixed-layout structs with big-endian fields behind typed
// accessors. A header is only ever looked at through one of these types,
// obtained from a parsed layout that has checked its bytes are present.
#pragma once

#include <cstddef>
#include <cstdint>

#include "be.h"
#include "tcp_seq.h"

namespace vo {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint8_t kIpProtoIcmpv6 = 58;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoUdp = 17;
// IPv6 extension headers (RFC 8200 section 4) the parser walks: options only,
// nothing that changes how the packet is checksummed or delivered.
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6DestOptions = 60;
constexpr uint16_t kVxlanPort = 4789;  // IANA, RFC 7348 section 5
// Largest IPv4 total length / IPv6 payload length: a GSO packet is at most this.
constexpr uint32_t kMaxIpLength = 65535;

struct MacAddr {
  uint8_t b[6];
  bool operator==(const MacAddr&) const = default;
} __attribute__((packed));

struct EthHdr {
  MacAddr dst;
  MacAddr src;
  be16 ether_type;
} __attribute__((packed));
static_assert(sizeof(EthHdr) == 14);

// IEEE 802.1Q tag as it follows the TPID 0x8100 in EthHdr::ether_type.
struct VlanTag {
  be16 tci;
  be16 ether_type;
  [[nodiscard]] uint16_t vid() const { return tci.get() & 0x0fff; }
} __attribute__((packed));
static_assert(sizeof(VlanTag) == 4);

struct Ipv4Hdr {
  uint8_t version_ihl;
  uint8_t tos;
  be16 total_length;
  be16 id;
  be16 frag;  // flags (3 bits) + fragment offset (13 bits)
  uint8_t ttl;
  uint8_t protocol;
  be16 checksum;
  be32 src;
  be32 dst;

  static constexpr uint16_t kDontFragment = 0x4000;
  static constexpr uint16_t kMoreFragments = 0x2000;
  static constexpr uint16_t kOffsetMask = 0x1fff;

  [[nodiscard]] uint8_t version() const { return version_ihl >> 4; }
  [[nodiscard]] uint32_t header_len() const { return (version_ihl & 0x0f) * 4u; }
  [[nodiscard]] bool dont_fragment() const { return frag.get() & kDontFragment; }
  [[nodiscard]] bool is_fragment() const {
    return frag.get() & (kMoreFragments | kOffsetMask);
  }
  [[nodiscard]] uint8_t ecn() const { return tos & 0x3; }
} __attribute__((packed));
static_assert(sizeof(Ipv4Hdr) == 20);

struct Ipv6Addr {
  uint8_t b[16];
  bool operator==(const Ipv6Addr&) const = default;
} __attribute__((packed));

struct Ipv6Hdr {
  be32 vtc_flow;  // version (4), traffic class (8), flow label (20)
  be16 payload_length;
  uint8_t next_header;
  uint8_t hop_limit;
  Ipv6Addr src;
  Ipv6Addr dst;

  [[nodiscard]] uint8_t version() const { return vtc_flow.get() >> 28; }
  [[nodiscard]] uint8_t traffic_class() const { return (vtc_flow.get() >> 20) & 0xff; }
  [[nodiscard]] uint8_t ecn() const { return traffic_class() & 0x3; }
} __attribute__((packed));
static_assert(sizeof(Ipv6Hdr) == 40);

// The common start of the Hop-by-Hop and Destination Options headers.
struct Ipv6OptionsHdr {
  uint8_t next_header;
  uint8_t len_8;  // length in 8-byte units, not counting the first 8

  [[nodiscard]] uint32_t length() const { return (uint32_t(len_8) + 1) * 8; }
} __attribute__((packed));
static_assert(sizeof(Ipv6OptionsHdr) == 2);

struct TcpHdr {
  be16 src_port;
  be16 dst_port;
  be32 seq_raw;
  be32 ack_raw;
  uint8_t data_off;  // upper 4 bits: header length in 32-bit words
  uint8_t flags;
  be16 window;
  be16 checksum;
  be16 urgent;

  static constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08,
                           kAck = 0x10, kUrg = 0x20, kEce = 0x40, kCwr = 0x80;

  [[nodiscard]] uint32_t header_len() const { return (data_off >> 4) * 4u; }
  [[nodiscard]] TcpSeq seq() const { return TcpSeq(seq_raw.get()); }
  void set_seq(TcpSeq s) { seq_raw.set(s.value()); }
  [[nodiscard]] uint32_t ack() const { return ack_raw.get(); }
} __attribute__((packed));
static_assert(sizeof(TcpHdr) == 20);
// csum_offset as a virtio_net_hdr or the mbuf metadata names it.
constexpr uint16_t kTcpChecksumOffset = offsetof(TcpHdr, checksum);

struct UdpHdr {
  be16 src_port;
  be16 dst_port;
  be16 length;
  be16 checksum;
} __attribute__((packed));
static_assert(sizeof(UdpHdr) == 8);
constexpr uint16_t kUdpChecksumOffset = offsetof(UdpHdr, checksum);

// RFC 7348 section 5.
struct VxlanHdr {
  uint8_t flags;  // 0x08: VNI valid
  uint8_t reserved1[3];
  be32 vni_reserved;  // VNI in the upper 24 bits

  static constexpr uint8_t kVniValid = 0x08;
  [[nodiscard]] uint32_t vni() const { return vni_reserved.get() >> 8; }
} __attribute__((packed));
static_assert(sizeof(VxlanHdr) == 8);

// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800.
struct ArpHdr {
  be16 hw_type;
  be16 proto_type;
  uint8_t hw_len;
  uint8_t proto_len;
  be16 op;
  MacAddr sender_mac;
  be32 sender_ip;
  MacAddr target_mac;
  be32 target_ip;
} __attribute__((packed));
static_assert(sizeof(ArpHdr) == 28);

// ICMPv6 neighbour solicitation and advertisement (RFC 4861 sections 4.3,
// 4.4), options following.
struct NdMsg {
  uint8_t type;
  uint8_t code;
  be16 checksum;
  be32 flags_reserved;
  Ipv6Addr target;

  static constexpr uint8_t kSolicitation = 135, kAdvertisement = 136;
} __attribute__((packed));
static_assert(sizeof(NdMsg) == 24);

// An ND option: length in units of 8 bytes, type and length included.
struct NdOption {
  uint8_t type;
  uint8_t len8;
  static constexpr uint8_t kSourceLinkAddr = 1, kTargetLinkAddr = 2;
} __attribute__((packed));

}  // namespace vo
