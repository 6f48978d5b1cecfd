// Which VLANs a port carries and how its frames are tagged on the wire, as
// Open vSwitch's `tag` and `trunks`:
//  * access port (tag T): untagged frames (and priority-tagged ones, VID 0)
//    belong to VLAN T and leave untagged; tagged frames are refused.
//  * trunk (trunks LIST, optional native VLAN N): frames tagged with a VID in
//    LIST belong to it and leave tagged; untagged ones belong to N and leave
//    untagged, and are refused when there is no N.
//  * neither (the default): a trunk of every VLAN whose untagged frames are
//    VLAN 0, the switch's untagged domain: a switch without VLAN settings
//    forwards tagged and untagged frames as they are.
// Learning, lookups and flooding are per VLAN, so a frame reaches only ports
// that carry its VLAN.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

namespace vo {

constexpr uint16_t kMaxVid = 4094;

struct PortVlanConfig {
  uint16_t tag = 0;               // access port's VLAN, 1..4094; 0: not an access port
  std::vector<uint16_t> trunks;   // VLANs a trunk carries tagged; empty: every one
  uint16_t native = 0;            // trunk: VLAN of its untagged frames; 0: none
  [[nodiscard]] bool is_default() const { return tag == 0 && trunks.empty() && native == 0; }
};

// Parses "10,20,100-110" into `out` (sorted, no repeats); false with `error`.
bool parse_vlan_list(const std::string& s, std::vector<uint16_t>& out, std::string& error);
// Checks a port's settings against each other; false with `error`.
bool check_vlan_config(const PortVlanConfig& c, std::string& error);
// "access 10", "trunk 10,20 native 5", "trunk all": for logs and statistics.
std::string describe(const PortVlanConfig& c);

class PortVlan {
 public:
  static constexpr int kRefused = -1;
  enum class Egress : uint8_t { Drop, Untagged, Tagged };

  PortVlan() : PortVlan(PortVlanConfig{}) {}
  explicit PortVlan(const PortVlanConfig& c);

  // The VLAN a frame received with (`tagged`) or without a tag with VID
  // `vid` belongs to, or kRefused when the port does not take it.
  [[nodiscard]] int ingress(bool tagged, uint16_t vid) const {
    if (!tagged || vid == 0) return untagged_;
    return carried_[vid] && !access_ ? vid : kRefused;
  }
  // How a frame of VLAN `vlan` leaves the port.
  [[nodiscard]] Egress egress(uint16_t vlan) const {
    if (int(vlan) == untagged_) return Egress::Untagged;
    return carried_[vlan] && !access_ ? Egress::Tagged : Egress::Drop;
  }

 private:
  std::bitset<4096> carried_;
  int untagged_ = 0;  // VLAN of untagged frames, or kRefused
  bool access_ = false;
};

}  // namespace vo
