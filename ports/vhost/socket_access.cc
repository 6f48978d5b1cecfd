#include "socket_access.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace vo::vhost {
namespace {

bool to_id(const std::string& s, unsigned& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A name from the user or group database, or a number as given.
bool lookup(const std::string& name, bool group, unsigned& id) {
  if (to_id(name, id)) return true;
  std::vector<char> buf(16384);
  if (group) {
    struct group g, *found = nullptr;
    if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found) return false;
    id = found->gr_gid;
  } else {
    struct passwd pw, *found = nullptr;
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) return false;
    id = found->pw_uid;
  }
  return true;
}

}  // namespace

bool parse_socket_mode(const std::string& s, int& mode) {
  unsigned m = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), m, 8);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || m > 0777) return false;
  mode = int(m);
  return true;
}

bool apply_socket_access(const std::string& path, const SocketAccess& a, std::string& error) {
  unsigned uid = unsigned(-1), gid = unsigned(-1);
  if (!a.owner.empty() && !lookup(a.owner, false, uid)) {
    error = "socket owner '" + a.owner + "' is no user on this host: give the user QEMU runs as";
    return false;
  }
  if (!a.group.empty() && !lookup(a.group, true, gid)) {
    error = "socket group '" + a.group + "' is no group on this host: give the group QEMU runs as";
    return false;
  }
  if ((uid != unsigned(-1) || gid != unsigned(-1)) && chown(path.c_str(), uid, gid) != 0) {
    error = "cannot give " + path + " to " + (a.owner.empty() ? "" : "user " + a.owner + " ") +
            (a.group.empty() ? "" : "group " + a.group) + ": " + std::strerror(errno) +
            " (only root may give a file away; a user may choose among its own groups)";
    return false;
  }
  if (a.mode >= 0 && chmod(path.c_str(), mode_t(a.mode)) != 0) {
    error = "cannot set the mode of " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace vo::vhost
