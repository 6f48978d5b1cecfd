// The switch's configuration file (--config FILE): JSON, comments allowed.
//
//   {
//     "switch": {"mbufs": 65536, "flood-pps": 20000, "control-group": "kvm"},
//     "ports": [
//       ["--vhost", "/run/vm1.sock", "--name", "vm1", "--socket-group", "kvm"],
//       ["--tap", "vo-host", "--mtu", "9000"]
//     ]
//   }
//
// Switch options by their command-line names without the dashes, each port in
// the words of the command line: the same parsers read both. Why JSON: the
// control socket speaks it already, so one well-kept Debian library
// (nlohmann-json3-dev) does both, and a port written back is the list of
// words `vo-ctl add-port` took.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace vo::control {

struct ConfigFile {
  nlohmann::ordered_json switch_options = nlohmann::ordered_json::object();
  std::vector<std::vector<std::string>> ports;
  // The switch options as command-line words: {"mbufs": 65536} -> --mbufs 65536.
  [[nodiscard]] std::vector<std::string> switch_words() const;
};

// Reads `path`; false with `error` naming the file and, for a syntax error,
// its line and column, otherwise the entry that is wrong.
bool read_config(const std::string& path, ConfigFile& out, std::string& error);

// Writes `file` to `path` so that a crash leaves the old or the new one, never
// half of either: a temporary file beside it, fsync, rename, fsync of the
// directory. Comments in the file do not survive: it is the switch's to write.
bool write_config(const std::string& path, const ConfigFile& file, std::string& error);

}  // namespace vo::control
