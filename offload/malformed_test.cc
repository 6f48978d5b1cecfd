// Malformed and refused inputs: one row per reason gso_segment() can refuse a
// packet for, each built from a valid TcpSpec plus one named mutation.
//
// For every row, in both payload modes and both checksum modes:
//   - gso_segment() returns exactly the row's Reason and no segments;
//   - the input's bytes and metadata (pkt_len, nb_segs, every data_len,
//     ol_flags, tso_segsz, the l2/l3/l4 lengths, reference counts) are unchanged;
//   - the output array is untouched (every slot keeps its sentinel);
//   - every pool is back to its starting in_use() once the input is freed.
// The same inputs fed to a GroTable come out as they went in (passed through,
// never merged), except that GRO strips link padding past the IP datagram,
// as it does for any short frame; pools again back to their baseline.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <span>
#include <cstring>
#include <string>
#include <vector>

#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/parse.h"
#include "offload/reason.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::Decoded;
using testing::TcpSpec;
using testing::VxlanSpec;

// ---------------------------------------------------------------------------
// The environment a row runs in.

enum class HeaderRoom : uint8_t {
  Roomy,              // RTE_MBUF_DEFAULT_BUF_SIZE: headers plus any MSS used here
  BelowHeaders,       // data room smaller than any Ethernet/IP/TCP header stack
  BelowHeadersAndMss, // headers fit, headers + MSS (1000) do not: Copy mode only
};

enum class Starve : uint8_t { None, HeaderPool, IndirectPool };

enum Modes : uint8_t { kAttach = 1, kCopy = 2, kBothModes = kAttach | kCopy };

// What a mutation may change: the frame's bytes, how they are laid out in
// mbufs, the metadata, and the environment gso_segment() runs in.
struct Case {
  Bytes frame;
  Decoded at;               // offsets of the unmutated frame (independent decoder)
  uint16_t mss = 1000;
  uint32_t first_seg = 0;   // bytes in the first mbuf; 0: as many as fit
  uint32_t seg_size = 0;    // bytes in every later mbuf; 0: as many as fit
  bool tso = true;          // RTE_MBUF_F_TX_TCP_SEG
  int32_t pkt_len_delta = 0;
  int32_t nb_segs_delta = 0;
  uint16_t out_cap = 64;
  HeaderRoom header_room = HeaderRoom::Roomy;
  Starve starve = Starve::None;

  size_t l3() const { return at.ip.off; }         // inner (or only) IP header
  size_t l4() const { return at.tcp_off; }        // inner (or only) TCP header
  size_t outer_l3() const { return at.outer.off; }
  size_t udp() const { return at.outer.off + at.outer.hdr_len; }
  size_t vxlan() const { return udp() + 8; }
  size_t inner_l2() const { return vxlan() + 8; }

  uint16_t get16(size_t off) const { return uint16_t(frame[off] << 8 | frame[off + 1]); }
  void put16(size_t off, uint16_t v) {
    frame[off] = uint8_t(v >> 8);
    frame[off + 1] = uint8_t(v);
  }
  // Ends the frame after `len` bytes (the IP and UDP lengths keep their values).
  void cut(size_t len) { frame.resize(len); }
};

using Mutation = void (*)(Case&);

// ---------------------------------------------------------------------------
// Valid packets the rows start from: each one segments cleanly unmutated.

struct Base {
  TcpSpec spec;
  uint16_t mss = 1000;
  uint32_t seg_size = 0;
};

TcpSpec tcp_with_timestamps(IpVer ip) {
  TcpSpec s;
  s.ip = ip;
  if (ip == IpVer::V6) {
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
  }
  s.tcp_options = testing::tcp_timestamp_option(0x01020304, 0x0a0b0c0d);
  s.payload_len = 3000;
  s.flags = testing::tcp_flag::kAck;
  return s;
}

Base tcp4() { return {tcp_with_timestamps(IpVer::V4)}; }
Base tcp6() { return {tcp_with_timestamps(IpVer::V6)}; }
Base tcp4_vlan() {
  Base b = tcp4();
  b.spec.vlan = 100;
  return b;
}
Base tcp4_ip_options() {
  Base b = tcp4();
  b.spec.ip_options = {0x94, 0x04, 0x00, 0x00};  // router alert (RFC 2113)
  return b;
}
// Hop-by-hop (8 bytes) then destination options (8 bytes) before TCP.
Base tcp6_ext() {
  Base b = tcp6();
  b.spec.ipv6_ext = {{0, {0x1e, 4, 1, 2, 3, 4}}, {60, {0x1e, 4, 5, 6, 7, 8}}};
  return b;
}
Base vxlan4() {
  Base b = tcp4();
  b.spec.vxlan = VxlanSpec{};
  return b;
}
Base vxlan6() {
  Base b = tcp6();
  VxlanSpec v;
  v.outer_ip = IpVer::V6;
  v.src = "2001:db8:ff::1";
  v.dst = "2001:db8:ff::2";
  v.udp_checksum = true;
  b.spec.vxlan = v;
  return b;
}
// The largest IPv4 TCP segment: total length 65,535, in a chain of 2 KB mbufs.
Base tcp4_64k() {
  Base b = tcp4();
  b.spec.payload_len = 65535 - 20 - 32;
  b.mss = 1448;
  b.seg_size = 2048;
  return b;
}

