// The daemon's command line: ports, per-port offload switches, datapath
// tuning, and EAL options after "--".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/config_file.h"
#include "control/control_socket.h"
#include "control/port_spec.h"
#include "vswitch/datapath.h"

namespace vo::cli {

struct Config {
  std::vector<control::PortSpec> ports;
  DatapathConfig datapath;
  // The datapath threads' lcores; empty: every worker lcore EAL gives us.
  std::vector<unsigned> datapath_lcores;
  uint32_t mbufs = 32768;
  bool zero_copy_gso = true;
  control::ControlOptions control;      // --control, --control-group, --control-mode
  std::string config_path;              // --config FILE: ports are written back to it
  control::ConfigFile config_file;      // as read from it
  std::vector<std::string> eal_args;  // empty: pick defaults (see usage)
  bool help = false;
};

// nullopt with `error` set (saying what to do) for a bad command line.
std::optional<Config> parse(int argc, const char* const* argv, std::string& error);
std::string usage(const char* prog);

}  // namespace vo::cli
