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
constexpr size_t kMaxClients = 64;     // connections beyond these are turned away

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

// One line to a client about to be cut off: what fits at once.
void tell(int fd, const nlohmann::ordered_json& answer) {
  const std::string line = answer.dump() + "\n";
  [[maybe_unused]] ssize_t n = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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

// Clients are served one request at a time each, never waited for: one that
// does not read its answers stops being read from (it gets nothing more
// until it takes what it has), and the others go on.
void ControlSocket::accept_client() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  if (clients_.size() >= kMaxClients) {
    VO_LOG_RL(WARNING, "control socket %s: %zu clients connected already; turned one away",
              path_.c_str(), clients_.size());
    tell(fd, failure("the switch serves " + std::to_string(kMaxClients) +
                     " control connections at most: close one and try again"));
    close(fd);
    return;
  }
  clients_.push_back(Client{fd, {}, {}});
}

bool ControlSocket::write_client(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) return false;
    c.out.erase(0, size_t(n));
  }
  return true;
}

bool ControlSocket::read_client(Client& c) {
  char buf[4096];
  ssize_t n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  c.in.append(buf, size_t(n));
  if (c.in.find('\n') == std::string::npos && c.in.size() > kMaxLine) {
    tell(c.fd, failure("a request longer than " + std::to_string(kMaxLine) + " bytes: cut off"));
    return false;
  }
  return true;
}

// Requests are answered in order while the client takes the answers; the
// rest of what it sent waits in `in` until it has.
bool ControlSocket::answer_client(Client& c, const Handler& handle) {
  for (size_t nl; c.out.empty() && (nl = c.in.find('\n')) != std::string::npos;) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    nlohmann::ordered_json answer;
    try {
      answer = handle(nlohmann::ordered_json::parse(line));
    } catch (const nlohmann::ordered_json::exception& e) {
      answer = failure(std::string("not a JSON request: ") + e.what());
    }
    c.out = answer.dump() + "\n";
    if (!write_client(c)) return false;
  }
  return true;
}

void ControlSocket::serve(const std::function<bool()>& stopped, const Handler& handle) {
  while (!stopped()) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    // A client with answers pending is written to, and read from once it
    // has taken them; one that had more requests queued is served from
    // those (`in`) before anything new is read.
    for (const Client& c : clients_)
      fds.push_back({c.fd, short(c.out.empty() ? POLLIN : POLLOUT), 0});
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    if (fds[0].revents & POLLIN) accept_client();
    for (size_t i = fds.size() - 1; i >= 1; --i) {
      Client& c = clients_[i - 1];
      const short ev = fds[i].revents;
      if (!(ev & (POLLIN | POLLOUT | POLLHUP | POLLERR))) continue;
      bool alive = (ev & POLLOUT) ? write_client(c) : true;
      if (alive && (ev & (POLLIN | POLLHUP | POLLERR))) alive = read_client(c);
      if (alive) alive = answer_client(c, handle);
      if (!alive) {
        close(clients_[i - 1].fd);
        clients_.erase(clients_.begin() + long(i - 1));
      }
    }
  }
}

}  // namespace vo::control