// ---------------------------------------------------------------------------
// Mutations, one per thing that can be wrong with a packet.

// IPv4 total length.
const Mutation ipv4_total_length_one_too_big = [](Case& c) {
  c.put16(c.l3() + 2, c.get16(c.l3() + 2) + 1);
};
const Mutation ipv4_total_length_one_too_small = [](Case& c) {
  c.put16(c.l3() + 2, c.get16(c.l3() + 2) - 1);
};
const Mutation ipv4_total_length_below_its_header = [](Case& c) { c.put16(c.l3() + 2, 19); };
const Mutation ipv4_total_length_zero = [](Case& c) { c.put16(c.l3() + 2, 0); };
const Mutation inner_ipv4_total_length_one_too_big = ipv4_total_length_one_too_big;
const Mutation outer_ipv4_total_length_one_too_small = [](Case& c) {
  c.put16(c.outer_l3() + 2, c.get16(c.outer_l3() + 2) - 1);
};
// IPv4 version / ihl / options / fragments.
const Mutation ipv4_ihl_4 = [](Case& c) { c.frame[c.l3()] = 0x44; };
const Mutation ipv4_ihl_0 = [](Case& c) { c.frame[c.l3()] = 0x40; };
const Mutation ipv4_version_6 = [](Case& c) { c.frame[c.l3()] = uint8_t(0x60 | (c.frame[c.l3()] & 0xf)); };
const Mutation ipv4_version_0 = [](Case& c) { c.frame[c.l3()] &= 0x0f; };
const Mutation frame_ends_inside_ipv4_options = [](Case& c) { c.cut(c.l3() + 22); };
const Mutation ipv4_ihl_15_past_frame_end = [](Case& c) {
  c.cut(c.l3() + 40);
  c.frame[c.l3()] = 0x4f;
};
const Mutation ipv4_more_fragments = [](Case& c) { c.put16(c.l3() + 6, 0x2000); };
const Mutation ipv4_fragment_offset_8 = [](Case& c) { c.put16(c.l3() + 6, 0x4001); };
const Mutation outer_ipv4_more_fragments = [](Case& c) { c.put16(c.outer_l3() + 6, 0x2000); };
// IPv6.
const Mutation ipv6_payload_length_one_too_big = [](Case& c) {
  c.put16(c.l3() + 4, c.get16(c.l3() + 4) + 1);
};
const Mutation ipv6_payload_length_one_too_small = [](Case& c) {
  c.put16(c.l3() + 4, c.get16(c.l3() + 4) - 1);
};
const Mutation ipv6_payload_length_max = [](Case& c) { c.put16(c.l3() + 4, 0xffff); };
const Mutation ipv6_next_header_routing = [](Case& c) { c.frame[c.l3() + 6] = 43; };
const Mutation ipv6_next_header_fragment = [](Case& c) { c.frame[c.l3() + 6] = 44; };
const Mutation inner_ipv6_next_header_routing = ipv6_next_header_routing;
// IPv6 extension headers (base tcp6_ext: hop-by-hop at l3 + 40, then
// destination options at l3 + 48).
const Mutation hop_by_hop_next_header_routing = [](Case& c) { c.frame[c.l3() + 40] = 43; };
const Mutation hop_by_hop_next_header_esp = [](Case& c) { c.frame[c.l3() + 40] = 50; };
const Mutation hop_by_hop_480_bytes_long = [](Case& c) { c.frame[c.l3() + 41] = 59; };
const Mutation datagram_ends_inside_destination_options = [](Case& c) {
  c.put16(c.l3() + 4, 12);
  c.cut(c.l3() + 52);
};
const Mutation ipv6_version_4 = [](Case& c) { c.frame[c.l3()] = uint8_t(0x40 | (c.frame[c.l3()] & 0xf)); };
// Truncated headers: the frame (and the IP datagram) end inside one.
const Mutation frame_cut_to_13_bytes = [](Case& c) { c.cut(13); };
const Mutation frame_cut_to_0_bytes = [](Case& c) { c.cut(0); };
const Mutation frame_ends_inside_vlan_tag = [](Case& c) { c.cut(16); };
const Mutation frame_ends_19_bytes_into_ipv4 = [](Case& c) { c.cut(c.l3() + 19); };
const Mutation frame_ends_39_bytes_into_ipv6 = [](Case& c) { c.cut(c.l3() + 39); };
const Mutation ipv4_datagram_ends_19_bytes_into_tcp = [](Case& c) {
  c.cut(c.l4() + 19);
  c.put16(c.l3() + 2, uint16_t(c.l4() + 19 - c.l3()));
};
const Mutation ipv6_datagram_ends_19_bytes_into_tcp = [](Case& c) {
  c.cut(c.l4() + 19);
  c.put16(c.l3() + 4, uint16_t(19));
};
// TCP data offset.
const Mutation tcp_doff_4 = [](Case& c) { c.frame[c.l4() + 12] = 0x40; };
const Mutation tcp_doff_0 = [](Case& c) { c.frame[c.l4() + 12] = 0x00; };
const Mutation ipv4_datagram_ends_inside_tcp_options = [](Case& c) {
  c.cut(c.l4() + 28);  // the timestamp option needs 32
  c.put16(c.l3() + 2, uint16_t(c.l4() + 28 - c.l3()));
};
const Mutation tcp_doff_15_past_datagram_end = [](Case& c) {
  c.cut(c.l4() + 40);
  c.put16(c.l3() + 4, 40);
  c.frame[c.l4() + 12] = 0xf0;
};
// Headers that do not all lie in the first mbuf.
const Mutation first_mbuf_ends_inside_tcp_header = [](Case& c) {
  c.first_seg = uint32_t(c.l4() + 10);
  c.seg_size = 512;
};
const Mutation first_mbuf_ends_inside_tcp_options = [](Case& c) {
  c.first_seg = uint32_t(c.l4() + 21);
  c.seg_size = 512;
};
const Mutation first_mbuf_ends_inside_inner_ethernet = [](Case& c) {
  c.first_seg = uint32_t(c.inner_l2() + 3);
  c.seg_size = 512;
};
// Metadata that lies about the chain.
const Mutation pkt_len_one_more_than_chain = [](Case& c) {
  c.seg_size = 1024;
  c.pkt_len_delta = 1;
};
const Mutation pkt_len_one_less_than_chain = [](Case& c) {
  c.seg_size = 1024;
  c.pkt_len_delta = -1;
};
const Mutation nb_segs_one_more_than_chain = [](Case& c) {
  c.seg_size = 1024;
  c.nb_segs_delta = 1;
};
// Not IP / not TCP.
const Mutation ethertype_arp = [](Case& c) { c.put16(12, 0x0806); };
const Mutation ethertype_inside_vlan_tag_arp = [](Case& c) { c.put16(16, 0x0806); };
const Mutation inner_ethertype_arp = [](Case& c) { c.put16(c.inner_l2() + 12, 0x0806); };
const Mutation ipv4_protocol_udp_with_valid_udp_header = [](Case& c) {
  c.frame[c.l3() + 9] = 17;
  c.put16(c.l4() + 4, uint16_t(c.frame.size() - c.l4()));  // UDP length: the whole datagram
};
const Mutation ipv6_next_header_udp_with_valid_udp_header = [](Case& c) {
  c.frame[c.l3() + 6] = 17;
  c.put16(c.l4() + 4, uint16_t(c.frame.size() - c.l4()));
};
const Mutation ipv4_protocol_icmp = [](Case& c) { c.frame[c.l3() + 9] = 1; };
const Mutation inner_ipv4_protocol_udp_with_valid_udp_header = ipv4_protocol_udp_with_valid_udp_header;
// UDP / VXLAN.
const Mutation ipv4_udp_datagram_of_7_bytes = [](Case& c) {
  c.frame[c.l3() + 9] = 17;
  c.cut(c.l4() + 7);
  c.put16(c.l3() + 2, uint16_t(c.l4() + 7 - c.l3()));
};
const Mutation udp_length_one_too_big = [](Case& c) { c.put16(c.udp() + 4, c.get16(c.udp() + 4) + 1); };
const Mutation udp_length_one_too_small = [](Case& c) { c.put16(c.udp() + 4, c.get16(c.udp() + 4) - 1); };
const Mutation vxlan_flags_zero = [](Case& c) { c.frame[c.vxlan()] = 0x00; };
const Mutation vxlan_flags_all_but_vni_valid = [](Case& c) { c.frame[c.vxlan()] = 0xf7; };
const Mutation outer_datagram_ends_inside_vxlan_header = [](Case& c) {
  c.cut(c.vxlan() + 5);
  c.put16(c.outer_l3() + 2, uint16_t(c.vxlan() + 5 - c.outer_l3()));
  c.put16(c.udp() + 4, 8 + 5);
};
// Segmentation parameters.
const Mutation tso_flag_cleared = [](Case& c) { c.tso = false; };
const Mutation mss_zero = [](Case& c) { c.mss = 0; };
const Mutation mss_equal_to_payload = [](Case& c) { c.mss = 3000; };
const Mutation mss_above_payload = [](Case& c) { c.mss = 60000; };
const Mutation trailer_makes_chain_over_64k = [](Case& c) { c.frame.resize(c.frame.size() + 200, 0xee); };
const Mutation output_array_of_2_for_3_segments = [](Case& c) { c.out_cap = 2; };
const Mutation output_array_of_0 = [](Case& c) { c.out_cap = 0; };
const Mutation payload_in_3000_one_byte_mbufs = [](Case& c) {
  c.first_seg = uint32_t(c.l4() + 32);
  c.seg_size = 1;
};
// The environment.
const Mutation header_pool_smaller_than_headers = [](Case& c) { c.header_room = HeaderRoom::BelowHeaders; };
const Mutation header_pool_smaller_than_headers_plus_mss = [](Case& c) {
  c.header_room = HeaderRoom::BelowHeadersAndMss;
};
const Mutation header_pool_empty = [](Case& c) { c.starve = Starve::HeaderPool; };
const Mutation indirect_pool_empty = [](Case& c) { c.starve = Starve::IndirectPool; };
// The same with the input in a chain: the general (not single-mbuf) path.
const Mutation header_pool_empty_input_chained = [](Case& c) {
  c.starve = Starve::HeaderPool;
  c.seg_size = 700;
};
const Mutation indirect_pool_empty_input_chained = [](Case& c) {
  c.starve = Starve::IndirectPool;
  c.seg_size = 700;
};

