// Why the engine refused a packet. Every refusal has its own name so that the
// caller can count it (a drop counter per reason) and log it by name.
#pragma once

#include <cstdint>
#include <string_view>

namespace vo {

#define VO_REASONS(X)                                                        \
  X(Ok, "ok")                                                                \
  X(TruncatedEthernet, "ethernet header truncated")                          \
  X(TruncatedVlan, "802.1Q tag truncated")                                   \
  X(NotIp, "not IPv4 or IPv6")                                               \
  X(TruncatedIpv4, "IPv4 header truncated")                                  \
  X(Ipv4BadVersion, "IPv4 version field is not 4")                           \
  X(Ipv4IhlTooSmall, "IPv4 ihl below 5")                                     \
  X(Ipv4OptionsTruncated, "IPv4 options past the buffer")                    \
  X(Ipv4LengthMismatch, "IPv4 total length disagrees with the bytes present") \
  X(Ipv4Fragment, "IPv4 fragment")                                           \
  X(TruncatedIpv6, "IPv6 header truncated")                                  \
  X(Ipv6BadVersion, "IPv6 version field is not 6")                           \
  X(Ipv6LengthMismatch, "IPv6 payload length disagrees with the bytes present") \
  X(Ipv6UnsupportedNextHeader, "IPv6 extension header other than hop-by-hop or destination options") \
  X(Ipv6ExtensionTruncated, "IPv6 extension header past the datagram")       \
  X(Ipv6ExtensionsTooLong, "IPv6 header and extensions over 511 bytes (DPDK's l3_len)") \
  X(NotTcp, "not TCP")                                                       \
  X(TruncatedTcp, "TCP header truncated")                                    \
  X(TcpDoffTooSmall, "TCP data offset below 5")                              \
  X(TcpOptionsTruncated, "TCP options past the buffer")                      \
  X(TruncatedUdp, "UDP header truncated")                                    \
  X(UdpLengthMismatch, "UDP length disagrees with the bytes present")        \
  X(TruncatedVxlan, "VXLAN header truncated")                                \
  X(VxlanBadFlags, "VXLAN flags without a valid VNI")                        \
  X(HeadersSplit, "headers span more than the first buffer")                 \
  X(ChainLengthMismatch, "mbuf chain shorter or longer than pkt_len")        \
  X(NotMarkedForTso, "packet not marked for TCP segmentation")               \
  X(MssZero, "MSS is zero")                                                  \
  X(MssTooSmall, "MSS below TCP's minimum of 88 bytes")                      \
  X(CsumNotNegotiated, "partial checksum from a guest that did not negotiate CSUM") \
  X(TsoNotNegotiated, "large segment from a guest that did not negotiate HOST_TSO") \
  X(MssExceedsPayload, "MSS not smaller than the payload: nothing to segment") \
  X(TooLarge, "segment larger than 64 KB")                                   \
  X(TooManySegments, "more segments than the output can hold")               \
  X(NoHeadroom, "headers do not fit a segment buffer")                       \
  X(NoMemory, "mbuf pool empty")                                             \
  X(DeviceRefused, "the device refused the packet (rte_eth_tx_prepare)")     \
  X(SpoofedMac, "a source MAC (Ethernet, ARP or ND) this port may not use")   \
  X(SpoofedIp, "a source IP address (IP, ARP or ND) this port may not use")  \
  X(VlanNotCarried, "a VLAN this port does not carry (or a tag on an access port)") \
  /* a virtio_net_hdr (a kernel port's) that disagrees with itself or its frame */ \
  X(HdrTruncated, "read shorter than the virtio_net_hdr and an Ethernet header") \
  X(HdrBadGsoType, "unknown gso_type, or the ECN bit without GSO")            \
  X(HdrUnsupportedGso, "UDP GSO (UFO/USO), which this port does not offer")  \
  X(HdrGsoWithoutCsum, "GSO without NEEDS_CSUM")                              \
  X(HdrGsoTypeMismatch, "gso_type names another IP version than the packet has") \
  X(HdrLenPastPacket, "hdr_len past the end of the packet")                  \
  X(CsumStartPastPacket, "csum_start past the end of the packet")            \
  X(CsumOffsetOutOfRange, "checksum field (csum_start + csum_offset) past the packet") \
  X(CsumStartNotL4, "csum_start is not where the TCP/UDP header starts")     \
  X(CsumOffsetNotChecksum, "csum_offset is not the TCP/UDP checksum field")

enum class Reason : uint8_t {
#define VO_REASON_ENUM(name, text) name,
  VO_REASONS(VO_REASON_ENUM)
#undef VO_REASON_ENUM
      Count
};

constexpr size_t kReasonCount = size_t(Reason::Count);

[[nodiscard]] constexpr std::string_view describe(Reason r) {
  constexpr std::string_view texts[] = {
#define VO_REASON_TEXT(name, text) text,
      VO_REASONS(VO_REASON_TEXT)
#undef VO_REASON_TEXT
  };
  return texts[size_t(r)];
}

[[nodiscard]] constexpr std::string_view name(Reason r) {
  constexpr std::string_view names[] = {
#define VO_REASON_NAME(name, text) #name,
      VO_REASONS(VO_REASON_NAME)
#undef VO_REASON_NAME
  };
  return names[size_t(r)];
}

// Counts refusals by reason; one per port/queue, owned by its caller.
struct ReasonCounters {
  uint64_t count[kReasonCount] = {};
  void add(Reason r) { ++count[size_t(r)]; }
  [[nodiscard]] uint64_t operator[](Reason r) const { return count[size_t(r)]; }
};

}  // namespace vo
