// A port's description in the words of the daemon's command line
// ("--vhost /run/vm3.sock --name vm3 --disable guest-ecn"), parsed in one
// place for the command line, the control socket and the config file: what
// kind of port, where, and every per-port option, checked and resolved into
// the options each port kind opens with.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ports/vhost/vhost_port.h"
#include "vswitch/datapath.h"
#include "ports/nic/nic_port.h"
#include "ports/tap/tap_port.h"

namespace vo::control {

enum class PortKind { Vhost, VhostClient, Nic, Tap };

struct PortSpec {
  PortKind kind = PortKind::Vhost;
  std::string target;  // socket path, devargs or TAP name
  std::string name;    // the port's name: as given, or from the target
  // The words that described it, in order: shown by `vo-ctl show`, written
  // back to the config file.
  std::vector<std::string> words;
  PortPolicy policy;  // port security, VLANs; final once finish_port() returns
  bool gro = true;
  // Resolved for the port's kind by finish_port():
  vhost::VhostOptions vhost;
  NicOptions nic;
  TapOptions tap;

  // Parse state: what was said before the options are resolved.
  std::string disable;
  std::optional<bool> security_asked;
};

[[nodiscard]] const char* kind_name(PortKind k);  // "vhost", "vhost-client", "nic", "tap"
// "1500" -> 1500; false for anything but a whole number that fits 32 bits.
[[nodiscard]] bool parse_whole_number(const std::string& s, uint32_t& out);
// Whether `opt` starts a port (--vhost, --vhost-client, --nic, --tap) or is
// an option of the port before it; takes_value(): all but --no-gro.
[[nodiscard]] bool starts_port(const std::string& opt);
[[nodiscard]] bool is_port_option(const std::string& opt);
[[nodiscard]] bool takes_value(const std::string& opt);

// A port started by `opt` (one starts_port() takes) at `target`.
[[nodiscard]] PortSpec start_port(const std::string& opt, const std::string& target);
// One option of `p` (value ignored for --no-gro); false with `error` saying
// what is wrong and what to do.
bool apply_port_option(PortSpec& p, const std::string& opt, const std::string& value,
                       std::string& error);
// Checks the options against each other and resolves them for the port's
// kind (--disable lists, defaults, port security); false with `error`.
bool finish_port(PortSpec& p, std::string& error);

// One port from its words: a starting option and its target, then options.
std::optional<PortSpec> parse_port(const std::vector<std::string>& words, std::string& error);

// The help text of the port kinds and their options.
std::string port_help();

}  // namespace vo::control
