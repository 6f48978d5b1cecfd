#include "port_vlan.h"

#include <algorithm>
#include <charconv>

namespace vo {
namespace {

bool parse_vid(std::string_view s, uint16_t& vid, std::string& error) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > kMaxVid) {
    error = std::string(s);
    error += " is not a VLAN ID (1 to 4094)";
    return false;
  }
  vid = uint16_t(v);
  return true;
}

std::string join(const std::vector<uint16_t>& vids) {
  std::string s;
  for (size_t i = 0; i < vids.size();) {
    size_t j = i;
    while (j + 1 < vids.size() && vids[j + 1] == vids[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(vids[i]);
    if (j > i) {
      s += '-';
      s += std::to_string(vids[j]);
    }
    i = j + 1;
  }
  return s;
}

}  // namespace

bool parse_vlan_list(const std::string& s, std::vector<uint16_t>& out, std::string& error) {
  out.clear();
  std::string_view rest = s;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    size_t dash = item.find('-');
    uint16_t lo = 0, hi = 0;
    if (!parse_vid(item.substr(0, dash), lo, error)) return false;
    hi = lo;
    if (dash != std::string_view::npos && !parse_vid(item.substr(dash + 1), hi, error))
      return false;
    if (hi < lo) {
      error = "range '" + std::string(item) + "' runs backwards";
      return false;
    }
    for (uint32_t v = lo; v <= hi; ++v) out.push_back(uint16_t(v));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

bool check_vlan_config(const PortVlanConfig& c, std::string& error) {
  if (c.tag != 0 && (!c.trunks.empty() || c.native != 0)) {
    error = "a port is either an access port (--tag) or a trunk (--trunks, --native-vlan), "
            "not both";
    return false;
  }
  if (c.native != 0 && c.trunks.empty()) {
    error = "--native-vlan needs --trunks: the VLANs the trunk carries tagged";
    return false;
  }
  return true;
}

std::string describe(const PortVlanConfig& c) {
  if (c.tag) return "access " + std::to_string(c.tag);
  if (c.trunks.empty()) return "trunk all";
  std::string s = "trunk " + join(c.trunks);
  if (c.native) s += " native " + std::to_string(c.native);
  return s;
}

PortVlan::PortVlan(const PortVlanConfig& c) {
  if (c.tag) {
    access_ = true;
    untagged_ = c.tag;
    carried_.set(c.tag);
    return;
  }
  if (c.trunks.empty()) {
    carried_.set();
    carried_.reset(4095);  // reserved (IEEE 802.1Q)
    untagged_ = 0;
    return;
  }
  for (uint16_t v : c.trunks) carried_.set(v);
  untagged_ = c.native ? int(c.native) : kRefused;
  if (c.native) carried_.set(c.native);
}

}  // namespace vo
