#include "control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.h"

namespace vo::control {
namespace {

constexpr size_t kMaxLine = 1 << 16;  // a request longer than this is not one

std::string errno_text() { return std::strerror(errno); }

bool fill_addr(const std::string& path, sockaddr_un& a, std::string& error) {
  std::memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) {
    error = "control socket path '" + path + "' is empty or longer than " +
            std::to_string(sizeof(a.sun_path) - 1) + " bytes: give a shorter --control PATH";
    return false;
  }
  std::memcpy(a.sun_path, path.c_str(), path.size());
  return true;
}

// Whether a daemon answers at `path` (then it is not ours to take).
bool someone_listens(const sockaddr_un& a) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool yes = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return yes;
}

void make_parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  std::string dir = path.substr(0, slash);
  if (mkdir(dir.c_str(), 0755) != 0 && errno == ENOENT) {  // one level more: /run/x/y
    make_parent(dir);
    mkdir(dir.c_str(), 0755);
  }
}

bool write_all(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

}  // namespace

nlohmann::ordered_json failure(const std::string& message) {
  return {{"ok", false}, {"error", message}};
}

std::unique_ptr<ControlSocket> ControlSocket::open(const ControlOptions& opts, std::string& error) {
  sockaddr_un a;
  if (!fill_addr(opts.path, a, error)) return nullptr;
  if (someone_listens(a)) {
    error = "control socket " + opts.path + " is in use: another vhost-offload runs with it " +
            "(stop it, or give this one --control PATH)";
    return nullptr;
  }
  make_parent(opts.path);
  unlink(opts.path.c_str());  // a stale file from a daemon that died
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(fd, 16) != 0) {
    error = "cannot listen on control socket " + opts.path + ": " + errno_text() +
            " (is its directory writable? give another with --control PATH)";
    if (fd >= 0) close(fd);
    return nullptr;
  }
  if (!vhost::apply_socket_access(opts.path, opts.access, error)) {
    close(fd);
    unlink(opts.path.c_str());
    error = "control socket " + opts.path + ": " + error;
    return nullptr;
  }
  return std::unique_ptr<ControlSocket>(new ControlSocket(opts.path, fd));
}

ControlSocket::~ControlSocket() {
  for (Client& c : clients_) close(c.fd);
  close(listen_fd_);
  unlink(path_.c_str());
}

void ControlSocket::accept_client() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) clients_.push_back(Client{fd, {}});
}

bool ControlSocket::read_client(Client& c, const Handler& handle) {
  char buf[4096];
  ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  c.in.append(buf, size_t(n));
  for (size_t nl; (nl = c.in.find('\n')) != std::string::npos;) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    nlohmann::ordered_json answer;
    try {
      answer = handle(nlohmann::ordered_json::parse(line));
    } catch (const nlohmann::ordered_json::exception& e) {
      answer = failure(std::string("not a JSON request: ") + e.what());
    }
    if (!write_all(c.fd, answer.dump() + "\n")) return false;
  }
  return c.in.size() <= kMaxLine;
}

void ControlSocket::serve(const std::function<bool()>& stopped, const Handler& handle) {
  while (!stopped()) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (const Client& c : clients_) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    if (fds[0].revents & POLLIN) accept_client();
    for (size_t i = fds.size() - 1; i >= 1; --i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!read_client(clients_[i - 1], handle)) {
        close(clients_[i - 1].fd);
        clients_.erase(clients_.begin() + long(i - 1));
      }
    }
  }
}

}  // namespace vo::control
