// The one place for Internet checksum arithmetic (RFC 1071, RFC 1624).
//
// All sums are kept in "raw" form: 16-bit words loaded from memory in host
// order. The one's complement sum is byte-order independent (RFC 1071 section
// 2(B)), so a raw result is stored back with be16::set_raw() unchanged.
#pragma once

#include <cstddef>
#include <cstdint>

struct rte_mbuf;

namespace vo {

struct Ipv4Hdr;
struct Ipv6Hdr;

// One's complement accumulator that carries odd-byte parity across chunks, so a
// stream split at any byte boundary (an odd MSS, a chain of odd-sized mbufs)
// sums to the same value as the whole.
class Checksum {
 public:
  void add(const void* data, size_t len);
  // Adds a 16-bit word given in raw form, at an even stream position.
  void add_raw16(uint16_t raw) { sum_ += raw; }
  void add_raw32(uint32_t raw) { sum_ += (raw & 0xffff) + (raw >> 16); }
  // Appends a chunk summed on its own from an even position.
  void add(const Checksum& chunk);
  // Folded 16-bit sum, not complemented (what a pseudo-header field holds).
  [[nodiscard]] uint16_t folded() const;
  // Complemented sum: the value a checksum field holds.
  [[nodiscard]] uint16_t finish() const { return uint16_t(~folded()); }
  [[nodiscard]] bool odd() const { return odd_; }

 private:
  uint64_t sum_ = 0;
  bool odd_ = false;
};

// Folds a sum of raw 16-bit words below 2^32 to 16 bits, end-around carries
// added back: the same value Checksum::folded() gives for any positive sum
// congruent to it (mod 0xffff). Inline, for header fields computed per packet
// from precomputed partial sums.
[[nodiscard]] inline uint16_t fold_sum32(uint32_t s) {
  s = (s & 0xffff) + (s >> 16);  // at most 0x1fffe
  s = (s & 0xffff) + (s >> 16);  // at most 0xffff
  return uint16_t(s);
}

// Copies len bytes and adds them to `c` in one pass over the data.
void copy_and_sum(Checksum& c, void* dst, const void* src, size_t len);

// Adds bytes [off, off+len) of an mbuf chain. Returns false if the chain is shorter.
bool sum_mbuf(Checksum& c, const rte_mbuf* m, uint32_t off, uint32_t len);

// IPv4 header checksum over header_len() bytes, with the checksum field taken as zero.
[[nodiscard]] uint16_t ipv4_header_checksum(const Ipv4Hdr& ip);

// Pseudo-header sums (RFC 793 section 3.1, RFC 8200 section 8.1), l4_len in host order.
void add_pseudo_header(Checksum& c, const Ipv4Hdr& ip, uint32_t l4_len, uint8_t proto);
void add_pseudo_header(Checksum& c, const Ipv6Hdr& ip, uint32_t l4_len, uint8_t proto);

// RFC 1624 eqn. 3: the checksum field after a 16/32-bit word changed from old to new (raw forms).
[[nodiscard]] uint16_t checksum_update16(uint16_t csum, uint16_t old_raw, uint16_t new_raw);
[[nodiscard]] uint16_t checksum_update32(uint16_t csum, uint32_t old_raw, uint32_t new_raw);

// Completes a partial checksum the way a virtio device must for a
// VIRTIO_NET_HDR_F_NEEDS_CSUM packet (virtio spec 5.1.6.2): the field at
// csum_start + csum_offset holds the pseudo-header sum; sum from csum_start to
// the end of the packet and store the complement there. False, with the packet
// unchanged, when the offsets lie outside the packet.
[[nodiscard]] bool complete_partial_checksum(rte_mbuf* m, uint32_t csum_start,
                                             uint32_t csum_offset);

}  // namespace vo
