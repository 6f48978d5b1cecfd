// struct virtio_net_hdr as a TAP with IFF_VNET_HDR reads and writes it in
// front of every frame, and its translation to and from the packet's offload
// metadata (offload/metadata.h). The kernel is a peer like a guest: what it
// writes is untrusted and checked against the bytes it describes.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

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

// Kernel -> switch: checks `h` against the frame in `m` (the whole chain,
// pkt_len set) and sets the offload metadata a guest's packet would get:
// GSO -> large segment (mark_tso), NEEDS_CSUM -> partial checksum, neither ->
// none. Reason::Ok, or why the header or the packet is refused (the Hdr* and
// Csum* reasons, or the parser's); the metadata is then unspecified and the
// caller drops the packet.
[[nodiscard]] Reason metadata_from_hdr(const VirtioNetHdr& h, rte_mbuf* m);

// Switch -> kernel: the header that hands `m` over as it is: a large segment
// with GSO (and the ECN bit when its TCP header has CWR), a partial checksum
// with NEEDS_CSUM. The metadata must be valid (set by mark_* or GSO/GRO).
[[nodiscard]] VirtioNetHdr hdr_from_metadata(const rte_mbuf* m);

}  // namespace vo
