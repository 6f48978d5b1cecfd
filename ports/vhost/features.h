// Virtio-net feature bits by name: what the switch offers, what each guest
// negotiated, and the per-port switches that withdraw an offer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "offload/reason.h"

struct rte_mbuf;

namespace vo::vhost {

struct OffloadFeature {
  uint8_t bit;
  const char* name;    // as the virtio spec names it, without VIRTIO_NET_F_
  const char* option;  // the command line switch, e.g. "guest-tso4"
  uint64_t requires_bits;  // bits this one depends on (virtio 1.2 section 5.1.3.1)
};

// The offloads the switch negotiates, on by default wherever the guest agrees.
extern const OffloadFeature kOffloadFeatures[9];

constexpr uint64_t bit(uint8_t b) { return 1ull << b; }
constexpr uint8_t kCsum = 0, kGuestCsum = 1, kGuestTso4 = 7, kGuestTso6 = 8, kGuestEcn = 9,
                  kHostTso4 = 11, kHostTso6 = 12, kHostEcn = 13, kMrgRxbuf = 15;
// Ring features the switch's own code looks at (virtio 1.2 section 6).
constexpr uint8_t kMq = 22, kEventIdx = 29, kRingPacked = 34;
constexpr uint64_t kOffloadMask = bit(kCsum) | bit(kGuestCsum) | bit(kGuestTso4) |
                                  bit(kGuestTso6) | bit(kGuestEcn) | bit(kHostTso4) |
                                  bit(kHostTso6) | bit(kHostEcn) | bit(kMrgRxbuf);

// Offered by librte_vhost but never by us: UDP fragmentation offload
// (HOST_UFO/GUEST_UFO, bits 14 and 10) hands over UDP datagrams the engine
// does not cut or merge.
constexpr uint64_t kNeverOffered = bit(14) | bit(10);

// "CSUM GUEST_CSUM ... VERSION_1" for every known bit set.
std::string feature_names(uint64_t bits);

// Bits to withdraw for a comma-separated list of switches ("tso", "csum",
// "guest-tso4", ...), closed over dependencies: withdrawing CSUM withdraws
// HOST_TSO4/6 and HOST_ECN too. nullopt, with `error` set, for an unknown switch.
std::optional<uint64_t> parse_disabled(std::string_view list, std::string& error);

// Whether a guest that negotiated `features` may ask for what packet `m`
// (its offload metadata set at ingress) asks: a partial checksum needs CSUM,
// a large segment HOST_TSO4 or HOST_TSO6 for its IP version (virtio 1.2
// section 5.1.6.2.1: a driver must not ask otherwise; a hostile one may).
[[nodiscard]] Reason check_negotiated(uint64_t features, const rte_mbuf* m);

// A guest's packet as librte_vhost hands it over in compliant mode
// (RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS: GSO as RX_LRO + tso_segsz,
// NEEDS_CSUM as RX_L4_CKSUM_NONE) given the switch's offload metadata, what
// the header claimed checked against the bytes and against `features`.
// Reason::Ok, or why the packet is refused (the caller drops it).
[[nodiscard]] Reason metadata_from_guest(uint64_t features, rte_mbuf* m);

// Offloads that were offered but the guest did not take, for a log line.
std::string refused_names(uint64_t offered, uint64_t negotiated);

}  // namespace vo::vhost