// ---------------------------------------------------------------------------
// The table.

struct Row {
  Reason reason;
  const char* base_name;
  Base (*base)();
  const char* mutation_name;
  Mutation mutate;
  uint8_t modes = kBothModes;  // payload modes in which the row is refused
};

#define ROW(reason, base, mutation, ...) \
  Row { Reason::reason, #base, base, #mutation, mutation, ##__VA_ARGS__ }

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      ROW(TruncatedEthernet, tcp4, frame_cut_to_13_bytes),
      ROW(TruncatedEthernet, tcp4, frame_cut_to_0_bytes),
      ROW(TruncatedVlan, tcp4_vlan, frame_ends_inside_vlan_tag),
      ROW(NotIp, tcp4, ethertype_arp),
      ROW(NotIp, tcp4_vlan, ethertype_inside_vlan_tag_arp),
      ROW(NotIp, vxlan4, inner_ethertype_arp),
      ROW(TruncatedIpv4, tcp4, frame_ends_19_bytes_into_ipv4),
      ROW(Ipv4BadVersion, tcp4, ipv4_version_6),
      ROW(Ipv4BadVersion, tcp4, ipv4_version_0),
      ROW(Ipv4IhlTooSmall, tcp4, ipv4_ihl_4),
      ROW(Ipv4IhlTooSmall, tcp4, ipv4_ihl_0),
      ROW(Ipv4OptionsTruncated, tcp4_ip_options, frame_ends_inside_ipv4_options),
      ROW(Ipv4OptionsTruncated, tcp4, ipv4_ihl_15_past_frame_end),
      ROW(Ipv4LengthMismatch, tcp4, ipv4_total_length_one_too_big),
      ROW(Ipv4LengthMismatch, tcp4, ipv4_total_length_one_too_small),
      ROW(Ipv4LengthMismatch, tcp4, ipv4_total_length_below_its_header),
      ROW(Ipv4LengthMismatch, tcp4, ipv4_total_length_zero),
      ROW(Ipv4LengthMismatch, tcp4_ip_options, ipv4_total_length_one_too_big),
      ROW(Ipv4LengthMismatch, vxlan4, inner_ipv4_total_length_one_too_big),
      ROW(Ipv4LengthMismatch, vxlan4, outer_ipv4_total_length_one_too_small),
      ROW(Ipv4Fragment, tcp4, ipv4_more_fragments),
      ROW(Ipv4Fragment, tcp4, ipv4_fragment_offset_8),
      ROW(Ipv4Fragment, vxlan4, outer_ipv4_more_fragments),
      ROW(TruncatedIpv6, tcp6, frame_ends_39_bytes_into_ipv6),
      ROW(Ipv6BadVersion, tcp6, ipv6_version_4),
      ROW(Ipv6LengthMismatch, tcp6, ipv6_payload_length_one_too_big),
      ROW(Ipv6LengthMismatch, tcp6, ipv6_payload_length_one_too_small),
      ROW(Ipv6LengthMismatch, tcp6, ipv6_payload_length_max),
      ROW(Ipv6UnsupportedNextHeader, tcp6, ipv6_next_header_routing),
      ROW(Ipv6UnsupportedNextHeader, tcp6, ipv6_next_header_fragment),
      ROW(Ipv6UnsupportedNextHeader, vxlan6, inner_ipv6_next_header_routing),
      ROW(Ipv6UnsupportedNextHeader, tcp6_ext, hop_by_hop_next_header_routing),
      ROW(Ipv6UnsupportedNextHeader, tcp6_ext, hop_by_hop_next_header_esp),
      ROW(Ipv6ExtensionsTooLong, tcp6_ext, hop_by_hop_480_bytes_long),
      ROW(Ipv6ExtensionTruncated, tcp6_ext, datagram_ends_inside_destination_options),
      ROW(NotTcp, tcp4, ipv4_protocol_udp_with_valid_udp_header),
      ROW(NotTcp, tcp6, ipv6_next_header_udp_with_valid_udp_header),
      ROW(NotTcp, tcp4, ipv4_protocol_icmp),
      ROW(NotTcp, vxlan4, inner_ipv4_protocol_udp_with_valid_udp_header),
      ROW(TruncatedTcp, tcp4, ipv4_datagram_ends_19_bytes_into_tcp),
      ROW(TruncatedTcp, tcp6, ipv6_datagram_ends_19_bytes_into_tcp),
      ROW(TcpDoffTooSmall, tcp4, tcp_doff_4),
      ROW(TcpDoffTooSmall, vxlan6, tcp_doff_0),
      ROW(TcpOptionsTruncated, tcp4, ipv4_datagram_ends_inside_tcp_options),
      ROW(TcpOptionsTruncated, tcp6, tcp_doff_15_past_datagram_end),
      ROW(TruncatedUdp, tcp4, ipv4_udp_datagram_of_7_bytes),
      ROW(UdpLengthMismatch, vxlan4, udp_length_one_too_big),
      ROW(UdpLengthMismatch, vxlan6, udp_length_one_too_small),
      ROW(TruncatedVxlan, vxlan4, outer_datagram_ends_inside_vxlan_header),
      ROW(VxlanBadFlags, vxlan4, vxlan_flags_zero),
      ROW(VxlanBadFlags, vxlan6, vxlan_flags_all_but_vni_valid),
      ROW(HeadersSplit, tcp4, first_mbuf_ends_inside_tcp_header),
      ROW(HeadersSplit, tcp6, first_mbuf_ends_inside_tcp_options),
      ROW(HeadersSplit, vxlan4, first_mbuf_ends_inside_inner_ethernet),
      ROW(ChainLengthMismatch, tcp4, pkt_len_one_more_than_chain),
      ROW(ChainLengthMismatch, tcp4, pkt_len_one_less_than_chain),
      ROW(ChainLengthMismatch, tcp6, nb_segs_one_more_than_chain),
      ROW(NotMarkedForTso, tcp4, tso_flag_cleared),
      ROW(MssZero, tcp4, mss_zero),
      ROW(MssExceedsPayload, tcp4, mss_equal_to_payload),
      ROW(MssExceedsPayload, vxlan6, mss_above_payload),
      ROW(TooLarge, tcp4_64k, trailer_makes_chain_over_64k),
      ROW(TooManySegments, tcp4, output_array_of_2_for_3_segments),
      ROW(TooManySegments, vxlan4, output_array_of_0),
      ROW(TooManySegments, tcp4, payload_in_3000_one_byte_mbufs, kAttach),
      ROW(NoHeadroom, tcp4, header_pool_smaller_than_headers),
      ROW(NoHeadroom, vxlan6, header_pool_smaller_than_headers),
      ROW(NoHeadroom, tcp4, header_pool_smaller_than_headers_plus_mss, kCopy),
      ROW(NoMemory, tcp4, header_pool_empty),
      ROW(NoMemory, vxlan4, header_pool_empty),
      ROW(NoMemory, tcp6, indirect_pool_empty, kAttach),
      ROW(NoMemory, tcp4, header_pool_empty_input_chained),
      ROW(NoMemory, vxlan6, indirect_pool_empty_input_chained, kAttach),
  };
  return table;
}

