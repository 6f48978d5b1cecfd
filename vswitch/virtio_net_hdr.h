// struct virtio_net_hdr as a TAP with IFF_VNET_HDR reads and writes it in
// front of every frame, and its translation to and from the packet's offload
// metadata (offload/metadata.h). The kernel is a peer like a guest: what it
// writes is untrusted and checked against the bytes it describes.
#pragma once

#include <rte_byteorder.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "offload/reason.h"

struct rte_mbuf;

namespace vo {

// A little-endian wire integer: virtio 1.x fields, and a TAP's header once
// TUNSETVNETLE is set (drivers/net/tun.c, tun_is_little_endian()).
class le16 {
 public:
  [[nodiscard]] uint16_t get() const { return rte_le_to_cpu_16(raw_); }
  void set(uint16_t v) { raw_ = rte_cpu_to_le_16(v); }

 private:
  uint16_t raw_ = 0;
} __attribute__((packed));

// virtio 1.2 section 5.1.6, in the form VIRTIO_NET_F_MRG_RXBUF gives it
// (TUNSETVNETHDRSZ 12). num_buffers is unused on a TAP: one read, one frame.
struct VirtioNetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  le16 hdr_len;      // a hint: bytes of headers (5.1.6.2.2: "MUST NOT rely on" it)
  le16 gso_size;     // MSS of a large segment
  le16 csum_start;   // where the partial checksum's sum starts
  le16 csum_offset;  // where, from csum_start, the checksum field is
  le16 num_buffers;

  static constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr uint8_t kGsoNone = 0;
  static constexpr uint8_t kGsoTcpv4 = 1;
  static constexpr uint8_t kGsoUdp = 3;
  static constexpr uint8_t kGsoTcpv6 = 4;
  static constexpr uint8_t kGsoUdpL4 = 5;
  static constexpr uint8_t kGsoEcn = 0x80;  // the segment carries TCP CWR

  [[nodiscard]] bool needs_csum() const { return flags & kNeedsCsum; }
  [[nodiscard]] uint8_t gso_kind() const { return gso_type & uint8_t(~kGsoEcn); }
  [[nodiscard]] bool gso_ecn() const { return gso_type & kGsoEcn; }
} __attribute__((packed));
static_assert(sizeof(VirtioNetHdr) == 12);

// Why a header was refused before the packet's own bytes were looked at, or
// because it disagrees with them. Packet faults the parser finds come back as
// an offload Reason instead.
#define VO_HDR_FAULTS(X)                                                                  \
  X(None, "ok")                                                                           \
  X(Truncated, "read shorter than the virtio_net_hdr and an Ethernet header")            \
  X(TooLarge, "frame larger than 64 KB plus headers")                                    \
  X(BadGsoType, "unknown gso_type, or the ECN bit without GSO")                          \
  X(UnsupportedGso, "UDP GSO (UFO/USO), which this port does not offer the kernel")      \
  X(GsoSizeZero, "GSO with gso_size 0")                                                  \
  X(GsoWithoutCsum, "GSO without NEEDS_CSUM")                                            \
  X(GsoTypeMismatch, "gso_type names another IP version than the packet has")          \
  X(HdrLenPastPacket, "hdr_len past the end of the packet")                              \
  X(CsumStartPastPacket, "csum_start past the end of the packet")                        \
  X(CsumOffsetOutOfRange, "checksum field (csum_start + csum_offset) past the packet")   \
  X(CsumStartNotL4, "csum_start is not where the TCP/UDP header starts")                 \
  X(CsumOffsetNotChecksum, "csum_offset is not the TCP/UDP checksum field")

enum class HdrFault : uint8_t {
#define VO_HDR_FAULT_ENUM(name, text) name,
  VO_HDR_FAULTS(VO_HDR_FAULT_ENUM)
#undef VO_HDR_FAULT_ENUM
      Count
};
constexpr size_t kHdrFaultCount = size_t(HdrFault::Count);

[[nodiscard]] std::string_view describe(HdrFault f);
[[nodiscard]] std::string_view name(HdrFault f);

// What a received header made of its packet: Ok, a header fault, or a
// packet the offload parser refused (fault None, reason set).
struct HdrVerdict {
  HdrFault fault = HdrFault::None;
  Reason reason = Reason::Ok;
  [[nodiscard]] bool ok() const { return fault == HdrFault::None && reason == Reason::Ok; }
  bool operator==(const HdrVerdict&) const = default;
};

// Kernel -> switch: checks `h` against the frame in `m` (the whole chain,
// pkt_len set) and sets the offload metadata a guest's packet would get:
// GSO -> large segment (mark_tso), NEEDS_CSUM -> partial checksum, neither ->
// none. On a refusal the metadata is unspecified; the caller drops the packet.
[[nodiscard]] HdrVerdict metadata_from_hdr(const VirtioNetHdr& h, rte_mbuf* m);

// Switch -> kernel: the header that hands `m` over as it is: a large segment
// with GSO (and the ECN bit when its TCP header has CWR), a partial checksum
// with NEEDS_CSUM. The metadata must be valid (set by mark_* or GSO/GRO).
[[nodiscard]] VirtioNetHdr hdr_from_metadata(const rte_mbuf* m);

// Counts refused headers by fault, as ReasonCounters does for Reason.
struct HdrFaultCounters {
  uint64_t count[kHdrFaultCount] = {};
  void add(HdrFault f) { ++count[size_t(f)]; }
  [[nodiscard]] uint64_t operator[](HdrFault f) const { return count[size_t(f)]; }
};

}  // namespace vo
