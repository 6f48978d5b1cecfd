// Who may connect to a guest port's vhost-user socket. Whoever can connect
// can be a guest on that port, so the socket is not left world-writable:
// the operator names the user and group QEMU runs as (libvirt's
// libvirt-qemu, say) and a mode such as 0660.
#pragma once

#include <sys/types.h>

#include <string>

namespace vo::vhost {

struct SocketAccess {
  std::string owner;  // user name or number; empty: keep the switch's
  std::string group;  // group name or number; empty: keep the switch's
  int mode = -1;      // permission bits; -1: as the umask made them
  bool any() const { return !owner.empty() || !group.empty() || mode >= 0; }
};

// "0660" -> 0660; false unless octal permission bits (at most 0777).
bool parse_socket_mode(const std::string& s, int& mode);
// Gives `path` the owner, group and mode asked for. False, with `error`
// saying what went wrong and what to do (unknown user or group, no right).
bool apply_socket_access(const std::string& path, const SocketAccess& a, std::string& error);

}  // namespace vo::vhost