// Reasons gso_segment() never returns, each with why. A reason missing both
// here and from the table fails MalformedTable.EveryReasonHasARow.
constexpr std::array<Reason, 18> kNoRowNeeded = {
    Reason::Ok,             // success, not a refusal
    Reason::DeviceRefused,  // a NIC port's rte_eth_tx_prepare() verdict (ports/nic/nic_port.cc)
    Reason::MssTooSmall,    // ingress policy, mark_tso_from_peer(): ports/tap/virtio_net_hdr_test.cc
    Reason::CsumNotNegotiated,  // a guest port's check, ports/vhost/features_test.cc
    Reason::TsoNotNegotiated,   // likewise
    Reason::SpoofedMac,  // port security at ingress, vswitch/port_security_test.cc
    Reason::SpoofedIp,   // likewise
    Reason::VlanNotCarried,  // a port's VLAN settings, vswitch/port_vlan_test.cc, test_vlan.py
    // A kernel port's virtio_net_hdr checks: rows in ports/tap/virtio_net_hdr_test.cc.
    Reason::HdrTruncated, Reason::HdrBadGsoType, Reason::HdrUnsupportedGso,
    Reason::HdrGsoWithoutCsum, Reason::HdrGsoTypeMismatch, Reason::HdrLenPastPacket,
    Reason::CsumStartPastPacket, Reason::CsumOffsetOutOfRange, Reason::CsumStartNotL4,
    Reason::CsumOffsetNotChecksum,
};

