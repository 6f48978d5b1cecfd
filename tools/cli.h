// The daemon's command line: ports, per-port offload switches, datapath
// tuning, and EAL options after "--".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vhost/guest_call.h"
#include "vhost/socket_access.h"
#include "vswitch/datapath.h"

namespace vo::cli {

enum class PortKind { Vhost, VhostClient, Nic, Tap };

struct PortSpec {
  PortKind kind;
  std::string target;   // socket path, devargs or TAP name
  std::string name;
  std::string disable;  // comma-separated offload switches
  bool gro = true;
  // Kernel ports (--tap) only:
  std::string netns;    // create or attach the TAP inside this named namespace
  uint32_t mtu = 0;     // 0: leave the device's
  uint16_t queues = 1;  // >1: IFF_MULTI_QUEUE
  // Guest ports (--vhost, --vhost-client) only:
  vhost::NotifyConfig notify;
  vhost::SocketAccess access;  // --vhost only: the socket's owner, group, mode
  // --port-security, --mac, --allowed-ips; `security.enabled` is final
  // once parse() returns (on by default for guest ports).
  PortSecurityConfig security;
  std::optional<bool> security_asked;
  PortVlanConfig vlan;  // --tag, --trunks, --native-vlan
};

struct Config {
  std::vector<PortSpec> ports;
  DatapathConfig datapath;
  int datapath_lcore = -1;  // -1: the last lcore EAL gives us
  uint32_t mbufs = 32768;
  bool zero_copy_gso = true;
  std::vector<std::string> eal_args;  // empty: pick defaults (see usage)
  bool help = false;
};

// nullopt with `error` set (saying what to do) for a bad command line.
std::optional<Config> parse(int argc, const char* const* argv, std::string& error);
std::string usage(const char* prog);

}  // namespace vo::cli
