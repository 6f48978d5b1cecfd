#include "features.h"

#include <rte_mbuf.h>

#include <vector>

#include "offload/metadata.h"

namespace vo::vhost {

const OffloadFeature kOffloadFeatures[9] = {
    {kCsum, "CSUM", "csum", 0},
    {kGuestCsum, "GUEST_CSUM", "guest-csum", 0},
    {kHostTso4, "HOST_TSO4", "host-tso4", bit(kCsum)},
    {kHostTso6, "HOST_TSO6", "host-tso6", bit(kCsum)},
    {kHostEcn, "HOST_ECN", "host-ecn", bit(kHostTso4) | bit(kHostTso6)},
    {kGuestTso4, "GUEST_TSO4", "guest-tso4", bit(kGuestCsum)},
    {kGuestTso6, "GUEST_TSO6", "guest-tso6", bit(kGuestCsum)},
    {kGuestEcn, "GUEST_ECN", "guest-ecn", bit(kGuestTso4) | bit(kGuestTso6)},
    {kMrgRxbuf, "MRG_RXBUF", "mrg-rxbuf", 0},
};

namespace {

struct OtherFeature {
  uint8_t bit;
  const char* name;
};
constexpr OtherFeature kOtherFeatures[] = {
    {3, "MTU"},          {5, "MAC"},         {6, "GSO"},          {10, "GUEST_UFO"},
    {14, "HOST_UFO"},    {16, "STATUS"},     {17, "CTRL_VQ"},     {18, "CTRL_RX"},
    {21, "GUEST_ANNOUNCE"}, {22, "MQ"},      {28, "INDIRECT_DESC"}, {29, "EVENT_IDX"},
    {30, "PROTOCOL_FEATURES"}, {32, "VERSION_1"}, {33, "IOMMU_PLATFORM"},
    {34, "RING_PACKED"}, {35, "IN_ORDER"},
};

// Switches that name several features at once.
struct Group {
  const char* option;
  uint64_t bits;
};
constexpr Group kGroups[] = {
    {"tso", bit(kHostTso4) | bit(kHostTso6) | bit(kGuestTso4) | bit(kGuestTso6)},
    {"host-tso", bit(kHostTso4) | bit(kHostTso6)},
    {"guest-tso", bit(kGuestTso4) | bit(kGuestTso6)},
    {"ecn", bit(kHostEcn) | bit(kGuestEcn)},
    {"all", kOffloadMask},
};

// Adds every feature whose requirements are no longer all offered.
uint64_t close_over_dependencies(uint64_t disabled) {
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& f : kOffloadFeatures) {
      bool gone = (disabled & f.requires_bits) == f.requires_bits && f.requires_bits != 0;
      if (gone && !(disabled & bit(f.bit))) {
        disabled |= bit(f.bit);
        changed = true;
      }
    }
  }
  return disabled;
}

}  // namespace

std::string feature_names(uint64_t bits) {
  std::string out;
  auto add = [&](uint8_t b, const char* name) {
    if (!(bits & bit(b))) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  for (const auto& f : kOffloadFeatures) add(f.bit, f.name);
  for (const auto& f : kOtherFeatures) add(f.bit, f.name);
  return out;
}

std::optional<uint64_t> parse_disabled(std::string_view list, std::string& error) {
  uint64_t disabled = 0;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    bool found = false;
    for (const auto& f : kOffloadFeatures)
      if (item == f.option) disabled |= bit(f.bit), found = true;
    for (const auto& g : kGroups)
      if (item == g.option) disabled |= g.bits, found = true;
    if (!found) {
      error = "unknown offload '" + std::string(item) +
              "' (known: csum, guest-csum, host-tso4, host-tso6, host-ecn, guest-tso4, "
              "guest-tso6, guest-ecn, mrg-rxbuf, tso, host-tso, guest-tso, ecn, all)";
      return std::nullopt;
    }
  }
  return close_over_dependencies(disabled);
}

Reason metadata_from_guest(uint64_t features, rte_mbuf* m) {
  Reason r = Reason::Ok;
  if (m->ol_flags & RTE_MBUF_F_RX_LRO)
    r = mark_tso_from_peer(m, m->tso_segsz);
  else if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE)
    r = mark_partial_checksum(m);
  // librte_vhost acts on a header's GSO and NEEDS_CSUM whatever was
  // negotiated: an offload switched off for this guest stays off.
  return r == Reason::Ok ? check_negotiated(features, m) : r;
}

Reason check_negotiated(uint64_t features, const rte_mbuf* m) {
  if (has_partial_checksum(m) && !(features & bit(kCsum))) return Reason::CsumNotNegotiated;
  if (is_large_segment(m)) {
    bool v4 = m->ol_flags & RTE_MBUF_F_TX_IPV4;
    if (!(features & bit(v4 ? kHostTso4 : kHostTso6))) return Reason::TsoNotNegotiated;
  }
  return Reason::Ok;
}

std::string refused_names(uint64_t offered, uint64_t negotiated) {
  return feature_names(offered & kOffloadMask & ~negotiated);
}

}  // namespace vo::vhost