// ---------------------------------------------------------------------------
// Running a row.

constexpr uint16_t kInputRoom = 4096;

class Env {
 public:
  static Env& get() {
    static Env env;
    return env;
  }
  testing::Pool input{"mal_in", 4096, RTE_PKTMBUF_HEADROOM + kInputRoom};
  testing::Pool header{"mal_hdr", 256, RTE_MBUF_DEFAULT_BUF_SIZE};
  testing::Pool header_tiny{"mal_hdr_tiny", 16, RTE_PKTMBUF_HEADROOM + 40};
  testing::Pool header_small{"mal_hdr_small", 16, RTE_PKTMBUF_HEADROOM + 200};
  testing::Pool indirect{"mal_ind", 4096, 0};

  rte_mempool* header_pool(HeaderRoom r) {
    switch (r) {
      case HeaderRoom::Roomy: return header;
      case HeaderRoom::BelowHeaders: return header_tiny;
      case HeaderRoom::BelowHeadersAndMss: return header_small;
    }
    return header;
  }
  std::vector<uint32_t> in_use() const {
    return {input.in_use(), header.in_use(), header_tiny.in_use(), header_small.in_use(),
            indirect.in_use()};
  }
};

Case make_case(const Row& row) {
  Base b = row.base();
  Case c;
  c.frame = testing::build_frame(b.spec);
  c.at = testing::decode(c.frame);
  c.mss = b.mss;
  c.seg_size = b.seg_size;
  return c;
}

