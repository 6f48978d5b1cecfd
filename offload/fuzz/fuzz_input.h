// The fuzz input format, shared by the target and the seed generator.
//
//   [0..kHeaderLen)  parameters (below)
//   [kHeaderLen..)   the frame, from its Ethernet header on
//
// The frame may be grown by `grow_units` x 512 bytes of payload pattern; when
// kGrowFixLengths is set, the big-endian 16-bit fields at fix_off[] (say the
// IP and UDP lengths) are increased by the growth, so a small input can stand
// for a valid 64 KB packet. Unset, the growth is a trailer past the datagram.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vo::fuzz {

constexpr size_t kHeaderLen = 16;
constexpr uint32_t kGrowUnit = 512;
constexpr uint16_t kNoFix = 0xffff;

// flags_a
constexpr uint8_t kPseudoForNic = 0x01;    // ChecksumMode::PseudoForNic (else Full)
constexpr uint8_t kClearTso = 0x02;        // no RTE_MBUF_F_TX_TCP_SEG
constexpr uint8_t kVlanStripped = 0x04;    // RTE_MBUF_F_RX_VLAN_STRIPPED + vlan_tci
constexpr uint8_t kGroTrustCsum = 0x08;    // GRO inputs marked RX IP/L4 checksum good
constexpr uint8_t kEmptyMbuf = 0x10;       // an empty mbuf after the first
constexpr uint8_t kPktLenLie = 0x20;       // pkt_len one off the chain
constexpr uint8_t kPktLenLieDown = 0x40;   //   ... one short (else one long)
constexpr uint8_t kExternalBufs = 0x80;    // every mbuf's data in its own malloc'd buffer

// flags_b
constexpr uint8_t kOutCapMask = 0x07;      // index into kOutCaps
constexpr uint8_t kTinyHeaderPool = 0x08;  // header pool with 64 bytes past the headroom
constexpr uint8_t kStarveShift = 4;        // 2 bits: 0 none, 1 header, 2 indirect, 3 both
constexpr uint8_t kMaxFlowsShift = 6;      // 2 bits: index into kMaxFlows

// flags_c
constexpr uint8_t kGroTimeout = 0x01;      // GRO flush timeout (2 bursts): flush(now) after every burst
constexpr uint8_t kGroDropAtEnd = 0x02;    // end by destroying the table (drop_all) instead of flushing
constexpr uint8_t kGrowFixLengths = 0x04;  // apply fix_off[] to the growth
constexpr uint8_t kGroFollowUp = 0x08;     // a refused input goes to GRO with a copy that
                                           // follows it (seq + payload): merges odd inputs
constexpr uint8_t kGroManyFlows = 0x10;    // GRO inputs split into 1 + (reserved & 7) runs,
                                           // each its own flow (TCP source port + run), then
                                           // interleaved; the TCP checksum goes stale, so it
                                           // takes kGroTrustCsum to merge
constexpr uint8_t kGroShuffle = 0x20;      // GRO inputs reordered (seed: reserved >> 3)
constexpr uint8_t kGroPerturb = 0x40;      // one header bit flipped in every third GRO input

constexpr uint16_t kOutCaps[8] = {0, 1, 2, 8, 45, 64, 512, 4096};
constexpr uint16_t kMaxFlows[4] = {1, 2, 4, 64};

struct Params {
  uint16_t mss;          // [0..2) little endian
  uint8_t first_seg;     // [2] bytes in the first mbuf; 0: as many as fit
  uint8_t later_seg;     // [3] bytes in later mbufs; 0: as many as fit
  uint8_t flags_a;       // [4]
  uint8_t flags_b;       // [5]
  uint8_t misc;          // [6] low nibble: mbufs left in a starved pool; high: GRO burst - 1
  uint8_t flags_c;       // [7]
  uint8_t grow_units;    // [8]
  uint16_t fix_off[3];   // [9..15) big endian; kNoFix: none
  uint8_t reserved;      // [15] GRO flows and shuffle seed; low bits of a stripped vlan_tci
};

inline Params read_params(const uint8_t* d) {
  Params p;
  p.mss = uint16_t(d[0] | d[1] << 8);
  p.first_seg = d[2];
  p.later_seg = d[3];
  p.flags_a = d[4];
  p.flags_b = d[5];
  p.misc = d[6];
  p.flags_c = d[7];
  p.grow_units = d[8];
  for (int i = 0; i < 3; ++i) p.fix_off[i] = uint16_t(d[9 + 2 * i] << 8 | d[10 + 2 * i]);
  p.reserved = d[15];
  return p;
}

inline void write_params(const Params& p, uint8_t* d) {
  d[0] = uint8_t(p.mss);
  d[1] = uint8_t(p.mss >> 8);
  d[2] = p.first_seg;
  d[3] = p.later_seg;
  d[4] = p.flags_a;
  d[5] = p.flags_b;
  d[6] = p.misc;
  d[7] = p.flags_c;
  d[8] = p.grow_units;
  for (int i = 0; i < 3; ++i) {
    d[9 + 2 * i] = uint8_t(p.fix_off[i] >> 8);
    d[10 + 2 * i] = uint8_t(p.fix_off[i]);
  }
  d[15] = p.reserved;
}

// Byte i of the growth.
inline uint8_t grow_byte(uint32_t i) { return uint8_t(i * 31 + (i >> 8) + 7); }

}  // namespace vo::fuzz