// The mbuf a case describes: frame bytes laid out as the case says, metadata
// as a guest hands over a TSO packet, then the case's metadata lies.
rte_mbuf* build_input(const Case& c) {
  rte_mbuf* head = testing::make_mbuf(Env::get().input, c.frame, c.seg_size, c.first_seg);
  if (head == nullptr) {
    ADD_FAILURE() << "input pool exhausted";
    return nullptr;
  }

  const Decoded& d = c.at;
  bool v4 = d.ip.version == 4;
  head->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM | (v4 ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM
                                                 : RTE_MBUF_F_TX_IPV6);
  if (c.tso) head->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
  head->tso_segsz = c.mss;
  head->l3_len = d.ip.hdr_len;
  head->l4_len = d.tcp_hdr_len;
  if (d.tunnel) {
    head->outer_l2_len = d.outer.off;
    head->outer_l3_len = d.outer.hdr_len;
    head->l2_len = d.ip.off - (d.outer.off + d.outer.hdr_len);
    head->ol_flags |= RTE_MBUF_F_TX_TUNNEL_VXLAN |
                      (d.outer.version == 4 ? RTE_MBUF_F_TX_OUTER_IPV4 : RTE_MBUF_F_TX_OUTER_IPV6);
  } else {
    head->l2_len = d.ip.off;
  }
  head->pkt_len = uint32_t(int64_t(head->pkt_len) + c.pkt_len_delta);
  head->nb_segs = uint16_t(head->nb_segs + c.nb_segs_delta);
  return head;
}

// Everything about a packet that a refusal must leave alone.
struct Snapshot {
  Bytes bytes;
  uint32_t pkt_len;
  uint16_t nb_segs;
  uint64_t ol_flags;
  uint16_t tso_segsz;
  uint64_t tx_offload;
  std::vector<uint16_t> data_len;
  std::vector<uint16_t> data_off;
  std::vector<uint16_t> refcnt;
  std::vector<const rte_mbuf*> chain;

  static Snapshot of(const rte_mbuf* m) {
    Snapshot s{testing::flatten(m), m->pkt_len, m->nb_segs, m->ol_flags,
               uint16_t(m->tso_segsz), m->tx_offload};
    for (const rte_mbuf* x = m; x != nullptr; x = x->next) {
      s.data_len.push_back(x->data_len);
      s.data_off.push_back(x->data_off);
      s.refcnt.push_back(rte_mbuf_refcnt_read(x));
      s.chain.push_back(x);
    }
    return s;
  }
};

void expect_unchanged(const Snapshot& before, const rte_mbuf* m, const std::string& what) {
  Snapshot now = Snapshot::of(m);
  EXPECT_TRUE(now.bytes == before.bytes) << what << ": bytes changed";
  EXPECT_EQ(now.pkt_len, before.pkt_len) << what;
  EXPECT_EQ(now.nb_segs, before.nb_segs) << what;
  EXPECT_EQ(now.ol_flags, before.ol_flags) << what;
  EXPECT_EQ(now.tso_segsz, before.tso_segsz) << what;
  EXPECT_EQ(now.tx_offload, before.tx_offload) << what << ": l2/l3/l4 lengths changed";
  EXPECT_EQ(now.data_len, before.data_len) << what;
  EXPECT_EQ(now.data_off, before.data_off) << what;
  EXPECT_EQ(now.refcnt, before.refcnt) << what;
  EXPECT_EQ(now.chain, before.chain) << what << ": chain relinked";
}

// Takes every mbuf of a pool until it is released.
class Drained {
 public:
  explicit Drained(rte_mempool* mp) {
    if (mp == nullptr) return;
    while (rte_mbuf* m = rte_pktmbuf_alloc(mp)) held_.push_back(m);
  }
  ~Drained() {
    for (rte_mbuf* m : held_) rte_pktmbuf_free(m);
  }
  Drained(const Drained&) = delete;
  Drained& operator=(const Drained&) = delete;

 private:
  std::vector<rte_mbuf*> held_;
};

std::string row_name(const Row& r) { return std::string(r.base_name) + "_" + r.mutation_name; }

void PrintTo(const Row& r, std::ostream* os) {
  *os << row_name(r) << " -> Reason::" << name(r.reason);
}

const char* mode_name(PayloadMode m) { return m == PayloadMode::Attach ? "Attach" : "Copy"; }
const char* mode_name(ChecksumMode m) {
  return m == ChecksumMode::Full ? "Full" : "PseudoForNic";
}

class MalformedGso : public ::testing::TestWithParam<Row> {};

TEST_P(MalformedGso, RefusedWithItsReasonAndNothingTouched) {
  const Row& row = GetParam();
  Env& env = Env::get();
  for (PayloadMode pm : {PayloadMode::Attach, PayloadMode::Copy}) {
    if (!(row.modes & (pm == PayloadMode::Attach ? kAttach : kCopy))) continue;
    for (ChecksumMode cm : {ChecksumMode::Full, ChecksumMode::PseudoForNic}) {
      std::string what = std::string(mode_name(pm)) + "/" + mode_name(cm);
      Case c = make_case(row);
      row.mutate(c);
      auto baseline = env.in_use();
      rte_mbuf* in = build_input(c);
      ASSERT_NE(in, nullptr);
      Snapshot before = Snapshot::of(in);

      rte_mbuf* sentinel = reinterpret_cast<rte_mbuf*>(uintptr_t(0x5e471e1));
      std::vector<rte_mbuf*> out(std::max<size_t>(c.out_cap, 1) + 8, sentinel);
      GsoConfig cfg{env.header_pool(c.header_room), env.indirect, cm, pm};
      GsoResult r;
      {
        Drained hold_header(c.starve == Starve::HeaderPool ? env.header.get() : nullptr);
        Drained hold_indirect(c.starve == Starve::IndirectPool ? env.indirect.get() : nullptr);
        r = gso_segment(cfg, in, out.data(), c.out_cap);
      }
      EXPECT_EQ(r.reason, row.reason)
          << what << ": got " << name(r.reason) << " (" << describe(r.reason) << ")";
      EXPECT_EQ(r.segments, 0) << what;
      for (size_t i = 0; i < out.size(); ++i)
        EXPECT_EQ(out[i], sentinel) << what << ": output slot " << i << " written";
      if (r.reason == Reason::Ok) {  // a failure already; do not leak on top of it
        rte_pktmbuf_free_bulk(out.data(), r.segments);
        in = nullptr;
      }
      if (in != nullptr) {
        expect_unchanged(before, in, what);
        in->pkt_len = in->pkt_len - uint32_t(c.pkt_len_delta);
        in->nb_segs = uint16_t(in->nb_segs - c.nb_segs_delta);
        rte_pktmbuf_free(in);
      }
      EXPECT_EQ(env.in_use(), baseline) << what << ": pools not back to their baseline";
    }
  }
}

// GRO sees the same inputs. Malformed ones must pass through untouched; the
// ones GSO refused for their metadata are well-formed TCP to GRO. None merges.
class MalformedGro : public ::testing::TestWithParam<Row> {};

TEST_P(MalformedGro, PassedThroughUnchanged) {
  const Row& row = GetParam();
  Env& env = Env::get();
  Case c = make_case(row);
  row.mutate(c);
  auto baseline = env.in_use();
  rte_mbuf* in = build_input(c);
  ASSERT_NE(in, nullptr);
  Snapshot before = Snapshot::of(in);

  // Where GRO is expected to end the packet: the IP datagram's end, when the
  // frame carries link padding past it (the independent decoder's view).
  Decoded d = testing::decode(c.frame);
  size_t ip_end = d.error.empty() ? d.ip.off + d.ip.total_len : c.frame.size();
  if (d.tunnel && d.error.empty()) ip_end = d.outer.off + d.outer.total_len;
  bool padded = before.pkt_len == c.frame.size() && c.nb_segs_delta == 0 && ip_end < c.frame.size();

  // What GRO's parser (padding allowed) makes of it: refused means passed
  // straight through, never held.
  Layout layout;
  bool gro_refuses = parse(in, layout) != Reason::Ok;

  uint64_t now = 0;
  {
    GroTable t(GroConfig{.max_flows = 4});
    rte_mbuf* out[8];
    GroCounts n = t.input(std::span<rte_mbuf* const>(&in, 1), now, out);
    EXPECT_EQ(n.consumed, 1);
    if (gro_refuses) {
      EXPECT_EQ(n.emitted, 1);
      EXPECT_EQ(t.held(), 0);
      EXPECT_EQ(t.stats().passed_through, 1u);
    }
    n.emitted = uint16_t(n.emitted + t.flush_all(std::span<rte_mbuf*>(out + n.emitted, 8 - n.emitted)));
    ASSERT_EQ(n.emitted, 1);
    EXPECT_EQ(out[0], in);
    EXPECT_EQ(t.held(), 0);
    EXPECT_EQ(t.stats().merged_packets, 0u);
    EXPECT_EQ(t.stats().segments_absorbed, 0u);
  }
  if (padded && in->pkt_len != before.pkt_len) {
    // Link padding stripped, nothing else.
    Snapshot now_s = Snapshot::of(in);
    EXPECT_EQ(in->pkt_len, ip_end);
    Bytes trimmed(before.bytes.begin(), before.bytes.begin() + ip_end);
    EXPECT_TRUE(now_s.bytes == trimmed) << "GRO changed more than the padding";
    EXPECT_EQ(now_s.ol_flags, before.ol_flags);
    EXPECT_EQ(now_s.chain, before.chain);
  } else {
    expect_unchanged(before, in, "GRO");
  }
  in->pkt_len = in->pkt_len - uint32_t(c.pkt_len_delta);
  in->nb_segs = uint16_t(in->nb_segs - c.nb_segs_delta);
  rte_pktmbuf_free(in);
  EXPECT_EQ(env.in_use(), baseline) << "pools not back to their baseline";
}

std::string param_name(const ::testing::TestParamInfo<Row>& info) {
  return row_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Rows, MalformedGso, ::testing::ValuesIn(rows()), param_name);
INSTANTIATE_TEST_SUITE_P(Rows, MalformedGro, ::testing::ValuesIn(rows()), param_name);

// Every reason gso_segment() can return has a row: a new reason fails here
// until it gets one (or is listed in kNoRowNeeded, with why).
TEST(MalformedTable, EveryReasonHasARow) {
  for (size_t i = 0; i < kReasonCount; ++i) {
    Reason r = Reason(i);
    if (std::find(kNoRowNeeded.begin(), kNoRowNeeded.end(), r) != kNoRowNeeded.end()) continue;
    bool found = std::any_of(rows().begin(), rows().end(),
                             [&](const Row& row) { return row.reason == r; });
    EXPECT_TRUE(found) << "no malformed_test row for Reason::" << name(r) << " ("
                       << describe(r) << ")";
  }
}

TEST(MalformedTable, RowNamesAreUnique) {
  std::vector<std::string> names;
  for (const Row& r : rows()) names.push_back(row_name(r));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

// The mutation, not the base, is what each row refuses: every base segments
// cleanly as it is, in every mode, with the pools back to their baseline.
TEST(MalformedTable, EveryBaseSegmentsUnmutated) {
  Env& env = Env::get();
  for (Base (*base)() : {tcp4, tcp6, tcp4_vlan, tcp4_ip_options, vxlan4, vxlan6, tcp4_64k}) {
    for (PayloadMode pm : {PayloadMode::Attach, PayloadMode::Copy}) {
      Base b = base();
      Case c;
      c.frame = testing::build_frame(b.spec);
      c.at = testing::decode(c.frame);
      ASSERT_TRUE(c.at.error.empty()) << c.at.error;
      c.mss = b.mss;
      c.seg_size = b.seg_size;
      auto baseline = env.in_use();
      rte_mbuf* in = build_input(c);
      ASSERT_NE(in, nullptr);
      std::vector<rte_mbuf*> out(64);
      GsoConfig cfg{env.header, env.indirect, ChecksumMode::Full, pm};
      GsoResult r = gso_segment(cfg, in, out.data(), uint16_t(out.size()));
      ASSERT_EQ(r.reason, Reason::Ok) << describe(r.reason);
      uint32_t payload = 0;
      for (uint16_t i = 0; i < r.segments; ++i) {
        Decoded d = testing::decode(testing::flatten(out[i]));
        EXPECT_TRUE(d.error.empty()) << d.error;
        EXPECT_TRUE(d.tcp_checksum_ok);
        EXPECT_LE(d.payload.size(), c.mss);
        payload += uint32_t(d.payload.size());
      }
      EXPECT_EQ(payload, b.spec.payload_len);
      rte_pktmbuf_free_bulk(out.data(), r.segments);
      EXPECT_EQ(env.in_use(), baseline);
    }
  }
}

}  // namespace
}  // namespace vo
